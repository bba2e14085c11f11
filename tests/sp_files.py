"""Checkpoints in the exact format of the sketch embedding's authors, made
from their tensor manifest (tests/data/sp_embedding_checkpoint_manifest.json:
every name, shape and dtype of their model.pt), not from our networks.

``width`` shrinks the channel axes (1/4 keeps every structure, 24 IR-SE
units, 18 styles, a 1024 generator with its 17 noise maps, at a sixteenth
of the parameters) so the suite stays fast; ``width=1`` is the authors'
3.3 GB file (the opt-in slow test). The values are random but plausible
(fan-in scaled convolutions, positive variances, BatchNorm scales near 1).
"""

import json
import os

import numpy as np

from models.torch_file import write_torch_file

MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                        "sp_embedding_checkpoint_manifest.json")


def manifest():
    with open(MANIFEST) as f:
        return json.load(f)


def manifest_keys(group=None):
    """[(name, shape, dtype, kind)] in the file's order (one group or all)."""
    m = manifest()
    out = []
    for name, grp in m["groups"].items():
        if group is None or name == group:
            out += [(k, tuple(s), d, kind) for k, s, d, kind in grp["keys"]]
    return out


def _channel_axes(name, shape):
    """The axes of ``shape`` that count channels (shrunk with the width)."""
    leaf = name.rsplit(".", 1)[-1]
    if ".noises." in name or leaf == "kernel":
        return ()
    if name.endswith("input.input") or (len(shape) == 4 and "to_rgb" in name and leaf == "bias"):
        return (1,)
    if len(shape) == 5:                       # modulated conv: 1 x out x in x k x k
        return (1, 2)
    return tuple(range(min(len(shape), 2)))


def shrink(name, shape, width):
    if width == 1:
        return tuple(shape)
    out = list(shape)
    for axis in _channel_axes(name, shape):
        if out[axis] % 16 == 0 or (out[axis] % 4 == 0 and out[axis] < 64):
            out[axis] = max(1, int(round(out[axis] * width)))
    return tuple(out)


def plausible(name, shape, rng):
    """Random values of the kind a trained tensor of that name has."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "num_batches_tracked":
        return np.array(1000, np.int64)
    if leaf == "running_var":
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if leaf == "running_mean":
        return rng.normal(0.0, 0.1, shape).astype(np.float32)
    if leaf == "kernel":
        k = np.array([1, 3, 3, 1], np.float64)
        kernel = np.outer(k, k) / np.outer(k, k).sum()
        return (kernel * (4 if "upsample" in name or ".conv.blur" in name else 1)).astype(np.float32)
    if ".noises." in name:
        return rng.standard_normal(shape).astype(np.float32)
    if name.endswith("modulation.bias"):
        return np.ones(shape, np.float32)
    if name.endswith("noise.weight"):
        return rng.uniform(0.0, 0.1, shape).astype(np.float32)
    if ".style." in name and leaf == "weight":          # mapping: stored as randn / lr_mul
        return (rng.standard_normal(shape) / 0.01).astype(np.float32)
    if len(shape) >= 2 and ("decoder." in name or "linear" in name):
        return rng.standard_normal(shape).astype(np.float32)          # equalised: scaled at run
    if len(shape) >= 2:                                                # plain conv weights
        fan_in = int(np.prod(shape[1:]))
        return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
    if leaf == "weight" and ("input_layer.2" in name or "res_layer.2" in name):
        return np.full(shape, 0.25, np.float32)                        # PReLU slopes
    if leaf == "weight":
        return rng.uniform(0.8, 1.2, shape).astype(np.float32)
    return rng.normal(0.0, 0.05, shape).astype(np.float32)


def authors_state_dict(width=0.25, seed=0):
    rng = np.random.default_rng(seed)
    return {name: plausible(name, shrink(name, shape, width), rng)
            for name, shape, _, _ in manifest_keys()}


def authors_opts(width):
    """A plain dict like the authors' saved training options."""
    return {"exp_dir": "experiment", "dataset_type": "celebs_seg_to_face", "label_nc": 22,
            "input_nc": 22, "output_size": 1024, "encoder_type": "GradualStyleEncoder",
            "start_from_latent_avg": True, "learn_in_w": False, "batch_size": 4,
            "learning_rate": 0.0001, "optim_name": "ranger", "lpips_lambda": 0.8,
            "l2_lambda": 1.0, "device": "cuda:0", "n_styles": 18,
            "checkpoint_path": None, "test_batch_size": 2, "resize_factors": None}


def write_authors_file(path, width=0.25, seed=0):
    """A model.pt in the authors' format; returns the state dict written."""
    state = authors_state_dict(width, seed)
    rng = np.random.default_rng(seed + 1)
    style_dim = shrink("decoder.style.1.weight", (512, 512), width)[0]
    latent_avg = (0.1 * rng.standard_normal((18, style_dim))).astype(np.float32)
    write_torch_file(path, {"state_dict": state, "latent_avg": latent_avg,
                            "opts": authors_opts(width)})
    return state


def write_stylegan2_file(path, width=0.25, seed=0):
    """A rosinality StyleGAN2 file (g_ema + latent_avg of shape D) from the
    manifest's decoder tensors."""
    rng = np.random.default_rng(seed)
    g = {name[len("decoder."):]: plausible(name, shrink(name, shape, width), rng)
         for name, shape, _, _ in manifest_keys("decoder.")}
    style_dim = g["style.1.weight"].shape[0]
    write_torch_file(path, {"g_ema": g, "latent_avg": rng.standard_normal(style_dim)
                            .astype(np.float32)})
    return g
