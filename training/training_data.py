"""The training data of a stage: its dataset (``--dataset_mode``) in
deterministic batches (``data.loader.BatchLoader``), balanced with
--balance. A trainer is given the loader (``BaseTrainer(opt, loader=...)``)."""

from data.datasets import DatasetError, create_dataset
from data.loader import BatchLoader, balance_weights, label_shares


def make_loader(opt, rank=0, world=1):
    """The training data of ``opt``: its dataset (``--dataset_mode``) in
    deterministic batches (``data.loader.BatchLoader``), balanced with
    --balance."""
    dataset = create_dataset(opt, "train")
    if rank == 0 and hasattr(dataset, "describe"):
        print(dataset.describe())
    try:
        return BatchLoader(dataset, opt.batch_size, opt.seed, shuffle=not opt.serial_batches,
                           jitter=opt.jitter, flip=opt.flip, rank=rank, world_size=world,
                           weights=balance(opt, dataset, rank))
    except ValueError as exc:
        raise DatasetError(f"--batch_size {opt.batch_size}: {exc}") from None


def balance(opt, dataset, rank=0):
    """Sample weights for --balance (None without it), with a line on
    what they change: the rarest labels' shares before -> after."""
    keys = tuple(k for k in getattr(opt, "balance", "").split(",") if k)
    if not keys:
        return None
    labels = dataset.attributes(keys)
    weights = balance_weights(labels, opt.balance_power)
    if rank == 0:
        for column, key in enumerate(keys):
            before = label_shares(labels, column=column)
            after = label_shares(labels, weights, column)
            order = sorted(before, key=before.get)
            shown = order[:3] + order[-1:] if len(order) > 4 else order
            print(f"balancing {key} (power {opt.balance_power:g}): " + ", ".join(
                f"{v} {100 * before[v]:.1f}% -> {100 * after[v]:.1f}%" for v in shown))
    return weights
