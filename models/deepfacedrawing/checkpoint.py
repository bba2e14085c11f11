"""DeepFaceDrawing's checkpoint folder: the authors' layout (file names are
a file format: they never change), the feature banks and the options saved
in config.json. Reading and writing the files themselves (restricted
unpickler, CheckpointError) is ``models/files.py``; no Jittor needed here.

    ROOT/AE_whole/latest_net_encoder_{part}.pkl
    ROOT/AE_whole/latest_net_decoder_{part}_image.pkl
    ROOT/AE_whole/{man,female}_{part}_feature.bin   (or .npy)
    ROOT/AE_whole/{part}_feature.bin                (one bank, no gender split)
    ROOT/Combine/latest_net_DE_{part}.pkl
    ROOT/Combine/latest_net_G.pkl
    ROOT/Combine/latest_net_D.pkl                   (ours, training only)
    ROOT/Combine/latest_net_A.pkl                   (ours, with an appearance code)
    ROOT/config.json                                (ours: the architecture)

``{part}`` is eye1, eye2, nose, mouth or '' (the remainder).
"""

import io
import os

import numpy as np

from models.files import WHERE_FROM, CheckpointError
from util.fileio import atomic_write

_BANK_PREFIX = {"male": "man_", "female": "female_", "all": ""}


# ---------------------------------------------------------------- paths
def encoder_path(root, part, epoch="latest"):
    return os.path.join(root, "AE_whole", f"{epoch}_net_encoder_{part}.pkl")


def decoder_path(root, part, epoch="latest"):
    return os.path.join(root, "AE_whole", f"{epoch}_net_decoder_{part}_image.pkl")


def fm_path(root, part, epoch="latest"):
    return os.path.join(root, "Combine", f"{epoch}_net_DE_{part}.pkl")


def generator_path(root, epoch="latest"):
    return os.path.join(root, "Combine", f"{epoch}_net_G.pkl")


def discriminator_path(root, epoch="latest"):
    return os.path.join(root, "Combine", f"{epoch}_net_D.pkl")


def appearance_path(root, epoch="latest"):
    """Ours: the appearance encoder of a generator with an appearance code."""
    return os.path.join(root, "Combine", f"{epoch}_net_A.pkl")


def bank_path(root, part, gender, ext=".bin"):
    """gender 'male'/'female' for the split banks, 'all' for a single bank."""
    return os.path.join(root, "AE_whole", f"{_BANK_PREFIX[gender]}{part}_feature{ext}")


# ---------------------------------------------------------------- banks
def read_bank(path, dim):
    """A feature bank (N, dim) float32 from a raw .bin or a .npy file."""
    if path.endswith(".npy"):
        try:
            bank = np.load(path, mmap_mode="r", allow_pickle=False)
        except Exception as exc:
            raise CheckpointError(f"{path}: not a readable .npy bank ({exc})") from None
        if bank.ndim != 2 or bank.shape[1] != dim:
            raise CheckpointError(f"{path}: bank has shape {list(bank.shape)}, "
                                  f"expected (N, {dim})")
        bank = np.asarray(bank, dtype=np.float32)
    else:
        size = os.path.getsize(path)
        row = 4 * dim
        if size == 0 or size % row:
            raise CheckpointError(f"{path}: {size} bytes is not a whole number of "
                                  f"{dim}-float32 rows; the bank is truncated or has "
                                  f"another latent size")
        bank = np.fromfile(path, dtype="<f4").reshape(-1, dim)
    if not np.all(np.isfinite(bank)):
        raise CheckpointError(f"{path}: bank holds NaN or infinite values")
    return bank


def write_bank(path, bank):
    bank = np.ascontiguousarray(bank, dtype="<f4")
    if path.endswith(".npy"):
        buf = io.BytesIO()
        np.save(buf, bank)
        atomic_write(path, buf.getvalue())
    else:
        atomic_write(path, bank.tobytes())


def find_bank_files(root, part, gender):
    """The bank files serving ``gender`` ('male', 'female' or 'all') for
    ``part``, and a note when a fallback was taken (or None).

    'all' uses both gender banks together, or the single bank. A gender
    asked for but not present falls back to the single bank.
    """
    def first(g):
        for ext in (".bin", ".npy"):
            p = bank_path(root, part, g, ext)
            if os.path.isfile(p):
                return p
        return None

    single = first("all")
    if gender == "all":
        split = [p for p in (first("male"), first("female")) if p]
        if split:
            return split, None
        if single:
            return [single], None
    else:
        own = first(gender)
        if own:
            return [own], None
        if single:
            return [single], f"no {gender} bank for {part or 'remainder'}; using the single bank"
        other = first("female" if gender == "male" else "male")
        if other:
            return [other], (f"no {gender} bank for {part or 'remainder'}; using the "
                             f"{'female' if gender == 'male' else 'male'} bank")
    raise CheckpointError(f"{bank_path(root, part, gender if gender != 'all' else 'male')}: "
                          f"no feature bank for part {part or 'remainder'!r} (looked for "
                          f"man_/female_/plain {part}_feature.bin or .npy). {WHERE_FROM}")


# ---------------------------------------------------------------- config
# The options that define DeepFaceDrawing's networks, and the inference
# defaults that belong to a trained model: saved with every checkpoint
# folder we write (config.json), so that loading it needs no flags and
# ``--preset auto`` agrees with the preset it was trained with.
ARCH_KEYS = ("image_size", "latent_dim", "ae_ngf", "ae_n_down", "ae_norm", "variant",
             "fm_channels", "fm_nc", "fm_sample_stats", "ngf", "n_downsample_global",
             "n_blocks_global", "norm", "pipeline", "upsample", "appearance_dim")
INFERENCE_KEYS = ("k", "refine")
