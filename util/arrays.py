"""NumPy conversions between images and network tensors, and the component
crops (no Jittor: the benchmark, the trainers and the models share them)."""

import numpy as np

from util.components import PARTS, scaled_boxes


def sketch_to_array(sketches):
    """uint8 (B, H, W) (black lines on white) -> float32 (B, 1, H, W) in [-1, 1]."""
    s = np.asarray(sketches, dtype=np.float32)
    return ((s - 127.5) / 127.5)[:, None, :, :]


def photo_to_array(photos):
    """uint8 (B, H, W, 3) RGB -> float32 (B, 3, H, W) in [-1, 1]."""
    return np.asarray(photos, dtype=np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0


def to_uint8(x):
    """[-1, 1] -> uint8 (rounded); NaN (from damaged weights) becomes mid-grey."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip((x + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def to_images(x):
    """(B, C, H, W) in [-1, 1] -> uint8 (B, H, W, C), or (B, H, W) for one channel."""
    out = to_uint8(x).transpose(0, 2, 3, 1)
    return out[..., 0] if out.shape[-1] == 1 else out


def crop_part(sketches, part, image_size, whole=False):
    """Crop ``part`` from sketches (B, 1, H, W) in [-1, 1] (white = 1).

    The remainder is the whole sketch with the other boxes painted white;
    with ``whole`` (the whole-face ablation) it is the untouched sketch."""
    boxes = scaled_boxes(image_size)
    if part == "" and whole:
        return np.array(sketches, dtype=np.float32, copy=True)
    if part == "":
        out = np.array(sketches, dtype=np.float32, copy=True)
        for p in PARTS[:-1]:
            x, y, s = boxes[p]
            out[:, :, y:y + s, x:x + s] = 1.0
        return out
    x, y, s = boxes[part]
    return np.ascontiguousarray(sketches[:, :, y:y + s, x:x + s], dtype=np.float32)


def random_look(seed, key, dim, batch):
    """The random look of draw (seed, key): a standard normal vector of
    ``dim`` from NumPy's generator seeded with [seed, key], the same for all
    ``batch`` rows (B, dim) float32. Both methods draw their random
    appearances so (DeepFaceDrawing's appearance code, the sketch
    embedding's z), in every backend: ``--appearance_seed N`` gives the
    same face with Jittor and with ONNX Runtime."""
    z = np.random.default_rng([seed, key]).standard_normal(dim)
    return np.repeat(z[None].astype(np.float32), batch, axis=0)
