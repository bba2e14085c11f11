"""The drawing app (app/, draw.py): every endpoint, good and
bad input, several clients at once, who may ask, and what one request may
cost; both methods and their appearances. The servers run in a thread of
this process on a free port: ``server`` with a tiny random DeepFaceDrawing
checkpoint folder that has no appearance code and no sketch embedding,
``both`` with a tiny DeepFaceDrawing model with an appearance code and a
micro random sketch-embedding checkpoint. The tests of crashes and memory
run `python draw.py` in a subprocess (Jittor imported, as a user runs it) to
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
PNG = {"Content-Type": "image/png"}
DFD, SP = "deepfacedrawing", "sp_embedding"
# a sketch embedding small enough to be quick on a CPU (tests/sp_embedding/test_model.py's MICRO)
SP_MICRO = ["--output_size", "32", "--style_dim", "64", "--encoder_width", "0.125",
            "--encoder_size", "32", "--channel_max", "64", "--n_mlp", "2", "--break_layer", "4"]


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


def photo(seed=0, size=(160, 120)):
    """A colourful stand-in for a photo: a smooth gradient of random colours."""
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    arr = rng.uniform(0, 255, 3) + x[..., None] * rng.uniform(-255, 255, 3) \
        + y[..., None] * rng.uniform(-255, 255, 3)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def reference(server, data, ctype="image/png", headers=None):
    """POST a photo file's bytes to /api/reference, as the page does."""
    return call(server, "POST", "/api/reference", data,
                headers={"Content-Type": ctype, **(headers or {})})


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

    def __init__(self, params, *args, sp_params=""):
        self.log = tempfile.TemporaryFile("w+")
        command = [sys.executable, "draw.py", "--params", params, "--sp_params", sp_params,
                   "--port", "0", "--no_warmup", *args]
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

    def stderr(self, tail=5000):
        """The last ``tail`` characters the server wrote to stderr."""
        self.log.seek(0)
        return self.log.read()[-tail:]

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


# ------------------------------------------------------------------ checkpoints
_made = {}          # the checkpoints below, made once a session (other test files import them)


def make_sp_params(factory):
    """A micro random sketch-embedding folder (config.json names the method)."""
    if "sp" not in _made:
        out = str(factory.mktemp("sp_params"))
        assert run_script("scripts/make_random_params.py",
                          ["--method", SP, "--preset", "tiny", "--out", out, *SP_MICRO]) == 0
        _made["sp"] = out
    return _made["sp"]


def make_look_params(factory):
    """A tiny random DeepFaceDrawing folder with an 8-d appearance code.
    Its modulations start at zero (a code changes nothing until trained):
    they are set at random here, so that appearances show."""
    if "look" not in _made:
        out = str(factory.mktemp("look_params"))
        assert run_script("scripts/make_random_params.py",
                          ["--preset", "tiny", "--appearance_dim", "8", "--bank_size", "20",
                           "--seed", "5", "--out", out]) == 0
        from models import create_model
        from models.layers import ModulatedInstanceNorm
        from options.test_options import TestOptions
        from util import jittor_env
        opt = TestOptions().parse(["--params", out])
        jittor_env.setup(opt.gpu)
        jt = jittor_env.get_jittor()
        combine = create_model("combine", opt).load(out)
        rng = np.random.default_rng(5)
        for module in combine.netG.modules():
            if isinstance(module, ModulatedInstanceNorm):
                shape = module.style.weight.shape
                module.style.weight.update(jt.array(rng.normal(0, 0.5, shape).astype(np.float32)))
        combine.save(out)
        _made["look"] = out
    return _made["look"]


@pytest.fixture(scope="session")
def sp_params(tmp_path_factory):
    return make_sp_params(tmp_path_factory)


@pytest.fixture(scope="session")
def look_params(tmp_path_factory):
    return make_look_params(tmp_path_factory)


# ------------------------------------------------------------------ the servers
def start_server(*argv):
    """The app of ``draw.py ARGV`` served from a thread of this process."""
    from app.images import DEFAULT_MAX_PIXELS
    from options.draw_options import DrawOptions
    opt = DrawOptions().parse([*argv, "--max_upload_mb", str(MAX_MB), "--port", "0",
                               "--max_pixels", str(DEFAULT_MAX_PIXELS)])
    from util import jittor_env
    jittor_env.setup(opt.gpu)
    from app.server import AppServer, start_in_thread
    from app.sketch_app import load_app
    app = load_app(opt)
    app.warm_up()
    srv = AppServer(app, opt.host, 0)
    start_in_thread(srv)
    return srv


