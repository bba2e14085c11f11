"""Tests of the procedural face generator (data/synthetic/) and its CLI."""

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from data.synthetic import (BROW_SHAPES, EARRINGS, EDGE_CLASSES, EXPRESSIONS,  # noqa: E402
                            FACE_SHAPES, FACIAL_HAIR, GENDERS, GLASSES, HAIR_STYLES,
                            HELD_OUT_STYLE, PARSING_CLASSES, SKETCH_STYLES, TRAIN_STYLES,
                            FaceParams, build_geometry, generate, make_rough, make_sample,
                            render_face, sample_params)
from data.synthetic.hair import has_legs  # noqa: E402
from data.synthetic.labels import draw_label_ops, parsing_map  # noqa: E402
from data.synthetic.sketch import draw_ops, sketch_ops  # noqa: E402
from util.components import BOXES_512, scaled_boxes  # noqa: E402

P = {name: i for i, name in enumerate(PARSING_CLASSES)}


def _dark(sketch, level=128):
    return sketch < level


def _face(gender="male", seed=4, index=1, **force):
    """One face, with categorical attributes forced (the rest unchanged)."""
    return sample_params(np.random.default_rng([seed, index]), gender, **force)


def _render(params, size=256):
    g = build_geometry(params)
    ops = sketch_ops(g, params)
    photo, sketch = render_face(params, size)
    return photo, sketch, g, ops


def _box(key, size=512, pad=0):
    x, y, w = scaled_boxes(size)[key]
    return slice(max(y - pad, 0), y + w + pad), slice(max(x - pad, 0), x + w + pad)


@pytest.fixture(scope="module")
def samples128():
    return list(generate(8, seed=3, size=128, rough=True))


@pytest.fixture(scope="module")
def labelled():
    """Faces with labels at 256, covering glasses, beards and long hair."""
    out = []
    for i, force in enumerate([{}, dict(glasses="round"), dict(facial_hair="beard"),
                               dict(hair_style="long"), dict(expression="open"),
                               dict(hair_style="curly", glasses="rect")]):
        p = _face("male" if i % 2 else "female", 12, i, **force)
        g = build_geometry(p)
        ops = sketch_ops(g, p)
        sketch = draw_ops(ops, 256)
        out.append((p, g, ops, sketch, parsing_map(p, g, 256)))
    return out


# ------------------------------------------------------------------ basics
def test_same_seed_identical_and_different_seeds_differ():
    a = make_sample(7, 0, 128, style="random", labels=True)
    b = make_sample(7, 0, 128, style="random", labels=True)
    c = make_sample(8, 0, 128)
    for key in ("photo", "sketch", "sketch_clean", "labels", "semantic_sketch",
                "semantic_sketch_style"):
        assert np.array_equal(a[key], b[key]), key
    assert a["style"] == b["style"] and a["params"] == b["params"]
    assert not np.array_equal(a["photo"], c["photo"])
    assert not np.array_equal(a["sketch_clean"], c["sketch"])


def test_params_reproducible():
    p1 = sample_params(np.random.default_rng(11))
    p2 = sample_params(np.random.default_rng(11))
    assert isinstance(p1, FaceParams)
    assert p1 == p2


@pytest.mark.parametrize("size", [64, 128, 256, 512])
def test_shapes_and_dtypes(size):
    s = make_sample(size, 1, size, rough=True, style="random", labels=True)
    assert s["photo"].shape == (size, size, 3) and s["photo"].dtype == np.uint8
    for key in ("sketch", "sketch_clean", "sketch_rough", "labels", "semantic_sketch",
                "semantic_sketch_style"):
        assert s[key].shape == (size, size) and s[key].dtype == np.uint8, key
    assert s["photo"].std() > 10                          # not a flat image
    assert s["labels"].max() < len(PARSING_CLASSES)
    assert set(np.unique(s["semantic_sketch"])) <= set(EDGE_CLASSES)


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


def _inside_box(pts, key, margin=0.0):
    x, y, w = BOXES_512[key]
    pts = np.asarray(pts)
    return (pts[:, 0].min() >= x - margin and pts[:, 0].max() <= x + w + margin
            and pts[:, 1].min() >= y - margin and pts[:, 1].max() <= y + w + margin)


