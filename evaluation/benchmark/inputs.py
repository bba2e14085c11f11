"""What the measured networks get, the same in every process and framework:
seeded weights, seeded sketches, latents and feature maps, the encoders'
crops (NumPy only: no Jittor, no torch)."""

import math
import zlib

import numpy as np

from util.arrays import crop_part, sketch_to_array
from util.components import PARTS

STROKE_DENSITY = 0.06          # the share of dark pixels in a random sketch
WEIGHT_SEEDS = {"encoder": 10, "fm": 20, "G": 40}     # the same in Jittor and PyTorch
BANK_SEED = 30                 # + the part's index: the random feature banks


def preset_options(config):
    """The inference options of the preset ``config`` (configs/*.json)."""
    from options.test_options import TestOptions
    return TestOptions().parse(["--preset", config])


def ref_name(part):
    """The name of ``part`` in the reference outputs the peer checks."""
    return part or "rem"


def seeded_weights(shapes, seed=0):
    """{name: float32 array} for {name: shape}, the same in every process and
    framework (NumPy, seeded by the name): fan-in scaled normal weights,
    small biases, norm scales near 1, positive running variances."""
    return {name: _seeded_array(name, tuple(int(s) for s in shape), seed)
            for name, shape in shapes.items()}


def _seeded_array(name, shape, seed):
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "running_var":
        a = rng.uniform(0.5, 1.5, shape)
    elif leaf == "running_mean":
        a = rng.normal(0.0, 0.1, shape)
    elif len(shape) >= 2:
        a = rng.standard_normal(shape, dtype=np.float32) / np.sqrt(max(1, math.prod(shape[1:])))
    elif leaf == "weight":
        a = rng.uniform(0.8, 1.2, shape)
    else:
        a = rng.normal(0.0, 0.05, shape)
    return np.ascontiguousarray(a, dtype=np.float32)


def random_sketches(rng, batch, n):
    """uint8 (batch, n, n): white with sparse dark strokes."""
    sketches = np.full((batch, n, n), 255, np.uint8)
    sketches[rng.random((batch, n, n)) < STROKE_DENSITY] = 0
    return sketches


def bench_inputs(opt, batch, seed=1):
    """Sketch-like uint8 images and the arrays every network gets, seeded:
    (sketches, {part: latents}, feature map)."""
    rng = np.random.default_rng(seed)
    n = opt.image_size
    sketches = random_sketches(rng, batch, n)
    latents = {p: rng.standard_normal((batch, opt.latent_dim)).astype(np.float32) for p in PARTS}
    fmap = rng.standard_normal((batch, opt.fm_nc, n, n)).astype(np.float32)
    return sketches, latents, fmap


def training_batch(opt, batch, seed=0):
    """A seeded batch of the combine stage: random sketches and photos."""
    rng = np.random.default_rng(seed)
    n = opt.image_size
    sketch = random_sketches(rng, batch, n)
    return {"sketch": sketch, "photo": rng.integers(0, 256, (batch, n, n, 3), dtype=np.uint8),
            "gender": None}


def crops_of(sketches, opt):
    """{part: (B, 1, S, S) float32 crops}, as the encoders get them."""
    x = sketch_to_array(sketches)
    return {p: crop_part(x, p, opt.image_size) for p in PARTS}


def rel_diff(got, want, dtype=np.float64):
    """Largest absolute difference relative to the largest ``want``,
    computed in ``dtype`` (inf when the shapes differ)."""
    got, want = np.asarray(got, dtype), np.asarray(want, dtype)
    if got.shape != want.shape:
        return float("inf")
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))
