"""The drawing app's web server: the Python standard library's threading HTTP
server, the models shared by every browser tab.

Two methods side by side: DeepFaceDrawing (``--params``, always) and the
semantics-preserving sketch embedding (``--sp_params``, when its checkpoint
is there). Both run one request at a time, under one lock (Jittor is not
thread-safe).

Endpoints (every error is JSON ``{"error": "..."}``, one line, with a 4xx/5xx
status):

``GET /``, ``GET /static/NAME``
    The page (``app/static/``).
``GET /api/info``
    ``methods``: one entry per method, available or not (``available``;
    when not, ``reason``), with its ``title``, result ``image_size``,
    ``model`` line, ``appearance`` (whether it takes an appearance: a seed
    or a reference photo), ``appearance_note`` (what appearance does, or
    why it is not offered), ``settings`` (the request fields it uses) and
    ``shadow`` (what its shadow is); ``default_method``, ``max_seed``. And,
    as before, DeepFaceDrawing's own: canvas and model size, the parts with
    their boxes on the 512 canvas, the genders, the largest K, the defaults,
    the upload limits and a line about the model.
``POST /api/convert`` (``Content-Type: application/json``)
    JSON ``{"sketch": PNG as a data URL or base64,
    "method": "deepfacedrawing"|"sp_embedding",
    "appearance": null | {"seed": n} | {"photo": data URL or base64} |
    {"reference": token}, "k": int,
    "refine": {"eye1": t, ..., "remainder": t, "all": t} or "eye1=0.8,...",
    "gender": "male"|"female"|"all", "shadow": bool, "sketch_norm": bool,
    "session": str, "seq": int}`` (all but ``sketch`` optional; ``k``,
    ``refine``, ``gender`` and ``sketch_norm`` are DeepFaceDrawing's,
    checked always and used by it alone) -> ``{"image": PNG data URL,
    "shadow": PNG data URL or null, "size": n, "method": name, "appearance":
    null | {"seed": n} | {"reference": token}, "seconds": s, "seq": seq,
    "notes": [...]}``.
    ``method`` defaults to DeepFaceDrawing. ``appearance``: null is the mean
    appearance for DeepFaceDrawing and seed 0 for the sketch embedding; a
    seed (0..``MAX_SEED``) draws a random appearance, the same one every
    time; a photo (decoded with the same limits as sketches) or the token
    ``/api/reference`` gave for one lends its colours. A photo sent here is
    kept like one sent to ``/api/reference`` and the answer names its token,
    so later requests need not send it again. A method without an
    appearance (a DeepFaceDrawing model trained without
    ``--appearance_dim``) refuses any appearance but null with 400; a
    well-formed token no longer kept gets 410 (send the photo again).
    DeepFaceDrawing's shadow is its gray guidance (model size); the sketch
    embedding's is its stroke label map in colour, spread a few pixels
    around each stroke so it shows beside the strokes (512x512). Images
    come back at the model's size; the page scales them. A sketch of another
    size than the method's (512 for the sketch embedding), or not square,
    is accepted: padded with white and resized, with a note.
    DeepFaceDrawing normalises the sketch as demo.py does
    (``data.sketch_norm``: strokes at the training width, a face drawn
    too small or off-centre moved onto the component layout; a note for
    each change) unless ``"sketch_norm": false`` or draw.py
    --no_sketch_norm (which only sets the default).
    ``session``/``seq`` let a page's newer request supersede its older
    ones: a request still waiting for a model when a newer one from the
    same session has arrived gets 409 without being computed, and one whose
    browser has hung up is not computed at all.
``POST /api/reference`` (``Content-Type: image/...`` or ``application/octet-stream``)
    The raw bytes of a reference photo -> ``{"token": str, "thumbnail": PNG
    data URL (THUMB_SIZE square), "methods": [names that can use it],
    "notes": [...]}``. The photo's centre square is kept, already sized for
    each method that takes an appearance (what ``data.sketch_io.
    reference_photo`` makes for DeepFaceDrawing; the sketch embedding's
    2x-encoder-size input), in a cache of at most ``REFERENCES_KEPT``
    photos and ``REFERENCE_CACHE_BYTES`` (least recently used go first;
    DeepFaceDrawing's appearance code of a photo is kept with it once
    computed). The token is a hash of the file's bytes: the same photo gets
    the same token and is decoded once, whichever endpoint it came to. 400
    when no model here takes an appearance.
``POST /api/load`` (``Content-Type: image/...`` or ``application/octet-stream``)
    The raw bytes of any image file -> ``{"sketch": 512x512 PNG data URL
    (black strokes on transparent), "notes": [...]}``: an uploaded sketch
    normalised for the canvas.

Who may ask. On a loopback address only requests for a loopback Host name
are answered (DNS rebinding), any method. A POST is refused with 403 when
its ``Origin`` is not this server's own (``Origin: null``, which sandboxed
iframes and local files send, included) or ``Sec-Fetch-Site`` says
``cross-site``/``same-site``. And the POST endpoints only take bodies whose
``Content-Type`` a web page cannot send without a CORS preflight (which this
server never grants): ``text/plain``, ``application/x-www-form-urlencoded``,
``multipart/form-data`` or no type at all get 415, so neither a form of
another site nor its ``fetch(..., {mode: "no-cors"})`` reaches the model.

What is accepted. Bodies up to ``--max_upload_mb`` (413 above, 411 without
a Content-Length, 400 when it is not one plain number); JSON nested at most 32 levels deep (400; checked by a
linear scan before parsing, since Jittor raises Python's recursion limit to
10**6 and ``json`` would overflow the C stack rather than raise); images in
PNG, JPEG, GIF, BMP, WebP, TIFF or PPM whose longer side is at most
sqrt(``--max_pixels``), i.e. the square the app pads a sketch to has at most
max_pixels pixels (413, from the image header, before any pixel is
decoded). 4096x4096 (``DEFAULT_MAX_PIXELS``, used when the options have no
max_pixels) is plenty for a 512x512 canvas and still takes a 12-megapixel
phone photo (4032x3024) or an A4 page scanned at 300 dpi. Reference
photos are held to the same limits. Decoding holds a share of a 320 MB
budget, an estimate of what it needs (``decode_cost``: about 7 bytes a pixel
for RGBA, plus the padded square; ``photo_decode_cost`` for a photo: the
decoded image twice, for its upright copy, plus its centre square in RGB);
alpha is flattened in bands of rows, and after a big decode the freed memory
goes back to the OS (glibc's ``malloc_trim``; each thread's arena would keep
it). So two 4096x4096 images decode at once, small ones many at once, one
over the budget alone, and the server's memory stays bounded however many
uploads arrive together (a request waits at most a minute for its share,
then gets 503). Kept reference photos take at most REFERENCE_CACHE_BYTES.

Bad input never stops the server: malformed JSON, images or parameters get
400 with a message, bodies over the limit 413, requests without a length
411, wrong content types 415, unknown paths 404, other methods 405, reference
tokens no longer kept 410; anything unexpected is a 500 that is logged, and
the server goes on.
"""

