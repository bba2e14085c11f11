"""Sketch normalisation at inference (data/sketch_norm.py): its reference
facts against the procedural generator, what it changes and what it leaves
alone, and the --no_sketch_norm flag on the paths that read sketches
(demo.py's job, evaluation). NumPy and OpenCV only: no model is loaded."""

import glob
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from data import sketch_norm as sn
from data.sketch_norm import face_extent, normalise_sketch, stroke_extent, stroke_width
from tests.conftest import ROOT, face_sketch

SEED, FIRST = 0, 10 ** 6            # the evaluation's test faces of stream 0
# parts a hand drawing may leave out (the extent ranges cover them)
LEFT_OUT = ((), ("neck", "body"), ("hair",), ("neck", "body", "hair"))


def procedural(i, size=128, leave_out=(), thickness=None):
    """Clean sketch ``i`` of the test stream as the generator draws it
    (``make_sample``'s ``sketch_clean``), optionally without some parts or
    with every line drawn ``thickness`` pixels wide."""
    from data.synthetic.curves import SUBPIX, fx
    from data.synthetic.geometry import build_geometry
    from data.synthetic.params import sample_params
    from data.synthetic.sketch import draw_ops, sketch_ops
    params = sample_params(np.random.default_rng([SEED, FIRST + i]))
    ops = [op for op in sketch_ops(build_geometry(params), params) if op.group not in leave_out]
    img = draw_ops(ops, size)
    if thickness:                      # the same lines, wider
        for op in ops:
            if op.kind == "line" and len(op.pts) > 1:
                cv2.polylines(img, [fx(op.pts, size / 512)], op.closed, 0, thickness,
                              cv2.LINE_AA, SUBPIX)
    return img


def shrunk_into_corner(sketch, factor=0.6):
    """The sketch scaled by ``factor`` into its top-left corner."""
    size = sketch.shape[0]
    n = int(round(size * factor))
    out = np.full_like(sketch, 255)
    out[:n, :n] = cv2.resize(sketch, (n, n), interpolation=cv2.INTER_AREA)
    return out


def box_iou(a, b):
    ax0, ay0, ax1, ay1 = a
    bx0, by0, bx1, by1 = b
    inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union


# ------------------------------------------------------------------ reference facts
def test_the_helper_draws_the_generators_clean_sketch():
    from data.synthetic import make_sample
    assert np.array_equal(procedural(3), make_sample(SEED, FIRST + 3, 128)["sketch_clean"])


@pytest.mark.parametrize("size", sorted(sn.TRAIN_STROKE_WIDTH_PX))
def test_training_stroke_width_is_the_generators(size):
    widths = [stroke_width(procedural(i, size)) for i in range(16)]
    assert np.mean(widths) == pytest.approx(sn.train_stroke_width(size), rel=0.08)
    assert max(widths) < sn.train_stroke_width(size) * sn.WIDTH_FACTOR


def test_face_extent_ranges_are_the_generators():
    """The ranges are the least and greatest centre and size of the test
    faces 0..59 drawn whole and without hair, neck and shoulders, or both."""
    extents = np.array([face_extent(procedural(i, 128, parts))
                        for parts in LEFT_OUT for i in range(60)])
    for k, bounds in enumerate((sn.PROCEDURAL_CENTRE_X, sn.PROCEDURAL_CENTRE_Y,
                                sn.PROCEDURAL_SIZE)):
        assert extents[:, k].min() == pytest.approx(bounds[0], abs=0.01), k
        assert extents[:, k].max() == pytest.approx(bounds[1], abs=0.01), k
    # what is left alone spans both the procedural and the real training sketches
    for kind in ("CENTRE_X", "CENTRE_Y", "SIZE"):
        lo, hi = getattr(sn, f"FACE_{kind}")
        for src in ("PROCEDURAL", "REAL"):
            a, b = getattr(sn, f"{src}_{kind}")
            assert lo <= a <= b <= hi, (kind, src)


def test_real_training_sketches_pass_unchanged(tmp_path):
    """Sketches of real faces drawn the training way (a stand-in face of the
    CelebAMask-HQ layout) need no normalisation."""
    from data.celeba import LabelMaps, alignment_matrix, read_pair, warp_pair
    from data.photo_sketch import render_strokes, sketch_strokes
    from tests.test_celeba import make_standin
    root = str(tmp_path / "c")
    make_standin(root, n=3, size=256)
    maps = LabelMaps(root)
    for i in range(3):
        photo, labels = read_pair(os.path.join(root, "CelebA-HQ-img", f"{i}.jpg"), maps, str(i))
        ops = sketch_strokes(*warp_pair(photo, labels, alignment_matrix(labels), 512))
        for style in ("clean", "overdrawn"):
            sketch = render_strokes(ops, 128, style, i)[0]
            out, notes = normalise_sketch(sketch)
            assert notes == [] and out is sketch, (i, style, notes)


