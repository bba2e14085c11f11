"""Reading sketches and photos, with one-line notes and errors that name
the file (results are written with ``util.png``).

Every image file goes through ``open_image``: the pixel count is checked
from the header before anything is decoded (``max_pixels``), the EXIF
orientation of phone pictures is applied, and 16-bit images are scaled to
8 bits (not clipped).
"""

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from util.components import CANONICAL_SIZE

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")
DEFAULT_MAX_PIXELS = 64_000_000     # 8000 x 8000: far above any sketch or photo
# Our own limit (``max_pixels``, checked from the header before decoding)
# replaces PIL's fixed one, so that the option really sets it and the
# message can say how to raise it.
Image.MAX_IMAGE_PIXELS = None
INVERTED_DARK_FRACTION = 0.5        # more dark than light pixels: light lines on dark


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


def to_8bit(img):
    """16- and 32-bit integer images ('I;16', 'I') scaled to 'L' by their
    bit depth (PIL's own conversion would clip everything above 255); a
    float image ('F') by 1 or 255, ValueError when it holds NaN or
    infinities (no pixel value to give them)."""
    if img.mode.startswith("I;16") or img.mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) <= 65535 \
            else float(2 ** 32 - 1)
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ValueError("a float image holding NaN or infinite values")
        top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return img


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


def decode_image(source, name, max_pixels=DEFAULT_MAX_PIXELS, formats=None):
    """The decoded PIL image of ``source`` (a path or a file object), upright
    (EXIF) and at most 8 bits per channel; ImageError naming ``name``. The
    size is checked from the header before decoding."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(source, formats=formats) as img:
                w, h = img.size
                # the limit applies to the square a sketch is padded to
                if max_pixels and max(w, h) ** 2 > max_pixels:
                    raise ImageError(f"{name}: {w}x{h} is too large ({max(w, h) ** 2 / 1e6:.1f} "
                                     f"megapixels as a square; the limit is "
                                     f"{max_pixels / 1e6:g}, --max_pixels raises it)")
                if w < 1 or h < 1:
                    raise ImageError(f"{name}: empty image ({w}x{h} pixels)")
                img.load()
                out = ImageOps.exif_transpose(img)
                out = out.copy() if out is img else out
        except ImageError:
            raise
        except UnidentifiedImageError:
            raise ImageError(f"{name}: not an image") from None
        except Image.DecompressionBombError:
            raise ImageError(f"{name}: too many pixels to decode safely (a decompression "
                             f"bomb?)") from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
            raise ImageError(f"{name}: unreadable image ({exc})") from None
    try:
        return to_8bit(out)
    except ValueError as exc:
        raise ImageError(f"{name}: {exc}") from None


def open_image(path, max_pixels=DEFAULT_MAX_PIXELS):
    """The decoded PIL image at ``path`` (see ``decode_image``)."""
    return decode_image(path, path, max_pixels)


def read_label_map(path, max_value, max_pixels=DEFAULT_MAX_PIXELS):
    """uint8 (H, W) label map of the file at ``path``, read by value: 8-,
    16- and 32-bit integer maps, float maps holding whole numbers, palette
    PNGs (the index) and grey RGB maps alike. ImageError naming the file for
    a value that is not a whole number in 0..``max_value`` (a 16-bit map is
    never rescaled: its class 5 is 5), a colour map or an undecodable file."""
    return check_label_values(label_values(path, max_pixels), max_value, path)


def label_values(path, max_pixels=DEFAULT_MAX_PIXELS):
    """The pixel values of the image at ``path`` as stored (one channel,
    nothing rescaled: a 16-bit map keeps its values; ImageError for a
    colour image or an undecodable file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                w, h = img.size
                if max_pixels and w * h > max_pixels:
                    raise ImageError(f"{path}: {w}x{h} is too large for a label map (the limit "
                                     f"is {max_pixels / 1e6:g} megapixels)")
                if w < 1 or h < 1:
                    raise ImageError(f"{path}: empty label map ({w}x{h} pixels)")
                img.load()
                arr = np.asarray(img)
        except ImageError:
            raise
        except UnidentifiedImageError:
            raise ImageError(f"{path}: not an image") from None
        except (OSError, SyntaxError, ValueError, EOFError, MemoryError,
                Image.DecompressionBombError) as exc:
            raise ImageError(f"{path}: unreadable label map ({exc})") from None
    return single_channel(arr, path)


def single_channel(arr, path):
    """The one value per pixel of a label image's array (a grey RGB(A) map
    gives its first channel); ImageError naming ``path`` for colours."""
    if arr.ndim == 3:
        if arr.shape[2] == 4:
            arr = arr[:, :, :3]
        if not (arr == arr[:, :, :1]).all():
            raise ImageError(f"{path}: a colour image, not a label map (one value per pixel)")
        arr = arr[:, :, 0]
    if arr.dtype.kind == "b":
        arr = arr.astype(np.uint8)
    return arr


def check_label_values(arr, max_value, path):
    """``arr`` (from ``label_values``) as uint8 classes; ImageError naming
    ``path`` for NaN, fractions or values outside 0..``max_value``."""
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ImageError(f"{path}: label map holds NaN or infinite values")
        if (arr != np.round(arr)).any():
            raise ImageError(f"{path}: label map holds values that are not whole numbers")
    if arr.size and (arr.min() < 0 or arr.max() > max_value):
        bad = arr.max() if arr.max() > max_value else arr.min()
        raise ImageError(f"{path}: label value {bad:g} outside 0..{max_value}")
    return arr.astype(np.uint8)


def load_photo(path, size=None, max_pixels=DEFAULT_MAX_PIXELS):
    """uint8 (H, W, 3) RGB array from an image file (EXIF rotation applied,
    transparency over white); with ``size``, a square photo resized to it
    (ImageError for another shape: align it first)."""
    rgb = on_white(open_image(path, max_pixels)).convert("RGB")
    if size is not None and rgb.size != (size, size):
        if rgb.size[0] != rgb.size[1]:
            raise ImageError(f"{path}: photo is {rgb.size[0]}x{rgb.size[1]}, not square "
                             f"(align it with scripts/align_faces.py)")
        rgb = rgb.resize((size, size), Image.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8).copy()


def reference_photo(path, size, max_pixels=DEFAULT_MAX_PIXELS):
    """An appearance reference: RGB uint8 (size, size, 3), the centre square
    of the photo resized (any aspect is accepted)."""
    rgb = on_white(open_image(path, max_pixels)).convert("RGB")
    w, h = rgb.size
    side = min(w, h)
    rgb = rgb.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side,
                    (h - side) // 2 + side))
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8).copy()