import base64
import binascii
import collections
import contextlib
import ctypes
import hashlib
import io
import json
import math
import os
import re
import select
import socket
import struct
import sys
import threading
import time
import traceback
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from data.sketch_io import ImageError, on_white, sketch_from_image, to_8bit, to_gray_on_white
from data.sketch_norm import normalise_sketch, wanted
from models.methods import DEFAULT_METHOD, method_names
from options.base_options import REPO_ROOT, OptionError
from options.dfd_options import parse_refine
from options.draw_options import is_loopback
from util.components import BANK_CHOICES as GENDERS
from util.components import BOXES_512, CANONICAL_SIZE, PART_NAMES, PARTS, part_key
from util.png import encode_png

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png",
                 ".svg": "image/svg+xml", ".ico": "image/x-icon"}
# plain raster formats only (PIL would hand EPS to Ghostscript, for one)
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")
DEFAULT_MAX_PIXELS = 4096 * 4096   # images: at most 4096 pixels a side (opt.max_pixels)
DECODE_BUDGET = 320 << 20      # bytes that the images being decoded at once may take
DECODE_WAIT = 60               # seconds a request waits for its share before 503
TRIM_ABOVE = 32 << 20          # after a decode of this cost, freed memory goes back to the OS
BAND_PIXELS = 1 << 20          # alpha is flattened in bands of rows of about this many pixels
JSON_DEPTH_LIMIT = 32          # arrays/objects nested deeper than this are refused unparsed
JSON_TYPES = ("application/json",)
IMAGE_TYPES = ("image/*", "application/octet-stream")   # never CORS-simple: a preflight
MESSAGE_LIMIT = 300            # error messages are cut to one line of this many characters
DRAIN_LIMIT = 64 << 20         # an over-limit body up to this size is read and dropped
SESSIONS_KEPT = 1000           # most recent sessions whose latest request number is kept
MAX_SEED = 2 ** 32 - 1          # appearance seeds: 0..MAX_SEED
REFERENCES_KEPT = 32           # reference photos kept (least recently used go first)...
REFERENCE_CACHE_BYTES = 64 << 20   # ...and the bytes they may take together
THUMB_SIZE = 96                # the thumbnail of a reference photo, pixels a side
LABEL_HALO = 6                 # the sketch embedding's label colours spread this far (512 canvas)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data: blob:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'"),
}


class HttpError(Exception):
    """An answer other than 200: status, message, and whether to hang up."""

    def __init__(self, status, message, close=False, drain=0, headers=None):
        super().__init__(message)
        self.status, self.message = status, message
        self.close, self.drain, self.headers = close, drain, headers or {}


