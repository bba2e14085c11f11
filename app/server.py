"""The drawing app's web server: the Python standard library's threading HTTP
server, one model shared by every browser tab.

Endpoints (every error is JSON ``{"error": "..."}``, one line, with a 4xx/5xx
status):

``GET /``, ``GET /static/NAME``
    The page (``app/static/``).
``GET /api/info``
    Canvas and model size, the parts with their boxes on the 512 canvas,
    the genders, the largest K, the defaults, the upload limits and a line
    about the model.
``POST /api/convert`` (``Content-Type: application/json``)
    JSON ``{"sketch": PNG as a data URL or base64, "k": int,
    "refine": {"eye1": t, ..., "remainder": t, "all": t} or "eye1=0.8,...",
    "gender": "male"|"female"|"all", "shadow": bool,
    "session": str, "seq": int}`` (all but ``sketch`` optional) ->
    ``{"image": PNG data URL, "shadow": PNG data URL or null, "size": n,
    "seconds": s, "seq": seq, "notes": [...]}``. Images come back at the
    model's size; the page scales them. A sketch of another size than 512
    (or not square) is accepted: padded with white and resized, with a note.
    ``session``/``seq`` let a page's newer request supersede its older
    ones: a request still waiting for the model when a newer one from the
    same session has arrived gets 409 without being computed, and one whose
    browser has hung up is not computed at all.
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
phone photo (4032x3024) or an A4 page scanned at 300 dpi. Decoding holds a
share of a 320 MB budget, an estimate of what it needs (``decode_cost``:
about 7 bytes a pixel for RGBA, plus the padded square); alpha is flattened
in bands of rows, and after a big decode the freed memory goes back to the
OS (glibc's ``malloc_trim``; each thread's arena would keep it). So two 4096x4096 images decode at once, small ones many
at once, one over the budget alone, and the server's memory stays bounded
however many uploads arrive together (a request waits at most a minute for
its share, then gets 503).

Bad input never stops the server: malformed JSON, images or parameters get
400 with a message, bodies over the limit 413, requests without a length
411, wrong content types 415, unknown paths 404, other methods 405; anything
unexpected is a 500 that is logged, and the server goes on.
"""

import base64
import binascii
import collections
import contextlib
import ctypes
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

from data.sketch_io import ImageError, sketch_from_image, to_8bit, to_gray_on_white
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
    depth = 1 if img.mode in ("1", "L", "P") else 2 if img.mode.startswith("I;16") else 4
    return w * h * (depth + 3) + max(w, h) ** 2


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
        opt = app.opt
        k = body.get("k", opt.k)
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        if isinstance(k, bool) or not isinstance(k, int):
            raise HttpError(400, f"k must be a whole number, got {shown(k)}")
        if k < 1:
            raise HttpError(400, f"k must be between 1 and {app.k_max} (the bank size), "
                                 f"got {shown(k)}")
        self.notes = []
        if k > app.k_max:            # the same rule as demo.py: clamped, with a note
            self.notes.append(f"k {k} is more than the feature banks hold ({app.k_max} "
                              f"sketches): using K={app.k_max}")
            k = app.k_max
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