def test_parts_stay_inside_their_boxes():
    """Eyes, nose and mouth (open mouths, smiles, every face shape) keep the
    component layout, whatever else the face has."""
    for i in range(40):
        force = dict(expression=EXPRESSIONS[i % 3], face_shape=FACE_SHAPES[i % 5],
                     facial_hair=FACIAL_HAIR[i % 5], glasses=GLASSES[i % 3])
        p = sample_params(np.random.default_rng([31, i]), **force)
        g = build_geometry(p)
        for k, eye in enumerate(g["eyes"]):
            assert _inside_box(eye["outline"], f"eye{k + 1}"), (i, k)
        nose = g["nose"]
        assert _inside_box(np.vstack(nose["wings"] + nose["nostrils"] + [nose["tip"]]), "nose"), i
        m = g["mouth"]
        assert _inside_box(np.vstack([m["upper_lip"], m["lower_lip"]]), "mouth"), i
        assert p.chin_y > m["lower_lip"][:, 1].max() + 20, i       # chin below the mouth


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
    full = list(generate(8, seed=9, size=64, rough=True, style="random"))
    alone = next(generate(1, seed=9, size=64, rough=True, start=5, style="random"))
    for key in ("photo", "sketch", "sketch_rough"):
        assert np.array_equal(full[5][key], alone[key])
    assert full[5]["params"] == alone["params"]


def test_make_sample_matches_public_functions():
    s = make_sample(2, 3, 64, rough=True, style="wobbly", labels=True)
    rng = np.random.default_rng([2, 3])
    params = sample_params(rng)
    photo, sketch = render_face(params, 64)
    assert np.array_equal(photo, s["photo"]) and np.array_equal(sketch, s["sketch_clean"])
    assert np.array_equal(make_rough(sketch, rng, params=params), s["sketch_rough"])
    assert np.array_equal(render_face(params, 64, style="wobbly")[1], s["sketch"])
    plain = make_sample(2, 3, 64, rough=True)        # style and labels change nothing else
    for key in ("photo", "sketch_rough"):
        assert np.array_equal(plain[key], s[key])
    assert np.array_equal(plain["sketch"], s["sketch_clean"])


# ------------------------------------------------------------------ variety
def test_every_attribute_value_is_reachable():
    seen = {key: set() for key in ("hair_style", "facial_hair", "glasses", "expression",
                                   "brow_shape", "face_shape", "earrings")}
    by_gender = {g: set() for g in GENDERS}
    for i in range(600):
        p = sample_params(np.random.default_rng([77, i]))
        for key in seen:
            seen[key].add(getattr(p, key))
        by_gender[p.gender].add(p.facial_hair)
    assert seen == dict(hair_style=set(HAIR_STYLES), facial_hair=set(FACIAL_HAIR),
                        glasses=set(GLASSES), expression=set(EXPRESSIONS),
                        brow_shape=set(BROW_SHAPES), face_shape=set(FACE_SHAPES),
                        earrings=set(EARRINGS))
    assert by_gender["female"] == {"none"}                        # beards are male
    with pytest.raises(ValueError):
        sample_params(np.random.default_rng(0), hair_style="mohawk")


def _region_change(a, b, region):
    return np.abs(a[region].astype(float) - b[region].astype(float)).mean()


def test_hair_styles_differ_in_photo_and_sketch():
    """Each hair style changes both the photo and the sketch of one face,
    and the hair label lands where the style puts hair."""
    base = {}
    for style in HAIR_STYLES:
        p = _face("female", 5, 2, hair_style=style)
        photo, sketch, g, ops = _render(p)
        base[style] = (photo, sketch, parsing_map(p, g, 256) == P["hair"], p)
    styles = list(HAIR_STYLES)
    for a in range(len(styles)):
        for b in range(a + 1, len(styles)):
            pa, sa, ha, _ = base[styles[a]]
            pb, sb, hb, _ = base[styles[b]]
            assert _region_change(pa, pb, np.s_[:, :]) > 1.0, (styles[a], styles[b])
            assert (_dark(sa) != _dark(sb)).mean() > 0.005, (styles[a], styles[b])
    hair = {k: v[2] for k, v in base.items()}
    p = base["long"][3]
    chin = int(p.chin_y / 2)                      # rows below the chin at size 256
    assert hair["long"][chin:].sum() > 20 * hair["short"][chin:].sum() + 100
    assert hair["bun"][:int(p.skull_top / 2)].sum() > 50               # bun above the skull
    assert hair["bald"].sum() < 0.3 * hair["short"].sum()
    assert hair["ponytail"][chin:].sum() > 200                         # the tail
    top = np.s_[:int(p.hairline_y / 2)]                                # curls on top
    ink = {k: _dark(base[k][1][top]).sum() for k in ("curly", "short")}
    assert ink["curly"] > 1.15 * ink["short"], ink