def stop_server(srv):
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def server(tiny_params):
    """DeepFaceDrawing alone, without an appearance code."""
    srv = start_server("--params", tiny_params, "--sp_params", "")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def both(look_params, sp_params):
    """DeepFaceDrawing with an appearance code, and the sketch embedding."""
    srv = start_server("--params", look_params, "--sp_params", sp_params)
    yield srv
    stop_server(srv)


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


def test_every_element_the_script_asks_for_is_on_the_page():
    """app.js finds its elements with $("id"): each must be in index.html
    (the sketch-normalisation box among them), or the page breaks."""
    import re
    root = os.path.join(ROOT, "app", "static")
    script = open(os.path.join(root, "app.js"), encoding="utf-8").read()
    page = open(os.path.join(root, "index.html"), encoding="utf-8").read()
    wanted = set(re.findall(r'\$\("([\w-]+)"\)', script))
    present = set(re.findall(r'id="([\w-]+)"', page))
    assert "sketch-norm" in wanted and not wanted - present, wanted - present
    assert 'sketch_norm: $("sketch-norm").checked' in script


def test_page_uses_no_outside_resources():
    root = os.path.join(ROOT, "app", "static")
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
    ("PATCH", "/api/load", "POST"), ("POST", "/static/app.js", "GET, HEAD"),
    ("GET", "/api/reference", "POST")])
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
    assert info["defaults"] == {"method": DFD, "appearance": None,
                                "k": min(server.app.opt.k, 80), "gender": "all", "shadow": True,
                                "sketch_norm": True,
                                "refine": {PART_NAMES[p]: 1.0 for p in PARTS}}
    assert "128x128" in info["model"] and info["max_upload_bytes"] == MAX_MB * 1024 * 1024
    from app.images import DEFAULT_MAX_PIXELS
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
    assert out["method"] == DFD and out["appearance"] is None
    assert np.abs(image.astype(int) - ref["images"][0]).max() <= 1
    assert np.abs(shadow.astype(int) - ref["shadows"][0]).max() <= 1


def test_every_model_call_runs_on_one_thread(server, monkeypatch):
    """The warm-up and each request's conversion, whichever connection's
    thread serves it, run on the app's one models thread (OpenMP is fast
    from one thread only: SketchApp's note)."""
    import threading
    app = server.app
    method = app.methods[DFD]
    seen = []

    def spy(real):
        def call(*args, **kw):
            seen.append(threading.current_thread().name)
            return real(*args, **kw)
        return call

    monkeypatch.setattr(method, "run", spy(method.run))
    monkeypatch.setattr(method, "warm_up", spy(method.warm_up))
    app.warm_up()
    for seq in range(3):                 # three connections: three handler threads
        status, _, out = convert(server, shadow=False, session="threads", seq=seq)
        assert status == 200, out
    assert len(seen) == 4 and len(set(seen)) == 1, seen
    assert seen[0].startswith("models") and seen[0] != threading.current_thread().name
    # a model error still reaches the request as its answer
    from app.errors import HttpError
    monkeypatch.setattr(method, "run", lambda *a, **k: (_ for _ in ()).throw(
        HttpError(400, "the sketch: made to fail")))
    status, _, out = convert(server, shadow=False)
    assert status == 400 and "made to fail" in out["error"]


def test_answers_are_sent_without_waiting_for_acks(server, monkeypatch):
    """Every connection has Nagle's algorithm off: the server writes an
    answer's headers and its body separately, and with Nagle on, the body
    waited for the client's (delayed, up to 40 ms) ACK of the headers on a
    keep-alive connection: 40 ms of each preview stroke."""
    from app.server import Handler
    seen = []
    real = Handler.setup

    def setup(self):
        real(self)
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(Handler, "setup", setup)
    status, _, out = convert(server, shadow=False)
    assert status == 200, out
    assert len(seen) == 1 and seen[0] != 0


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