def one_line(text, limit=MESSAGE_LIMIT):
    """``text`` on one line (control characters as spaces), cut to ``limit``."""
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", str(text)).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown(value, limit=60):
    """A request value for an error message: JSON, short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return one_line(text, limit)


# ------------------------------------------------------------------ JSON
# A JSON string, from its opening quote to its closing one, or to the end of
# the text when it is not closed. Possessive repeats and an ending that always
# matches: each quote outside a string starts one match that never fails and
# never backtracks, so finding every string takes linear time whatever the text.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_too_deep(raw, limit=JSON_DEPTH_LIMIT):
    """True when the arrays/objects of the JSON text ``raw`` (UTF-8 bytes)
    nest more than ``limit`` levels deep. No recursion and no parsing:
    brackets outside strings are counted in one linear pass. (``json.loads``
    recurses once per level, and under Jittor's recursion limit, 10**6, a
    deep text overflows the C stack and kills the process instead of
    raising RecursionError.)"""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False                                  # too few brackets to nest deeper
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = 0
    step = 1 << 16
    for start in range(0, len(brackets), step):
        chunk = np.frombuffer(brackets[start:start + step], np.uint8)
        # '[' 0x5b and '{' 0x7b have bit 1 set, ']' 0x5d and '}' 0x7d do not
        levels = np.cumsum((chunk & 2).astype(np.int32) - 1) + depth
        if levels.max() > limit:
            return True
        depth = int(levels[-1])
    return False


def parse_json_body(raw):
    """Request body bytes -> the decoded JSON value; HttpError 400 if the
    text is not UTF-8 JSON or nests deeper than JSON_DEPTH_LIMIT."""
    if json_too_deep(raw):
        raise HttpError(400, f"the request's JSON is nested too deeply "
                             f"(more than {JSON_DEPTH_LIMIT} levels)")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HttpError(400, "the request body is not valid JSON") from None


# ------------------------------------------------------------------ images
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


def decode_sketch(img, size, budget, what="the sketch"):
    """The image opened by ``open_image_bytes`` -> (uint8 (size, size)
    sketch, notes), like ``sketch_from_image``. Decodes within ``budget``
    (a DecodeBudget; 503 after DECODE_WAIT seconds of waiting) and frees
    the image's pixels before returning. HttpError 400 for a damaged image."""
    cost = decode_cost(img)
    try:
        with budget.share(cost):
            try:
                img.load()
                upright = ImageOps.exif_transpose(img)      # as the command line reads it
                if upright is not img:
                    img.close()
                    img = upright
                img = to_8bit(img)                          # 16-bit: scaled, not clipped
            except DAMAGED as exc:
                raise HttpError(400, f"{what} is a damaged image ({exc})") from None
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
            try:
                img.load()
                upright = ImageOps.exif_transpose(img)
                if upright is not img:
                    img.close()
                    img = upright
                w, h = img.size
                side = min(w, h)
                if w != h:
                    left, top = (w - side) // 2, (h - side) // 2
                    square = img.crop((left, top, left + side, top + side))
                    img.close()
                    img = square
                img = to_8bit(img)                          # 16-bit: scaled, not clipped
            except DAMAGED as exc:
                raise HttpError(400, f"{what} is a damaged image ({exc})") from None
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
    would otherwise hide exactly behind them."""
    from scipy import ndimage

    from models.sp_embedding.inputs import colour_labels
    labels = np.asarray(labels, np.uint8)
    empty = labels == 0
    if empty.all() or not empty.any():
        return colour_labels(labels)
    dist, (iy, ix) = ndimage.distance_transform_edt(empty, return_indices=True)
    return colour_labels(np.where(dist <= halo, labels[iy, ix], 0).astype(np.uint8))


# ------------------------------------------------------------------ parameters
def _number(value, what):
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:                  # an int of 400 digits
            pass
    if number is None or not math.isfinite(number):
        raise HttpError(400, f"{what} must be a number, got {shown(value)}")
    return number


def parse_refine_value(value, default):
    """The request's 'refine' -> {part key: t}. A dict names parts (user
    names or keys) and/or 'all'; parts not named take 'all', else the
    server's default. A string is parsed like --refine."""
    if value is None:
        return dict(default)
    if isinstance(value, str):
        try:
            return parse_refine(value)
        except OptionError as exc:
            raise HttpError(400, str(exc).replace("--refine", "refine")) from None
    if not isinstance(value, dict):
        raise HttpError(400, "refine must be an object like {\"eye1\": 0.8, \"all\": 1} "
                             "or a string like \"eye1=0.8,mouth=0.5\"")
    out = dict(default)
    named = {}
    for name, t in value.items():
        t = _number(t, f"refine[{name!r}]")
        if not 0.0 <= t <= 1.0:
            raise HttpError(400, f"refine[{name!r}] = {t} is outside [0, 1]")
        if name == "all":
            out = {p: t for p in PARTS}
            continue
        try:
            named[part_key(name)] = t
        except ValueError as exc:
            raise HttpError(400, f"refine: {exc}") from None
    out.update(named)
    return out


APPEARANCE_FORMS = ('"appearance" must be null, {"seed": n}, {"photo": data URL} or '
                    '{"reference": token from /api/reference}')
TOKEN_RE = re.compile(r"[0-9a-f]{32}")