def test_beard_darkens_the_chin_and_adds_strokes():
    # a face whose hair is darker than its skin, so that a beard darkens
    for i in range(20):
        p0 = _face("male", 8, i, facial_hair="none")
        if sum(p0.hair_color) < 0.7 * sum(p0.skin):
            break
    size = 256
    chin = np.s_[int((p0.mouth_y + 30) / 2):int(p0.chin_y / 2), int((p0.cx - 40) / 2):int((p0.cx + 40) / 2)]
    lower = np.s_[int(p0.nose_y / 2):int((p0.chin_y + 40) / 2),
                  int((p0.cx - p0.face_w) / 2):int((p0.cx + p0.face_w) / 2)]
    photo0, sketch0, _, _ = _render(p0, size)
    for kind in ("beard", "goatee"):
        p = replace(p0, facial_hair=kind, beard_len=14.0, moustache_h=22.0, stubble=0.3)
        photo, sketch, g, ops = _render(p, size)
        assert photo[chin].mean() < photo0[chin].mean() - 25, kind
        assert _dark(sketch[lower]).sum() > _dark(sketch0[lower]).sum() + 50, kind
        assert (parsing_map(p, g, size)[chin] == P["hair"]).mean() > 0.5, kind
    # stubble: a light dotted texture in the photo, a stipple in the sketch
    photo, sketch, _, _ = _render(replace(p0, facial_hair="stubble", stubble=0.3), size)
    assert 3 < photo0[chin].mean() - photo[chin].mean() < 60
    assert _dark(sketch[lower]).sum() > _dark(sketch0[lower]).sum() + 20
    # moustache: between the nose and the mouth
    lip = np.s_[int((p0.nose_y + 16) / 2):int((p0.mouth_y - p0.lip_up) / 2),
                int((p0.mouth_x - 20) / 2):int((p0.mouth_x + 20) / 2)]
    photo, sketch, _, _ = _render(replace(p0, facial_hair="moustache", moustache_h=24.0,
                                          stubble=0.3), size)
    assert photo[lip].mean() < photo0[lip].mean() - 25
    assert _dark(sketch[lip]).sum() > _dark(sketch0[lip]).sum()


def test_glasses_sit_on_the_eyes():
    p0 = _face("female", 6, 3, glasses="none")
    photo0, sketch0, _, _ = _render(p0, 512)
    for kind in ("round", "rect"):
        p = _face("female", 6, 3, glasses=kind)
        photo, sketch, g, ops = _render(p, 512)
        for k, lens in enumerate(g["glasses"]["lenses"]):
            assert _inside_box(lens, f"eye{k + 1}")                 # around the eye
            eye = g["eyes"][k]["outline"]
            assert lens[:, 0].min() < eye[:, 0].min() and lens[:, 0].max() > eye[:, 0].max()
            assert lens[:, 1].min() < eye[:, 1].min() and lens[:, 1].max() > eye[:, 1].max()
        between = np.s_[150:240, 236:255]                          # the bridge, between the boxes
        assert _dark(sketch[between]).sum() > _dark(sketch0[between]).sum() + 10
        for key in ("eye1", "eye2"):
            assert _region_change(photo, photo0, _box(key)) > 2.0
        sem = draw_label_ops(ops, 512)
        assert (sem == 3).sum() > 300


def test_expressions_change_the_mouth():
    size = 512
    mouth = _box("mouth", size)
    out = {e: _render(_face("female", 9, 0, expression=e), size) for e in EXPRESSIONS}
    photo_n, sketch_n = out["neutral"][:2]
    for e in ("smile", "open"):
        photo, sketch = out[e][:2]
        assert _region_change(photo, photo_n, mouth) > 1.0
        assert (_dark(sketch[mouth]) != _dark(sketch_n[mouth])).sum() > 50
    photo_o = out["open"][0][mouth].astype(int)
    white = (photo_o.min(2) > 200) & (np.ptp(photo_o, axis=2) < 30)   # teeth
    assert white.sum() > 30 and (photo_n[mouth].min(2) > 200).sum() < white.sum() / 3