def test_convert_normalises_the_sketch_unless_asked_not_to(server, monkeypatch):
    """As demo.py does (data/sketch_norm.py): a face drawn small in a corner
    is moved onto the component layout, with a note; "sketch_norm": false,
    or draw.py --no_sketch_norm (the default of requests), keeps it as drawn."""
    from data.sketch_norm import normalise_sketch
    from data.synthetic import make_sample
    sketch = make_sample(0, 10 ** 6, 128)["sketch_clean"]
    small = np.full_like(sketch, 255)
    small[:77, :77] = np.asarray(Image.fromarray(sketch).resize((77, 77), Image.BOX))
    app = server.app

    def face(sketch):
        with app.lock:
            return app.model.convert(sketch[None], app.opt.k, app.opt.refine_by_part, "all",
                                     False)["images"][0]

    status, _, out = convert(server, sketch=data_url(Image.fromarray(small)), shadow=False)
    assert status == 200, out
    fitted, notes = normalise_sketch(small)
    assert notes and out["notes"] == notes and "component layout" in notes[0]
    assert np.abs(decode_data_url(out["image"]).astype(int) - face(fitted)).max() <= 1
    status, _, out = convert(server, sketch=data_url(Image.fromarray(small)), shadow=False,
                             sketch_norm=False)
    assert status == 200 and out["notes"] == [], out
    as_drawn = decode_data_url(out["image"])
    assert np.abs(as_drawn.astype(int) - face(small)).max() <= 1
    monkeypatch.setattr(app, "sketch_norm", False)           # draw.py --no_sketch_norm
    assert call(server, "GET", "/api/info")[2]["defaults"]["sketch_norm"] is False  # the box
    status, _, out = convert(server, sketch=data_url(Image.fromarray(small)), shadow=False)
    assert status == 200 and out["notes"] == [] and np.array_equal(
        decode_data_url(out["image"]), as_drawn)
    status, _, out = convert(server, sketch=data_url(Image.fromarray(small)), shadow=False,
                             sketch_norm=True)
    assert status == 200 and out["notes"] == notes


def test_draw_options_take_no_sketch_norm(tiny_params):
    from options.draw_options import DrawOptions
    opt = DrawOptions().parse(["--params", tiny_params, "--sp_params", "", "--no_sketch_norm"])
    assert opt.no_sketch_norm
    assert not DrawOptions().parse(["--params", tiny_params, "--sp_params", ""]).no_sketch_norm


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
    ({"sketch_norm": "no"}, "sketch_norm must be true or false"),
    ({"sketch_norm": 0}, "sketch_norm must be true or false"),
    ({"sketch_norm": None}, "sketch_norm must be true or false"),
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


# ------------------------------------------------------------------ methods and appearance
def test_info_lists_the_methods_and_their_appearance(server, both):
    info = call(server, "GET", "/api/info")[2]
    assert [m["name"] for m in info["methods"]] == [DFD, SP]
    assert info["default_method"] == DFD and info["max_seed"] == 2 ** 32 - 1
    dfd, sp = info["methods"]
    assert dfd["available"] and dfd["title"] == "DeepFaceDrawing" and dfd["image_size"] == 128
    assert dfd["appearance"] is False and "no appearance code" in dfd["appearance_note"]
    assert dfd["settings"] == ["k", "refine", "gender"] and dfd["model"] == info["model"]
    assert sp == {"name": SP, "title": "Sketch embedding", "available": False,
                  "reason": "left out (draw.py --sp_params '')"}
    info = call(both, "GET", "/api/info")[2]
    dfd, sp = info["methods"]
    assert dfd["available"] and dfd["appearance"] is True and "mean" in dfd["appearance_note"]
    assert sp["available"] and sp["appearance"] is True and sp["image_size"] == 32
    assert sp["settings"] == [] and "32x32" in sp["model"] and "stroke labels" in sp["model"]
    assert "label" in sp["shadow"] and "shadow" in dfd["shadow"]


def test_label_picture_spreads_each_stroke_to_its_halo():
    """The stroke labels in colour, spread LABEL_HALO pixels: the halo's
    extent is the exact Euclidean one, and each halo pixel takes its nearest
    stroke's class (SciPy's exact transform as the reference; they may
    differ only where two classes' strokes are about equally near)."""
    from scipy import ndimage

    from app.images import LABEL_HALO, label_picture
    from models.sp_embedding.inputs import colour_labels
    rng = np.random.default_rng(3)
    labels = np.zeros((512, 512), np.uint8)
    for _ in range(40):
        y, x = rng.integers(20, 480, 2)
        labels[y:y + 3, x:x + int(rng.integers(5, 90))] = rng.integers(1, 8)
    labels[100, 100] = 9                                 # a lone pixel far from the rest
    empty = labels == 0
    dist, (iy, ix) = ndimage.distance_transform_edt(empty, return_indices=True)
    exact = np.where(dist <= LABEL_HALO, labels[iy, ix], 0).astype(np.uint8)
    got = label_picture(labels)
    want = colour_labels(exact)
    assert got.shape == (512, 512, 3) and got.dtype == np.uint8
    assert np.array_equal(got[~empty], want[~empty])                 # strokes keep their class
    white = (got == 255).all(axis=2)
    assert np.array_equal(white, exact == 0)                         # the exact halo
    differ = (got != want).any(axis=2)
    assert differ.sum() <= 0.002 * (exact > 0).sum()
    palette = {tuple(colour_labels(np.full((1, 1), c, np.uint8))[0, 0]): c for c in range(10)}
    to_class = {c: ndimage.distance_transform_edt(labels != c) for c in np.unique(labels[~empty])}
    for y, x in zip(*np.nonzero(differ)):
        c = palette[tuple(got[y, x])]                # a near tie: class c is nearly as near
        to_c = to_class[c][y, x]
        assert 0 < dist[y, x] and to_c <= dist[y, x] * 1.05 + 0.1, (y, x, c, to_c, dist[y, x])
    assert np.array_equal(got[95:106, 95:106], want[95:106, 95:106])   # the lone pixel's disc
    # nothing drawn, or nothing but strokes: the colours as they are
    assert (label_picture(np.zeros((512, 512), np.uint8)) == 255).all()
    full = np.full((8, 8), 3, np.uint8)
    assert np.array_equal(label_picture(full), colour_labels(full))


