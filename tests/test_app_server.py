"""The drawing app's server (app/server.py, draw.py): every endpoint, good and
bad input, several clients at once, who may ask, and what one request may
cost. The server runs in a thread of this process on a free port, with a
tiny random checkpoint folder; the tests of crashes and memory run
`python draw.py` in a subprocess (Jittor imported, as a user runs it) to
watch its exit status and its RSS."""

import base64
import http.client
import io
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.conftest import ROOT, face_sketch, run_script
from util.components import BOXES_512, PART_NAMES, PARTS

MAX_MB = 1      # the test server's upload limit
JSON = {"Content-Type": "application/json"}


# ------------------------------------------------------------------ helpers
def png_bytes(img, fmt="PNG", **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def data_url(img):
    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode()


def decode_data_url(url):
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def call(server, method, path, body=None, headers=None, timeout=120):
    """(status, headers, JSON or bytes) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        if resp.getheader("Content-Type", "").startswith("application/json"):
            data = json.loads(data)
        return resp.status, resp, data
    finally:
        conn.close()


def raw(server, request_bytes, timeout=30):
    """Send raw bytes, return the raw answer (status line first)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(request_bytes)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def convert(server, **fields):
    body = {"sketch": data_url(face_sketch())}
    body.update(fields)
    return call(server, "POST", "/api/convert", body)


def load(server, data, ctype="image/png", headers=None):
    """POST an image file's bytes to /api/load, as the page does."""
    return call(server, "POST", "/api/load", data, headers={"Content-Type": ctype, **(headers or {})})


def png_header_only(w, h):
    """A PNG that announces w x h gray pixels but holds only a few rows."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))


class DrawProcess:
    """`python draw.py --params P --port 0 --no_warmup ARGS` in a subprocess:
    the server as a user runs it, with Jittor imported (which raises
    Python's recursion limit to 10**6), its own exit status and memory.

    It runs under `sh`, in a session of its own, with a shell's usual 8 MiB
    stack limit. Jittor, imported by this test process, raised our stack
    limit to 512 MiB (inherited, it gives a child's threads such stacks
    that a deep recursion ends in RecursionError where a user's server dies
    of SIGSEGV), and it quits this process when a child of ours dies of a
    signal: `sh` stays between, and just exits with 128 + the signal."""

    def __init__(self, params, *args):
        self.log = tempfile.TemporaryFile("w+")
        command = [sys.executable, "draw.py", "--params", params, "--port", "0", "--no_warmup", *args]
        self.proc = subprocess.Popen(
            ["sh", "-c", 'ulimit -S -s 8192 2>/dev/null; "$@"', "sh", *command],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True, start_new_session=True)
        self.port, self.pid, deadline = None, None, time.time() + 300
        while self.port is None and time.time() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith("DeepFaceDrawing app: "):
                    self.port = urlsplit(line.split(": ", 1)[1].strip()).port
        if self.port is not None:
            self.pid = self._child_of(self.proc.pid)
        if self.port is None or self.pid is None:
            self.close()
            raise RuntimeError(f"draw.py did not start; its stderr:\n{self.stderr()}")

    @staticmethod
    def _child_of(ppid):
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if entry.isdigit() and int(stat.rpartition(")")[2].split()[1]) == ppid:
                return int(entry)
        return None

    def alive(self):
        return self.proc.poll() is None

    def exit_status(self):
        """None while running; else the server's exit status, -signal when killed."""
        rc = self.proc.poll()
        return rc if rc is None or rc < 128 else -(rc - 128)

    def memory_mb(self, field="VmRSS"):
        """VmRSS (now) or VmHWM (the peak) of the server, in MB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        raise KeyError(field)

    def reset_peak(self):
        """Start VmHWM again from the current RSS (Linux >= 4.0); False if refused."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def stderr(self):
        self.log.seek(0)
        return self.log.read()[-5000:]

    def close(self):
        """SIGTERM to draw.py alone ("stopped."; its group holds Jittor's
        workers too), then `sh` ends; SIGKILL to the group if that hangs."""
        if self.proc.poll() is None:
            try:
                if self.pid is not None:
                    os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(20)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


# ------------------------------------------------------------------ the server
@pytest.fixture(scope="module")
def server(tiny_params):
    from app.server import DEFAULT_MAX_PIXELS
    from options.draw_options import DrawOptions
    opt = DrawOptions().parse(["--params", tiny_params, "--max_upload_mb", str(MAX_MB),
                               "--port", "0", "--max_pixels", str(DEFAULT_MAX_PIXELS)])
    from util import jittor_env
    jittor_env.setup(opt.gpu)
    from app.server import AppServer, load_app, start_in_thread
    app = load_app(opt)
    app.warm_up()
    srv = AppServer(app, opt.host, 0)
    start_in_thread(srv)
    yield srv
    srv.shutdown()
    srv.server_close()


# ------------------------------------------------------------------ page and files
def test_page_and_static_files(server):
    status, resp, body = call(server, "GET", "/")
    assert status == 200 and resp.getheader("Content-Type").startswith("text/html")
    assert b'src="static/app.js"' in body and b'href="static/app.css"' in body
    assert "default-src 'self'" in resp.getheader("Content-Security-Policy")
    for name, ctype in (("app.js", "text/javascript"), ("app.css", "text/css"),
                        ("index.html", "text/html")):
        status, resp, body = call(server, "GET", f"/static/{name}")
        assert status == 200 and resp.getheader("Content-Type").startswith(ctype), name
        assert len(body) == int(resp.getheader("Content-Length")) > 100
    status, resp, body = call(server, "HEAD", "/")
    assert status == 200 and body == b"" and int(resp.getheader("Content-Length")) > 100


def test_page_uses_no_outside_resources():
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app", "static")
    for name in os.listdir(root):
        text = open(os.path.join(root, name), encoding="utf-8").read()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name


@pytest.mark.parametrize("path", ["/static/../server.py", "/static/%2e%2e/server.py",
                                  "/static/", "/static/nothing.js", "/static/.hidden.js",
                                  "/static/sub/app.js", "/nothing", "/api/nothing", "/api"])
def test_unknown_paths_are_404(server, path):
    status, _, body = call(server, "GET", path)
    assert status == 404 and "no such" in body["error"]


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/api/convert", "POST"), ("PUT", "/api/convert", "POST"),
    ("POST", "/api/info", "GET, HEAD"), ("DELETE", "/", "GET, HEAD"),
    ("PATCH", "/api/load", "POST"), ("POST", "/static/app.js", "GET, HEAD")])