def test_other_sizes_scale_the_nearest_width():
    assert sn.train_stroke_width(1024) == pytest.approx(2 * sn.TRAIN_STROKE_WIDTH_PX[512])
    assert sn.train_stroke_width(64) == min(sn.TRAIN_STROKE_WIDTH_PX.values())


# ------------------------------------------------------------------ what is left alone
@pytest.mark.parametrize("size", [128, 256, 512])
def test_procedural_sketches_pass_unchanged(size):
    for i in range(16 if size == 128 else 4):
        for parts in LEFT_OUT:
            sketch = procedural(i, size, parts)
            out, notes = normalise_sketch(sketch)
            assert out is sketch and notes == [], (i, parts, notes)


def test_the_demo_inputs_pass_unchanged():
    from data.sketch_io import load_sketch
    files = sorted(glob.glob(os.path.join(ROOT, "test_input", "*.png")))
    assert files
    for path in files:
        sketch, _ = load_sketch(path, 128)
        out, notes = normalise_sketch(sketch)
        assert out is sketch and notes == [], (path, notes)


def test_empty_and_partial_sketches_are_unchanged():
    blank = np.full((128, 128), 255, np.uint8)
    out, notes = normalise_sketch(blank)
    assert out is blank and notes == [] and stroke_width(blank) is None
    assert face_extent(blank) is None
    specks = blank.copy()
    specks[5, 5] = specks[100, 20] = 0                    # stray dots only
    assert normalise_sketch(specks)[1] == [] and stroke_extent(specks) is None
    eye = blank.copy()                                    # a face begun: one eye
    cv2.ellipse(eye, (42, 55), (10, 5), 0, 0, 360, 0, 1, cv2.LINE_AA)
    assert normalise_sketch(eye)[1] == []


def test_a_stray_dot_does_not_move_the_face():
    sketch = procedural(0)
    dotted = sketch.copy()
    dotted[2:4, 124:126] = 0                              # a speck in a far corner
    assert stroke_extent(dotted) == stroke_extent(sketch)
    assert normalise_sketch(dotted)[1] == []


def test_light_pencil_strokes_count_in_the_extent():
    """The held-out pencil style draws some strokes lighter than DARK: they
    still place the face (else a face missing its light hair would move)."""
    from data.synthetic import make_sample
    for i in (0, 11):
        s = make_sample(1234, FIRST + i, 256, style="pencil")
        ext, clean = face_extent(s["sketch"]), face_extent(s["sketch_clean"])
        assert np.allclose(ext, clean, atol=0.02), (ext, clean)
        assert not [n for n in normalise_sketch(s["sketch"])[1] if "layout" in n]
    on_grey = np.where(procedural(0) < sn.DARK, 60, 200).astype(np.uint8)   # grey paper
    assert stroke_extent(on_grey) == stroke_extent(procedural(0))


def test_a_filled_region_does_not_decide_the_width():
    sketch = procedural(1)
    filled = sketch.copy()
    cv2.circle(filled, (64, 14), 12, 0, -1)               # a black hair bun
    assert stroke_width(filled) == pytest.approx(stroke_width(sketch), rel=0.15)


# ------------------------------------------------------------------ what is changed
@pytest.mark.parametrize("size", [128, 256])
def test_thick_strokes_are_thinned_to_the_training_width(size):
    from data.sketch_extract import zhang_suen_thinning
    train = sn.train_stroke_width(size)
    for i in range(3):
        thick = procedural(i, size, thickness=2)          # 4-px lines: about 3x as wide
        assert 2.5 * train < stroke_width(thick) < 4 * train
        out, notes = normalise_sketch(thick)
        assert stroke_width(out) == pytest.approx(train, rel=0.3)
        assert len(notes) == 1 and notes[0].startswith("strokes thinned from "), notes
        assert f"to {stroke_width(out):.1f} px (the training width is {train:.1f} px)" in notes[0]
        # nothing disappears: every stroke keeps at least its skeleton
        assert (out[zhang_suen_thinning(thick < sn.DARK)] < sn.DARK).all()


