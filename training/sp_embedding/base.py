"""What the sketch embedding's training stages share: the semantic data
(``opt.semantic``: label maps and parsing maps in every batch, see
``data/datasets.py``), per-stage sizes and Adam defaults, a step counter for
random draws that a resumed run repeats, and small tensor helpers.

Every random draw of a step (latents, style-mixing crossover, generator
noise, path-length noise) comes from ``self.rng(tag)``, a NumPy generator
seeded by (seed, tag, step number): a run resumed after step N draws what
the uninterrupted run drew at step N + 1. Jittor's own RNG is used only for
the initial weights (seeded once by ``BaseTrainer``).
"""

import numpy as np

from training.base_trainer import BaseTrainer, jt
from util.arrays import to_uint8


class SPTrainer(BaseTrainer):
    """A sketch-embedding stage. Its options come finished
    (``options.sp_embedding_train.finish_training``: the stage's Adam
    defaults, semantic data, the sizes of its photos and sketches)."""

    def load_state(self):
        epoch, it, steps = super().load_state()
        self.global_step = steps
        return epoch, it, steps

    def next_step(self):
        """Count the step that starts now (1-based)."""
        self.global_step += 1
        return self.global_step

    def rng(self, tag=0):
        """NumPy generator of the current step's draws (see the module docstring)."""
        return np.random.default_rng([int(self.opt.seed), int(tag), int(self.global_step)])


# ---------------------------------------------------------------- helpers
def seeded_noise(generator, rng, batch):
    """Fresh noise maps for ``generator`` (one per layer, the shapes of its
    stored ones, ``batch`` of each) drawn from the NumPy generator ``rng``."""
    return [jt.array(rng.standard_normal((batch, 1) + tuple(n.shape[2:])).astype(np.float32))
            for n in generator.stored_noise()]


def mean_pool(x, size):
    """Mean-pool a B x C x N x N Var to size x size (N a multiple of size)."""
    n = x.shape[-1]
    if n == size:
        return x
    if n % size:
        raise ValueError(f"mean_pool: {n} is not a multiple of {size}")
    f = n // size
    b, c = x.shape[:2]
    return x.reshape(b, c, size, f, size, f).mean(dims=[3, 5])


def softplus(x):
    """log(1 + exp(x)), stable for large |x|."""
    return jt.maximum(x, 0.0) + jt.log(1.0 + jt.exp(-jt.abs(x)))


def cross_entropy(logits, target, mask=None):
    """Mean cross-entropy of B x C x H x W logits against integer targets
    (B, H, W numpy), over the pixels where ``mask`` (numpy bool) is true
    (all when None)."""
    target = np.asarray(target)
    c = logits.shape[1]
    onehot = (target[:, None] == np.arange(c).reshape(1, -1, 1, 1)).astype(np.float32)
    weight = np.ones(target.shape, np.float32) if mask is None else np.asarray(mask, np.float32)
    count = max(float(weight.sum()), 1.0)
    top = logits.max(dim=1, keepdims=True).detach()
    lse = jt.log(jt.exp(logits - top).sum(dim=1)) + top.squeeze(1)
    picked = (logits * jt.array(onehot)).sum(dim=1)
    loss = ((lse - picked) * jt.array(weight)).sum() / count
    return loss


def accuracy(logits_np, target, mask=None):
    """Share of the (masked) pixels whose argmax is the target."""
    hit = np.asarray(logits_np).argmax(axis=1) == np.asarray(target)
    if mask is not None:
        hit = hit[np.asarray(mask, bool)]
    return float(hit.mean()) if hit.size else 0.0


def tile(images, columns):
    """uint8 (N, H, W[, C]) -> one grid image, ``columns`` per row."""
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    rows = -(-n // columns)
    shape = (rows * h, columns * w) + images.shape[3:]
    grid = np.full(shape, 255, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, columns)
        grid[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    return grid


def to_rgb_images(x):
    """B x 3 x H x W in [-1, 1] (numpy) -> uint8 B x H x W x 3."""
    return to_uint8(np.asarray(x)).transpose(0, 2, 3, 1)


def freeze(net):
    """Evaluation mode, and no parameter of ``net`` receives gradients."""
    net.eval()
    for p in net.parameters():
        p.stop_grad()
    return net