def list_appearances(source, max_pixels=DEFAULT_MAX_PIXELS):
    """The appearance photos of ``--appearance`` (a file or a folder),
    sorted. One file serves every sketch: it must be an image within
    ``max_pixels`` (its header is checked here, so that a wrong file is one
    error up front, not one per sketch)."""
    try:
        files = list_images([source])
    except FileNotFoundError as exc:
        raise ImageError(str(exc)) from None
    if not files:
        raise ImageError(f"{source}: no images found")
    if os.path.isfile(source):
        check_image_header(source, max_pixels)
    return files


def check_image_header(path, max_pixels=DEFAULT_MAX_PIXELS):
    """ImageError naming ``path`` unless its header is an image's within
    ``max_pixels`` (nothing is decoded)."""
    try:
        with Image.open(path) as img:
            w, h = img.size
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{path}: unreadable image ({exc})") from None
    if max_pixels and max(w, h) ** 2 > max_pixels:
        raise ImageError(f"{path}: {w}x{h} is too large ({max(w, h) ** 2 / 1e6:.1f} megapixels "
                         f"as a square; the limit is {max_pixels / 1e6:g}, --max_pixels raises it)")


def pair_appearances(n_sketches, photos):
    """The photo of each sketch position: by sorted position, or the one
    photo for all. ValueError when there are fewer photos than sketches."""
    if len(photos) == 1:
        return [photos[0]] * n_sketches
    if len(photos) < n_sketches:
        raise ValueError(f"{len(photos)} appearance photos for {n_sketches} sketches: give "
                         f"one photo for all, or at least one per sketch (paired in sorted "
                         f"order)")
    return photos[:n_sketches]


def sketch_from_image(img, size):
    """(uint8 (size, size) sketch, [notes]) from a PIL image.

    Inputs that are not 512x512 (the canonical sketch size) are padded to a
    square and resized with a one-line note; 512 inputs are resized to the
    model's size quietly. A sketch of light lines on a dark ground is
    inverted, with a note."""
    gray = to_gray_on_white(img)
    w, h = gray.size
    if w < 1 or h < 1:
        raise ImageError("empty image")
    notes = []
    arr = np.asarray(gray, dtype=np.uint8)
    if (arr < 128).mean() > INVERTED_DARK_FRACTION:
        gray = Image.fromarray(255 - arr)
        notes.append("light lines on a dark ground: inverted to dark lines on white")
    gray, note = fit_square(gray, size)
    canonical = w == h == CANONICAL_SIZE
    if note and not canonical:
        notes.insert(0, note)
    arr = np.asarray(gray, dtype=np.uint8).copy()
    if arr.min() >= 128:
        notes.append("the sketch is empty (no dark strokes): the result is an average-looking face")
    return arr, notes


def load_sketch(path, size, max_pixels=DEFAULT_MAX_PIXELS):
    """``sketch_from_image`` of an image file; ImageError naming the file."""
    try:
        return sketch_from_image(open_image(path, max_pixels), size)
    except ImageError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ImageError(f"{path}: {exc}") from None


def load_sketch_array(path, size, max_pixels=DEFAULT_MAX_PIXELS):
    """The sketch at ``path`` as uint8 (size, size) (training data: no notes)."""
    return load_sketch(path, size, max_pixels)[0]