def test_convert_with_each_method(both):
    status, _, out = convert(both, method=DFD, k=3, shadow=True)
    assert status == 200 and out["method"] == DFD and out["size"] == 128, out
    assert decode_data_url(out["image"]).shape == (128, 128, 3)
    assert decode_data_url(out["shadow"]).shape == (128, 128)
    status, _, out = convert(both, method=SP, shadow=True, session="m", seq=3)
    assert status == 200 and out["method"] == SP and out["size"] == 32, out
    assert out["appearance"] is None and out["seq"] == 3 and out["notes"] == []
    image, shadow = decode_data_url(out["image"]), decode_data_url(out["shadow"])
    assert image.shape == (32, 32, 3) and shadow.shape == (512, 512, 3)
    # the model's own result, and its label map in colour, spread around the strokes
    from models.sp_embedding.inputs import colour_labels
    app = both.app
    sp = app.methods[SP].face
    with app.lock:
        inputs, _ = sp.prepare(np.asarray(face_sketch()))
        face = sp([inputs])["faces"][0]             # the mean look: seed 0's
    labels = inputs["labels512"]
    assert np.array_equal(image, face)
    stroke = labels > 0
    assert stroke.any() and np.array_equal(shadow[stroke], colour_labels(labels)[stroke])
    assert (shadow != 255).any(axis=2).sum() > 3 * stroke.sum()
    assert (shadow[:20, :20] == 255).all()                  # far from any stroke: white
    status, _, out = convert(both, method=SP, shadow=False)
    assert status == 200 and out["shadow"] is None and out["image"] == data_url_of(image)
    # the sketch embedding takes 512 sketches: others are padded and resized to that
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line([10, 10, 290, 190], fill=(0, 0, 0, 255), width=3)
    status, _, out = call(both, "POST", "/api/convert", {"sketch": data_url(rgba), "method": SP})
    assert status == 200 and out["notes"] == ["300x200 is not square: padded with white "
                                              "and resized to 512x512"]


def data_url_of(arr):
    from util.png import encode_png
    return "data:image/png;base64," + base64.b64encode(encode_png(arr)).decode()


@pytest.mark.parametrize("method", [DFD, SP])
def test_appearance_by_seed(both, method):
    def image(appearance):
        status, _, out = convert(both, method=method, appearance=appearance, shadow=False)
        assert status == 200 and out["appearance"] == appearance, out
        return decode_data_url(out["image"]).astype(int)

    one, two, again = image({"seed": 1}), image({"seed": 2}), image({"seed": 1.0})
    assert np.array_equal(one, again)                       # the same seed, the same face
    assert np.abs(one - two).max() > 8                      # another seed, another look
    assert np.abs(image({"seed": 2 ** 32 - 1}) - one).max() > 0
    default = image(None)
    if method == DFD:                                       # null: the mean appearance
        assert np.abs(default - one).max() > 0
        app = both.app
        from data.sketch_io import fit_square
        sketch = np.asarray(fit_square(face_sketch(), 128)[0])[None]
        with app.lock:
            codes = app.model.random_codes(1, 0, 1)
            ref = app.model.convert(sketch, app.opt.k, None, "all", False, codes=codes)
        assert np.abs(one - ref["images"][0]).max() <= 1
    else:                                                   # null: seed 0
        assert np.array_equal(default, image({"seed": 0}))