def test_wrong_method_is_405(server, method, path, allowed):
    status, resp, body = call(server, method, path, body=b"" if method != "GET" else None)
    assert status == 405 and resp.getheader("Allow") == allowed
    assert f"{method} is not allowed" in body["error"]


# ------------------------------------------------------------------ info
def test_info(server):
    status, resp, info = call(server, "GET", "/api/info")
    assert status == 200 and resp.getheader("Cache-Control") == "no-store"
    assert info["canvas_size"] == 512 and info["image_size"] == 128
    assert [p["name"] for p in info["parts"]] == [PART_NAMES[p] for p in PARTS]
    assert {p["key"]: tuple(p["box"]) for p in info["parts"]} == BOXES_512
    assert info["genders"] == ["male", "female", "all"]
    assert info["k_max"] == 80                          # 40 male + 40 female latents
    assert info["defaults"] == {"k": min(server.app.opt.k, 80), "gender": "all", "shadow": True,
                                "refine": {PART_NAMES[p]: 1.0 for p in PARTS}}
    assert "128x128" in info["model"] and info["max_upload_bytes"] == MAX_MB * 1024 * 1024
    from app.server import DEFAULT_MAX_PIXELS
    assert info["max_pixels"] == DEFAULT_MAX_PIXELS == 4096 ** 2          # --max_pixels
    assert info["max_side"] ** 2 <= info["max_pixels"] < (info["max_side"] + 1) ** 2


# ------------------------------------------------------------------ convert
def test_convert_gives_the_models_result(server):
    status, _, out = convert(server, k=7, refine={"eye1": 0.3, "all": 0.8}, gender="female",
                             shadow=True, session="a", seq=4)
    assert status == 200, out
    image, shadow = decode_data_url(out["image"]), decode_data_url(out["shadow"])
    assert image.shape == (128, 128, 3) and shadow.shape == (128, 128)
    assert out["size"] == 128 and out["seq"] == 4 and out["notes"] == [] and out["seconds"] > 0
    # the same as converting the sketch directly (as demo.py would)
    from data.sketch_io import fit_square
    sketch = np.asarray(fit_square(face_sketch(), 128)[0])[None]
    refine = {"eye1": 0.3, "eye2": 0.8, "nose": 0.8, "mouth": 0.8, "": 0.8}
    app = server.app
    with app.lock:
        ref = app.model.convert(sketch, 7, refine, "female", True)
    assert np.abs(image.astype(int) - ref["images"][0]).max() <= 1
    assert np.abs(shadow.astype(int) - ref["shadows"][0]).max() <= 1


