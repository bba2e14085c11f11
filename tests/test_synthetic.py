"""Tests of the procedural face generator (data/synthetic.py) and its CLI."""

import os
import subprocess
import sys

import numpy as np
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from data.synthetic import (GENDERS, FaceParams, generate, make_rough,  # noqa: E402
                            make_sample, render_face, sample_params)
from util.components import scaled_boxes  # noqa: E402


def _dark(sketch, level=128):
    return sketch < level


@pytest.fixture(scope="module")
def samples128():
    return list(generate(8, seed=3, size=128, rough=True))


def test_same_seed_identical_and_different_seeds_differ():
    a = make_sample(7, 0, 128)
    b = make_sample(7, 0, 128)
    c = make_sample(8, 0, 128)
    assert np.array_equal(a["photo"], b["photo"])
    assert np.array_equal(a["sketch"], b["sketch"])
    assert not np.array_equal(a["photo"], c["photo"])
    assert not np.array_equal(a["sketch"], c["sketch"])


def test_params_reproducible():
    p1 = sample_params(np.random.default_rng(11))
    p2 = sample_params(np.random.default_rng(11))
    assert isinstance(p1, FaceParams)
    assert p1 == p2


@pytest.mark.parametrize("size", [128, 512])
def test_shapes_and_dtypes(size):
    photo, sketch = render_face(sample_params(np.random.default_rng(size)), size)
    assert photo.shape == (size, size, 3) and photo.dtype == np.uint8
    assert sketch.shape == (size, size) and sketch.dtype == np.uint8
    assert photo.std() > 10                         # not a flat image


def test_sketch_is_dark_lines_on_white(samples128):
    for s in samples128:
        sk = s["sketch"]
        frac = _dark(sk).mean()
        assert 0.02 <= frac <= 0.25, frac
        assert np.median(sk) == 255
        assert sk.min() < 40                        # real black strokes


def test_components_have_strokes_in_their_boxes():
    for size in (128, 512):
        boxes = scaled_boxes(size)
        for i in range(3):
            sk = make_sample(21, i, size)["sketch"]
            for key in ("eye1", "eye2", "nose", "mouth"):
                x, y, w = boxes[key]
                crop = sk[y:y + w, x:x + w]
                assert _dark(crop).mean() > 0.01, (size, i, key)


def test_eye_centres_near_box_centres():
    boxes = scaled_boxes(512)
    for i in range(4):
        p = sample_params(np.random.default_rng([5, i]))
        for key, (ex, ey) in (("eye1", p.eye1), ("eye2", p.eye2)):
            x, y, w = boxes[key]
            assert abs(ex - (x + w / 2)) < 8 and abs(ey - (y + w / 2)) < 8


def test_gender_attribute(samples128):
    for s in samples128:
        assert s["gender"] in GENDERS
        assert s["params"].gender == s["gender"]
    genders = {make_sample(0, i, 64)["gender"] for i in range(20)}
    assert genders == set(GENDERS)
    assert sample_params(np.random.default_rng(0), "female").gender == "female"


def test_rough_sketch(samples128):
    for s in samples128:
        clean, rough = s["sketch"], s["sketch_rough"]
        assert rough.shape == clean.shape and rough.dtype == np.uint8
        assert not np.array_equal(rough, clean)
        assert np.median(rough) == 255
        assert 0.02 <= _dark(rough).mean() <= 0.25


def test_rough_from_raster_only():
    s = make_sample(4, 0, 128)
    rough = make_rough(s["sketch"], np.random.default_rng(0))
    assert rough.shape == s["sketch"].shape and rough.dtype == np.uint8
    assert not np.array_equal(rough, s["sketch"])
    assert np.median(rough) == 255 and _dark(rough).mean() > 0.01


def test_generate_index_reproducible():
    full = list(generate(8, seed=9, size=64, rough=True))
    alone = next(generate(1, seed=9, size=64, rough=True, start=5))
    for key in ("photo", "sketch", "sketch_rough"):
        assert np.array_equal(full[5][key], alone[key])
    assert full[5]["params"] == alone["params"]


def test_script_writes_layout(tmp_path):
    out = tmp_path / "synth"
    script = os.path.join(REPO_ROOT, "scripts", "make_synthetic_faces.py")
    subprocess.run([sys.executable, script, "--out", str(out), "--n", "3",
                    "--seed", "1", "--size", "128", "--rough", "--workers", "2"],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    names = [f"{i:05d}.png" for i in range(3)]
    for folder in ("photo", "sketch", "sketch_rough"):
        assert sorted(os.listdir(out / folder)) == names
    lines = (out / "gender.txt").read_text().split("\n")
    rows = [ln.split() for ln in lines if ln]
    assert [r[0] for r in rows] == names
    assert all(r[1] in GENDERS for r in rows)
    import cv2
    photo = cv2.imread(str(out / "photo" / names[1]))[:, :, ::-1]
    assert np.array_equal(photo, make_sample(1, 1, 128)["photo"])


def test_make_sample_matches_public_functions():
    s = make_sample(2, 3, 64, rough=True)
    rng = np.random.default_rng([2, 3])
    params = sample_params(rng)
    photo, sketch = render_face(params, 64)
    assert np.array_equal(photo, s["photo"]) and np.array_equal(sketch, s["sketch"])
    assert np.array_equal(make_rough(sketch, rng, params=params), s["sketch_rough"])
