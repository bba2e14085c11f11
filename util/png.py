"""Writing images as PNG (atomically): the one place results are encoded."""

import io

import numpy as np
from PIL import Image

from util.fileio import atomic_write


def encode_png(arr):
    """PNG bytes of an (H, W) or (H, W, 3) uint8 array."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def save_png(path, arr):
    """Write an (H, W) or (H, W, 3) uint8 array as PNG, atomically."""
    atomic_write(path, encode_png(arr))
