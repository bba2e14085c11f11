"""The drawing app's web server: the Python standard library's threading
HTTP server, the models (``app/sketch_app.py``) shared by every browser
tab. This module is the HTTP side only: who may ask, the endpoints, bodies
read within their limits, errors as one-line JSON. Images are decoded in
``app/images.py``, requests checked in ``app/requests.py``, reference
photos kept in ``app/references.py``. The API (every endpoint, field and
status) is specified in ``docs/app.md``.
"""

import json
import os
import re
import select
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from app.errors import HttpError, one_line
from app.images import data_url, decode_sketch, open_image_bytes, strokes_png
from app.requests import ConvertRequest, parse_json_body
from models.methods import DEFAULT_METHOD
from options.draw_options import is_loopback
from util.components import CANONICAL_SIZE
from util.png import encode_png

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png",
                 ".svg": "image/svg+xml", ".ico": "image/x-icon"}
JSON_TYPES = ("application/json",)
IMAGE_TYPES = ("image/*", "application/octet-stream")   # never CORS-simple: a preflight
DRAIN_LIMIT = 64 << 20         # an over-limit body up to this size is read and dropped
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data: blob:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'none'; "
                                "frame-ancestors 'none'"),
}


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
    disable_nagle_algorithm = True      # the body goes out at once, not after the client's
                                        # delayed ACK of the headers (40 ms a keep-alive answer)

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
        notes = req.notes + notes
        ref_notes = []
        if appearance is not None and appearance[0] == "photo":
            ref = app.reference(appearance[1])          # kept: decoded once
            appearance = ("reference", ref)
            ref_notes = ref.notes
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
        image, shadow, prepared_notes = out
        notes = notes + prepared_notes + ref_notes
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