def test_face_and_brow_shapes_change_the_outline():
    from data.synthetic.hair import side_x
    jaw = []
    for shape in FACE_SHAPES:
        p = _face("male", 2, 0, face_shape=shape)
        right = build_geometry(p)["sides"][1]
        jaw.append((side_x(right, p.jaw_y) - p.cx, p.chin_y, side_x(right, p.chin_y - 12) - p.cx))
    assert len({tuple(np.round(j)) for j in jaw}) == len(FACE_SHAPES)
    shape = dict(zip(FACE_SHAPES, jaw))
    assert shape["long"][1] > shape["round"][1]                  # long: lower chin
    assert shape["heart"][2] < shape["square"][2]                # heart: pointed chin
    brows = [build_geometry(_face("male", 2, 0, brow_shape=b))["brows"][0]["centre"]
             for b in BROW_SHAPES]
    rise = [c[:, 1].max() - c[:, 1].min() for c in brows]
    assert rise[0] < rise[1] and rise[0] < rise[2]                 # straight is flattest


# ------------------------------------------------------------------ styles
def test_styles_differ_from_clean_and_held_out_is_separate():
    assert HELD_OUT_STYLE not in TRAIN_STYLES and "clean" not in TRAIN_STYLES
    assert set(TRAIN_STYLES) | {"clean", HELD_OUT_STYLE} == set(SKETCH_STYLES)
    clean = make_sample(13, 2, 128)["sketch"]
    for style in TRAIN_STYLES + (HELD_OUT_STYLE,):
        s = make_sample(13, 2, 128, style=style)
        assert s["style"] == style and np.array_equal(s["sketch_clean"], clean)
        sk = s["sketch"]
        assert (np.abs(sk.astype(int) - clean).mean()) > 1.0, style
        assert np.median(sk) == 255 and 0.01 <= _dark(sk, 200).mean() <= 0.35, style
    held = make_sample(13, 2, 128, style="held_out")
    assert held["style"] == HELD_OUT_STYLE
    # pencil: light grey strokes, unlike every training style's black ones
    assert np.percentile(held["sketch"][held["sketch"] < 250], 5) > 20
    with pytest.raises(ValueError):
        make_sample(0, 0, 64, style="watercolour")


def test_random_style_depends_on_the_sample_only():
    from data.synthetic.styles import pick_style
    picked = [pick_style("random", sample_params(np.random.default_rng([3, i])))
              for i in range(40)]
    assert set(picked) <= set(TRAIN_STYLES) | {"clean"} and len(set(picked)) >= 6
    for i in range(4):
        a = make_sample(3, i, 64, style="random")
        assert a["style"] == picked[i]
        assert np.array_equal(a["sketch"], make_sample(3, i, 64, style=picked[i])["sketch"])


# ------------------------------------------------------------------ labels
def test_parsing_map_classes_where_expected(labelled):
    for p, g, ops, sketch, lab in labelled:
        s = 256 / 512
        for key, cls in (("eye1", "l_eye"), ("eye2", "r_eye")):
            ys, xs = np.nonzero(lab == P[cls])
            x, y, w = scaled_boxes(256)[key]
            assert len(xs) > 20 and xs.min() >= x and xs.max() < x + w
            assert ys.min() >= y and ys.max() < y + w
        for cls in ("skin", "nose", "l_brow", "r_brow", "u_lip", "l_lip", "neck"):
            assert (lab == P[cls]).sum() > 10, cls
        assert (lab == P["cloth"]).sum() > 10 or has_legs(p)       # long hair may hide it
        x, y, w = scaled_boxes(256)["mouth"]
        ys, xs = np.nonzero(np.isin(lab, [P["u_lip"], P["l_lip"], P["mouth"]]))
        assert xs.min() >= x and xs.max() < x + w and ys.min() >= y and ys.max() < y + w
        if p.hair_style not in ("bald",):
            forehead_top = int((p.skull_top + p.hairline_y) / 2 * s)
            assert lab[forehead_top, int(p.cx * s)] == P["hair"]           # hair above the forehead
        assert lab[int(p.nose_y * s), int(p.nose_x * s)] == P["nose"]
        assert ((lab == P["eye_g"]).sum() > 0) == (p.glasses != "none")
        assert ((lab == P["mouth"]).sum() > 0) == (p.mouth_open > 0)
        assert lab[0, 0] == 0 or p.hair_style == "curly"


