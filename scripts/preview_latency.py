"""The drawing app's live preview, measured: the time from a changed sketch
to the new face, through the app's request path.

    python scripts/preview_latency.py                 # both bundled models, 20 strokes each
    python scripts/preview_latency.py --strokes 40 --json latency.json

Starts ``draw.py`` (the bundled models unless --params / --sp_params say
otherwise) on a free port in a process of its own, waits for it to warm up,
then, per method, replays a drawing stroke by stroke the way the page
(app/static/app.js) sends it: the canvas (512 x 512, transparent, dark
strokes) as a PNG data URL in the JSON of POST /api/convert with the
page's defaults from /api/info (shadow guidance on, the sketch tidied, K,
refinement, gender), a session and a request number. Each stroke adds the
next stretch of a test sketch's lines, so no two requests are the same.
One stroke is timed from the PNG encoding of the canvas (the browser's
``toDataURL``) to the decoded face (the browser decodes the PNG before it
shows it): the request path as the page lives it, minus the page's own
pause before it sends (``SETTLE_MS`` in app.js, reported beside).

Prints a Markdown table per method (median, 90th percentile, the server's
own share as the answer's ``seconds`` says) and, with --json, the raw
times. The machine should be quiet: the figures are the app's latency, not
the load's.
"""

import argparse
import base64
import http.client
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CANVAS = 512
DEFAULT_SKETCH = os.path.join(ROOT, "test_input", "face1.png")
APP_JS = os.path.join(ROOT, "app", "static", "app.js")


def page_delays():
    """(SETTLE_MS, STROKE_MS) of app.js: the page's pause after a stroke, its
    pace during one."""
    text = open(APP_JS, encoding="utf-8").read()
    found = [re.search(rf"const {name} = (\d+)", text) for name in ("SETTLE_MS", "STROKE_MS")]
    return tuple(int(m.group(1)) if m else None for m in found)


# ---------------------------------------------------------------- the drawing
def stroke_canvases(path, n):
    """``n`` RGBA canvases (CANVAS x CANVAS): the sketch's lines revealed in
    ``n`` steps, top to bottom, as a user adds strokes."""
    gray = np.asarray(Image.open(path).convert("L").resize((CANVAS, CANVAS), Image.BILINEAR))
    ink = (255 - gray.astype(np.int32)).clip(0, 255).astype(np.uint8)
    rows = np.nonzero(ink.max(axis=1) > 64)[0]
    top, bottom = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, CANVAS)
    canvases = []
    for i in range(n):
        cut = top + (bottom - top) * (i + 1) // n
        alpha = ink.copy()
        alpha[cut:] = 0
        rgba = np.zeros((CANVAS, CANVAS, 4), np.uint8)
        rgba[..., 3] = alpha
        canvases.append(rgba)
    return canvases


def png_data_url(rgba):
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def decode_data_url(url):
    data = base64.b64decode(url.split(",", 1)[1])
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


# ---------------------------------------------------------------- the app
class App:
    """draw.py in a process of its own, and a keep-alive connection to it."""

    def __init__(self, extra_args=(), timeout=900):
        cmd = [sys.executable, os.path.join(ROOT, "draw.py"), "--port", "0", *extra_args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.time() + timeout
        self.url = None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"app: (http://[^\s]+)", line)
            if m:
                self.url = m.group(1)
                break
        if self.url is None:
            err = self.proc.stderr.read()[-2000:] if self.proc.poll() is not None else ""
            self.close()
            raise RuntimeError(f"draw.py did not start: {err}")
        host, port = re.match(r"http://([^/:]+|\[[^\]]+\]):(\d+)/", self.url).groups()
        self.conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=300)

    def request(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"{path}: HTTP {resp.status}: {data[:300]!r}")
        return json.loads(data)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def convert_body(info, method, canvas_url, session, seq):
    """The JSON the page sends (app.js ``send``), with the page's defaults."""
    d = info["defaults"]
    return json.dumps({"sketch": canvas_url, "method": method, "appearance": d["appearance"],
                       "k": d["k"], "refine": d["refine"], "gender": d["gender"],
                       "shadow": d["shadow"], "sketch_norm": d["sketch_norm"],
                       "session": session, "seq": seq})


def measure(app, info, method, canvases, warmup):
    """Per stroke: (seconds from canvas to decoded face, the server's seconds)."""
    times, server = [], []
    session = f"latency-{method}"
    for i, rgba in enumerate(canvases[:warmup] + canvases):
        t = time.perf_counter()
        body = convert_body(info, method, png_data_url(rgba), session, i)
        out = app.request("POST", "/api/convert", body)
        decode_data_url(out["image"])
        if out.get("shadow"):
            decode_data_url(out["shadow"])
        elapsed = time.perf_counter() - t
        if i >= warmup:
            times.append(elapsed)
            server.append(out["seconds"])
    return times, server


def summary(times):
    ms = sorted(t * 1e3 for t in times)
    return {"median": statistics.median(ms), "p90": ms[min(len(ms) - 1, int(0.9 * len(ms)))],
            "min": ms[0], "max": ms[-1], "n": len(ms)}


def run(strokes=20, warmup=3, sketch=DEFAULT_SKETCH, extra_args=()):
    """{method: {"size", "total": summary, "server": summary, "raw": [...]}}."""
    app = App(extra_args)
    try:
        info = app.request("GET", "/api/info")
        canvases = stroke_canvases(sketch, strokes)
        out = {}
        for m in info["methods"]:
            if not m["available"]:
                continue
            times, server = measure(app, info, m["name"], canvases, warmup)
            out[m["name"]] = {"title": m["title"], "size": m["image_size"],
                              "total": summary(times), "server": summary(server),
                              "raw": [round(t, 5) for t in times]}
        return out
    finally:
        app.close()


def report(results):
    settle, stroke = page_delays()
    lines = ["| method | size | stroke to face, median ms | 90th percentile ms | server ms "
             "(median) | client and HTTP ms (median) |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        t, s = r["total"], r["server"]
        lines.append(f"| {r['title']} | {r['size']} | {t['median']:.0f} | {t['p90']:.0f} | "
                     f"{s['median']:.0f} | {t['median'] - s['median']:.0f} |")
    lines += ["", f"Each over {next(iter(results.values()))['total']['n']} strokes after "
              f"warm-up; the page adds its own pause before it sends: {settle} ms after a "
              f"stroke ends (SETTLE_MS), and during a stroke it sends at most every "
              f"max({stroke} ms, 1.2 x the last round trip) (STROKE_MS)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--strokes", type=int, default=20, help="timed strokes per method")
    p.add_argument("--warmup", type=int, default=3, help="untimed strokes first")
    p.add_argument("--sketch", default=DEFAULT_SKETCH, help="the drawing replayed")
    p.add_argument("--json", default="", help="also write the raw times here")
    p.add_argument("draw_args", nargs="*", help="more arguments for draw.py (after --)")
    args = p.parse_args(argv)
    results = run(args.strokes, args.warmup, args.sketch, args.draw_args)
    sys.stdout.write(report(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