def whole_number(value):
    """``value`` as an int when it is a whole number (2.0 too), else None."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def parse_appearance(value, method):
    """The request's 'appearance' -> None, ("seed", n), ("photo", bytes) or
    ("reference", token); HttpError 400 for anything else, and for any
    appearance but null when ``method`` takes none."""
    if value is None:
        return None
    if not method.appearance:
        raise HttpError(400, f"{method.appearance_note}: send \"appearance\": null")
    if not isinstance(value, dict) or len(value) != 1:
        raise HttpError(400, f"{APPEARANCE_FORMS}, got {shown(value)}")
    (kind, item), = value.items()
    if kind == "seed":
        seed = whole_number(item)
        if seed is None or not 0 <= seed <= MAX_SEED:
            raise HttpError(400, f"the appearance seed must be a whole number from 0 to "
                                 f"{MAX_SEED}, got {shown(item)}")
        return "seed", seed
    if kind == "photo":
        if not isinstance(item, str) or not item:
            raise HttpError(400, "the appearance photo must be a PNG/JPEG data URL or base64 "
                                 f"string, got {shown(item)}")
        return "photo", decode_base64_image(item, "appearance photo")
    if kind == "reference":
        if not isinstance(item, str) or not TOKEN_RE.fullmatch(item):
            raise HttpError(400, f"the appearance reference must be a token from "
                                 f"/api/reference, got {shown(item)}")
        return "reference", item
    raise HttpError(400, f"{APPEARANCE_FORMS}, got {shown(value)}")


class ConvertRequest:
    """The validated parameters of one /api/convert request."""

    def __init__(self, body, app):
        if not isinstance(body, dict):
            raise HttpError(400, "the request must be a JSON object")
        sketch = body.get("sketch")
        if not isinstance(sketch, str) or not sketch:
            raise HttpError(400, "'sketch' is missing: send the sketch as a PNG data URL "
                                 "or base64 string")
        self.sketch_bytes = decode_base64_image(sketch)
        self.method = app.method(body.get("method", app.default_method))
        self.appearance = parse_appearance(body.get("appearance"), self.method)
        dfd = app.methods[DEFAULT_METHOD]
        opt = dfd.opt
        k = whole_number(body.get("k", opt.k))
        if k is None:
            raise HttpError(400, f"k must be a whole number, got {shown(body.get('k'))}")
        if k < 1:
            raise HttpError(400, f"k must be between 1 and {dfd.k_max} (the bank size), "
                                 f"got {shown(k)}")
        self.notes = []
        if k > dfd.k_max:            # the same rule as demo.py: clamped, with a note
            if self.method is dfd:
                self.notes.append(f"k {k} is more than the feature banks hold ({dfd.k_max} "
                                  f"sketches): using K={dfd.k_max}")
            k = dfd.k_max
        self.k = k
        self.refine = parse_refine_value(body.get("refine"), opt.refine_by_part)
        gender = body.get("gender", opt.gender)
        if gender not in GENDERS:
            raise HttpError(400, f"gender must be one of {', '.join(GENDERS)}, "
                                 f"got {shown(gender)}")
        self.gender = gender
        shadow = body.get("shadow", True)
        if not isinstance(shadow, bool):
            raise HttpError(400, f"shadow must be true or false, got {shown(shadow)}")
        self.shadow = shadow
        sketch_norm = body.get("sketch_norm", app.sketch_norm)
        if not isinstance(sketch_norm, bool):
            raise HttpError(400, f"sketch_norm must be true or false, got {shown(sketch_norm)}")
        self.sketch_norm = sketch_norm
        session = body.get("session")
        if session is not None and (not isinstance(session, str) or len(session) > 100):
            raise HttpError(400, "session must be a string of at most 100 characters")
        seq = body.get("seq")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
            raise HttpError(400, f"seq must be a whole number >= 0, got {shown(seq)}")
        if seq is not None and session is None:
            raise HttpError(400, "seq needs a session")
        if session is not None and seq is None:
            raise HttpError(400, "session needs a seq (the page's request number)")
        self.session, self.seq = session, seq


# ------------------------------------------------------------------ the methods
METHOD_TITLES = {"deepfacedrawing": "DeepFaceDrawing", "sp_embedding": "Sketch embedding"}
NOT_LOADED = "no checkpoint was given (draw.py --sp_params PATH offers it)"


class DFDMethod:
    """DeepFaceDrawing (``Sketch2FaceModel``) as the app runs it."""

    name = "deepfacedrawing"
    title = METHOD_TITLES[name]
    settings = ("k", "refine", "gender")
    shadow = "shadow guidance: the strokes of the faces each part was projected onto"

    def __init__(self, model, opt, description=""):
        self.model, self.opt, self.description = model, opt, description
        self.size = self.sketch_size = opt.image_size
        self.appearance = getattr(opt, "appearance_dim", 0) > 0
        if self.appearance:
            self.appearance_note = ("a reference photo or a random draw sets the face's "
                                    "colours (hair, skin, background); none: the mean "
                                    "appearance")
        else:
            self.appearance_note = ("this DeepFaceDrawing model has no appearance code (it "
                                    "was trained without --appearance_dim)")
        for g in GENDERS:                      # banks load now, errors come early
            model.check_banks(g)
        self.k_max = min((max(len(model.parts[p].bank(model.root, g)) for g in GENDERS)
                          for p in model.parts), default=1)   # no parts: direct pipeline

    def info(self):
        return {"name": self.name, "title": self.title, "available": True,
                "image_size": self.size, "model": self.description,
                "appearance": self.appearance, "appearance_note": self.appearance_note,
                "settings": list(self.settings), "shadow": self.shadow}

    def reference_input(self, square):
        """What ``data.sketch_io.reference_photo`` makes of the photo: uint8
        (S, S, 3) at the model's size."""
        return np.array(resized(square, self.size, Image.LANCZOS), dtype=np.uint8)

    def codes(self, appearance):
        """Appearance codes (1, D) of a request's appearance (None: the mean)."""
        if appearance is None:
            return None
        kind, value = appearance
        if kind == "seed":
            return self.model.random_codes(value, 0, 1)
        codes = value.codes.get(self.name)
        if codes is None:                       # once per kept photo
            codes = self.model.appearance_codes(value.inputs[self.name][None])
            value.codes[self.name] = codes
        return codes

    def prepare(self, sketch, req):
        """(sketch, notes): the decoded sketch as the model gets it,
        normalised (``data.sketch_norm``) when the request says so."""
        if not req.sketch_norm:
            return sketch, []
        return normalise_sketch(sketch)

    def run(self, sketch, req, appearance):
        """Under the app's lock: the model's own result."""
        return self.model.convert(sketch[None], req.k, req.refine, req.gender, req.shadow,
                                  codes=self.codes(appearance))

    def finish(self, result, req):
        """The result -> (image (N, N, 3), shadow (N, N) or None)."""
        shadows = result["shadows"]
        return result["images"][0], (shadows[0] if shadows is not None else None)

    def warm_up(self):
        """Blank conversions (with shadows, and with an appearance code when
        the model has one): Jittor compiles its kernels now rather than on
        the first stroke."""
        blank = np.full((1, self.size, self.size), 255, np.uint8)
        k = min(self.opt.k, self.k_max)
        self.model.convert(blank, k, self.opt.refine_by_part, self.opt.gender, True)
        if self.appearance:
            gray = np.full((1, self.size, self.size, 3), 128, np.uint8)
            self.model.convert(blank, k, self.opt.refine_by_part, self.opt.gender, True,
                               codes=self.model.appearance_codes(gray))