def test_semantic_sketch_support_equals_the_strokes(labelled):
    """The semantic sketch is the aliased stroke-label raster restricted to
    the sketch's dark pixels, the fringe pixels it missed filled from the
    neighbouring labels; so its support equals the dark pixels exactly. The raw
    raster itself must agree with the dark pixels up to a 1-pixel
    anti-aliasing fringe: almost no dark pixel lies farther than one pixel
    from a labelled one, and vice versa."""
    import cv2
    from data.synthetic.labels import match_strokes
    ring = np.ones((3, 3), np.uint8)
    for p, g, ops, sketch, lab in labelled:
        raw = draw_label_ops(ops, 256)
        sem = match_strokes(raw, sketch)
        dark = _dark(sketch)
        assert np.array_equal(sem > 0, dark)
        near_label = cv2.dilate((raw > 0).astype(np.uint8), ring) > 0
        near_dark = cv2.dilate(dark.astype(np.uint8), ring) > 0
        assert (dark & ~near_label).sum() <= 0.005 * dark.sum()
        assert ((raw > 0) & ~near_dark).sum() <= 0.02 * (raw > 0).sum()
    s = make_sample(4, 4, 128, style="pencil", labels=True)
    assert np.array_equal(s["semantic_sketch_style"] > 0, _dark(s["sketch"]))
    s = make_sample(4, 4, 128, labels=True)
    assert s["semantic_sketch_style"] is s["semantic_sketch"]


def test_semantic_sketch_sides_and_classes(labelled):
    from data.synthetic.labels import match_strokes
    for p, g, ops, sketch, lab in labelled:
        sem = match_strokes(draw_label_ops(ops, sketch.shape[0]), sketch)
        half = sketch.shape[1] / 2
        for right, left in ((1, 2), (4, 5), (11, 12)):      # eyes, brows, ears
            xr, xl = np.nonzero(sem == right)[1], np.nonzero(sem == left)[1]
            if right != 11:                                 # ears may hide under hair
                assert len(xr) > 10 and len(xl) > 10
            assert not len(xr) or xr.min() > half
            assert not len(xl) or xl.max() < half
        present = set(np.unique(sem).tolist())
        assert {6, 7, 15} <= present and present & {10, 17}
        assert {10, 14, 16} <= present or has_legs(p)      # long hair may hide them
        assert (3 in present) == (p.glasses != "none")
        assert present <= set(EDGE_CLASSES) - {19, 21}


# ------------------------------------------------------------------ script
def test_script_writes_layout(tmp_path):
    out = tmp_path / "synth"
    script = os.path.join(REPO_ROOT, "scripts", "make_synthetic_faces.py")
    subprocess.run([sys.executable, script, "--out", str(out), "--n", "3",
                    "--seed", "1", "--size", "128", "--rough", "--workers", "2"],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    names = [f"{i:05d}.png" for i in range(3)]
    for folder in ("photo", "sketch", "sketch_rough"):
        assert sorted(os.listdir(out / folder)) == names
    assert not (out / "labels").exists() and not (out / "style.txt").exists()
    lines = (out / "gender.txt").read_text().split("\n")
    rows = [ln.split() for ln in lines if ln]
    assert [r[0] for r in rows] == names
    assert all(r[1] in GENDERS for r in rows)
    import cv2
    photo = cv2.imread(str(out / "photo" / names[1]))[:, :, ::-1]
    assert np.array_equal(photo, make_sample(1, 1, 128)["photo"])
    assert np.array_equal(cv2.imread(str(out / "sketch" / names[1]), 0),
                          make_sample(1, 1, 128)["sketch"])


def test_script_style_and_labels(tmp_path):
    from PIL import Image
    out = tmp_path / "hand"
    script = os.path.join(REPO_ROOT, "scripts", "make_synthetic_faces.py")
    subprocess.run([sys.executable, script, "--out", str(out), "--n", "2", "--start", "4",
                    "--seed", "2", "--size", "64", "--style", "held_out", "--labels"],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    s = make_sample(2, 5, 64, style=HELD_OUT_STYLE, labels=True)
    for folder, key in (("sketch", "sketch"), ("labels", "labels"),
                        ("semantic_sketch", "semantic_sketch_style")):
        img = Image.open(out / folder / "00005.png")
        assert img.mode == "L", folder
        assert np.array_equal(np.asarray(img), s[key]), folder
    rows = [ln.split() for ln in (out / "style.txt").read_text().splitlines()]
    assert rows == [["00004.png", HELD_OUT_STYLE], ["00005.png", HELD_OUT_STYLE]]
    sheet = tmp_path / "sheet.png"
    subprocess.run([sys.executable, script, "--sheet", str(sheet), "--n", "2", "--size", "64",
                    "--style", "random"], cwd=REPO_ROOT, check=True, capture_output=True)
    assert np.asarray(Image.open(sheet)).shape == (128, 6 * 64, 3)
