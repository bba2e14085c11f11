"""Reading sketches and writing results, with one-line notes and errors."""

import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from models.checkpoint import atomic_write
from util.components import CANONICAL_SIZE

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")


class ImageError(ValueError):
    """A file that cannot be used as an image; the message names it."""


def list_images(inputs):
    """Files named in ``inputs`` plus the images inside named folders (sorted).

    Hidden files are skipped; a named path that does not exist is an error."""
    files = []
    for item in inputs:
        if os.path.isdir(item):
            for name in sorted(os.listdir(item)):
                path = os.path.join(item, name)
                if (not name.startswith(".") and os.path.isfile(path)
                        and name.lower().endswith(IMAGE_EXTS)):
                    files.append(path)
        elif os.path.isfile(item):
            files.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    return files


def on_white(img):
    """Any PIL image with transparency composited onto white (others as they are)."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img


def to_gray_on_white(img):
    """Any PIL image -> 'L'; transparent pixels become white."""
    return on_white(img).convert("L")


def fit_square(gray, size):
    """Pad a gray image to a square with white (centred) and resize to
    ``size``; returns the image and a note (None when nothing changed)."""
    w, h = gray.size
    note = None
    if w != h:
        side = max(w, h)
        canvas = Image.new("L", (side, side), 255)
        canvas.paste(gray, ((side - w) // 2, (side - h) // 2))
        gray = canvas
        note = f"{w}x{h} is not square: padded with white and resized to {size}x{size}"
    if gray.size != (size, size):
        note = note or f"{w}x{h} resized to {size}x{size}"
        gray = gray.resize((size, size), Image.LANCZOS)
    return gray, note


def open_image(path):
    """The decoded PIL image at ``path``; ImageError naming the file otherwise."""
    try:
        with Image.open(path) as img:
            img.load()
            return img.copy()
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: unreadable image ({exc})") from None


def sketch_from_image(img, size):
    """(uint8 (size, size) sketch, [notes]) from a PIL image.

    Inputs that are not 512x512 (the canonical sketch size) are padded to a
    square and resized with a one-line note; 512 inputs are resized to the
    model's size quietly."""
    gray = to_gray_on_white(img)
    w, h = gray.size
    if w < 1 or h < 1:
        raise ImageError("empty image")
    gray, note = fit_square(gray, size)
    canonical = w == h == CANONICAL_SIZE
    notes = [note] if note and not canonical else []
    arr = np.asarray(gray, dtype=np.uint8).copy()
    if arr.min() >= 128:
        notes.append("the sketch is empty (no dark strokes): the result is an average-looking face")
    return arr, notes


def load_sketch(path, size):
    """``sketch_from_image`` of an image file; ImageError naming the file."""
    try:
        return sketch_from_image(open_image(path), size)
    except ImageError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ImageError(f"{path}: {exc}") from None


def encode_png(arr):
    import io
    buf = io.BytesIO()
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def save_png(path, arr):
    """Write an (H, W) or (H, W, 3) uint8 array as PNG, atomically."""
    atomic_write(path, encode_png(arr))
