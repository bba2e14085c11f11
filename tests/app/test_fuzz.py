"""A bounded fuzz of the drawing app's server, on the loopback interface only.

A few hundred requests, built from a seeded RNG so every run sends the same
ones: random bytes, truncated JSON, wrong types for every field (the method
and the appearance too), bad base64, data URLs that are no images, damaged
images of every accepted format (as sketches, files and reference photos),
appearance seeds, photos and tokens good and bad, huge numbers, unicode,
deeply nested JSON, bodies over the limit or with a lying Content-Length,
garbled request lines and headers. They go out from several threads at once
to `python draw.py` in a subprocess (the server as users run it, Jittor
imported), serving both methods, each with an appearance. Every answer
must be a well-formed HTTP answer with an expected status (never 500) and,
for an error, JSON {"error": one line}; afterwards the server still answers
and its peak RSS grew by less than 300 MB.
"""

import base64
import json
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image, ImageDraw

from tests.conftest import face_sketch
from app.errors import MESSAGE_LIMIT
from tests.app.test_server import (DrawProcess, make_look_params, make_sp_params, photo,
                                   png_bytes, png_header_only)

SEED = 20240611
THREADS = 6
MAX_MB = 1                                   # the fuzzed server's upload limit
RSS_GROWTH_MB = 300
EXPECTED = {200, 400, 403, 404, 405, 409, 410, 411, 413, 414, 415, 431, 501, 503, 505}


# ------------------------------------------------------------------ one exchange
def exchange(port, data, half_close, timeout=60):
    """Send ``data`` on a new connection and read until the server hangs up;
    ``half_close`` ends our side first (the server then sees the body end).
    Returns (answer bytes, whether the connection was reset)."""
    chunks, reset = [], False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, BrokenPipeError):
            reset = True                    # it answered and closed with our bytes unread
    return b"".join(chunks), reset