def test_a_reference_photo_changes_the_face(both, tmp_path, monkeypatch):
    import app.sketch_app as server_module
    from data.sketch_io import reference_photo
    decodes = []
    real = server_module.decode_photo
    monkeypatch.setattr(server_module, "decode_photo",
                        lambda *a, **k: decodes.append(1) or real(*a, **k))
    pic = photo(1, (160, 120))
    status, _, out = reference(both, png_bytes(pic))
    assert status == 200, out
    token = out["token"]
    assert len(token) == 32 and out["methods"] == [DFD, SP]
    assert out["notes"] == ["the reference photo is 160x120, not square: its centre 120x120 "
                            "is used"]
    thumb = decode_data_url(out["thumbnail"])
    assert thumb.shape == (96, 96, 3)
    # what each method gets: for DeepFaceDrawing what demo.py makes of the file
    path = str(tmp_path / "photo.png")
    pic.save(path)
    kept = both.app.references.get(token)
    assert np.array_equal(kept.inputs[DFD], reference_photo(path, 128))
    square = Image.fromarray(reference_photo(path, 120))
    from models.inference import Appearance
    sp = both.app.methods[SP].face
    with both.app.lock:
        look = Appearance.of_photos([sp.photo_input(square)])
        sp_face = sp([sp.prepare(np.asarray(face_sketch()))[0]], look)["faces"][0]
    for method in (DFD, SP):
        def image(appearance):
            status, _, out = convert(both, method=method, appearance=appearance, shadow=False)
            assert status == 200, out
            return out, decode_data_url(out["image"]).astype(int)

        _, plain = image(None)
        out, by_token = image({"reference": token})
        assert out["appearance"] == {"reference": token} and out["notes"] == []
        assert np.abs(by_token - plain).max() > 8
        # the photo itself in the request: the same face, and its token for next time
        out, inline = image({"photo": data_url(pic)})
        assert out["appearance"] == {"reference": token} and np.array_equal(inline, by_token)
        assert out["notes"] == ["the reference photo is 160x120, not square: its centre "
                                "120x120 is used"]
        out, other = image({"photo": data_url(photo(2))})
        assert out["appearance"] != {"reference": token} and np.abs(other - by_token).max() > 0
        if method == SP:
            assert np.array_equal(by_token, sp_face)
    assert len(decodes) == 2                   # each photo decoded once, however often sent
    assert reference(both, png_bytes(pic))[2]["token"] == token and len(decodes) == 2


def test_reference_photos_in_other_forms(both):
    """EXIF orientation, transparency, 16 bits: read as the command line reads them."""
    pic = photo(3, (90, 60))
    rotated = png_bytes(pic.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95,
                        exif=exif_orientation(8))
    status, _, out = reference(both, rotated, "image/jpeg")
    assert status == 200 and out["notes"][0].endswith("its centre 60x60 is used"), out
    rgba = pic.convert("RGBA")
    rgba.putalpha(0)                                   # fully transparent: white
    status, _, out = reference(both, png_bytes(rgba))
    assert status == 200 and (decode_data_url(out["thumbnail"]) == 255).all()
    gray16 = Image.fromarray((np.arange(64 * 64, dtype=np.uint16) * 16).reshape(64, 64))
    status, _, out = reference(both, png_bytes(gray16), "application/octet-stream")
    assert status == 200 and decode_data_url(out["thumbnail"]).max() > 200      # scaled


def exif_orientation(value):
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


def test_a_reference_no_longer_kept_is_410(both):
    status, _, out = convert(both, method=SP, appearance={"reference": "0" * 32})
    assert status == 410 and "send it to /api/reference again" in out["error"], out


def test_the_kept_references_are_bounded():
    from app.references import REFERENCE_CACHE_BYTES, REFERENCES_KEPT, Reference, ReferenceCache

    def ref(i, n=100):
        return Reference(f"{i:032x}", {"m": np.zeros(n, np.uint8)}, b"x" * 10, [])

    cache = ReferenceCache(kept=3, budget=1000)
    for i in range(3):
        cache.put(ref(i))
    assert cache.get(f"{0:032x}") is not None              # 0 is now the most recent
    cache.put(ref(3))
    assert [t for t in map("{:032x}".format, range(4)) if cache.get(t)] == \
        [f"{i:032x}" for i in (0, 2, 3)] and cache.nbytes == 330
    cache.put(ref(4, 800))                                 # over the bytes: the oldest go
    assert len(cache) == 2 and cache.nbytes == 920 and cache.get(f"{4:032x}")
    cache.put(ref(5, 5000))                                # alone over the budget: kept alone
    assert len(cache) == 1 and cache.get(f"{5:032x}")
    # the server's bound: the photos of the largest models (DeepFaceDrawing 512 px, the
    # authors' sketch embedding, 2 x 256 px) with a thumbnail, REFERENCES_KEPT of them
    assert REFERENCES_KEPT * (2 * 512 * 512 * 3 + 96 * 96 * 3) <= REFERENCE_CACHE_BYTES
    assert REFERENCE_CACHE_BYTES <= 64 << 20