class SPMethod:
    """The sketch embedding (``SPEmbeddingModel.convert_drawing``) as the app
    runs it: a 512 sketch in, a face at the generator's size and the stroke
    label map out."""

    name = "sp_embedding"
    title = METHOD_TITLES[name]
    settings = ()
    shadow = "stroke labels: the class the labeller gave each stroke, in colour"
    appearance = True
    appearance_note = ("a reference photo or a random draw sets the face's appearance (the "
                       "W+ rows from the break layer on); none: the draw of seed 0")

    def __init__(self, model, opt, description=""):
        self.model, self.opt, self.description = model, opt, description
        self.size = opt.output_size
        self.sketch_size = CANONICAL_SIZE

    info = DFDMethod.info

    def prepare(self, sketch, req):
        """The sketch as decoded (no normalisation: its strokes are labelled)."""
        return sketch, []

    def reference_input(self, square):
        """The photo at twice the encoders' size, resized as
        ``inputs.appearance_array`` resizes it (which then leaves it be)."""
        big = 2 * self.opt.encoder_size
        out = resized(square, big, Image.BILINEAR)
        return out.copy() if out is square else out

    def run(self, sketch, req, appearance):
        reference, seed = None, 0
        if appearance is not None:
            kind, value = appearance
            if kind == "seed":
                seed = value
            else:
                reference = value.inputs[self.name]
        return self.model.convert_drawing(sketch, reference=reference, seed=seed)

    def finish(self, result, req):
        face, labels = result
        return face, (label_picture(labels) if req.shadow else None)

    def warm_up(self):
        blank = np.full((CANONICAL_SIZE, CANONICAL_SIZE), 255, np.uint8)
        self.model.convert_drawing(blank, seed=0)
        big = 2 * self.opt.encoder_size
        self.model.convert_drawing(blank, reference=Image.new("RGB", (big, big), (128,) * 3))
        label_picture(np.eye(8, dtype=np.uint8))


# ------------------------------------------------------------------ reference photos
def kept_bytes(x):
    if isinstance(x, np.ndarray):
        return x.nbytes
    if isinstance(x, Image.Image):
        return x.size[0] * x.size[1] * len(x.getbands())
    return len(x)


class Reference:
    """A kept reference photo: its token (a hash of the file), the input of
    each method that takes an appearance, a thumbnail (PNG), notes, and
    the DeepFaceDrawing appearance code once computed (a few floats)."""

    def __init__(self, token, inputs, thumbnail, notes):
        self.token, self.inputs, self.thumbnail, self.notes = token, inputs, thumbnail, notes
        self.codes = {}
        self.nbytes = kept_bytes(thumbnail) + sum(kept_bytes(x) for x in inputs.values())


def reference_token(data):
    return hashlib.sha256(data).hexdigest()[:32]


