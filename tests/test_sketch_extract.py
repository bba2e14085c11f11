"""Sketch extraction (data/sketch_extract.py), scripts/make_sketches.py and the
geometry of face alignment (data/align.py). No Jittor, no dlib needed."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from data.align import (align_from_landmarks, alignment_matrix, apply_matrix,
                        canonical_centres, landmark_centres)
from data.sketch_extract import extract_sketch, zhang_suen_thinning
from util.components import BOXES_512

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ("xdog", "canny")
FEATURES = ("eye1", "eye2", "mouth")


def box_centre(part, size=512):
    x, y, s = BOXES_512[part]
    f = size / 512
    return (x + s / 2) * f, (y + s / 2) * f


def drawn_face(size=512, seed=0):
    """A simple painted face: features centred in the canonical boxes."""
    f = size / 512
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = (150, 160, 185)                                     # background
    pt = lambda x, y: (int(round(x * f)), int(round(y * f)))     # noqa: E731
    r = lambda v: max(1, int(round(v * f)))                      # noqa: E731
    cv2.ellipse(img, pt(256, 280), (r(150), r(195)), 0, 0, 360, (225, 185, 160), -1)
    for part in ("eye1", "eye2"):
        cx, cy = box_centre(part)
        cv2.ellipse(img, pt(cx, cy), (r(30), r(13)), 0, 0, 360, (245, 245, 245), -1)
        cv2.circle(img, pt(cx, cy), r(10), (70, 45, 30), -1)
        cv2.ellipse(img, pt(cx, cy - 38), (r(34), r(9)), 0, 200, 340, (80, 55, 40), r(5))
    nx, ny = box_centre("nose")
    cv2.ellipse(img, pt(nx, ny + 20), (r(22), r(12)), 0, 0, 180, (170, 120, 100), r(3))
    mx, my = box_centre("mouth")
    cv2.ellipse(img, pt(mx, my), (r(42), r(14)), 0, 0, 360, (180, 80, 90), -1)
    cv2.line(img, pt(mx - 40, my), pt(mx + 40, my), (120, 40, 50), r(2))
    img = cv2.GaussianBlur(img, (0, 0), 1.2 * f)
    noise = rng.normal(0, 2.0, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def synthetic_face(size=512):
    from data.synthetic import make_sample
    return make_sample(3, 0, size)["photo"]


@pytest.fixture(scope="module", params=["drawn", "synthetic"])
def photo(request):
    return drawn_face() if request.param == "drawn" else synthetic_face()


# ------------------------------------------------------------- extract_sketch
@pytest.mark.parametrize("method", METHODS)
def test_sketch_is_black_lines_on_white(photo, method):
    sketch = extract_sketch(photo, method)
    assert sketch.dtype == np.uint8 and sketch.shape == photo.shape[:2]
    assert set(np.unique(sketch)) <= {0, 255}
    dark = float((sketch == 0).mean())
    assert 0.01 <= dark <= 0.30, dark


@pytest.mark.parametrize("method", METHODS)
def test_strokes_sit_on_the_features(photo, method):
    sketch = extract_sketch(photo, method)
    for part in FEATURES:
        x, y, s = BOXES_512[part]
        q = s // 4                       # the central half of the box
        inner = sketch[y + q:y + s - q, x + q:x + s - q]
        assert (inner == 0).sum() >= 40, f"no strokes in the {part} box ({method})"


@pytest.mark.parametrize("method", METHODS)
def test_deterministic_and_input_untouched(method):
    img = drawn_face()
    before = img.copy()
    a = extract_sketch(img, method)
    b = extract_sketch(img.copy(), method)
    assert np.array_equal(a, b)
    assert np.array_equal(img, before)


@pytest.mark.parametrize("method", METHODS)
def test_other_sizes_and_gray_input(method):
    img = drawn_face(256)
    sketch = extract_sketch(img, method)
    assert sketch.shape == (256, 256)
    assert 0.01 <= (sketch == 0).mean() <= 0.30
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    assert np.array_equal(extract_sketch(gray, method), sketch)


def test_blank_photo_gives_blank_sketch():
    for method in METHODS:
        assert (extract_sketch(np.full((64, 64, 3), 128, np.uint8), method) == 255).all()


def test_parameters_change_the_result_and_are_checked():
    img = drawn_face()
    base = extract_sketch(img)
    thick = extract_sketch(img, stroke=4)
    assert (thick == 0).sum() > (base == 0).sum()
    with pytest.raises(TypeError, match="unknown parameter"):
        extract_sketch(img, "canny", tau=0.9)
    with pytest.raises(ValueError, match="unknown sketch method"):
        extract_sketch(img, "sobel")
    with pytest.raises(ValueError, match="uint8"):
        extract_sketch(img.astype(np.float32))


def test_thinning_gives_one_pixel_lines():
    mask = np.zeros((40, 80), bool)
    mask[15:22, 10:70] = True                       # a 7-pixel-thick bar
    thin = zhang_suen_thinning(mask)
    cols = thin[:, 20:60].sum(axis=0)
    assert (cols == 1).all()
    assert thin.sum() >= 40 and not (thin & ~mask).any()


# ------------------------------------------------------------- make_sketches
def run_make_sketches(*args):
    return subprocess.run([sys.executable, os.path.join("scripts", "make_sketches.py"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_make_sketches_skips_a_corrupt_file(tmp_path):
    src, out = tmp_path / "photos", tmp_path / "sketches"
    src.mkdir()
    for i in range(2):
        cv2.imwrite(str(src / f"face{i}.png"), drawn_face(256, seed=i)[:, :, ::-1])
    (src / "broken.jpg").write_bytes(b"this is not a jpeg")
    res = run_make_sketches("--input", str(src), "--output", str(out), "--size", "256")
    assert res.returncode == 1, res.stderr
    assert sorted(os.listdir(out)) == ["face0.png", "face1.png"]
    assert "broken.jpg" in res.stderr + res.stdout
    assert "converted 2, skipped 1" in res.stdout
    sketch = cv2.imread(str(out / "face0.png"), cv2.IMREAD_UNCHANGED)
    assert sketch.shape == (256, 256) and sketch.dtype == np.uint8


def test_make_sketches_bad_arguments(tmp_path):
    res = run_make_sketches("--input", str(tmp_path / "missing"), "--output", str(tmp_path / "o"))
    assert res.returncode == 2 and "not a folder" in res.stderr
    res = run_make_sketches("--input", str(tmp_path), "--output", str(tmp_path / "o"),
                            "--method", "sobel")
    assert res.returncode == 2


# --------------------------------------------------------------- alignment
def canonical_landmarks():
    """68 landmarks of a face in the canonical 512 layout whose eye and mouth
    centres are exactly the box centres."""
    pts = np.zeros((68, 2))
    (e1x, e1y), (e2x, e2y), (mx, my) = canonical_centres(512)
    t = np.linspace(0, 2 * np.pi, 17)
    pts[0:17] = np.column_stack([256 + 170 * np.cos(t / 2), 250 + 200 * np.sin(t / 2)])  # jaw
    pts[17:22] = np.column_stack([np.linspace(e1x - 35, e1x + 35, 5), np.full(5, e1y - 40)])
    pts[22:27] = np.column_stack([np.linspace(e2x - 35, e2x + 35, 5), np.full(5, e2y - 40)])
    pts[27:36] = np.column_stack([np.full(9, 256.0), np.linspace(230, 320, 9)])           # nose

    def ring(n, cx, cy, rx, ry):
        a = np.arange(n) * 2 * np.pi / n           # evenly spaced: mean = centre
        return np.column_stack([cx + rx * np.cos(a), cy + ry * np.sin(a)])

    pts[36:42] = ring(6, e1x, e1y, 28, 10)
    pts[42:48] = ring(6, e2x, e2y, 28, 10)
    pts[48:60] = ring(12, mx, my, 45, 18)
    pts[60:68] = ring(8, mx, my, 30, 6)
    return pts


def similarity(angle_deg, scale, tx, ty):
    a = np.radians(angle_deg)
    c, s = scale * np.cos(a), scale * np.sin(a)
    return np.array([[c, -s, tx], [s, c, ty]])


def blob_centre(img, colour):
    mask = np.all(np.abs(img.astype(int) - colour) < 40, axis=2)
    ys, xs = np.nonzero(mask)
    assert len(xs) > 20, f"blob {colour} not found"
    return xs.mean(), ys.mean()


@pytest.mark.parametrize("angle,scale,shape", [(15, 0.7, (600, 700)), (-15, 2.5, (1500, 1400))])
def test_align_from_landmarks_puts_features_on_box_centres(angle, scale, shape):
    """A face rotated and scaled in a photo comes back to the canonical layout
    (the large one also exercises the area pre-shrink)."""
    h, w = shape
    place = similarity(angle, scale, 0, 0)
    centre = apply_matrix(place, [[256, 256]])[0]
    place[:, 2] = (w / 2 - centre[0], h / 2 - centre[1])
    landmarks = apply_matrix(place, canonical_landmarks())

    photo = np.full((h, w, 3), 200, np.uint8)
    colours = {"eye1": (255, 0, 0), "eye2": (0, 255, 0), "mouth": (0, 0, 255)}
    for part, centre in zip(FEATURES, landmark_centres(landmarks)):
        cv2.circle(photo, (int(round(centre[0] * 16)), int(round(centre[1] * 16))),
                   int(round(12 * scale * 16)), colours[part], -1, cv2.LINE_AA, shift=4)

    matrix = alignment_matrix(landmarks, 512)
    assert np.allclose(apply_matrix(matrix, landmark_centres(landmarks)), canonical_centres(512),
                       atol=1e-6)
    aligned = align_from_landmarks(photo, landmarks, 512)
    assert aligned.shape == (512, 512, 3) and aligned.dtype == np.uint8
    for part in FEATURES:
        got = blob_centre(aligned, colours[part])
        want = canonical_centres(512)[FEATURES.index(part)]
        assert np.hypot(got[0] - want[0], got[1] - want[1]) < 2.0, (part, got, want)


def test_align_output_size_and_borders():
    landmarks = apply_matrix(similarity(10, 0.5, 150, 150), canonical_landmarks())
    photo = np.full((300, 300), 90, np.uint8)          # the face's lower right is cut off
    white = align_from_landmarks(photo, landmarks, 256, border="white")
    edge = align_from_landmarks(photo, landmarks, 256, border="replicate")
    assert white.shape == edge.shape == (256, 256)
    assert white[5, 5] == edge[5, 5] == 90
    assert white[-1, -1] == 255 and edge[-1, -1] == 90
    with pytest.raises(ValueError):
        align_from_landmarks(photo, landmarks[:60], 256)


def test_align_faces_without_dlib_says_how_to_install(tmp_path):
    """With dlib hidden, scripts/align_faces.py exits 2 with an install hint."""
    code = ("import sys, runpy; sys.modules['dlib'] = None; "
            f"sys.argv = ['align_faces.py', '--input', {str(tmp_path)!r}, '--output', "
            f"{str(tmp_path / 'out')!r}]; "
            "runpy.run_path('scripts/align_faces.py', run_name='__main__')")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 2
    assert "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
