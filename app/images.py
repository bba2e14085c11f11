"""Images the drawing app receives, decoded under a memory budget: the
header is read first (``open_image_bytes``: formats, size limits), then
the pixels, holding a share of ``DECODE_BUDGET`` (``DecodeBudget``), alpha
flattened in bands of rows, freed memory given back to the OS after a big
decode. Sketches come out as ``data.sketch_io.sketch_from_image`` makes
them, reference photos as their upright centre square in RGB (what
``data.sketch_io.reference_photo`` crops from a file). See docs/app.md."""

import base64
import binascii
import contextlib
import ctypes
import io
import math
import struct
import threading
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import HttpError
from data.sketch_io import ImageError, on_white, sketch_from_image, to_8bit, to_gray_on_white

# plain raster formats only (PIL would hand EPS to Ghostscript, for one)
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")
DEFAULT_MAX_PIXELS = 4096 * 4096   # images: at most 4096 pixels a side (opt.max_pixels)
DECODE_BUDGET = 320 << 20      # bytes that the images being decoded at once may take
DECODE_WAIT = 60               # seconds a request waits for its share before 503
TRIM_ABOVE = 32 << 20          # after a decode of this cost, freed memory goes back to the OS
BAND_PIXELS = 1 << 20          # alpha is flattened in bands of rows of about this many pixels
LABEL_HALO = 6                 # the sketch embedding's label colours spread this far (512 canvas)


def data_url(png_bytes):
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


def decode_base64_image(text, what="sketch"):
    """A data URL or plain base64 string -> bytes (HttpError 400 if malformed)."""
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        if not sep or not header.endswith(";base64"):
            raise HttpError(400, f"'{what}' is a data URL without base64 data")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise HttpError(400, f"'{what}' is not valid base64") from None


# what PIL's readers may raise on a damaged file, besides UnidentifiedImageError
DAMAGED = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError,
           TypeError, ZeroDivisionError, OverflowError)


def open_image_bytes(data, what="the sketch", max_pixels=DEFAULT_MAX_PIXELS):
    """PIL's image of ``data`` with only its header read: no pixel is decoded
    yet. HttpError 400 (empty, not an image, damaged) or 413 when a side is
    over sqrt(max_pixels), i.e. the square the sketch is padded to would
    have more than ``max_pixels``."""
    if not data:
        raise HttpError(400, f"{what} is empty")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
        except UnidentifiedImageError:
            raise HttpError(400, f"{what} is not an image (PNG, JPEG, GIF, BMP, WebP, TIFF "
                                 f"or PPM expected)") from None
        except Image.DecompressionBombError:
            raise HttpError(413, f"{what} has too many pixels") from None
        except DAMAGED as exc:
            raise HttpError(400, f"{what} is a damaged image ({exc})") from None
    w, h = img.size
    side = math.isqrt(max_pixels)
    if max(w, h) > side:
        img.close()
        raise HttpError(413, f"{what} is too large: {w}x{h} pixels (at most {side} pixels a "
                             f"side; draw.py --max_pixels {max_pixels} sets the limit)")
    if w < 1 or h < 1:
        img.close()
        raise HttpError(400, f"{what} is empty ({w}x{h} pixels)")
    return img