def test_convert_parameters_change_the_result(server):
    def image(**kw):
        status, _, out = convert(server, shadow=False, **kw)
        assert status == 200, out
        assert out["shadow"] is None
        return decode_data_url(out["image"]).astype(int)

    base = image(refine={"all": 1.0})
    assert np.abs(image(refine={"all": 0.0}) - base).max() > 0
    assert np.abs(image(refine="mouth=0.2") - base).max() > 0          # the --refine syntax
    assert np.abs(image(refine={"remainder": 0.0}) - base).max() > 0   # user-facing name
    assert np.abs(image(k=1) - base).max() > 0
    assert np.array_equal(image(), base)                               # defaults: t = 1, K


def test_k_above_the_banks_is_clamped_with_a_note(server):
    """The same rule as demo.py: K is clamped to the bank size, and said so."""
    status, _, out = convert(server, k=81, shadow=False)
    assert status == 200, out
    assert out["notes"] == ["k 81 is more than the feature banks hold (80 sketches): using K=80"]
    _, _, at_max = convert(server, k=80, shadow=False)
    assert out["image"] == at_max["image"]


def test_convert_accepts_other_sizes_and_formats(server):
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))                 # transparent = white
    ImageDraw.Draw(rgba).line([10, 10, 290, 190], fill=(0, 0, 0, 255), width=3)
    status, _, out = call(server, "POST", "/api/convert", {"sketch": data_url(rgba)})
    assert status == 200 and out["notes"] == ["300x200 is not square: padded with white "
                                              "and resized to 128x128"]
    plain = base64.b64encode(png_bytes(face_sketch(128, "RGB"), "JPEG")).decode()
    status, _, out = call(server, "POST", "/api/convert", {"sketch": plain})
    assert status == 200 and out["notes"] == []       # the model's own size: no note
    assert decode_data_url(out["shadow"]).shape == (128, 128)          # shadow on by default


