"""The drawing page end to end: `python draw.py` in a subprocess, the page in
headless Chromium (Debian's chromium driven by Playwright's Python package;
Playwright's own browser downloads are not used). The server offers both
methods: a tiny DeepFaceDrawing model without an appearance code (the
appearance controls are disabled, and say why) and a micro sketch
embedding (new appearances and a reference photo). Screenshots of both go to
test_output/app_screenshot.png and test_output/app_screenshot_sp.png.

Without Chromium or Playwright the test is skipped, or fails when $CI is set
(.ci/run installs both).
"""

import io
import math
import os
import select
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from tests.app.test_server import make_sp_params, photo, png_bytes
from tests.conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WAIT_MS = 120_000
SCREENSHOTS = os.path.join(ROOT, "test_output")


def unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is an error; .ci/run installs it)")
    pytest.skip(reason)


def find_chromium():
    for candidate in (os.environ.get("DFD_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright's Python package is missing: pip install playwright")
    exe = find_chromium()
    if exe is None:
        unavailable("Chromium is missing: apt-get install chromium (or set DFD_CHROMIUM)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app_url(tiny_params, tmp_path_factory):
    """`python draw.py --params TINY --sp_params SP --port 0`, as a user runs
    it; its URL."""
    sp_params = make_sp_params(tmp_path_factory)
    log = tmp_path_factory.mktemp("draw") / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "draw.py", "--params", tiny_params,
                                 "--sp_params", sp_params, "--port", "0"],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
    url, deadline = None, time.time() + 300
    while url is None and time.time() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("DeepFaceDrawing app: "):
                url = line.split(": ", 1)[1].strip()
    if url is None:
        proc.kill()
        pytest.fail(f"draw.py did not print its address; its stderr:\n{log.read_text()}")
    yield url
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


# ------------------------------------------------------------------ helpers
def settle(page, after):
    """Wait for a result newer than version ``after`` with nothing pending;
    return the new version."""
    page.wait_for_function(
        """v => Number(document.getElementById('result').dataset.version) > v
               && !document.getElementById('status').classList.contains('busy')""",
        arg=after, timeout=WAIT_MS)
    status = page.inner_text("#status")
    assert status.startswith("Updated in"), status
    return int(page.get_attribute("#result", "data-version"))


def result_src(page):
    return page.get_attribute("#result", "src")


def stroke(page, points):
    box = page.locator("#sketch").bounding_box()
    scale = box["width"] / 512
    at = [(box["x"] + x * scale, box["y"] + y * scale) for x, y in points]
    page.mouse.move(*at[0])
    page.mouse.down()
    for x, y in at[1:]:
        page.mouse.move(x, y, steps=3)
    page.mouse.up()


def draw_face(page):
    oval = [(256 + 150 * math.cos(a * math.pi / 16), 268 + 200 * math.sin(a * math.pi / 16))
            for a in range(33)]
    stroke(page, oval)
    for cx in (172, 319):                                     # eyes
        stroke(page, [(cx - 30 + 60 * i / 8, 220 - 14 * math.sin(math.pi * i / 8)) for i in range(9)])
        stroke(page, [(cx - 30 + 60 * i / 8, 220 + 10 * math.sin(math.pi * i / 8)) for i in range(9)])
    stroke(page, [(256, 250), (248, 320), (268, 326)])         # nose
    stroke(page, [(210 + 92 * i / 8, 380 + 18 * math.sin(math.pi * i / 8)) for i in range(9)])


def ink(page):
    """Alpha summed over the sketch canvas (how much is drawn)."""
    return page.evaluate("""() => {
        const c = document.getElementById('sketch');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0;
        for (let i = 3; i < d.length; i += 4) s += d[i];
        return s;
    }""")


def saved(page, button, tmp_path):
    with page.expect_download() as info:
        page.click(button)
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    return download.suggested_filename, Image.open(path)


def screenshot(page, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SCREENSHOTS, name), full_page=True)


def pick_method(page, name):
    page.click(f"#methods label:has(input[value={name}])")
    assert page.is_checked(f"#method-{name}")


