"""The drawing app's web server: the Python standard library's threading HTTP
server, one model shared by every browser tab.

Endpoints (every error is JSON ``{"error": "..."}`` with a 4xx/5xx status):

``GET /``, ``GET /static/NAME``
    The page (``app/static/``).
``GET /api/info``
    Canvas and model size, the parts with their boxes on the 512 canvas,
    the genders, the largest K, the defaults and a line about the model.
``POST /api/convert``
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
``POST /api/load``
    The raw bytes of any image file -> ``{"sketch": 512x512 PNG data URL
    (black strokes on transparent), "notes": [...]}``: an uploaded sketch
    normalised for the canvas.

Bad input never stops the server: malformed JSON, images or parameters get
400 with a message, bodies over the limit 413, requests without a length
411, unknown paths 404, other methods 405; anything unexpected is a 500 that
is logged, and the server goes on.
"""

import base64
import binascii
import collections
import io
import json
import math
import os
import select
import socket
import sys
import threading
import time
import traceback
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np
from PIL import Image, UnidentifiedImageError

from data.sketch_io import ImageError, encode_png, sketch_from_image
from options.base_options import REPO_ROOT, OptionError
from options.draw_options import is_loopback
from options.test_options import GENDERS, parse_refine
from util.components import BOXES_512, CANONICAL_SIZE, PART_NAMES, PARTS, part_key

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png",
                 ".svg": "image/svg+xml", ".ico": "image/x-icon"}
# plain raster formats only (PIL would hand EPS to Ghostscript, for one)
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "PPM")
MAX_PIXELS = 25_000_000        # decoded image size limit (a 5000x5000 sketch)
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


def open_image_bytes(data, what="the sketch"):
    """Decode image bytes with PIL; HttpError 400 (not an image, damaged) or
    413 (too many pixels) with a message."""
    if not data:
        raise HttpError(400, f"{what} is empty")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise HttpError(413, f"{what} is too large: {w}x{h} pixels "
                                     f"(at most {MAX_PIXELS // 1_000_000} megapixels)")
            if w < 1 or h < 1:
                raise HttpError(400, f"{what} is empty ({w}x{h} pixels)")
            img.load()
        except UnidentifiedImageError:
            raise HttpError(400, f"{what} is not an image (PNG, JPEG, GIF, BMP, WebP, TIFF "
                                 f"or PPM expected)") from None
        except Image.DecompressionBombError:
            raise HttpError(413, f"{what} has too many pixels") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise HttpError(400, f"{what} is a damaged image ({exc})") from None
    return img


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
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise HttpError(400, f"{what} must be a number, got {json.dumps(value)}")
    return float(value)


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
            raise HttpError(400, f"k must be a whole number, got {json.dumps(k)}")
        if not 1 <= k <= app.k_max:
            raise HttpError(400, f"k must be between 1 and {app.k_max} (the bank size), got {k}")
        self.k = k
        self.refine = parse_refine_value(body.get("refine"), opt.refine_by_part)
        gender = body.get("gender", opt.gender)
        if gender not in GENDERS:
            raise HttpError(400, f"gender must be one of {', '.join(GENDERS)}, "
                                 f"got {json.dumps(gender)}")
        self.gender = gender
        shadow = body.get("shadow", True)
        if not isinstance(shadow, bool):
            raise HttpError(400, f"shadow must be true or false, got {json.dumps(shadow)}")
        self.shadow = shadow
        session = body.get("session")
        if session is not None and (not isinstance(session, str) or len(session) > 100):
            raise HttpError(400, "session must be a string of at most 100 characters")
        seq = body.get("seq")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
            raise HttpError(400, f"seq must be a whole number >= 0, got {json.dumps(seq)}")
        if seq is not None and session is None:
            raise HttpError(400, "seq needs a session")
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
            self.send_json(code, {"error": message or explain or default})
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

    def read_body(self):
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(411, "send the body with a Content-Length "
                                 "(chunked uploads are not accepted)", close=True)
        length = self.headers.get("Content-Length")
        if length is None:
            raise HttpError(411, "a Content-Length header is required", close=True)
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            raise HttpError(400, f"bad Content-Length {length!r}", close=True) from None
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
        """Refuse pages of other sites (a browser sends their Origin) and, on
        a loopback address, Host names other than this machine's (DNS
        rebinding)."""
        host = self.headers.get("Host")
        if self.server.loopback and host is not None:
            name = _host_name(host)
            if not is_loopback(name):
                raise HttpError(403, f"this server only answers requests for localhost, "
                                     f"not {host!r}", close=True)
        origin = self.headers.get("Origin")
        if self.command == "POST" and origin and origin != "null" and host:
            if urlsplit(origin).netloc != host:
                raise HttpError(403, "requests from other sites are refused", close=True)

    # -------------------------------------------------- dispatch
    def routes(self):
        return {"/": {"GET": self.get_page},
                "/api/info": {"GET": self.get_info},
                "/api/convert": {"POST": self.post_convert},
                "/api/load": {"POST": self.post_load}}

    def dispatch(self):
        err = None
        self.body_read = False
        try:
            self.check_origin()
            path = urlsplit(self.path).path
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
            handlers[method]()
        except HttpError as exc:
            err = exc
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
            return
        except Exception as exc:         # a bug: logged, answered, and the server goes on
            traceback.print_exc(file=sys.stderr)
            err = HttpError(500, f"internal error: {type(exc).__name__}: {exc}", close=True)
        if err is None:
            return
        if err.close or (self.headers is not None and not self.body_read
                         and self.headers.get("Content-Length", "0").strip() not in ("", "0")):
            self.close_connection = True     # an unread body would spoil the next request
        try:
            self.send_json(err.status, {"error": err.message}, headers=err.headers)
            self.wfile.flush()
            if err.drain:
                self.drain(err.drain)
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
        raw = self.read_body()
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise HttpError(400, "the request body is not valid JSON") from None
        req = ConvertRequest(body, self.app)
        img = open_image_bytes(req.sketch_bytes)
        sketch, notes = to_sketch(img, self.app.size)
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
        img = open_image_bytes(self.read_body(), "the file")
        gray, notes = to_sketch(img, CANONICAL_SIZE)
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