def tiny_png_truncated():
    data = png_bytes(face_sketch())
    return data[:len(data) // 2]


@pytest.mark.parametrize("body,message", [
    ({"k": 3}, "'sketch' is missing"),
    ({"sketch": ""}, "'sketch' is missing"),
    ({"sketch": 12}, "'sketch' is missing"),
    ({"sketch": "data:image/png,abc"}, "without base64"),
    ({"sketch": "%%% not base64 %%%"}, "not valid base64"),
    ({"sketch": base64.b64encode(b"just some text, not a picture").decode()}, "not an image"),
    ({"sketch": base64.b64encode(tiny_png_truncated()).decode()}, "damaged image"),
    ({"sketch": "data:image/png;base64,"}, "is empty"),
])
def test_convert_rejects_bad_sketches(server, body, message):
    status, _, out = call(server, "POST", "/api/convert", body)
    assert status == 400 and message in out["error"], out


@pytest.mark.parametrize("fields,message", [
    ({"k": 0}, "k must be between 1 and 80"),
    ({"k": -3}, "k must be between"),
    ({"k": "5"}, "k must be a whole number"),
    ({"k": 2.5}, "k must be a whole number"),
    ({"k": True}, "k must be a whole number"),
    ({"k": None}, "k must be a whole number"),
    ({"refine": {"eye3": 0.5}}, "unknown face part 'eye3'"),
    ({"refine": {"eye1": 1.5}}, "outside [0, 1]"),
    ({"refine": {"all": -0.1}}, "outside [0, 1]"),
    ({"refine": {"nose": "high"}}, "must be a number"),
    ({"refine": {"nose": True}}, "must be a number"),
    ({"refine": "mouth=abc"}, "is not a number"),
    ({"refine": "2"}, "outside [0, 1]"),
    ({"refine": [1, 2]}, "refine must be an object"),
    ({"gender": "other"}, "gender must be one of male, female, all"),
    ({"gender": 1}, "gender must be one of"),
    ({"shadow": "yes"}, "shadow must be true or false"),
    ({"session": "s" * 101}, "session must be a string"),
    ({"session": "s", "seq": -1}, "seq must be a whole number"),
    ({"seq": 3}, "seq needs a session"),
    ({"session": "s"}, "session needs a seq"),
])
def test_convert_rejects_bad_parameters(server, fields, message):
    status, _, out = convert(server, **fields)
    assert status == 400 and message in out["error"], out


@pytest.mark.parametrize("body,message", [
    (b"not json at all", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (b"[1, 2, 3]", "must be a JSON object"),
    (b'"a string"', "must be a JSON object"),
    (b"", "not valid JSON"),
])
def test_convert_rejects_malformed_json(server, body, message):
    status, _, out = call(server, "POST", "/api/convert", body,
                          headers={"Content-Type": "application/json"})
    assert status == 400 and message in out["error"]


# ------------------------------------------------------------------ size limits
def test_huge_upload_is_413_and_the_server_goes_on(server):
    big = os.urandom(MAX_MB * 1024 * 1024 + 1000)
    status, _, out = call(server, "POST", "/api/convert", big, headers=JSON)
    assert status == 413 and "too large" in out["error"] and "--max_upload_mb" in out["error"]
    status, _, out = load(server, big)
    assert status == 413
    # a length announced but never sent: answered at once, without reading it
    answer = raw(server, b"POST /api/convert HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\n"
                         b"Content-Length: 999999999999\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413")
    assert call(server, "GET", "/api/info")[0] == 200


def test_too_many_pixels_is_413(server):
    huge = Image.new("L", (6000, 5000), 255)          # compresses to a few KB
    status, _, out = call(server, "POST", "/api/convert", {"sketch": data_url(huge)})
    assert status == 413 and "6000x5000" in out["error"]
    side = call(server, "GET", "/api/info")[2]["max_side"]
    # the limit is on the square a sketch is padded to: a long thin image is refused too
    for size in ((side + 1, 10), (10, side + 1), (8 * side, side // 8)):
        status, _, out = load(server, png_bytes(Image.new("L", size, 255)))
        assert status == 413 and f"{size[0]}x{size[1]}" in out["error"], out
        assert f"at most {side} pixels a side" in out["error"] and "--max_pixels" in out["error"]
    status, _, out = load(server, png_bytes(Image.new("L", (side, 10), 255)))
    assert status == 200 and out["notes"][0].startswith(f"{side}x10 is not square")


def test_the_pixel_limit_is_read_from_the_header_before_decoding(server):
    side = call(server, "GET", "/api/info")[2]["max_side"]
    # these announce too many pixels and hold almost none: decoded, they would be "damaged"
    for w, h in ((side + 1, side + 1), (5000, 5000), (1, 100_000), (100_000, 100_000)):
        status, _, out = load(server, png_header_only(w, h))
        assert status == 413, (w, h, out)
    status, _, out = load(server, png_header_only(64, 64))
    assert status == 400 and "damaged image" in out["error"]


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA", "P", "P+transparency", "RGB", "L", "1",
                                  "I;16", "CMYK", "F"])
def test_gray_on_white_in_bands_is_to_gray_on_white(mode, monkeypatch):
    """The server flattens alpha in bands of rows (less memory): the same pixels."""
    import app.server as server_module
    from data.sketch_io import to_gray_on_white
    rng = np.random.default_rng(7)
    base = Image.fromarray(rng.integers(0, 256, (37, 53, 4), dtype=np.uint8), "RGBA")
    if mode == "P+transparency":
        img = base.convert("RGB").quantize(64)
        img.info["transparency"] = 5
    elif mode == "PA":
        img = base.convert("PA")
    else:
        img = base.convert(mode)
    monkeypatch.setattr(server_module, "BAND_PIXELS", 53 * 5)        # 5 rows a band: 8 bands
    banded = server_module.gray_on_white(img)
    assert banded.mode == "L" and banded.size == img.size
    assert np.array_equal(np.asarray(banded), np.asarray(to_gray_on_white(img)))


POST_JSON = b"POST /api/convert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize("request_bytes,status", [
    (POST_JSON + b"\r\n", b"411"),
    (POST_JSON + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", b"411"),
    (POST_JSON + b"Content-Length: ten\r\n\r\n", b"400"),
    (POST_JSON + b"Content-Length: +5\r\n\r\n{}   ", b"400"),
    (POST_JSON + b"Content-Length: 1_0\r\n\r\n{}        ", b"400"),
    (POST_JSON + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{} ", b"400"),
    (POST_JSON + b"Content-Length: 50\r\n\r\n{\"sk", b"400"),
    (b"COMPLETE GARBAGE\r\n\r\n", b"400"),
    (b"GET http://[::1/api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"400"),
    (b"BREW /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", b"501"),
])
def test_malformed_requests(server, request_bytes, status):
    if request_bytes.endswith(b"{\"sk"):                # the body ends early: the client hangs up
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            s.sendall(request_bytes)
            s.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
    else:
        answer = raw(server, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == status, answer
    assert json.loads(body)["error"]


# ------------------------------------------------------------------ who may ask
def test_foreign_host_and_origin_are_refused(server):
    status, _, out = call(server, "GET", "/api/info", headers={"Host": "evil.example:8000"})
    assert status == 403 and "localhost" in out["error"]
    status, _, out = call(server, "POST", "/api/convert", {"sketch": data_url(face_sketch())},
                          headers={"Origin": "http://evil.example"})
    assert status == 403 and "other sites" in out["error"]
    host = f"localhost:{server.port}"
    status, _, _ = call(server, "GET", "/api/info", headers={"Host": host})
    assert status == 200
    status, _, _ = call(server, "POST", "/api/convert", {"sketch": data_url(face_sketch(128))},
                        headers={"Host": host, "Origin": f"http://{host}"})
    assert status == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "null"},                                # a sandboxed iframe, a file:// page
    {"Origin": "NULL"},
    {"Origin": ""},
    {"Origin": "http://[::1"},                         # not even a URL
    {"Origin": "http://127.0.0.1:1"},                  # this machine, another port
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_posts_of_other_pages_are_refused(server, headers):
    """What a page of another site sends: exactly the request a sandboxed
    iframe makes with fetch(..., {mode: "no-cors"}) (text/plain, no
    preflight), and the same with the right type."""
    body = json.dumps({"sketch": data_url(face_sketch(128))}).encode()
    for ctype in ("text/plain;charset=UTF-8", "application/json"):
        status, _, out = call(server, "POST", "/api/convert", body,
                              headers={"Content-Type": ctype, **headers})
        assert status == 403 and "other sites" in out["error"], (ctype, out)
    status, _, out = load(server, png_bytes(face_sketch()), headers=headers)
    assert status == 403


def test_posts_of_the_page_itself_are_accepted(server):
    host = f"127.0.0.1:{server.port}"
    status, _, out = call(server, "POST", "/api/convert", {"sketch": data_url(face_sketch(128))},
                          headers={"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"})
    assert status == 200, out
    status, _, out = load(server, png_bytes(face_sketch()),
                          headers={"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"})
    assert status == 200, out


# the request types a page may send to any site without a CORS preflight, and others
SIMPLE_TYPES = [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=----x"]


@pytest.mark.parametrize("ctype", SIMPLE_TYPES + ["application/jsonp", "application/json, text/plain",
                                                  "image/png", "application/octet-stream"])
def test_convert_takes_only_json(server, ctype):
    body = json.dumps({"sketch": data_url(face_sketch(128))}).encode()
    status, _, out = call(server, "POST", "/api/convert", body,
                          headers={"Content-Type": ctype} if ctype else {})
    assert status == 415 and "Content-Type: application/json" in out["error"], out


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "Application/JSON"])
def test_convert_json_types(server, ctype):
    body = json.dumps({"sketch": data_url(face_sketch(128)), "shadow": False}).encode()
    status, _, out = call(server, "POST", "/api/convert", body, headers={"Content-Type": ctype})
    assert status == 200, out


@pytest.mark.parametrize("ctype", SIMPLE_TYPES + ["application/json", "image/", "image/png, text/plain"])
def test_load_refuses_types_other_sites_may_send(server, ctype):
    status, _, out = call(server, "POST", "/api/load", png_bytes(face_sketch()),
                          headers={"Content-Type": ctype} if ctype else {})
    assert status == 415 and "image/* or application/octet-stream" in out["error"], out


@pytest.mark.parametrize("ctype", ["image/png", "image/jpeg", "IMAGE/PNG; x=y", "image/x-portable-pixmap",
                                  "application/octet-stream"])
def test_load_takes_image_types(server, ctype):
    status, _, out = load(server, png_bytes(face_sketch()), ctype)
    assert status == 200, out


def test_the_page_sends_the_types_the_server_takes():
    js = open(os.path.join(ROOT, "app", "static", "app.js"), encoding="utf-8").read()
    convert_call = js[js.index('fetch("api/convert"'):][:200]
    load_call = js[js.index('fetch("api/load"'):][:200]
    assert '"Content-Type": "application/json"' in convert_call
    assert '"Content-Type": type' in load_call and '"application/octet-stream"' in js


# ------------------------------------------------------------------ nesting
def test_json_depth_is_counted_without_recursion():
    from app.server import JSON_DEPTH_LIMIT, json_too_deep
    limit = JSON_DEPTH_LIMIT
    assert not json_too_deep(b"[" * limit + b"]" * limit)
    assert json_too_deep(b"[" * (limit + 1) + b"]" * (limit + 1))
    assert json_too_deep(b"{\"a\":" * (limit + 1) + b"1" + b"}" * (limit + 1))
    assert json_too_deep(b"[" * 100_000)                                 # never closed
    assert json_too_deep(b'[{"a":"]]]"}' * 100 + b"]")                   # brackets in strings skipped
    assert not json_too_deep(json.dumps({"s": "[" * 1000, "t": "{{" * 50 + '\\"[[['}).encode())
    assert not json_too_deep(b"]" * 1000 + b"[" * limit)
    # linear time, whatever the quotes and backslashes
    for text in (b'"' + b'\\"' * 1_000_000, b'"' + b'\\"' * 1_000_000 + b"\\",
                 b'"' * 2_000_000 + b"[" * 40, b"[" * 5_000_000 + b"]" * 5_000_000,
                 b'["' + b"\\n" * 2_000_000 + b'"]' + b"[[" * 20):
        start = time.monotonic()
        json_too_deep(text)
        assert time.monotonic() - start < 2, text[:20]


def nested(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("body", [{"sketch": "x", "refine": nested(32)}, nested(33),
                                  {"k": {"a": {"b": nested(31)}}}])
def test_deep_json_is_400(server, body):
    status, _, out = call(server, "POST", "/api/convert", body)
    assert status == 400 and "nested too deeply" in out["error"], out


def test_brackets_in_strings_do_not_count(server):
    status, _, out = call(server, "POST", "/api/convert", {"sketch": "[{" * 1000})
    assert status == 400 and "not valid base64" in out["error"], out


# ------------------------------------------------------------------ draw.py, as users run it
@pytest.fixture(scope="module")
def draw_server(tiny_params):
    from app.server import DEFAULT_MAX_PIXELS
    proc = DrawProcess(tiny_params, "--max_upload_mb", "10", "--max_pixels", str(DEFAULT_MAX_PIXELS))
    yield proc
    proc.close()


def test_deeply_nested_json_does_not_kill_the_server(draw_server):
    """Jittor sets Python's recursion limit to 10**6: there, json.loads of
    100000 nested brackets (the tester's 200 KB body) or more overflowed
    the C stack (SIGSEGV) instead of raising RecursionError."""
    for body in (b"[" * 1_000_000 + b"]" * 1_000_000, b"[" * 100_000 + b"]" * 100_000,
                 b'{"a":' * 300_000 + b"0" + b"}" * 300_000,
                 b'{"sketch": "", "refine": ' + b"[" * 300_000 + b"]" * 300_000 + b"}"):
        try:
            status, _, out = call(draw_server, "POST", "/api/convert", body, JSON)
        except (ConnectionError, http.client.HTTPException) as exc:
            time.sleep(1)
            pytest.fail(f"the server hung up ({exc!r}); exit status {draw_server.exit_status()}; "
                        f"stderr:\n{draw_server.stderr()}")
        assert status == 400 and "nested too deeply" in out["error"], out
    assert draw_server.alive() and call(draw_server, "GET", "/api/info")[0] == 200


def test_the_decode_budget_runs_big_decodes_alone():
    from app.server import DecodeBudget, HttpError
    budget = DecodeBudget(100)
    order = []
    with budget.share(60):
        with budget.share(40):                        # fits beside the first
            assert budget.free == 0
            with pytest.raises(HttpError) as exc:     # no room left: 503 after the wait
                with budget.share(1, timeout=0.05):
                    pass
            assert exc.value.status == 503

        def big():
            with budget.share(10 ** 9):               # over the budget: waits to be alone
                order.append(("big", budget.free))
        thread = threading.Thread(target=big)
        thread.start()
        time.sleep(0.1)
        order.append(("first done", None))
    thread.join(10)
    assert order == [("first done", None), ("big", 0)] and budget.free == 100


def big_transparent_png(side):
    """An RGBA PNG of side x side pixels, transparent but for a face: about
    100 KB, 4 bytes a pixel once decoded (the most a PNG takes)."""
    img = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    img.paste(face_sketch().convert("RGBA"), (0, 0))
    return png_bytes(img, compress_level=9)


def test_simultaneous_big_uploads_take_bounded_memory(draw_server):
    """8 uploads of the largest image accepted, at once: the server decodes
    them within a memory budget (two at a time at this size) and flattens
    alpha in bands, so its peak RSS grows by less than 500 MB (it was
    ~300 MB per image, all 8 at once: 2.2 GB)."""
    info = call(draw_server, "GET", "/api/info")[2]
    side = info.get("max_side", 4096)
    data = big_transparent_png(side)
    sketch = {"sketch": "data:image/png;base64," + base64.b64encode(data).decode(), "shadow": False}
    # the same paths once, small: Jittor's kernels and memory pool are loaded then, not measured
    assert load(draw_server, png_bytes(face_sketch()))[0] == 200
    for _ in range(2):
        small = {"sketch": data_url(face_sketch(128)), "shadow": False}
        assert call(draw_server, "POST", "/api/convert", small)[0] == 200
    time.sleep(0.2)
    draw_server.reset_peak()
    before = draw_server.memory_mb("VmRSS")
    start = time.monotonic()

    def send(i):
        if i % 2:
            return call(draw_server, "POST", "/api/convert", sketch)
        return load(draw_server, data)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    seconds = time.monotonic() - start
    peak = draw_server.memory_mb("VmHWM")
    print(f"\n8 x {side}x{side} RGBA PNG ({len(data) // 1024} KB) at once: RSS {before:.0f} MB "
          f"-> peak {peak:.0f} MB (+{peak - before:.0f} MB), {seconds:.1f} s")
    for status, _, out in answers:
        assert status == 200, out
        assert out["notes"][0].startswith(f"{side}x{side} resized")
    assert peak - before < 500
    assert call(draw_server, "GET", "/api/info")[0] == 200


# ------------------------------------------------------------------ load
def test_load_normalises_a_sketch_file(server):
    src = face_sketch(300, "RGB").resize((300, 200))
    status, _, out = load(server, png_bytes(src, "JPEG", quality=95), "image/jpeg")
    assert status == 200, out
    la = decode_data_url(out["sketch"])
    assert la.shape == (512, 512, 2)                   # black strokes, alpha = darkness
    assert la[..., 0].max() == 0 and la[..., 1].max() > 200
    assert la[:60, :, 1].max() == 0                     # the white padding is transparent
    assert out["notes"] == ["300x200 is not square: padded with white and resized to 512x512"]
    status, _, out = load(server, png_bytes(face_sketch()))
    assert status == 200 and out["notes"] == []
    status, _, out = load(server, png_bytes(Image.new("L", (64, 64), 255)))
    assert status == 200 and "no dark strokes" in out["notes"][-1]


@pytest.mark.parametrize("body,status,message", [
    (b"", 400, "is empty"),
    (b"%PDF-1.4 not an image", 400, "not an image"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", 400, "not an image"),  # no Ghostscript
    (tiny_png_truncated(), 400, "damaged image"),
])
def test_load_rejects_bad_files(server, body, status, message):
    code, _, out = load(server, body, "application/octet-stream")
    assert code == status and message in out["error"]


# ------------------------------------------------------------------ robustness
def test_an_internal_error_is_500_and_the_server_goes_on(server, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure")
    monkeypatch.setattr(server.app.model, "convert", broken)
    status, _, out = convert(server)
    assert status == 500 and "simulated failure" in out["error"]
    assert "RuntimeError" in capsys.readouterr().err          # logged with its traceback
    monkeypatch.undo()
    assert convert(server)[0] == 200


def test_several_clients_at_once(server):
    results, errors = [], []

    def client(i):
        try:
            if i % 3 == 0:
                results.append(call(server, "GET", "/api/info")[0])
            elif i % 3 == 1:
                results.append(convert(server, k=1 + i, session=f"tab{i}", seq=1)[0])
            else:
                results.append(call(server, "POST", "/api/convert", b"broken", JSON)[0])
        except Exception as exc:               # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert sorted(results) == [200] * 6 + [400] * 3


def test_a_newer_request_of_the_same_page_supersedes_a_waiting_one(server):
    app = server.app
    out = {}

    def send(seq):
        out[seq] = convert(server, session="page-1", seq=seq, shadow=False)[0]

    with app.lock:                       # the model is busy: both requests wait
        first = threading.Thread(target=send, args=(1,))
        first.start()
        deadline = time.time() + 30
        while app._latest.get("page-1") != 1 and time.time() < deadline:
            time.sleep(0.01)
        second = threading.Thread(target=send, args=(2,))
        second.start()
        while app._latest.get("page-1") != 2 and time.time() < deadline:
            time.sleep(0.01)
    first.join(60)
    second.join(60)
    assert out == {1: 409, 2: 200}


def test_a_request_whose_browser_hung_up_is_not_computed(server, monkeypatch):
    app = server.app
    calls = []
    real = app.model.convert
    monkeypatch.setattr(app.model, "convert", lambda *a, **k: calls.append(1) or real(*a, **k))
    body = json.dumps({"sketch": data_url(face_sketch(128)), "session": "gone", "seq": 1}).encode()
    with app.lock:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        s.sendall(b"POST /api/convert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                  b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        deadline = time.time() + 30
        while app._latest.get("gone") != 1 and time.time() < deadline:
            time.sleep(0.01)
        s.close()                        # the page aborted the request
        time.sleep(0.2)
    assert convert(server)[0] == 200     # the next one runs (and waits for the first)
    assert len(calls) == 1


# ------------------------------------------------------------------ draw.py
def test_draw_py_reports_missing_checkpoints(tmp_path, capsys):
    rc = run_script("draw.py", ["--params", str(tmp_path / "nothing"), "--preset", "tiny"])
    assert rc == 2 and "checkpoint folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--port", "70000"], "--port must be between 0 and 65535"),
    (["--max_upload_mb", "0"], "--max_upload_mb must be positive"),
    (["--host", " "], "--host must not be empty"),
])
def test_draw_options_are_checked(argv, message, capsys):
    from options.draw_options import DrawOptions
    with pytest.raises(SystemExit) as exc:
        DrawOptions().parse(["--preset", "tiny"] + argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_loopback_addresses():
    from options.draw_options import is_loopback
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.5", "::", "example.com"]))


def test_draw_py_prints_its_address_and_warns_off_loopback(tiny_params, monkeypatch, capsys):
    import app.server as server_module
    seen = {}

    def serve_forever(self, poll_interval=0.5):
        seen["url"] = self.url
        seen["info"] = self.app.info()
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module.AppServer, "serve_forever", serve_forever)
    rc = run_script("draw.py", ["--params", tiny_params, "--port", "0", "--no_warmup"])
    out = capsys.readouterr()
    assert rc == 0 and f"DeepFaceDrawing app: {seen['url']}" in out.out
    assert seen["url"].startswith("http://127.0.0.1:") and "warning" not in out.err
    rc = run_script("draw.py", ["--params", tiny_params, "--port", "0", "--no_warmup",
                                "--host", "0.0.0.0"])
    out = capsys.readouterr()
    assert rc == 0 and "warning: listening on 0.0.0.0" in out.err
    assert "DeepFaceDrawing app: http://127.0.0.1:" in out.out


def test_draw_py_reports_a_busy_port(tiny_params, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        rc = run_script("draw.py", ["--params", tiny_params, "--port", str(port), "--no_warmup"])
    err = capsys.readouterr().err
    assert rc == 2 and f"cannot listen on 127.0.0.1:{port}" in err and "--port 0" in err