def post_photo(app_url, data):
    """A photo sent to /api/reference (not by the page)."""
    import urllib.request
    request = urllib.request.Request(app_url + "api/reference", data=data,
                                     headers={"Content-Type": "image/png"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200


def decode(src):
    import base64
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))


# ------------------------------------------------------------------ the test
def test_draw_see_the_face_change_adjust_and_save(browser, app_url, tmp_path):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and problems.append(msg.text))
    page.goto(app_url)
    page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)

    # the empty canvas already gives a face and its shadow
    version = settle(page, 0)
    blank = result_src(page)
    assert decode(blank).shape == (128, 128, 3)
    assert page.is_visible("#shadow") and page.get_attribute("#shadow", "src")
    assert "128x128" in page.inner_text("#model")
    # both methods offered, DeepFaceDrawing first; its model has no appearance code
    assert page.is_checked("#method-deepfacedrawing") and page.is_enabled("#method-sp_embedding")
    assert page.is_disabled("#new-appearance") and page.is_disabled("#ref-file")
    assert "no appearance code" in page.get_attribute("#appearance", "title")
    assert "no appearance code" in page.get_attribute("#new-appearance", "title")
    assert "no appearance code" in page.inner_text("#appearance-state")

    # draw: the result follows the strokes
    draw_face(page)
    assert ink(page) > 0
    version = settle(page, version)
    drawn = result_src(page)
    assert drawn != blank

    # a long stroke: results arrive while the button is still down
    box = page.locator("#sketch").bounding_box()
    page.mouse.move(box["x"] + 60, box["y"] + 480)
    page.mouse.down()
    start, deadline, i = version, time.time() + 60, 0
    while version == start and time.time() < deadline:
        i += 1
        page.mouse.move(box["x"] + 60 + 4 * (i % 100), box["y"] + 480 - (i // 100) * 6)
        page.wait_for_timeout(40)
        version = int(page.get_attribute("#result", "data-version"))
    page.mouse.up()
    assert version > start, "no result arrived during the stroke"
    version = settle(page, version)
    drawn = result_src(page)

    # one refinement slider for all parts, moved with the keyboard
    page.focus("#refine-all")
    page.keyboard.press("Home")
    assert page.input_value("#refine-eye1") == "0" and page.input_value("#refine-remainder") == "0"
    version = settle(page, version)
    unrefined = result_src(page)
    assert unrefined != drawn
    # a single part's slider and K
    page.focus("#refine-mouth")
    page.keyboard.press("End")
    version = settle(page, version)
    assert result_src(page) != unrefined
    page.focus("#k")
    page.keyboard.press("Home")
    assert page.inner_text("#k-value") == "1"
    version = settle(page, version)

    # shadows off and on again; the component boxes
    shadow = page.get_attribute("#shadow", "src")
    page.click("#show-shadow")
    assert not page.is_visible("#shadow")
    page.focus("#k")
    page.keyboard.press("End")                           # K = the largest: other neighbours
    version = settle(page, version)
    assert not page.is_visible("#shadow") and page.get_attribute("#shadow", "src") == shadow
    page.click("#show-shadow")                           # asks for the shadow of this K
    version = settle(page, version)
    assert page.is_visible("#shadow") and page.get_attribute("#shadow", "src") != shadow
    assert not page.is_visible("#boxes")
    page.click("#show-boxes")
    assert page.is_visible("#boxes")
    page.click(".segmented label:has(input[value=female])")
    assert page.is_checked("input[name=gender][value=female]")
    version = settle(page, version)

    # undo the last stroke, redo it
    before = ink(page)
    page.click("#undo")
    assert ink(page) < before
    version = settle(page, version)
    page.click("#redo")
    assert ink(page) == pytest.approx(before, rel=0.01)
    version = settle(page, version)

    # save the result and the sketch
    name, img = saved(page, "#save-result", tmp_path)
    assert name == "face.png" and img.size == (128, 128)
    assert np.array_equal(np.asarray(img.convert("RGB")), decode(result_src(page))[..., :3])
    name, img = saved(page, "#save-sketch", tmp_path)
    gray = np.asarray(img.convert("L"))
    assert name == "sketch.png" and gray.shape == (512, 512)
    assert gray[0, 0] == 255 and gray.min() < 64            # black strokes on white

    # load a sketch file; a file that is not an image is reported
    page.set_input_files("#load-file", os.path.join(ROOT, "test_input", "face1.png"))
    version = settle(page, version)
    screenshot(page, "app_screenshot.png")
    assert ink(page) != pytest.approx(before, rel=0.01)
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    page.set_input_files("#load-file", str(bad))
    page.wait_for_function("() => document.getElementById('status').classList.contains('error')",
                           timeout=WAIT_MS)
    assert "not an image" in page.inner_text("#status")
    dfd_face = result_src(page)

    # the sketch embedding: its own face and stroke labels, no DeepFaceDrawing settings
    pick_method(page, "sp_embedding")
    version = settle(page, version)
    sp_face = result_src(page)
    assert decode(sp_face).shape == (32, 32, 3) and "32x32" in page.inner_text("#model")
    assert not page.is_visible("#dfd-settings") and page.is_visible("#refine-all") is False
    assert page.inner_text("#shadow-label") == "Stroke labels" and page.is_visible("#shadow")
    assert decode(page.get_attribute("#shadow", "src")).shape == (512, 512, 3)
    assert "seed 0" in page.inner_text("#appearance-state")
    # a new appearance, and another
    assert page.is_enabled("#new-appearance") and page.is_enabled("#ref-file")
    page.click("#new-appearance")
    version = settle(page, version)
    seed1 = result_src(page)
    assert seed1 != sp_face and "seed 1" in page.inner_text("#appearance-state")
    page.click("#new-appearance")
    version = settle(page, version)
    assert result_src(page) not in (seed1, sp_face)
    # a reference photo: a thumbnail in the slot, the face takes its look; removed again
    assert not page.is_visible("#ref-thumb") and not page.is_visible("#ref-remove")
    picture = tmp_path / "portrait.png"
    photo(4, (200, 150)).save(picture)
    page.set_input_files("#ref-file", str(picture))
    version = settle(page, version)
    assert page.is_visible("#ref-thumb") and page.is_visible("#ref-remove")
    assert decode(page.get_attribute("#ref-thumb", "src")).shape == (96, 96, 3)
    assert "portrait.png" in page.inner_text("#appearance-state")
    with_photo = result_src(page)
    assert with_photo not in (seed1, sp_face)
    screenshot(page, "app_screenshot_sp.png")
    # the server keeps a bounded number of photos: once it has dropped this one (410),
    # the page sends the file again and the face keeps its look
    from app.references import REFERENCES_KEPT
    for i in range(REFERENCES_KEPT):
        post_photo(app_url, png_bytes(photo(100 + i, (40, 40))))
    page.click("#show-shadow")
    page.click("#show-shadow")                           # shown again: asks for a new result
    version = settle(page, version)
    assert result_src(page) == with_photo and "portrait.png" in page.inner_text("#appearance-state")
    page.click("#ref-remove")
    version = settle(page, version)
    assert result_src(page) == sp_face and not page.is_visible("#ref-thumb")   # seed 0 again

    # back to DeepFaceDrawing: its face as before, its settings again
    pick_method(page, "deepfacedrawing")
    version = settle(page, version)
    assert result_src(page) == dfd_face and page.is_visible("#dfd-settings")
    assert page.inner_text("#shadow-label") == "Shadow guidance"
    assert page.is_disabled("#new-appearance")

    # clear: back to the empty sketch's face
    page.click("#clear")
    assert ink(page) == 0
    settle(page, version)

    # a second tab works at the same time
    other = context.new_page()
    other.goto(app_url)
    settle(other, 0)
    draw_face(other)
    stroke(page, [(100, 100), (400, 400)])
    settle(other, 1)
    refused = [p for p in problems if "the server responded with a status of 400" in p]
    assert len(refused) == 1, problems                  # the file that is not an image
    gone = [p for p in problems if "the server responded with a status of 410" in p]
    assert len(gone) == 1, problems                     # the photo the server had dropped
    assert not [p for p in problems if p not in refused + gone], problems
    context.close()