@pytest.mark.parametrize("method", [DFD, SP])
@pytest.mark.parametrize("appearance,message", [
    (3, '"appearance" must be null, {"seed": n}'),
    ("seed", '"appearance" must be null'),
    ([1], '"appearance" must be null'),
    ({}, '"appearance" must be null'),
    ({"seed": 1, "photo": "x"}, '"appearance" must be null'),
    ({"colour": "red"}, '"appearance" must be null'),
    ({"seed": -1}, "seed must be a whole number from 0 to 4294967295"),
    ({"seed": 2 ** 32}, "seed must be a whole number from 0 to 4294967295"),
    ({"seed": 1.5}, "seed must be a whole number"),
    ({"seed": "1"}, "seed must be a whole number"),
    ({"seed": True}, "seed must be a whole number"),
    ({"seed": None}, "seed must be a whole number"),
    ({"photo": ""}, "appearance photo must be a PNG/JPEG data URL"),
    ({"photo": 5}, "appearance photo must be"),
    ({"photo": "%%%"}, "'appearance photo' is not valid base64"),
    ({"photo": "data:image/png,abc"}, "without base64"),
    ({"photo": base64.b64encode(b"no picture").decode()}, "the reference photo is not an image"),
    ({"photo": base64.b64encode(png_bytes(photo())[:300]).decode()}, "damaged image"),
    ({"reference": "abc"}, "must be a token from /api/reference"),
    ({"reference": "0" * 31 + "G"}, "must be a token from /api/reference"),
    ({"reference": 7}, "must be a token from /api/reference"),
])
def test_bad_appearance_fields_are_400(both, method, appearance, message):
    status, _, out = convert(both, method=method, appearance=appearance, shadow=False)
    assert status == 400 and message in out["error"], out


@pytest.mark.parametrize("method,message", [
    ("nothing", "method must be one of deepfacedrawing, sp_embedding, got \"nothing\""),
    (1, "method must be one of"), (None, "method must be one of"), ([SP], "method must be one of"),
])
def test_bad_methods_are_400(both, method, message):
    status, _, out = convert(both, method=method)
    assert status == 400 and message in out["error"], out


def test_photos_over_the_limits(both):
    wide = Image.new("RGB", (6000, 10), (200, 100, 50))                 # a few KB
    status, _, out = reference(both, png_bytes(wide))
    assert status == 413 and "6000x10" in out["error"] and "--max_pixels" in out["error"]
    status, _, out = convert(both, method=SP, appearance={"photo": data_url(wide)})
    assert status == 413 and "the reference photo is too large" in out["error"]
    status, _, out = reference(both, png_header_only(5000, 5000))
    assert status == 413
    status, _, out = reference(both, b"")
    assert status == 400 and "is empty" in out["error"]
    status, _, out = reference(both, os.urandom(MAX_MB * 1024 * 1024 + 10))
    assert status == 413 and "--max_upload_mb" in out["error"]


def test_a_model_without_appearance_code_refuses_appearance(server):
    for appearance in ({"seed": 1}, {"photo": data_url(photo())}, {"reference": "0" * 32},
                       {"seed": "bad"}, "anything"):
        status, _, out = convert(server, appearance=appearance)
        assert status == 400 and "has no appearance code" in out["error"], (appearance, out)
        assert '"appearance": null' in out["error"]
    status, _, out = reference(server, png_bytes(photo()))
    assert status == 400 and "no model here takes an appearance photo" in out["error"], out
    assert convert(server, appearance=None)[0] == 200


def test_a_method_not_offered_is_400(server):
    status, _, out = convert(server, method=SP)
    assert status == 400 and "sp_embedding is not available here" in out["error"], out
    assert "--sp_params" in out["error"]


# ------------------------------------------------------------------ size limits
@pytest.mark.slow
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
    import app.images as server_module
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
    status, _, out = reference(server, png_bytes(photo()), headers=headers)
    assert status == 403 and "other sites" in out["error"], out


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


