"""What the sketch embedding takes in, prepared exactly as the authors' code
prepares it (reference notes, section 2), with NumPy and PIL only.

* Semantic sketch = label map: an image whose pixel value is the class of
  the stroke under it (0 = background), read by value (a 16-bit map keeps
  its classes; NaN, fractions and classes above label_nc are refused
  naming the file). Resized to the encoders'
  size with PIL's NEAREST (which samples source index floor((i + 0.5) *
  in / out): rows 1, 3, 5, ... for 512 -> 256), one-hot with label_nc + 1
  channels, channel 0 (background) dropped.
* Plain black-on-white sketches are labelled first (``labelers``), at the
  canonical 512 size, then go the same way.
* Appearance photo: RGB, resized to twice the encoders' size with PIL's
  BILINEAR (untouched when already that size), /255, normalised to [-1, 1],
  then 2x2 mean-pooled (the model's face_pool).
* Pairing (``data.sketch_io.pair_appearances``): sketches and photos by
  sorted position, or one photo for every sketch.
"""

import numpy as np
from PIL import Image

from data.sketch_io import (DEFAULT_MAX_PIXELS, ImageError, check_label_values, label_values,
                            load_sketch, single_channel)

INPUT_KINDS = ("auto", "labels", "lines")
LABEL_BACKGROUND_FRACTION = 0.5     # a label map is mostly background (0)


def looks_like_labels(arr, label_nc):
    """A label map: small values (<= label_nc), mostly 0. A plain sketch is
    mostly white (255)."""
    return arr.max(initial=0) <= label_nc and (arr == 0).mean() > LABEL_BACKGROUND_FRACTION


def label_array(values, label_nc, name):
    """uint8 label map of stored pixel values (``data.sketch_io.label_values``:
    never rescaled); ImageError naming the file for NaN, fractions, negative
    values or classes above label_nc (the authors' code crashes there)."""
    arr = single_channel(np.asarray(values), name)
    top = arr.max(initial=0)
    if np.isfinite(top) and top > label_nc:
        raise ImageError(f"{name}: label value {top:g} above the model's {label_nc} classes")
    return check_label_values(arr, label_nc, name)


def label_image(img, label_nc, name):
    """``label_array`` of a PIL image holding class ids."""
    return label_array(np.asarray(img), label_nc, name)


def _stored_values(path, max_pixels):
    """The stored values of a file that may be a label map (one value per
    pixel, no transparency), else None (a plain sketch, or a file that
    ``load_sketch`` will report)."""
    try:
        with Image.open(path) as img:
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                return None
        return label_values(path, max_pixels)
    except (ImageError, OSError, SyntaxError, ValueError, EOFError):
        return None


def resize_labels(labels, size):
    """A label map at ``size``: PIL NEAREST (the authors' exact sampling, for
    their 512 -> 256) when shrinking by at most 2; for larger factors (our
    small models) each pixel takes the most frequent stroke class of its
    block, as the training data is drawn, so thin strokes do not vanish."""
    if labels.shape == (size, size):
        return labels
    n = labels.shape[0]
    if n > 2 * size and n % size == 0:
        from data.datasets import resize_label_map
        return resize_label_map(labels, size, strokes=True)
    return np.asarray(Image.fromarray(labels).resize((size, size), Image.NEAREST))


def one_hot(labels, label_nc):
    """(B, S, S) uint8 label maps -> (B, label_nc, S, S) float32 0/1, the
    one-hot of label_nc + 1 classes without the background channel."""
    labels = np.asarray(labels)
    classes = np.arange(1, label_nc + 1, dtype=labels.dtype).reshape(1, -1, 1, 1)
    return (labels[:, None] == classes).astype(np.float32)


def read_sketch(path, opt, labeler, max_pixels=DEFAULT_MAX_PIXELS):
    """(label map at the encoders' size, label map at 512 for display,
    [notes]) of one sketch file. A label map is read by value;
    ``labeler(gray512)`` labels plain sketches."""
    kind = getattr(opt, "sketch_kind", "auto")
    values = None
    if kind == "labels":
        values = label_values(path, max_pixels)
    elif kind == "auto":
        values = _stored_values(path, max_pixels)
        if values is not None and not looks_like_labels(values, opt.label_nc):
            values = None
    if values is not None:
        labels = label_array(values, opt.label_nc, path)
        return resize_labels(labels, opt.encoder_size), labels, []
    gray, notes = load_sketch(path, 512, max_pixels)
    labels = labeler(gray)
    if not labels.any():
        notes.append("no strokes found: the result is an average-looking face")
    return resize_labels(labels, opt.encoder_size), labels, notes


def appearance_array(img, encoder_size):
    """A PIL image -> float32 (3, S, S) in [-1, 1]: RGB, resized to 2S
    (bilinear, untouched when already 2S), 2x2 mean pooled."""
    from data.sketch_io import on_white
    rgb = on_white(img).convert("RGB")
    big = 2 * encoder_size
    if rgb.size != (big, big):
        rgb = rgb.resize((big, big), Image.BILINEAR)
    x = np.asarray(rgb, dtype=np.float32) / 255.0
    x = (x - 0.5) / 0.5
    pooled = x.reshape(encoder_size, 2, encoder_size, 2, 3).mean(axis=(1, 3))
    return np.ascontiguousarray(pooled.transpose(2, 0, 1))


def reference_image(img, encoder_size):
    """The appearance photo as the authors save it (resized to 2S, uint8)."""
    from data.sketch_io import on_white
    rgb = on_white(img).convert("RGB")
    big = 2 * encoder_size
    if rgb.size != (big, big):
        rgb = rgb.resize((big, big), Image.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


# A ScanNet-style 40-colour palette for showing label maps (0 = white).
def palette(n=40):
    rng = np.random.default_rng(7)
    colours = rng.integers(40, 230, size=(n, 3)).astype(np.uint8)
    colours[0] = 255
    return colours


def colour_labels(labels):
    """uint8 (H, W) label map -> (H, W, 3) colour picture."""
    return palette()[np.clip(labels, 0, 39)]