def test_thin_strokes_are_thickened():
    """At 512 the training lines are 2 px (3.5 measured); conftest's face
    thinned to its one-pixel skeleton is well under half of that. (At 128
    and 256 the training lines are as thin as a line can be: nothing is
    ever thickened there.)"""
    from data.sketch_extract import zhang_suen_thinning
    drawn = np.asarray(face_sketch(512))
    thin = np.where(zhang_suen_thinning(drawn < sn.DARK), 0, 255).astype(np.uint8)
    assert stroke_width(thin) < sn.train_stroke_width(512) / sn.WIDTH_FACTOR
    out, notes = normalise_sketch(thin)
    assert stroke_width(out) == pytest.approx(sn.train_stroke_width(512), rel=0.3)
    assert len(notes) == 1 and notes[0].startswith("strokes thickened from 1."), notes
    assert (out <= thin).all()                            # only darker
    # conftest's own 2-3 px lines lie within the factor: left alone
    assert normalise_sketch(drawn)[1] == []


def test_a_small_face_in_a_corner_is_moved_back():
    """The fit goes to the middle of the training faces' sizes and centres
    (the extent alone cannot tell a big-haired face drawn small from a
    bald one): it lands on the original within their spread."""
    ious = []
    for i in range(8):
        sketch = procedural(i)
        out, notes = normalise_sketch(shrunk_into_corner(sketch, 0.5))
        ious.append(box_iou(stroke_extent(out), stroke_extent(sketch)))
        moved = [n for n in notes if "component layout" in n]
        assert len(moved) == 1 and notes[0] == moved[0], notes
        assert moved[0].startswith("the face was moved onto the component layout (scaled 1.")
        assert "x, shifted +3" in moved[0] and moved[0].endswith(" px)")
        # scaling up widens the strokes; the width step may then thin them back
        assert all(n.startswith("strokes thinned") for n in notes[1:]), notes
    # (the real training faces spread wider than these: the fit lands in the
    # middle of both, a little smaller than a procedural face)
    assert np.median(ious) > 0.7 and min(ious) > 0.55, ious


def test_an_off_centre_face_is_shifted_without_scaling():
    sketch = procedural(2, leave_out=("neck", "body"))    # a head: it does not reach the edge
    shifted = np.full_like(sketch, 255)
    assert (sketch[:, -12:] == 255).all()
    shifted[:, 12:] = sketch[:, :-12]                     # 9% to the right: real faces
    assert normalise_sketch(shifted)[1] == []             # in training lie there too
    sketch = np.asarray(face_sketch(128))                 # a narrower face: room to move
    left = np.nonzero((sketch < 255).any(axis=0))[0].min()
    assert left >= 24
    shifted = np.full_like(sketch, 255)
    shifted[:, :-24] = sketch[:, 24:]                     # 19% to the left, nothing cut off
    out, notes = normalise_sketch(shifted)
    assert len(notes) == 1, notes
    assert notes[0].startswith("the face was moved onto the component layout (shifted +")
    assert notes[0].endswith(",+0 px)")                   # its height was right: kept
    x0, y0, x1, y1 = stroke_extent(out)
    ox0, oy0, ox1, oy1 = stroke_extent(sketch)
    assert (y0, y1) == (oy0, oy1) and abs((x1 - x0) - (ox1 - ox0)) <= 1
    assert abs(x0 - ox0) <= 3                             # back to the middle of the layout


def test_the_scale_is_clamped():
    tiny = shrunk_into_corner(procedural(0), 0.4)         # needs 2.3x: gets SCALE_LIMITS[1]
    out, notes = normalise_sketch(tiny)
    assert "scaled 2.00x" in notes[0]


def test_the_training_width_is_the_models_at_another_size():
    """Evaluation may judge sketches at another size than the model's: the
    model's training width, scaled, is the target."""
    from data.sketch_extract import zhang_suen_thinning
    drawn = procedural(0, 256)                            # 1.3 px at 256: 0.65 at 128
    assert normalise_sketch(drawn, model_size=256)[1] == []
    thin = np.where(zhang_suen_thinning(drawn < sn.DARK), 0, 255).astype(np.uint8)
    out, notes = normalise_sketch(thin, model_size=128)   # 1 px against 2.6 px
    assert notes and notes[0].startswith("strokes thickened")
    assert normalise_sketch(thin, model_size=256)[1] == []