class ReferenceCache:
    """The last ``kept`` reference photos, at most ``budget`` bytes together
    (least recently used go first; one photo is always kept)."""

    def __init__(self, kept=REFERENCES_KEPT, budget=REFERENCE_CACHE_BYTES):
        self.kept, self.budget = kept, budget
        self.nbytes = 0
        self._items = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._items)

    def get(self, token):
        with self._lock:
            ref = self._items.get(token)
            if ref is not None:
                self._items.move_to_end(token)
            return ref

    def put(self, ref):
        with self._lock:
            old = self._items.pop(ref.token, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._items[ref.token] = ref
            self.nbytes += ref.nbytes
            while len(self._items) > self.kept or (self.nbytes > self.budget
                                                   and len(self._items) > 1):
                _, gone = self._items.popitem(last=False)
                self.nbytes -= gone.nbytes


# ------------------------------------------------------------------ the app
class SketchApp:
    """The loaded methods and what the server needs around them. Jittor is
    not thread-safe: every model call holds ``self.lock`` (one for all)."""

    def __init__(self, methods, opt, missing=None):
        """``methods``: the loaded ones (``DFDMethod`` first); ``missing``:
        {name: why not} of the others."""
        self.methods = {m.name: m for m in methods}
        self.default_method = DEFAULT_METHOD
        dfd = self.methods[DEFAULT_METHOD]
        # DeepFaceDrawing's, by their old names
        self.model, self.opt, self.size = dfd.model, dfd.opt, dfd.size
        self.description, self.k_max = dfd.description, dfd.k_max
        self.missing = dict(missing or {})
        self.lock = threading.Lock()
        self.max_upload = int(opt.max_upload_mb * 1024 * 1024)
        self.max_pixels = int(getattr(opt, "max_pixels", None) or DEFAULT_MAX_PIXELS)
        self.decode_budget = DecodeBudget()
        self.references = ReferenceCache()
        self.verbose = bool(getattr(opt, "verbose", False))
        self.sketch_norm = wanted(opt)                 # requests' default
        self._latest = collections.OrderedDict()   # session -> newest seq seen
        self._latest_lock = threading.Lock()

    def method(self, name):
        """The loaded method called ``name``; HttpError 400 otherwise."""
        names = method_names()
        if not isinstance(name, str) or name not in names:
            raise HttpError(400, f"method must be one of {', '.join(names)}, got {shown(name)}")
        method = self.methods.get(name)
        if method is None:
            raise HttpError(400, f"the method {name} is not available here: "
                                 f"{self.missing.get(name, NOT_LOADED)}")
        return method

    @property
    def appearance_methods(self):
        return [m for m in self.methods.values() if m.appearance]

    def info(self):
        opt = self.opt
        methods = []
        for name in method_names():
            if name in self.methods:
                methods.append(self.methods[name].info())
            else:
                methods.append({"name": name, "title": METHOD_TITLES.get(name, name),
                                "available": False, "reason": self.missing.get(name, NOT_LOADED)})
        return {
            "methods": methods,
            "default_method": self.default_method,
            "max_seed": MAX_SEED,
            "canvas_size": CANONICAL_SIZE,
            "image_size": self.size,
            "parts": [{"key": p, "name": PART_NAMES[p], "box": list(BOXES_512[p])} for p in PARTS],
            "genders": list(GENDERS),
            "k_max": self.k_max,
            "defaults": {"method": self.default_method, "appearance": None,
                         "k": min(opt.k, self.k_max), "gender": opt.gender, "shadow": True,
                         "sketch_norm": self.sketch_norm,
                         "refine": {PART_NAMES[p]: opt.refine_by_part[p] for p in PARTS}},
            "model": self.description,
            "max_upload_bytes": self.max_upload,
            "max_pixels": self.max_pixels,
            "max_side": math.isqrt(self.max_pixels),
        }

    # -------------------------------------------------- reference photos
    def reference(self, data, what="the reference photo"):
        """The kept ``Reference`` of the photo file ``data`` (bytes): from
        the cache, or decoded (header-checked, within the decode budget)
        and kept. HttpError for what is no usable image."""
        token = reference_token(data)
        ref = self.references.get(token)
        if ref is not None:
            return ref
        img = open_image_bytes(data, what, self.max_pixels)
        methods = self.appearance_methods

        def prepare(square):
            inputs = {m.name: m.reference_input(square) for m in methods}
            thumbnail = encode_png(np.asarray(resized(square, THUMB_SIZE, Image.LANCZOS)))
            return inputs, thumbnail

        (inputs, thumbnail), notes = decode_photo(img, self.decode_budget, prepare, what)
        ref = Reference(token, inputs, thumbnail, notes)
        self.references.put(ref)
        return ref

    def kept_reference(self, token):
        """The kept photo of ``token``; HttpError 410 when it is not kept."""
        ref = self.references.get(token)
        if ref is None:
            raise HttpError(410, f"the reference photo {token} is no longer kept (the server "
                                 f"keeps the last {REFERENCES_KEPT}): send it to "
                                 f"/api/reference again")
        return ref

    # -------------------------------------------------- superseded requests
    def register(self, session, seq):
        if session is None:
            return
        with self._latest_lock:
            if seq > self._latest.get(session, -1):
                self._latest[session] = seq
            self._latest.move_to_end(session)
            while len(self._latest) > SESSIONS_KEPT:
                self._latest.popitem(last=False)

    def superseded(self, session, seq):
        if session is None:
            return False
        with self._latest_lock:
            return self._latest.get(session, -1) > seq

    # -------------------------------------------------- the models
    def convert(self, method, sketch, req, appearance=None, still_wanted=lambda: True):
        """A sketch at ``method.sketch_size`` -> (image (N, N, 3), shadow or
        None), or None when ``still_wanted()`` says no once the models are
        free. ``appearance``: None, ("seed", n) or ("reference", Reference)."""
        with self.lock:
            if not still_wanted():
                return None
            result = method.run(sketch, req, appearance)
        return method.finish(result, req)

    def warm_up(self):
        """Blank conversions with every method: Jittor compiles its kernels
        now rather than on the first stroke."""
        for method in self.methods.values():
            with self.lock:
                method.warm_up()


def where(path):
    """``path`` relative to the repository when it is inside it."""
    path = os.path.abspath(path)
    return os.path.relpath(path, REPO_ROOT) if path.startswith(REPO_ROOT + os.sep) else path


def options_source(opt):
    source = opt.preset_source
    return "its config.json" if source.endswith("config.json") else source


def load_app(opt, description=None):
    """Load the models ``opt`` names (Jittor must be set up) and wrap them:
    DeepFaceDrawing from ``opt.params``, the sketch embedding from
    ``opt.sp_opt`` (its options, ``options.draw_options`` builds them) when
    there is one. Raises models.checkpoint.CheckpointError for missing or
    damaged files."""
    from models import create_model
    from util import jittor_env
    model = create_model("sketch2face", opt).load(opt.params)
    if description is None:
        description = (f"{where(opt.params)} ({opt.image_size}x{opt.image_size}, options from "
                       f"{options_source(opt)}; {jittor_env.describe()})")
    methods = [DFDMethod(model, opt, description)]
    missing = {}
    sp_opt = getattr(opt, "sp_opt", None)
    if sp_opt is not None:
        sp = create_model("sp_embedding", sp_opt).load_for_inference(sp_opt)
        n = sp_opt.output_size
        methods.append(SPMethod(sp, sp_opt, (
            f"{where(sp_opt.params)} ({n}x{n}, options from {options_source(sp_opt)}; stroke "
            f"labels {sp.labeler.description})")))
    else:
        missing["sp_embedding"] = getattr(opt, "sp_missing", None) or NOT_LOADED
    return SketchApp(methods, opt, missing)


# ------------------------------------------------------------------ HTTP
def _host_name(host_header):
    """'127.0.0.1:8000' -> '127.0.0.1'; '[::1]:80' -> '::1'."""
    host = host_header.strip()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class Handler(BaseHTTPRequestHandler):
    server_version = "DeepFaceDrawing"
    protocol_version = "HTTP/1.1"       # keep-alive: one connection per tab is enough
    default_request_version = "HTTP/1.0"   # answer even a garbled request line with a status
    timeout = 60                        # a client that stops talking frees its thread

    @property
    def app(self):
        return self.server.app

    # -------------------------------------------------- plumbing
    def log_message(self, fmt, *args):
        if self.server.app.verbose:
            sys.stderr.write(f"{self.address_string()} - {fmt % args}\n")

    def send_body(self, status, body, content_type, headers=None, cache="no-store"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        for key, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        body = json.dumps(obj).encode("utf-8")
        self.send_body(status, body, "application/json", headers)

    def send_error(self, code, message=None, explain=None):
        """The base class's errors (bad request line, unknown method...) as JSON."""
        self.close_connection = True
        try:
            default = self.responses.get(code, ("error",))[0]
            self.send_json(code, {"error": one_line(message or explain or default)})
        except OSError:
            pass

    def client_gone(self):
        """True when the browser has closed the connection (request aborted)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def body_length(self):
        """The announced Content-Length: None when there is none, HttpError
        400 when it is not one plain decimal number (or there are several)."""
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return None
        if len(values) > 1 or not re.fullmatch(r"[0-9]{1,18}", values[0].strip()):
            raise HttpError(400, f"bad Content-Length {', '.join(values)!r}", close=True)
        return int(values[0])

    def read_body(self):
        if self.headers.get("Transfer-Encoding") is not None:
            raise HttpError(411, "send the body with a Content-Length "
                                 "(chunked uploads are not accepted)", close=True)
        n = self.body_length()
        if n is None:
            raise HttpError(411, "a Content-Length header is required", close=True)
        if n > self.app.max_upload:
            mb = self.app.max_upload / (1024 * 1024)
            raise HttpError(413, f"the request is too large: {n} bytes (at most {mb:g} MB; "
                                 f"draw.py --max_upload_mb raises the limit)",
                            close=True, drain=n)
        data = self.rfile.read(n)
        self.body_read = True
        if len(data) != n:
            raise HttpError(400, "the request body ended early", close=True)
        return data

    def require_content_type(self, accepted, what):
        """HttpError 415 unless the body's media type (parameters aside) is
        one of ``accepted`` ('image/*' takes any image type). None of them
        is one a page of another site may send without a CORS preflight."""
        values = self.headers.get_all("Content-Type") or []
        media = values[0].partition(";")[0].strip().lower() if len(values) == 1 else ""
        for want in accepted:
            if media == want or (want.endswith("/*") and media.startswith(want[:-1])
                                 and re.fullmatch(r"[a-z0-9.+-]+", media[len(want) - 1:])):
                return
        got = repr(", ".join(values)) if values else "none"
        raise HttpError(415, f"send {what} with Content-Type: {' or '.join(accepted)} "
                             f"(got {got})")

    def drain(self, n):
        """Read and drop up to ``n`` bytes so the client gets our answer
        before the connection closes (bounded in size and time)."""
        n = min(n, DRAIN_LIMIT)
        deadline = time.monotonic() + 10
        try:
            self.connection.settimeout(2)
            while n > 0 and time.monotonic() < deadline:
                chunk = self.rfile.read1(min(n, 1 << 20))
                if not chunk:
                    break
                n -= len(chunk)
        except OSError:
            pass

    def check_origin(self):
        """Refuse, on a loopback address, Host names other than this
        machine's (DNS rebinding), and POSTs (anything but GET/HEAD) that a
        page of another site makes: a browser names that site in Origin
        ('null' for a sandboxed iframe or a local file) and says
        'cross-site'/'same-site' in Sec-Fetch-Site."""
        for name in ("Host", "Origin", "Content-Type", "Sec-Fetch-Site"):
            if len(self.headers.get_all(name) or []) > 1:
                raise HttpError(400, f"more than one {name} header", close=True)
        host = self.headers.get("Host")
        if self.server.loopback and host is not None:
            name = _host_name(host)
            if not is_loopback(name):
                raise HttpError(403, f"this server only answers requests for localhost, "
                                     f"not {host!r}", close=True)
        if self.command in ("GET", "HEAD"):
            return
        site = self.headers.get("Sec-Fetch-Site", "").strip().lower()
        if site in ("cross-site", "same-site"):
            raise HttpError(403, "requests from other sites are refused", close=True)
        origin = self.headers.get("Origin")
        if origin is None:
            return                                     # not a browser, or a same-origin GET
        try:
            netloc = urlsplit(origin.strip()).netloc.lower()
        except ValueError:
            netloc = None
        if origin.strip().lower() == "null" or not host or netloc != host.strip().lower():
            raise HttpError(403, "requests from other sites are refused "
                                 f"(Origin: {origin})", close=True)

    # -------------------------------------------------- dispatch
    def routes(self):
        return {"/": {"GET": self.get_page},
                "/api/info": {"GET": self.get_info},
                "/api/convert": {"POST": self.post_convert},
                "/api/reference": {"POST": self.post_reference},
                "/api/load": {"POST": self.post_load}}

    def unread_body(self):
        """The length of a body the request announced and no one has read
        (0: none; None: unknown, chunked or a malformed length)."""
        if self.headers is None or self.body_read:
            return 0
        if self.headers.get("Transfer-Encoding") is not None:
            return None
        try:
            return self.body_length() or 0
        except HttpError:
            return None

    def dispatch(self):
        err = None
        self.body_read = False
        try:
            self.check_origin()
            try:
                path = urlsplit(self.path).path
            except ValueError:
                raise HttpError(400, f"bad request target {self.path!r}", close=True) from None
            method = "GET" if self.command == "HEAD" else self.command
            if path.startswith("/static/"):
                handlers = {"GET": lambda: self.get_static(path[len("/static/"):])}
            else:
                handlers = self.routes().get(path)
            if handlers is None:
                raise HttpError(404, f"no such page: {path}")
            if method not in handlers:
                allowed = set(handlers) | ({"HEAD"} if "GET" in handlers else set())
                allowed = ", ".join(sorted(allowed))
                raise HttpError(405, f"{self.command} is not allowed on {path} (use {allowed})",
                                headers={"Allow": allowed})
            if method == "GET" and self.unread_body() != 0:
                self.close_connection = True      # a GET with a body: answered, then hung up
            handlers[method]()
        except HttpError as exc:
            err = exc
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
            return
        except Exception as exc:         # a bug: logged, answered, and the server goes on
            traceback.print_exc(file=sys.stderr)
            err = HttpError(500, f"internal error: {type(exc).__name__}: {exc}", close=True)
        drain = err.drain if err is not None else 0
        if err is not None and err.close:
            self.close_connection = True
        unread = self.unread_body()
        if unread != 0:                  # an unread body would spoil the next request: hang
            self.close_connection = True     # up, after reading it (bounded) so that the
            drain = max(drain, unread or 0)  # client gets the answer
        try:
            if err is not None:
                self.send_json(err.status, {"error": one_line(err.message)}, headers=err.headers)
            self.wfile.flush()
            if drain:
                self.drain(drain)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_HEAD = dispatch
    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = dispatch

    # -------------------------------------------------- endpoints
    def get_static(self, name):
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise HttpError(404, f"no such file: /static/{name}")
        path = os.path.join(STATIC_DIR, name)
        ext = os.path.splitext(name)[1].lower()
        if ext not in CONTENT_TYPES or not os.path.isfile(path):
            raise HttpError(404, f"no such file: /static/{name}")
        with open(path, "rb") as f:
            body = f.read()
        self.send_body(200, body, CONTENT_TYPES[ext], cache="no-cache")

    def get_page(self):
        self.get_static("index.html")

    def get_info(self):
        self.send_json(200, self.app.info())

    def post_convert(self):
        self.require_content_type(JSON_TYPES, "the request as JSON")
        app = self.app
        req = ConvertRequest(parse_json_body(self.read_body()), app)
        method, appearance = req.method, req.appearance
        if appearance is not None and appearance[0] == "reference":
            appearance = ("reference", app.kept_reference(appearance[1]))      # 410: send again
        img = open_image_bytes(req.sketch_bytes, "the sketch", app.max_pixels)
        req.sketch_bytes = None              # nothing of the body waits for the model
        sketch, notes = decode_sketch(img, method.sketch_size, app.decode_budget)
        sketch, norm_notes = method.prepare(sketch, req)
        notes = req.notes + notes + norm_notes
        if appearance is not None and appearance[0] == "photo":
            ref = app.reference(appearance[1])          # kept: decoded once
            appearance = ("reference", ref)
            notes += ref.notes
        req.appearance = None
        if req.session is not None:
            app.register(req.session, req.seq)

        def still_wanted():
            return not (app.superseded(req.session, req.seq) or self.client_gone())

        start = time.monotonic()
        out = app.convert(method, sketch, req, appearance, still_wanted)
        if out is None:
            if self.client_gone():
                self.close_connection = True
                return
            raise HttpError(409, "superseded by a newer request from the same page")
        image, shadow = out
        seconds = time.monotonic() - start
        if appearance is not None:
            kind, value = appearance
            appearance = {"seed": value} if kind == "seed" else {"reference": value.token}
        self.send_json(200, {
            "image": data_url(encode_png(image)),
            "shadow": data_url(encode_png(shadow)) if shadow is not None else None,
            "size": method.size,
            "method": method.name,
            "appearance": appearance,
            "seconds": round(seconds, 3),
            "seq": req.seq,
            "notes": notes,
        })

    def post_reference(self):
        self.require_content_type(IMAGE_TYPES, "the photo file's bytes")
        data = self.read_body()
        methods = self.app.appearance_methods
        if not methods:
            dfd = self.app.methods[DEFAULT_METHOD]
            raise HttpError(400, f"no model here takes an appearance photo: "
                                 f"{dfd.appearance_note}, and the sketch embedding is not "
                                 f"offered")
        ref = self.app.reference(data)
        self.send_json(200, {"token": ref.token, "thumbnail": data_url(ref.thumbnail),
                             "methods": [m.name for m in methods], "notes": ref.notes})

    def post_load(self):
        self.require_content_type(IMAGE_TYPES, "the image file's bytes")
        img = open_image_bytes(self.read_body(), "the file", self.app.max_pixels)
        gray, notes = decode_sketch(img, CANONICAL_SIZE, self.app.decode_budget, "the file")
        self.send_json(200, {"sketch": data_url(strokes_png(gray)), "notes": notes})


class AppServer(ThreadingHTTPServer):
    """One thread per connection; the models run one request at a time."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, app, host="127.0.0.1", port=8000):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self.loopback = is_loopback(host)
        super().__init__((host, port), Handler)

    @property
    def port(self):
        return self.server_address[1]

    @property
    def url(self):
        host = self.server_address[0]
        if host in ("0.0.0.0", "::"):              # every interface: this machine's address works
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def start_in_thread(server):
    """Serve in a daemon thread (tests, embedding); returns the thread."""
    thread = threading.Thread(target=server.serve_forever, name="draw-server", daemon=True)
    thread.start()
    return thread