def parse_answers(data):
    """The HTTP/1.x answers in ``data``, in order: [(status, headers, body)];
    raises ValueError when something is not a complete answer."""
    answers = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError(f"an answer without the end of its headers: {data[:200]!r}")
        lines = head.decode("latin-1").split("\r\n")
        version, status, _ = (lines[0] + " ").split(" ", 2)
        if not version.startswith("HTTP/1.") or not status.isdigit():
            raise ValueError(f"a bad status line: {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        n = int(headers["content-length"])
        if len(rest) < n:
            raise ValueError(f"a body cut short: {len(rest)} of {n} bytes")
        answers.append((int(status), headers, rest[:n]))
        data = rest[n:]
    return answers


def check_answer(status, headers, body, expected):
    assert status in expected, (status, body[:300])
    if status == 200:
        return
    assert headers.get("content-type") == "application/json", headers
    message = json.loads(body)["error"]
    assert isinstance(message, str) and message and "\n" not in message
    assert len(message) <= MESSAGE_LIMIT


# ------------------------------------------------------------------ the requests
def http(method, path, body=b"", headers=None, length=None, close=True):
    """A well-formed request (with Content-Length ``length`` if given)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for key, value in (headers or {}).items():
        lines.append(f"{key}: {value}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    if close:
        lines.append("Connection: close")
    return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body


def post_json(body, **kw):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return http("POST", "/api/convert", body, {"Content-Type": "application/json"}, **kw)


def post_file(body, ctype="image/png", **kw):
    return http("POST", "/api/load", body, {"Content-Type": ctype}, **kw)


def post_reference(body, ctype="image/png", **kw):
    return http("POST", "/api/reference", body, {"Content-Type": ctype}, **kw)


class Case:
    """Bytes to send, the statuses they may get, whether to end our side
    first (a convert request is then dropped unanswered: its browser is
    gone) and whether no answer at all is right (blank lines are no
    request)."""

    def __init__(self, name, data, expected=EXPECTED, half_close=False, raw=False, silent=False):
        self.name, self.data, self.expected = name, data, set(expected)
        self.half_close, self.raw, self.silent = half_close, raw, silent


def small_sketch(size=48):
    img = Image.new("L", (size, size), 255)
    ImageDraw.Draw(img).ellipse([8, 6, size - 8, size - 4], outline=0, width=2)
    return img


def image_files():
    """A small sketch in every accepted format (and modes with alpha)."""
    img = small_sketch()
    files = {fmt: png_bytes(img, fmt) for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "PPM")}
    files["WEBP"] = png_bytes(img.convert("RGB"), "WEBP")
    files["PNG-RGBA"] = png_bytes(img.convert("RGBA"))
    files["PNG-P"] = png_bytes(img.convert("P"), transparency=0)
    files["TIFF-LA"] = png_bytes(img.convert("LA"), "TIFF", compression="tiff_deflate")
    return files


def damaged(rng, data):
    """``data`` with a random kind of damage."""
    data = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:                                       # flip a few bytes
        for _ in range(rng.randint(1, 12)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:                                     # cut short
        del data[rng.randrange(1, len(data)):]
    elif kind == 2:                                     # random bytes inserted
        at = rng.randrange(len(data))
        data[at:at] = rng.randbytes(rng.randint(1, 200))
    elif kind == 3:                                     # a stretch zeroed or set to 0xff
        at = rng.randrange(len(data))
        n = rng.randint(1, 64)
        data[at:at + n] = bytes([rng.choice((0, 255))]) * len(data[at:at + n])
    else:                                               # the header damaged: sizes, modes...
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(min(len(data), 40))] = rng.randrange(256)
    return bytes(data)


def build_cases():
    rng = random.Random(SEED)
    sketch_png = png_bytes(small_sketch())
    sketch_url = "data:image/png;base64," + base64.b64encode(sketch_png).decode()
    base = {"sketch": sketch_url, "k": 1, "shadow": False}
    cases = []
    add = cases.append

    photo_png = png_bytes(photo(0, (64, 48)))
    photo_url = "data:image/png;base64," + base64.b64encode(photo_png).decode()

    # a few good requests among the rest
    for i in range(4):
        add(Case("good convert", post_json({**base, "session": f"s{i}", "seq": i}), {200, 409}))
        add(Case("good load", post_file(sketch_png), {200}))
        add(Case("info", http("GET", "/api/info"), {200}))
        method = ("deepfacedrawing", "sp_embedding")[i % 2]
        add(Case("good seed", post_json({**base, "method": method, "appearance": {"seed": i}}),
                 {200}))
        add(Case("good photo", post_json({**base, "method": method,
                                          "appearance": {"photo": photo_url}}), {200}))
        add(Case("good reference", post_reference(photo_png), {200}))
    add(Case("page", http("GET", "/"), {200}))
    add(Case("static", http("GET", "/static/app.js"), {200}))

    # random bytes as bodies, with the right types
    for i in range(25):
        body = rng.randbytes(rng.choice((0, 1, 7, 100, 3000, 60000)))
        add(Case("random json body", post_json(body), {400}))
        add(Case("random file body", post_file(body, rng.choice(("image/png", "application/octet-stream"))),
                 {400, 413}))
        if i % 3 == 0:
            add(Case("random reference body", post_reference(body), {400, 413}))

    # truncated JSON
    text = json.dumps({**base, "refine": {"eye1": 0.5, "all": 0.8}, "gender": "female"}).encode()
    for _ in range(20):
        add(Case("truncated json", post_json(text[:rng.randrange(len(text))]), {400}))

    # wrong (and a few right) types for every field
    values = [None, True, False, 0, 1, -1, 2.5, 2 ** 70, -2 ** 70, 1e308, -1e308, "", "x", "1",
              "\u00e9\u4e2d\U0001f600", "\ud800", [], [1, 2], {}, {"a": 1}, {"all": 0.5},
              "eye1=0.5", "all=2", "nose=x,mouth", "male", "female", "s" * 101, "a" * 5000]
    values += [{"seed": 3}, {"seed": -3}, {"photo": sketch_url}, {"photo": 1},
               {"reference": "0" * 32}, {"reference": "x"}, {"seed": 1, "reference": "0" * 32},
               "deepfacedrawing", "sp_embedding"]
    for field in ("sketch", "k", "refine", "gender", "shadow", "sketch_norm", "session", "seq",
                  "method", "appearance"):
        for value in rng.sample(values, 12):
            body = {**base, field: value}
            if field == "seq" and value is not None:
                body["session"] = "fuzz"
            if field == "session" and value is not None:
                body["seq"] = rng.randrange(100)
            add(Case(f"field {field}", post_json(body), {200, 400, 409, 410}))
    add(Case("not an object", post_json([base]), {400}))

    # appearances: seeds, photos and tokens of every kind, with either method
    methods = ("deepfacedrawing", "sp_embedding")
    for value in rng.sample(values, 16) + [2 ** 32, 2 ** 32 - 1, 0.0, 1e20, -0.0]:
        body = {**base, "method": rng.choice(methods), "appearance": {"seed": value}}
        add(Case("appearance seed", post_json(body), {200, 400}))
    for token in ("0" * 32, "f" * 32, "F" * 32, "0" * 33, "", "\u00e9" * 32, "../" * 11):
        body = {**base, "method": rng.choice(methods), "appearance": {"reference": token}}
        add(Case("appearance token", post_json(body), {400, 410}))
    for bad in ("%%%", "abcd=", "data:", "data:image/png;base64", photo_url[:-9],
                "data:image/png;base64," + base64.b64encode(b"not a photo").decode()):
        body = {**base, "method": rng.choice(methods), "appearance": {"photo": bad}}
        add(Case("appearance photo", post_json(body), {400}))
    add(Case("no sketch", post_json({"k": 3}), {400}))

    # bad base64, and data URLs that are not images
    for bad in ("%%%", "abc", "abcd=", "ab=cd", "====", "\u00e9\u00e9\u00e9\u00e9", "A" * 4001,
                base64.b64encode(b"not an image").decode(), sketch_url[:-7],
                sketch_url.replace("base64,", "base64,!"), "data:", "data:,", "data:image/png;base64",
                "data:image/png,iVBORw0KGgo=", "data:image/png;base64," + "A" * 1000 + "\x00"):
        add(Case("bad base64", post_json({**base, "sketch": bad}), {400}))
    for url in ("data:text/plain;base64," + base64.b64encode(b"hello").decode(),
                "data:text/html;base64," + base64.b64encode(b"<b>x</b>").decode(),
                "data:image/svg+xml;base64," + base64.b64encode(
                    b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>').decode(),
                "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4\n%%EOF").decode(),
                "data:image/png;base64," + base64.b64encode(b"%!PS-Adobe-3.0 EPSF-3.0\n").decode(),
                "data:image/png;base64," + base64.b64encode(b"GIF89a").decode()):
        add(Case("not an image", post_json({**base, "sketch": url}), {400}))

    # damaged images of every format, as files, sketches and reference photos
    for name, data in image_files().items():
        add(Case(f"{name} intact", post_file(data), {200}))
        add(Case(f"{name} intact reference", post_reference(data), {200}))
        for i in range(14):
            bad = damaged(rng, data)
            url = "data:image/png;base64," + base64.b64encode(bad).decode()
            if i < 7:
                add(Case(f"{name} damaged file", post_file(bad), {200, 400, 413}))
            elif i < 10:
                add(Case(f"{name} damaged sketch", post_json({**base, "sketch": url}),
                         {200, 400, 413}))
            elif i < 12:
                add(Case(f"{name} damaged reference", post_reference(bad), {200, 400, 413}))
            else:
                body = {**base, "method": methods[i % 2], "appearance": {"photo": url}}
                add(Case(f"{name} damaged photo", post_json(body), {200, 400, 413}))
    for w, h in ((5000, 5000), (1, 10 ** 6), (2 ** 31 - 1, 2 ** 31 - 1), (0, 0)):
        add(Case("huge header", post_file(png_header_only(w, h)), {400, 413}))
        add(Case("huge reference", post_reference(png_header_only(w, h)), {400, 413}))

    # huge numbers, non-finite ones, numbers beyond what Python parses
    prefix = json.dumps(base)[:-1].encode()
    for field, number in (("k", b"1e999"), ("k", b"-1e999"), ("k", b"NaN"), ("k", b"Infinity"),
                          ("k", b"9" * 4000), ("k", b"9" * 5000), ("k", b"1" + b"0" * 400 + b".0"),
                          ("seq", b"9" * 4000), ("seq", b"-0"), ("shadow", b"1e-400"),
                          ("refine", b'{"eye1": 1e999}'), ("refine", b'{"all": ' + b"9" * 500 + b"}"),
                          ("refine", b'{"nose": NaN}'), ("k", b"-" + b"9" * 300)):
        body = prefix + b', "session": "n", "' + field.encode() + b'": ' + number + b"}"
        add(Case(f"number {field}", post_json(body), {200, 400, 409}))

    # unicode: in keys and values, invalid UTF-8, other encodings
    for body in ({**base, "\u00e9": 1, "\U0001f600": "\U0001f600"}, {**base, "gender": "m\u00e4nnlich"},
                 {**base, "refine": {"\u00c6ye": 0.5}}, {**base, "refine": "\u0443\u0445\u043e=0.5"},
                 {**base, "session": "\u202e\u0000\n\r"}, {**base, "refine": {"eye1\n\r\x00": 0.5}}):
        add(Case("unicode", post_json(body), {200, 400}))
    text = json.dumps({**base, "gender": "female"}, ensure_ascii=False)
    for body in (text.encode("utf-16"), text.encode("utf-32"), b"\xef\xbb\xbf" + text.encode(),
                 text.encode()[:-3] + b'"\xff\xfe"}', b'{"sketch": "\xc3\x28"}',
                 b'{"sketch": "\\ud800\\udc00\\ud800"}', b'{"k": "\\u0000"}'):
        add(Case("encoding", post_json(body), {400}))

    # deeply nested JSON, around the limit and far beyond
    for depth in (31, 32, 33, 40, 1000, 100_000):
        add(Case(f"nested arrays {depth}", post_json(b"[" * depth + b"]" * depth), {400}))
        add(Case(f"nested objects {depth}",
                 post_json(b'{"a":' * depth + b"1" + b"}" * depth), {400}))
        inner = b"[" * (depth - 1) + b"1" + b"]" * (depth - 1)
        add(Case(f"nested refine {depth}", post_json(prefix + b', "refine": ' + inner + b"}"), {400}))
    add(Case("never closed", post_json(b"[" * 200_000), {400}))
    add(Case("nested in a string", post_json({**base, "session": "[" * 100}), {400}))

    # bodies over the limit, lying lengths, other framings
    limit = MAX_MB * 1024 * 1024
    add(Case("over the limit", post_json(b"[" * 1000, length=limit + 1), {413}, half_close=True))
    add(Case("over the limit, file", post_file(b"x" * 1000, length=10 ** 12), {413}, half_close=True))
    add(Case("over the limit, sent", post_file(rng.randbytes(limit + 10)), {413}))
    add(Case("over the limit, reference", post_reference(b"x" * 100, length=limit + 1), {413},
             half_close=True))
    add(Case("longer than sent", post_json(json.dumps(base).encode(), length=len(json.dumps(base)) + 50),
             {400}, half_close=True))
    add(Case("shorter than sent", post_json(json.dumps(base).encode() + b"GARBAGE / HTTP/1.1\r\n\r\n",
                                            length=len(json.dumps(base)), close=False),
             {200, 400, 501}))
    add(Case("shorter, junk after", post_file(sketch_png + rng.randbytes(300), length=len(sketch_png),
                                              close=False), {200, 400}, half_close=True))
    for value in ("-1", "1e3", "0x10", " 12 ", "+3", "1_0", "\u0663", "9" * 19, "9" * 5000, ""):
        request = (b"POST /api/convert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                   b"\r\nContent-Length: " + value.encode() + b"\r\n\r\n{}")
        add(Case("bad length", request, {400, 413, 431}, half_close=True))
    add(Case("two lengths", b"POST /api/load HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                            b"Content-Length: 2\r\nContent-Length: 4\r\n\r\nabcd", {400}, half_close=True))
    add(Case("chunked", b"POST /api/convert HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                        b"\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", {411}, half_close=True))
    add(Case("no length", b"POST /api/load HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n\r\n",
             {411}, half_close=True))
    add(Case("expect 100", http("POST", "/api/convert", json.dumps(base).encode(),
                                {"Content-Type": "application/json", "Expect": "100-continue"}),
             {200}, raw=True))

    # who asks: hosts, origins, content types
    for headers, expected in (({"Origin": "null"}, {403}), ({"Origin": "http://evil.example"}, {403}),
                              ({"Origin": "http://[::1"}, {403}), ({"Origin": "\u00e9\x01"}, {403}),
                              ({"Sec-Fetch-Site": "cross-site"}, {403}),
                              ({"Content-Type": "text/plain"}, {415}),
                              ({"Content-Type": "multipart/form-data; boundary=x"}, {415}),
                              ({"Content-Type": "application/json\x00"}, {415}),
                              ({"Content-Type": ";;;"}, {415})):
        request = http("POST", "/api/convert", json.dumps(base).encode(),
                       {"Content-Type": "application/json", **headers})
        add(Case(f"who {headers}", request, expected))
    for host in ("evil.example", "[::1", "localhost:99999", "", "127.0.0.1:0:0", "\u00e9"):
        request = f"GET /api/info HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        add(Case(f"host {host!r}", request.encode("latin-1", "replace"), {200, 400, 403}))

    # garbled request lines and headers
    fixed = [b"COMPLETE GARBAGE\r\n\r\n", b"\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/2.0\r\n\r\n",
             b"GET / HTTP/1.1 extra\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"get / HTTP/1.1\r\n\r\n",
             b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
             b"GET / HTTP/1.1\r\nX: " + b"b" * 70_000 + b"\r\n\r\n",
             b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(150)) + b"\r\n",
             b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
             b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n folded: line\r\n\r\n",
             b"GET /\x00/api/info HTTP/1.1\r\n\r\n", b"GET /api/info\x00 HTTP/1.1\r\n\r\n",
             b"GET //[::1 HTTP/1.1\r\n\r\n", b"GET http://[::1/api/info HTTP/1.1\r\n\r\n",
             b"GET http://evil.example/api/info HTTP/1.1\r\n\r\n",
             b"GET /api/info?" + b"%" * 3000 + b" HTTP/1.1\r\n\r\n",
             b"GET /static/%2e%2e/server.py HTTP/1.1\r\n\r\n", b"OPTIONS * HTTP/1.1\r\n\r\n",
             b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n", b"TRACE / HTTP/1.1\r\n\r\n",
             b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n",
             b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
             b"\xff\xfe\xfd\r\n\r\n", b"GET / HTTP/1.1\n\n", b"GET / HTTP/1.1\r\nX: \xff\xfe\r\n\r\n"]
    for data in fixed:
        add(Case(f"garbled {data[:30]!r}", data, half_close=True, silent=True))
    alphabet = b"GETPOS /:\r\n HTTP/1.1" + bytes(range(0, 256, 7))
    for _ in range(40):
        n = rng.randint(1, 400)
        data = bytes(rng.choice(alphabet) for _ in range(n))
        if rng.random() < 0.5:
            data = rng.choice((b"GET ", b"POST ", b"HEAD ")) + data
        add(Case("random request", data + b"\r\n\r\n", half_close=True, silent=True))
    for data in (b"GET /api/in", b"GET /api/info HTTP/1.1\r\nHost: 127.", b"POST /api/load HTTP/1.1\r\n"
                 b"Content-Type: image/png\r\nContent-Length: 100\r\n\r\n\x89PNG"):
        add(Case("cut short", data, half_close=True, silent=True))
    add(Case("HTTP/0.9", b"GET /api/info\r\n", half_close=True, raw=True))
    return cases


def run_case(port, case):
    data, reset = exchange(port, case.data, case.half_close)
    if case.raw:                          # HTTP/0.9: a bare body; 100-continue: an extra answer
        if data.startswith(b"HTTP/1.1 100"):
            data = data.partition(b"\r\n\r\n")[2]
        if not data.startswith(b"HTTP/"):
            assert data == b"" or json.loads(data), data[:200]
            return case.name, [], reset
    try:
        answers = parse_answers(data)
    except (ValueError, KeyError):
        if reset:                         # cut short by the reset: nothing more to check
            return case.name, [], reset
        raise
    if not reset and not case.silent:
        assert answers, f"{case.name}: no answer"
    for status, headers, body in answers[:1]:
        check_answer(status, headers, body, case.expected)
    for status, headers, body in answers[1:]:   # what followed a lying length
        check_answer(status, headers, body, EXPECTED)
    return case.name, [a[0] for a in answers], reset


# ------------------------------------------------------------------ the test
@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    """Both methods, each with an appearance."""
    proc = DrawProcess(make_look_params(tmp_path_factory), "--max_upload_mb", str(MAX_MB),
                       sp_params=make_sp_params(tmp_path_factory))
    yield proc
    proc.close()


def warm_up(server, request):
    """A good request answered 200; else the server's own log in the
    failure (the answer holds only the first line of an internal error)."""
    try:
        codes = run_case(server.port, Case("warm-up", request, {200}))[1]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nthe server's stderr:\n{server.stderr(20000)}") from None
    assert codes == [200], (codes, server.stderr())


@pytest.mark.slow
def test_fuzz(fuzz_server):
    port = fuzz_server.port
    cases = build_cases()
    random.Random(SEED).shuffle(cases)
    good = post_json({"sketch": "data:image/png;base64," + base64.b64encode(
        png_bytes(face_sketch(128))).decode()})
    warm_up(fuzz_server, good)                                         # kernels loaded
    for method in ("deepfacedrawing", "sp_embedding"):
        warm_up(fuzz_server, post_json({"sketch": "data:image/png;base64," + base64.b64encode(
            png_bytes(face_sketch(128))).decode(), "method": method, "appearance": {"seed": 1}}))
    time.sleep(0.2)
    fuzz_server.reset_peak()
    before = fuzz_server.memory_mb("VmRSS")
    start = time.monotonic()
    failures, statuses, resets = [], {}, 0

    def one(case):
        try:
            return run_case(port, case)
        except Exception as exc:           # noqa: BLE001 - collected and reported below
            failures.append(f"{case.name}: {exc!r}"[:500])
            return case.name, [], False

    with ThreadPoolExecutor(THREADS) as pool:
        for _, codes, reset in pool.map(one, cases):
            resets += reset
            for code in codes:
                statuses[code] = statuses.get(code, 0) + 1
    seconds = time.monotonic() - start
    assert fuzz_server.alive(), (f"the server died (exit status {fuzz_server.exit_status()}); "
                                 f"stderr:\n{fuzz_server.stderr()}")
    peak = fuzz_server.memory_mb("VmHWM")
    print(f"\n{len(cases)} requests from {THREADS} threads in {seconds:.1f} s; statuses "
          f"{dict(sorted(statuses.items()))}; {resets} connections reset; "
          f"RSS {before:.0f} MB -> peak {peak:.0f} MB (+{peak - before:.0f} MB)")
    assert not failures, "\n".join(failures[:20])
    assert "Traceback" not in fuzz_server.stderr(), fuzz_server.stderr()
    assert run_case(port, Case("info after", http("GET", "/api/info"), {200}))[1] == [200]
    assert run_case(port, Case("convert after", good, {200}))[1] == [200]
    assert peak - before < RSS_GROWTH_MB
    assert len(cases) >= 300 and statuses.get(500, 0) == 0