@pytest.mark.parametrize("path", ["/api/load", "/api/reference"])
@pytest.mark.parametrize("ctype", SIMPLE_TYPES + ["application/json", "image/", "image/png, text/plain"])
def test_load_refuses_types_other_sites_may_send(both, ctype, path):
    status, _, out = call(both, "POST", path, png_bytes(face_sketch()),
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
    assert '"Content-Type": "application/json"' in convert_call
    for path in ("api/load", "api/reference"):
        call_text = js[js.index(f'fetch("{path}"'):][:200]
        assert '"Content-Type": imageType(file)' in call_text, path
    image_type = js[js.index("function imageType(file)"):][:500]
    assert '"application/octet-stream"' in image_type


# ------------------------------------------------------------------ nesting
def test_json_depth_is_counted_without_recursion():
    from app.requests import JSON_DEPTH_LIMIT, json_too_deep
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
def draw_server(tiny_params, sp_params):
    from app.images import DEFAULT_MAX_PIXELS
    proc = DrawProcess(tiny_params, "--max_upload_mb", "10", "--max_pixels", str(DEFAULT_MAX_PIXELS),
                       sp_params=sp_params)
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
    from app.errors import HttpError
    from app.images import DecodeBudget
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


@pytest.mark.slow
def test_simultaneous_big_uploads_take_bounded_memory(draw_server):
    """8 uploads of the largest image accepted, at once (sketch files,
    sketches and reference photos): the server decodes them within a memory
    budget (two at a time at this size) and flattens alpha in bands, so its
    peak RSS grows by less than 500 MB (it was ~300 MB per image, all 8 at
    once: 2.2 GB)."""
    info = call(draw_server, "GET", "/api/info")[2]
    side = info.get("max_side", 4096)
    data = big_transparent_png(side)
    sketch = {"sketch": "data:image/png;base64," + base64.b64encode(data).decode(), "shadow": False}
    # the same paths once, small: Jittor's kernels and memory pool are loaded then, not measured
    assert load(draw_server, png_bytes(face_sketch()))[0] == 200
    assert reference(draw_server, png_bytes(photo()))[0] == 200
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
        if i % 4 == 2:
            return reference(draw_server, data)
        return load(draw_server, data)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    seconds = time.monotonic() - start
    peak = draw_server.memory_mb("VmHWM")
    print(f"\n8 x {side}x{side} RGBA PNG ({len(data) // 1024} KB) at once: RSS {before:.0f} MB "
          f"-> peak {peak:.0f} MB (+{peak - before:.0f} MB), {seconds:.1f} s")
    for i, (status, _, out) in enumerate(answers):
        assert status == 200, out
        if i % 4 == 2:                                  # a square photo: kept whole
            assert out["notes"] == [] and out["methods"] == [SP]
        else:
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


@pytest.mark.parametrize("which,methods", [("server", (DFD, DFD)), ("both", (DFD, SP)),
                                           ("both", (SP, SP))])
def test_a_newer_request_of_the_same_page_supersedes_a_waiting_one(request, which, methods):
    """Whichever method each asks for: the models share one lock and the
    page's request numbers."""
    srv = request.getfixturevalue(which)
    app = srv.app
    page = f"page-{which}-{'-'.join(methods)}"
    out = {}

    def send(seq):
        out[seq] = convert(srv, method=methods[seq - 1], session=page, seq=seq, shadow=False)[0]

    with app.lock:                       # the models are busy: both requests wait
        first = threading.Thread(target=send, args=(1,))
        first.start()
        deadline = time.time() + 30
        while app._latest.get(page) != 1 and time.time() < deadline:
            time.sleep(0.01)
        second = threading.Thread(target=send, args=(2,))
        second.start()
        while app._latest.get(page) != 2 and time.time() < deadline:
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
    rc = run_script("draw.py", ["--params", str(tmp_path / "nothing"), "--preset", "tiny",
                                "--sp_params", ""])
    assert rc == 2 and "checkpoint folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--port", "70000"], "--port must be between 0 and 65535"),
    (["--max_upload_mb", "0"], "--max_upload_mb must be positive"),
    (["--host", " "], "--host must not be empty"),
])
def test_draw_options_are_checked(argv, message, capsys):
    from options.draw_options import DrawOptions
    with pytest.raises(SystemExit) as exc:
        DrawOptions().parse(["--preset", "tiny", "--sp_params", ""] + argv)
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
    rc = run_script("draw.py", ["--params", tiny_params, "--sp_params", "", "--port", "0",
                                "--no_warmup"])
    out = capsys.readouterr()
    assert rc == 0 and f"DeepFaceDrawing app: {seen['url']}" in out.out
    assert [m["available"] for m in seen["info"]["methods"]] == [True, False]
    assert seen["url"].startswith("http://127.0.0.1:") and "warning" not in out.err
    rc = run_script("draw.py", ["--params", tiny_params, "--sp_params", "", "--port", "0",
                                "--no_warmup", "--host", "0.0.0.0"])
    out = capsys.readouterr()
    assert rc == 0 and "warning: listening on 0.0.0.0" in out.err
    assert "DeepFaceDrawing app: http://127.0.0.1:" in out.out