def gray_on_white(img):
    """``to_gray_on_white(img)``, the first step of ``sketch_from_image``,
    done in bands of rows: the same pixels, but the only full-size
    temporary is the 'L' result (1 byte a pixel) where the whole image
    would take three RGBA copies (4 bytes a pixel each) for its alpha."""
    w, h = img.size
    out = Image.new("L", (w, h), 255)
    rows = max(1, BAND_PIXELS // w)
    for top in range(0, h, rows):
        band = img.crop((0, top, w, min(h, top + rows)))
        out.paste(to_gray_on_white(band), (0, top))
    return out


def decode_cost(img):
    """The bytes that decoding the opened ``img`` into a sketch may take at
    once: its pixels as PIL holds them (1, 2 or 4 bytes each), the gray
    copies made on the way and the square the sketch is padded to."""
    w, h = img.size
    return w * h * (pixel_depth(img) + 3) + max(w, h) ** 2


class DecodeBudget:
    """A semaphore counted in bytes: a decode holds its ``decode_cost``
    while it runs, so images decode side by side while their costs fit in
    ``total`` (a few at the default limit, many canvas-sized ones) and one
    that alone is over it waits until it can run alone."""

    def __init__(self, total=DECODE_BUDGET):
        self.total = self.free = total
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def share(self, nbytes, timeout=DECODE_WAIT):
        need = min(nbytes, self.total)
        with self._cond:
            if not self._cond.wait_for(lambda: self.free >= need, timeout):
                raise HttpError(503, "the server is busy decoding other images: try again",
                                headers={"Retry-After": "5"})
            self.free -= need
        try:
            yield
        finally:
            with self._cond:
                self.free += need
                self._cond.notify_all()


try:                           # glibc keeps what a thread frees in that thread's arena
    _malloc_trim = ctypes.CDLL(None).malloc_trim
except (OSError, AttributeError):   # not glibc
    _malloc_trim = None


def release_memory():
    """Give freed heap memory back to the OS (glibc): big decodes in
    different threads would otherwise each leave their arena grown."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def centre_square(img):
    """The centre square of ``img`` (``img`` itself when it is square)."""
    w, h = img.size
    side = min(w, h)
    if w == h:
        return img
    left, top = (w - side) // 2, (h - side) // 2
    return img.crop((left, top, left + side, top + side))


def upright_8bit(img, what, square=False):
    """Decode the opened ``img`` as the command line reads a file: EXIF
    orientation applied, (``square``: its centre square cut out,) 16-bit
    scaled (not clipped) to 8 bits. Returns (the new image, the upright
    size before any cut); each replaced image is closed as soon as its
    successor exists. HttpError 400 for a damaged image."""
    try:
        img.load()
        steps = [ImageOps.exif_transpose] + ([centre_square] if square else []) + [to_8bit]
        size = None
        for step in steps:
            new = step(img)
            if new is not img:
                img.close()
                img = new
            size = size or img.size            # after the EXIF step
        return img, size
    except DAMAGED as exc:
        img.close()
        raise HttpError(400, f"{what} is a damaged image ({exc})") from None


def decode_sketch(img, size, budget, what="the sketch"):
    """The image opened by ``open_image_bytes`` -> (uint8 (size, size)
    sketch, notes), like ``sketch_from_image``. Decodes within ``budget``
    (a DecodeBudget; 503 after DECODE_WAIT seconds of waiting) and frees
    the image's pixels before returning. HttpError 400 for a damaged image."""
    cost = decode_cost(img)
    try:
        with budget.share(cost):
            img, _ = upright_8bit(img, what)
            try:
                gray = gray_on_white(img)
            except DAMAGED as exc:
                raise HttpError(400, f"{what}: its {img.mode} pixels cannot be made gray "
                                     f"({exc})") from None
            img.close()                           # the decoded pixels go now
            sketch = to_sketch(gray, size)
            del gray
            if cost >= TRIM_ABOVE:
                release_memory()
            return sketch
    finally:
        img.close()


def to_sketch(img, size):
    """``sketch_from_image`` with its errors as HTTP 400."""
    try:
        return sketch_from_image(img, size)
    except ImageError as exc:
        raise HttpError(400, f"the sketch: {exc}") from None


def strokes_png(gray):
    """A gray sketch (H, W) -> PNG of black strokes on transparent (alpha =
    darkness), the canvas's own format: composited on white it is the sketch."""
    alpha = Image.fromarray(255 - np.asarray(gray, dtype=np.uint8))
    black = Image.new("L", alpha.size, 0)
    buf = io.BytesIO()
    Image.merge("LA", (black, alpha)).save(buf, format="PNG")
    return buf.getvalue()


def pixel_depth(img):
    """Bytes a pixel of ``img`` takes decoded (as PIL holds it)."""
    if img.mode in ("1", "L", "P"):
        return 1
    return 2 if img.mode.startswith("I;16") else 4


def photo_decode_cost(img):
    """The bytes that decoding the opened ``img`` into a reference photo may
    take at once: its pixels twice (the upright copy of an EXIF-rotated
    photo is made before the original goes), its centre square as cut out
    and in RGB, and, for 16-bit and float images, the float arrays that
    scale the square to 8 bits."""
    w, h = img.size
    depth, side = pixel_depth(img), min(w, h)
    wide = img.mode.startswith("I") or img.mode == "F"
    return w * h * 2 * depth + side * side * (depth + 3 + (16 if wide else 0))


def rgb_on_white(img):
    """``on_white(img).convert("RGB")`` done in bands of rows, like
    ``gray_on_white``: the only full-size temporary is the RGB result."""
    w, h = img.size
    out = Image.new("RGB", (w, h), (255, 255, 255))
    rows = max(1, BAND_PIXELS // w)
    for top in range(0, h, rows):
        band = img.crop((0, top, w, min(h, top + rows)))
        out.paste(on_white(band).convert("RGB"), (0, top))
    return out


def decode_photo(img, budget, prepare, what="the reference photo"):
    """The image opened by ``open_image_bytes`` -> (``prepare(square)``,
    notes): ``square`` is the photo's centre square, upright (EXIF), in RGB
    with transparency over white: the pixels ``data.sketch_io.
    reference_photo`` crops from a file. ``prepare`` (which makes the small
    arrays kept) runs within the decode budget too; the big pixels are
    freed before this returns. HttpError 400 for a damaged image."""
    cost = photo_decode_cost(img)
    try:
        with budget.share(cost):
            img, (w, h) = upright_8bit(img, what, square=True)
            side = min(w, h)
            try:
                rgb = rgb_on_white(img)
            except DAMAGED as exc:
                raise HttpError(400, f"{what}: its {img.mode} pixels cannot be made RGB "
                                     f"({exc})") from None
            img.close()
            try:
                prepared = prepare(rgb)
            finally:
                rgb.close()
            if cost >= TRIM_ABOVE:
                release_memory()
            notes = [] if w == h else [f"{what} is {w}x{h}, not square: its centre "
                                       f"{side}x{side} is used"]
            return prepared, notes
    finally:
        img.close()


def resized(img, size, resample):
    """``img`` at size x size (the same object when it already is)."""
    return img if img.size == (size, size) else img.resize((size, size), resample)


def label_picture(labels, halo=LABEL_HALO):
    """The sketch embedding's label map (512, 512) uint8 -> its colours (H,
    W, 3) uint8 (``colour_labels``, white background), each stroke's class
    spread ``halo`` pixels around it: under the page's strokes the colours
    would otherwise hide exactly behind them.

    OpenCV's distance transforms, 7 ms where SciPy's exact one with indices
    took 15-25 ms of every preview stroke: the halo's extent is exact
    (Euclidean); the class a halo pixel takes is its nearest stroke pixel's
    by the 5x5-mask distance, which can differ from the exact nearest only
    where two classes' strokes are about equally near."""
    from models.sp_embedding.inputs import colour_labels
    labels = np.asarray(labels, np.uint8)
    empty = labels == 0
    if empty.all() or not empty.any():
        return colour_labels(labels)
    src = empty.astype(np.uint8)
    dist = cv2.distanceTransform(src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    _, nearest = cv2.distanceTransformWithLabels(src, cv2.DIST_L2, cv2.DIST_MASK_5,
                                                 labelType=cv2.DIST_LABEL_PIXEL)
    # DIST_LABEL_PIXEL numbers the stroke pixels 1, 2, ... in raster order
    classes = np.concatenate([np.zeros(1, np.uint8), labels[~empty]])
    return colour_labels(np.where(dist <= halo, classes[nearest], 0).astype(np.uint8))