def test_any_image_comes_back_as_a_sketch():
    """Noise, blots, lines, dots, dark edges and near-black images: no error,
    the same shape and type back (the drawing app normalises whatever
    image a request sends)."""
    rng = np.random.default_rng(7)
    for i in range(40):
        size = (64, 128, 256)[i % 3]
        kind = i % 5
        img = np.full((size, size), 255, np.uint8)
        if kind == 0:
            img = rng.integers(0, 256, (size, size), dtype=np.uint8)
        elif kind == 1:
            img[rng.random((size, size)) < rng.uniform(0.01, 0.6)] = 0
        elif kind == 2:
            for _ in range(rng.integers(1, 30)):
                p = tuple(int(v) for v in rng.integers(0, size, 4))
                cv2.line(img, p[:2], p[2:], 0, int(rng.integers(1, 12)))
        elif kind == 3:
            img[rng.integers(0, size), rng.integers(0, size)] = 0
        else:
            img[:] = 0
            img[size // 4:-size // 4, size // 4:-size // 4] = 255
        out, notes = normalise_sketch(img)
        assert out.shape == img.shape and out.dtype == np.uint8, i
        assert all(isinstance(n, str) and "\n" not in n for n in notes)


def test_rejects_what_is_not_a_square_gray_sketch():
    with pytest.raises(ValueError, match="square gray sketch"):
        normalise_sketch(np.zeros((10, 12), np.uint8))


# ------------------------------------------------------------------ the flag
def write_png(path, arr):
    Image.fromarray(arr).save(path)
    return str(path)


@pytest.mark.parametrize("flag", [False, True])
def test_the_flag_turns_it_off_in_the_demo_path(tmp_path, flag):
    """demo.py reads every sketch with its method's job (models/deepfacedrawing/job.py)."""
    from data.sketch_io import load_sketch
    from models.deepfacedrawing.job import DFDJob
    from options.test_options import TestOptions
    path = write_png(tmp_path / "corner.png", shrunk_into_corner(procedural(0)))
    argv = ["--preset", "tiny", "--input", path] + (["--no_sketch_norm"] if flag else [])
    opt = TestOptions().parse(argv)
    assert opt.no_sketch_norm is flag and sn.wanted(opt) is not flag
    from models.deepfacedrawing.inference import DFDInference
    job = DFDJob(opt, [path])
    job.face = DFDInference(None, opt)              # reading a sketch needs no model
    item, notes = job.read(path)
    as_drawn = load_sketch(path, 128)[0]
    if flag:
        assert np.array_equal(item["sketch"], as_drawn) and notes == []
    else:
        assert np.array_equal(item["sketch"], normalise_sketch(as_drawn)[0])
        assert len(notes) == 1 and "moved onto the component layout" in notes[0]


def test_the_flag_is_deepfacedrawings_alone():
    from options.eval_options import EvalOptions
    from options.test_options import TestOptions
    assert EvalOptions().parse(["--preset", "tiny", "--no_sketch_norm"]).no_sketch_norm
    sp = TestOptions().parse(["--method", "sp_embedding", "--preset", "tiny"])
    assert not hasattr(sp, "no_sketch_norm") and not sn.wanted(sp)
    with pytest.raises(SystemExit):
        TestOptions().parse(["--method", "sp_embedding", "--no_sketch_norm"])


def test_evaluation_normalises_every_set_alike(tmp_path):
    """Procedural sets (made in memory) and hand-drawn ones (read from files)
    go through the method's inference contract (``prepare``), as demo.py's
    and the app's do: the clean and rough procedural sketches
    are left alone, a face drawn small is moved, with a note."""
    from evaluation import sets as ev
    from models.deepfacedrawing.inference import DFDInference
    from options.test_options import TestOptions
    face = DFDInference(None, TestOptions().parse(["--preset", "tiny"]))
    sets = ev.synthetic_sets(3, 1234, 128, rough=True)
    hand = tmp_path / "hand"
    hand.mkdir()
    write_png(hand / "corner.png", shrunk_into_corner(procedural(0)))
    write_png(hand / "fine.png", procedural(1))
    sets.append(ev.hand_set(str(hand), 128))
    said = []
    out, changed = ev.prepare_sets(sets, face, said.append)
    assert changed == {"clean": 0, "rough": 0, "hand": 1}
    assert len(said) == 1 and said[0].startswith("note: hand/corner: the face was moved")
    for before, after in zip(sets, out):
        assert after.name == before.name and after.names == before.names
        assert after.photos is before.photos and after.parsing is before.parsing
    assert np.array_equal(out[0].sketches, sets[0].sketches)
    assert np.array_equal(out[2].sketches[1], sets[2].sketches[1])
    assert not np.array_equal(out[2].sketches[0], sets[2].sketches[0])


# ---------------------------------------------------------------- shaded drawings
def at_model_size(sketch, size=128):
    """A sketch as a file of it is read at the model's size (sketch_io: Lanczos)."""
    return np.asarray(Image.fromarray(np.asarray(sketch, np.uint8)).resize((size, size),
                                                                          Image.LANCZOS))


@pytest.mark.parametrize("style", ["clean", "overdrawn", "pressure", "hatched", "sketchy",
                                   "scribbled", "pencil"])
def test_training_way_sketches_are_not_shaded(style):
    """data/sketch_tone.py's reference fact: the line sketches of every
    training-way kind (procedural at 128 and at 512 read at 128, the photo
    extraction of procedural faces) have at most MAX_TRAIN_SHADING of light
    tone over dark strokes (the held-out pencil style most), well under the
    threshold, so none is touched."""
    from data.photo_sketch import render_strokes, sketch_strokes
    from data.sketch_tone import MAX_TRAIN_SHADING, SHADED_ABOVE, shading
    from data.synthetic import make_sample
    sketches = []
    for i in range(6):
        sketches.append(make_sample(3, i, 128, style=style)["sketch"])
        s = make_sample(7, i, 512, labels=True)
        sketches.append(at_model_size(make_sample(3, i, 512, style=style)["sketch"]))
        sketches.append(at_model_size(render_strokes(sketch_strokes(s["photo"], s["labels"]),
                                                     512, style, seed=i)[0]))
    worst = max(shading(a)[0] for a in sketches)
    assert worst <= MAX_TRAIN_SHADING, (style, worst)
    assert MAX_TRAIN_SHADING * 1.2 < SHADED_ABOVE
    for a in sketches:
        out, notes = normalise_sketch(a)
        assert not any("shaded" in n for n in notes)


def test_faint_shaded_portraits_become_line_drawings():
    """The faint shaded pencil portraits of test_input/pencil_shaded/ get
    their lines extracted (one note naming the tone), and what comes out is
    a line drawing by the same measure; the boldly drawn ones stay as drawn."""
    from data.sketch_tone import MAX_TRAIN_SHADING, SHADED_ABOVE, shading
    extracted = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "test_input", "pencil_shaded", "*.png"))):
        a = at_model_size(np.asarray(Image.open(path).convert("L")))
        ratio = shading(a)[0]
        out, notes = normalise_sketch(a)
        tone = [n for n in notes if n.startswith("a shaded drawing")]
        if ratio > SHADED_ABOVE:                        # the faint ones
            extracted += 1
            assert len(tone) == 1 and "lines were extracted" in tone[0], (path, notes)
            assert shading(out)[0] <= MAX_TRAIN_SHADING, path
            assert 0.02 < (out < 128).mean() < 0.3, path      # lines, not blank, not filled
            assert set(np.unique(out)) <= {0, 255} or notes[1:], path   # binary lines
        elif ratio < 4:
            assert not tone, (path, notes)
    assert extracted == 3


def test_line_drawings_with_tone_beside_their_lines_are_left_alone():
    """Hatching merged into gray tone at 128 px (the pencil style on real
    faces) puts as much light tone over the dark strokes as a faint shaded
    portrait, but keeps its dark outlines: such a drawing is not extracted.
    The same tone over faint lines is."""
    from data.sketch_tone import FAINT_DARK, SHADED_ABOVE, dark_share, shading
    from data.synthetic import make_sample
    lines = make_sample(3, 1, 128, style="clean")["sketch"]
    toned = lines.copy()
    toned[:100][toned[:100] > 235] = 205                   # hatched areas gone gray
    assert shading(toned)[0] > SHADED_ABOVE and dark_share(toned) >= FAINT_DARK
    out, notes = normalise_sketch(toned)
    assert not any("shaded" in n for n in notes)
    faint = np.where(toned < 128, 160, toned).astype(np.uint8)   # the lines drawn lightly
    faint[::12, ::12] = np.minimum(faint[::12, ::12], 60)        # a few dark specks
    assert shading(faint)[0] > SHADED_ABOVE and dark_share(faint) < FAINT_DARK
    assert any("shaded" in n for n in normalise_sketch(faint)[1])