def test_draw_py_reports_a_busy_port(tiny_params, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        rc = run_script("draw.py", ["--params", tiny_params, "--sp_params", "", "--port",
                                    str(port), "--no_warmup"])
    err = capsys.readouterr().err
    assert rc == 2 and f"cannot listen on 127.0.0.1:{port}" in err and "--port 0" in err


def test_draw_py_offers_the_sketch_embedding(tiny_params, sp_params, monkeypatch, capsys):
    import app.server as server_module
    seen = {}

    def serve_forever(self, poll_interval=0.5):
        seen["info"] = self.app.info()
        raise KeyboardInterrupt

    monkeypatch.setattr(server_module.AppServer, "serve_forever", serve_forever)
    rc = run_script("draw.py", ["--params", tiny_params, "--sp_params", sp_params, "--port", "0",
                                "--no_warmup"])
    err = capsys.readouterr().err
    assert rc == 0 and f"sp_embedding from {sp_params} (32x32)" in err, err
    assert [m["available"] for m in seen["info"]["methods"]] == [True, True]
    assert "Sketch embedding: " in err and "stopped." in err


def test_draw_options_find_the_sketch_embedding(tiny_params, sp_params, tmp_path, monkeypatch):
    import options.draw_options as draw_options
    from options.draw_options import DrawOptions
    monkeypatch.setattr(draw_options, "DEFAULT_SP_PARAMS", str(tmp_path / "absent"))
    opt = DrawOptions().parse(["--params", tiny_params])
    assert opt.sp_opt is None and opt.sp_params == ""
    assert "params/sp_embedding does not exist" in opt.sp_missing
    monkeypatch.setattr(draw_options, "DEFAULT_SP_PARAMS", sp_params)     # the bundled folder
    opt = DrawOptions().parse(["--params", tiny_params])
    sp = opt.sp_opt
    assert opt.sp_params == sp_params and sp.method == SP and sp.params == sp_params
    assert (sp.output_size, sp.encoder_size, sp.style_dim) == (32, 32, 64)     # its config.json
    assert DrawOptions().parse(["--params", tiny_params, "--sp_params", ""]).sp_opt is None
    pt = str(tmp_path / "model.pt")                                       # the authors' format
    assert run_script("scripts/make_random_params.py",
                      ["--method", SP, "--preset", "tiny", "--out", pt, *SP_MICRO]) == 0
    sp = DrawOptions().parse(["--params", tiny_params, "--sp_params", pt]).sp_opt
    assert sp.method == SP and (sp.output_size, sp.encoder_size) == (32, 32)


@pytest.mark.parametrize("which,message", [
    ("absent", "nothing: not found"),
    ("dfd", "holds a deepfacedrawing checkpoint"),
    ("no config", "has no config.json"),
    ("sp as --params", "--params is the DeepFaceDrawing checkpoint"),
])
def test_draw_options_check_the_checkpoints(which, message, tiny_params, sp_params, tmp_path,
                                            capsys):
    from options.draw_options import DrawOptions
    argv = {"absent": ["--params", tiny_params, "--sp_params", str(tmp_path / "nothing")],
            "dfd": ["--params", tiny_params, "--sp_params", tiny_params],
            "no config": ["--params", tiny_params, "--sp_params", str(tmp_path)],
            "sp as --params": ["--params", sp_params, "--sp_params", ""]}[which]
    with pytest.raises(SystemExit) as exc:
        DrawOptions().parse(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl_c", "sigterm"])
def test_draw_py_stops_cleanly(tiny_params, sig):
    """Ctrl+C (SIGINT) or SIGTERM: "stopped." and exit 0, not Jittor's own
    'Caught SIGINT, quick exit' (exit 1) or a signal death (143)."""
    proc = DrawProcess(tiny_params)
    try:
        os.kill(proc.pid, sig)
        proc.proc.wait(30)
        assert proc.exit_status() == 0, proc.stderr()
        err = proc.stderr()
        assert err.rstrip().endswith("stopped.") and "quick exit" not in err
    finally:
        proc.close()