# ------------------------------------------------------------------ the app
class SketchApp:
    """The loaded model and what the server needs around it. Jittor is not
    thread-safe: every model call holds ``self.lock``."""

    def __init__(self, model, opt, description=""):
        self.model, self.opt = model, opt
        self.size = opt.image_size
        self.description = description
        self.lock = threading.Lock()
        self.max_upload = int(opt.max_upload_mb * 1024 * 1024)
        self.max_pixels = int(getattr(opt, "max_pixels", None) or DEFAULT_MAX_PIXELS)
        self.decode_budget = DecodeBudget()
        self.verbose = bool(getattr(opt, "verbose", False))
        for g in GENDERS:                      # banks load now, errors come early
            model.check_banks(g)
        self.k_max = min((max(len(model.parts[p].bank(model.root, g)) for g in GENDERS)
                          for p in model.parts), default=1)   # no parts: direct pipeline
        self._latest = collections.OrderedDict()   # session -> newest seq seen
        self._latest_lock = threading.Lock()

    def info(self):
        opt = self.opt
        return {
            "canvas_size": CANONICAL_SIZE,
            "image_size": self.size,
            "parts": [{"key": p, "name": PART_NAMES[p], "box": list(BOXES_512[p])} for p in PARTS],
            "genders": list(GENDERS),
            "k_max": self.k_max,
            "defaults": {"k": min(opt.k, self.k_max), "gender": opt.gender, "shadow": True,
                         "refine": {PART_NAMES[p]: opt.refine_by_part[p] for p in PARTS}},
            "model": self.description,
            "max_upload_bytes": self.max_upload,
            "max_pixels": self.max_pixels,
            "max_side": math.isqrt(self.max_pixels),
        }

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

    # -------------------------------------------------- the model
    def convert(self, sketch, k, refine, gender, shadow, still_wanted=lambda: True):
        """uint8 (size, size) sketch -> (image (size, size, 3), shadow or None),
        or None when ``still_wanted()`` says no once the model is free."""
        with self.lock:
            if not still_wanted():
                return None
            result = self.model.convert(sketch[None], k, refine, gender, shadow)
        shadows = result["shadows"]
        return result["images"][0], (shadows[0] if shadows is not None else None)

    def warm_up(self):
        """One blank conversion (with shadows): compiles Jittor's kernels now
        rather than on the first stroke."""
        blank = np.full((self.size, self.size), 255, np.uint8)
        self.convert(blank, min(self.opt.k, self.k_max), self.opt.refine_by_part,
                     self.opt.gender, True)


def load_app(opt, description=None):
    """Load the model named by ``opt`` (Jittor must be set up) and wrap it.
    Raises models.checkpoint.CheckpointError for missing/damaged files."""
    from models import create_model
    from util import jittor_env
    model = create_model("sketch2face", opt).load(opt.params)
    if description is None:
        where = os.path.abspath(opt.params)
        if where.startswith(REPO_ROOT + os.sep):
            where = os.path.relpath(where, REPO_ROOT)
        source = opt.preset_source
        if source.endswith("config.json"):
            source = "its config.json"
        description = (f"{where} ({opt.image_size}x{opt.image_size}, options from {source}; "
                       f"{jittor_env.describe()})")
    return SketchApp(model, opt, description)


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
        req = ConvertRequest(parse_json_body(self.read_body()), self.app)
        img = open_image_bytes(req.sketch_bytes, "the sketch", self.app.max_pixels)
        req.sketch_bytes = None              # nothing of the body waits for the model
        sketch, notes = decode_sketch(img, self.app.size, self.app.decode_budget)
        notes = req.notes + notes
        if req.session is not None:
            self.app.register(req.session, req.seq)

        def still_wanted():
            return not (self.app.superseded(req.session, req.seq) or self.client_gone())

        start = time.monotonic()
        out = self.app.convert(sketch, req.k, req.refine, req.gender, req.shadow, still_wanted)
        if out is None:
            if self.client_gone():
                self.close_connection = True
                return
            raise HttpError(409, "superseded by a newer request from the same page")
        image, shadow = out
        seconds = time.monotonic() - start
        self.send_json(200, {
            "image": data_url(encode_png(image)),
            "shadow": data_url(encode_png(shadow)) if shadow is not None else None,
            "size": self.app.size,
            "seconds": round(seconds, 3),
            "seq": req.seq,
            "notes": notes,
        })

    def post_load(self):
        self.require_content_type(IMAGE_TYPES, "the image file's bytes")
        img = open_image_bytes(self.read_body(), "the file", self.app.max_pixels)
        gray, notes = decode_sketch(img, CANONICAL_SIZE, self.app.decode_budget, "the file")
        self.send_json(200, {"sketch": data_url(strokes_png(gray)), "notes": notes})


class AppServer(ThreadingHTTPServer):
    """One thread per connection; the model itself runs one request at a time."""

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
