"""The CelebAMask-HQ layout as it comes (combined or per-class label maps, no
mapping, attribute or partition files), the real-face sketches drawn from
photo and map, and the celeba dataset over them: on a small stand-in of the
same layout made at test time (procedural faces with their maps written in
CelebAMask-HQ's own naming, where l_eye is the person's left = the image's
right)."""

import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_script


def celeba_naming(labels):
    """A map in this project's naming (l_ = image left) in CelebAMask-HQ's own."""
    from data.celeba import SIDE_SWAP
    return SIDE_SWAP[labels]


def make_standin(root, n=4, size=128, layout="combined", photo_size=None, noise=False):
    """CelebAMask-HQ in small: n procedural faces as photos and label maps."""
    from data.synthetic import make_sample
    from data.synthetic.labels import PARSING_CLASSES
    os.makedirs(os.path.join(root, "CelebA-HQ-img"), exist_ok=True)
    truth = []
    for i in range(n):
        s = make_sample(11, i, size, labels=True)
        photo = s["photo"]
        if noise:       # skin texture the sketches must not draw
            rng = np.random.default_rng(i)
            grain = rng.normal(0, 18, photo.shape[:2])[..., None]
            photo = np.clip(photo + grain * (s["labels"] == 1)[..., None], 0, 255).astype(np.uint8)
        img = Image.fromarray(photo)
        if photo_size:
            img = img.resize((photo_size, photo_size), Image.LANCZOS)
        img.save(os.path.join(root, "CelebA-HQ-img", f"{i}.jpg"), quality=95)
        raw = celeba_naming(s["labels"])
        if layout == "combined":
            os.makedirs(os.path.join(root, "CelebAMask-HQ-mask"), exist_ok=True)
            Image.fromarray(raw).save(os.path.join(root, "CelebAMask-HQ-mask", f"{i}.png"))
        else:
            folder = os.path.join(root, "CelebAMask-HQ-mask-anno", str(i // 2000))
            os.makedirs(folder, exist_ok=True)
            for c, name in enumerate(PARSING_CLASSES[1:], 1):
                if (raw == c).any():
                    Image.fromarray(np.where(raw == c, 255, 0).astype(np.uint8)).save(
                        os.path.join(folder, f"{i:05d}_{name}.png"))
        truth.append(s["labels"])
    return truth


def train_opt(argv):
    from options.train_options import TrainOptions
    return TrainOptions().parse(["--stage", "ae", "--preset", "tiny", "--dataset_mode", "celeba",
                                 "--batch_size", "2"] + argv)


# ------------------------------------------------------------------ reading
@pytest.mark.parametrize("layout", ["combined", "anno"])
def test_both_label_map_layouts_read_alike_with_sides_named_by_image(tmp_path, layout):
    from data.celeba import LabelMaps, paired_stems, photo_files
    root = str(tmp_path / layout)
    truth = make_standin(root, n=3, layout=layout)
    maps = LabelMaps(root)
    assert maps.layout == layout
    assert paired_stems(root, photo_files(root), maps) == ["0", "1", "2"]
    for i in range(3):
        np.testing.assert_array_equal(maps.read(str(i)), truth[i])
    # the project's l_eye (4) is the image-left eye, whatever CelebAMask-HQ calls it
    ys, xs = np.nonzero(maps.read("0") == 4)
    assert xs.mean() < 64


def test_missing_or_mismatched_pairs_are_one_line_errors(tmp_path):
    from data.datasets import DatasetError, create_dataset
    root = str(tmp_path / "c")
    make_standin(root, n=3)
    os.remove(os.path.join(root, "CelebAMask-HQ-mask", "1.png"))
    with pytest.raises(DatasetError) as err:
        create_dataset(train_opt(["--dataroot", root]))
    msg = str(err.value)
    assert "\n" not in msg and "CelebA-HQ-img/1.jpg" in msg and "no label map" in msg
    # a map without a photo
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(
        os.path.join(root, "CelebAMask-HQ-mask", "1.png"))
    os.remove(os.path.join(root, "CelebA-HQ-img", "2.jpg"))
    with pytest.raises(DatasetError, match=r"CelebAMask-HQ-mask/2\.png: no photo for face 2"):
        create_dataset(train_opt(["--dataroot", root]))


def test_inconsistent_pair_is_skipped_with_its_name(tmp_path, capsys):
    from data.datasets import create_dataset
    root = str(tmp_path / "c")
    make_standin(root, n=3)
    Image.fromarray(np.zeros((128, 96), np.uint8)).save(
        os.path.join(root, "CelebAMask-HQ-mask", "1.png"))       # not square
    ds = create_dataset(train_opt(["--dataroot", root]))
    sample = ds.get(1)                                           # the next good face instead
    assert sample.photo.shape == (128, 128, 3)
    err = capsys.readouterr().err
    assert "CelebAMask-HQ-mask/1.png: label map is 96x128, not square" in err


def test_label_maps_are_read_by_value(tmp_path):
    from data.sketch_io import ImageError, read_label_map
    lab = np.array([[0, 5, 13], [18, 1, 2]], np.uint16)
    p16 = str(tmp_path / "a.png")
    Image.fromarray(lab).save(p16)
    assert Image.open(p16).mode.startswith("I")
    np.testing.assert_array_equal(read_label_map(p16, 18), lab)      # class 5 stays 5
    lab[0, 0] = 300
    Image.fromarray(lab).save(p16)
    with pytest.raises(ImageError, match=r"a\.png: label value 300 outside 0\.\.18"):
        read_label_map(p16, 18)
    f = np.array([[1.0, np.nan]], np.float32)
    Image.fromarray(f).save(str(tmp_path / "f.tif"))
    with pytest.raises(ImageError, match="f.tif: label map holds NaN"):
        read_label_map(str(tmp_path / "f.tif"), 18)
    Image.fromarray(np.full((4, 4, 3), (1, 2, 3), np.uint8)).save(str(tmp_path / "c.png"))
    with pytest.raises(ImageError, match="c.png: a colour image"):
        read_label_map(str(tmp_path / "c.png"), 18)


def test_split_by_test_ids_and_genders_said(tmp_path, capsys):
    from data.datasets import create_dataset
    from options.base_options import OptionError
    root = str(tmp_path / "c")
    make_standin(root, n=4)
    train = create_dataset(train_opt(["--dataroot", root, "--test_ids", "2-3"]), "train")
    test = create_dataset(train_opt(["--dataroot", root, "--test_ids", "2-3"]), "test")
    assert [train.name(i) for i in range(len(train))] == ["0.jpg", "1.jpg"]
    assert [test.name(i) for i in range(len(test))] == ["2.jpg", "3.jpg"]
    assert train.genders() == ["all", "all"]
    said = train.describe()
    assert "test ids 2-3" in said and "genders all (no attribute file)" in said
    both = create_dataset(train_opt(["--dataroot", root]), "train")
    assert len(both) == 4 and "no split" in both.describe()
    with pytest.raises(SystemExit):
        train_opt(["--dataroot", root, "--test_ids", "5-2"])
    assert "the range ends before it starts" in capsys.readouterr().err
    del OptionError


# ---------------------------------------------------------------- alignment
def test_faces_are_aligned_onto_the_layout_from_their_maps(tmp_path):
    from data.celeba import LabelMaps, alignment_matrix, anchor_points, read_pair, warp_pair
    from util.components import FACE_ANCHORS_512
    root = str(tmp_path / "c")
    make_standin(root, n=2, photo_size=200)               # a photo of another size than its map
    maps = LabelMaps(root)
    photo, labels = read_pair(os.path.join(root, "CelebA-HQ-img", "1.jpg"), maps, "1")
    assert photo.shape == (200, 200, 3) and labels.shape == (200, 200)
    # shrink and shift the face: alignment must put it back
    m = np.array([[0.7, 0, 40], [0, 0.7, 20]])
    import cv2
    small_p = cv2.warpAffine(photo, m, (200, 200), borderMode=cv2.BORDER_REFLECT101)
    small_l = cv2.warpAffine(labels, m, (200, 200), flags=cv2.INTER_NEAREST)
    for size in (128, 512):
        a_photo, a_labels = warp_pair(small_p, small_l, alignment_matrix(small_l, size), size)
        got = anchor_points(a_labels)
        want = (np.asarray(FACE_ANCHORS_512) + 0.5) * size / 512 - 0.5
        assert np.abs(got - want).max() < 0.02 * size
        assert a_photo.shape == (size, size, 3)


# ------------------------------------------------------------------ sketches
def test_real_sketches_follow_the_contours_and_drop_texture(tmp_path):
    from data.celeba import LabelMaps, alignment_matrix, read_pair, warp_pair
    from data.photo_sketch import render_strokes, sketch_strokes
    from data.synthetic.labels import E
    root = str(tmp_path / "c")
    make_standin(root, n=2, size=256, noise=True)
    maps = LabelMaps(root)
    photo, labels = read_pair(os.path.join(root, "CelebA-HQ-img", "0.jpg"), maps, "0")
    big_p, big_l = warp_pair(photo, labels, alignment_matrix(labels), 512)
    ops = sketch_strokes(big_p, big_l)
    again = sketch_strokes(big_p, big_l)                      # deterministic
    assert len(again) == len(ops) and all(np.array_equal(a.pts, b.pts) and a.label == b.label
                                          for a, b in zip(ops, again))
    clean, semantic = render_strokes(ops, 512, "clean", seed=0, labels=True)
    dark = clean < 128
    assert ((semantic > 0) == dark).all()
    from scipy import ndimage
    near = ndimage.distance_transform_edt(~dark)
    # the face outline (skin against background) is drawn: nearly all of it within 3 px
    skin = big_l == 1
    outline = skin & ndimage.binary_dilation(big_l == 0) & ~ndimage.binary_dilation(
        big_l == 13, iterations=4)
    assert outline.sum() > 50 and (near[outline] <= 3).mean() > 0.9
    # the noisy skin's interior (away from every feature) has no strokes
    interior = ndimage.binary_erosion(skin, iterations=12)
    assert interior.sum() > 2000 and dark[interior].mean() < 0.01
    # eyes are drawn with their class, on the side where they are
    ys, xs = np.nonzero(semantic == E["eye_l"])
    assert len(xs) > 20 and xs.mean() < 256
    ys, xs = np.nonzero(semantic == E["eye_r"])
    assert len(xs) > 20 and xs.mean() > 256


def test_every_style_redraws_the_strokes_and_files_round_trip(tmp_path):
    from data.datasets import read_strokes
    from data.photo_sketch import ops_from_arrays, ops_to_arrays, render_strokes, sketch_strokes
    from data.celeba import LabelMaps, alignment_matrix, read_pair, warp_pair
    from data.sketch_io import ImageError
    from data.synthetic.styles import SKETCH_STYLES
    root = str(tmp_path / "c")
    make_standin(root, n=1, size=256)
    maps = LabelMaps(root)
    photo, labels = read_pair(os.path.join(root, "CelebA-HQ-img", "0.jpg"), maps, "0")
    ops = sketch_strokes(*warp_pair(photo, labels, alignment_matrix(labels), 512))
    arrays = ops_to_arrays(ops)
    back = ops_from_arrays(arrays["points"], arrays["ops"])
    assert len(back) == len(ops)
    clean = render_strokes(ops, 128, "clean", 3)[0]
    np.testing.assert_array_equal(render_strokes(back, 128, "clean", 3)[0], clean)
    for style in SKETCH_STYLES:
        img = render_strokes(ops, 128, style, 3)[0]
        assert img.shape == (128, 128) and (img < 128).mean() > 0.01
        if style != "clean":
            assert not np.array_equal(img, clean), style
    np.testing.assert_array_equal(render_strokes(ops, 128, "pencil", 3)[0],
                                  render_strokes(ops, 128, "pencil", 3)[0])
    # a broken stroke file: one line naming it
    path = str(tmp_path / "bad.npz")
    np.savez(path, points=arrays["points"][:-3], ops=arrays["ops"])
    with pytest.raises(ImageError, match="bad.npz: stroke table does not match its points"):
        read_strokes(path)
    with open(path, "wb") as f:
        f.write(b"not a zip")
    with pytest.raises(ImageError, match="bad.npz: unreadable stroke file"):
        read_strokes(path)


def test_make_celeba_sketches_and_the_dataset_over_them(tmp_path, capsys):
    from data.datasets import create_dataset
    root = str(tmp_path / "c")
    make_standin(root, n=4)
    with open(os.path.join(root, "CelebA-HQ-img", "3.jpg"), "wb") as f:
        f.write(b"broken")
    out = str(tmp_path / "strokes")
    code = run_script("scripts/make_celeba_sketches.py", ["--dataroot", root, "--out", out])
    assert code == 1                                    # one face skipped, the rest drawn
    err = capsys.readouterr().err
    assert "CelebA-HQ-img/3.jpg: not an image" in err
    assert sorted(os.listdir(out)) == ["0.npz", "1.npz", "2.npz"]

    opt = train_opt(["--dataroot", root, "--sketch_dir", out, "--sketch_style", "random",
                     "--test_ids", "3"])
    ds = create_dataset(opt)
    assert len(ds) == 3
    s = ds.get(0)
    assert s.sketch.shape == (128, 128) and s.photo.shape == (128, 128, 3)
    # strokes from the file equal strokes made on the fly
    opt2 = train_opt(["--dataroot", root, "--sketch_style", "random", "--test_ids", "3",
                      "--sketch_dir", str(tmp_path / "none")])
    np.testing.assert_array_equal(create_dataset(opt2).get(0).sketch, s.sketch)
    styles = {ds.get(i).clean is None for i in range(3)}
    assert styles <= {True, False}
    # semantic samples (the sketch embedding's stages): labels on exactly the dark pixels
    opt.semantic, opt.sketch_size = True, 64
    sem = create_dataset(opt).get(1)
    assert sem.semantic.shape == (64, 64) and sem.parsing.shape == (128, 128)
    assert ((sem.sketch < 128) == (sem.semantic > 0)).all()
    assert set(np.unique(sem.parsing)) >= {0, 1, 4, 5}


def _procedural_face(facial_hair, seed=4):
    """A 512 px procedural face and its map with the facial hair called skin,
    as CelebAMask-HQ's maps call it."""
    from data.synthetic.geometry import build_geometry
    from data.synthetic.labels import P, parsing_map
    from data.synthetic.params import sample_params
    from data.synthetic.photo import paint_photo
    params = sample_params(np.random.default_rng(seed), "male", facial_hair=facial_hair,
                           hair_style="short")
    g = build_geometry(params)
    photo, labels = paint_photo(params, g, 512), parsing_map(params, g, 512)
    nose_bottom = np.nonzero(labels == P["nose"])[0].max()
    rows = np.arange(512)[:, None]
    beard = (labels == P["hair"]) & (rows > nose_bottom - 10)
    labels[beard] = P["skin"]
    return photo, labels, beard


def test_facial_hair_is_found_in_the_photo_and_drawn():
    from data.photo_sketch import beard_mask, render_strokes, sketch_strokes
    photo, labels, truth = _procedural_face("beard")
    found = beard_mask(photo, labels)
    assert found is not None
    assert (found & truth).sum() > 0.5 * found.sum()       # mostly on the beard
    ops = sketch_strokes(photo, labels)
    beard_ops = [op for op in ops if op.group == "beard"]
    assert any(op.kind == "line" and op.closed for op in beard_ops)     # its outline
    assert sum(op.kind == "extra" for op in beard_ops) >= 5            # texture for the styles
    shaved, shaved_labels, _ = _procedural_face("none")
    assert beard_mask(shaved, shaved_labels) is None
    assert not any(op.group == "beard" for op in sketch_strokes(shaved, shaved_labels))
    clean = render_strokes(ops, 256, "clean", 1)[0]
    assert (clean[150:250, 60:200] < 128).mean() > 0.01


def remade_as_committed(out, folder):
    """[(name, image)] of the six files a script wrote to ``out``, after
    checking they are test_input/``folder``/'s files, pixel for pixel."""
    committed = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "test_input", folder)
    names = sorted(os.listdir(out))
    assert names == sorted(os.listdir(committed)) and len(names) == 6
    images = []
    for n in names:
        a = np.asarray(Image.open(os.path.join(out, n)))
        assert np.array_equal(a, np.asarray(Image.open(os.path.join(committed, n)))), n
        images.append((n, a))
    return images


def test_photo_style_sample_sketches_are_the_committed_ones(tmp_path):
    """scripts/make_photo_style_sketches.py remakes test_input/photo_style/
    exactly (the training-way sketches of procedural faces), and the held-out
    style redraws the same faces."""
    out = str(tmp_path / "ps")
    assert run_script("scripts/make_photo_style_sketches.py", ["--out", out]) == 0
    for n, a in remade_as_committed(out, "photo_style"):
        assert 0.01 < (a < 128).mean() < 0.2              # a line drawing, not blank or black
    pencil = str(tmp_path / "pencil")
    assert run_script("scripts/make_photo_style_sketches.py",
                      ["--out", pencil, "--style", "pencil", "--size", "256"]) == 0
    drawn = sorted(os.listdir(pencil))
    assert len(drawn) == 6 and all(n.endswith("_pencil.png") for n in drawn)
    assert Image.open(os.path.join(pencil, drawn[0])).size == (256, 256)


def test_shaded_pencil_portraits_are_the_committed_ones(tmp_path):
    """--shaded remakes test_input/pencil_shaded/ exactly: tonal drawings
    (mostly light paper, a spread of grays, not a line drawing's two tones)."""
    out = str(tmp_path / "shaded")
    assert run_script("scripts/make_photo_style_sketches.py", ["--out", out, "--shaded"]) == 0
    for n, a in remade_as_committed(out, "pencil_shaded"):
        assert a.ndim == 2 and a.shape == (512, 512)
        assert np.median(a) > 200                             # paper
        mid = ((a > 60) & (a < 200)).mean()
        assert mid > 0.02, (n, mid)                           # shading, not only lines


# ---------------------------------------------------------------- balancing
def test_balance_reads_what_each_face_shows_from_its_map(tmp_path, capsys):
    """--balance on celeba: a face's glasses (and the other attributes of
    data/parsing_attributes.py) come from its label map, rare ones are
    drawn more often, and an unreadable map is a one-line error naming it."""
    from data.datasets import DatasetError
    from data.parsing_attributes import present
    from data.synthetic import make_sample
    from training import create_stage
    root = str(tmp_path / "c")
    truth = make_standin(root, n=12, size=64)
    wears = [make_sample(11, i, 64)["params"].glasses != "none" for i in range(12)]
    assert 0 < sum(wears) < 6                            # a rare attribute in this stand-in
    opt = train_opt(["--dataroot", root, "--checkpoints_dir", str(tmp_path), "--name", "b",
                     "--balance", "glasses,bald", "--balance_power", "1"])
    trainer = create_stage(opt)
    assert "balancing glasses (power 1): True" in capsys.readouterr().out
    labels = trainer.loader.ds.attributes(("glasses", "bald"))
    assert [g for g, _ in labels] == wears
    assert labels == [(present(t)["glasses"], present(t)["bald"]) for t in truth]
    drawn = [i for e in range(40) for i in trainer.loader.order(e)]
    share = np.mean([wears[i] for i in drawn])
    assert share > 3 * np.mean(wears)
    Image.fromarray(np.full((64, 64), 40, np.uint8)).save(
        os.path.join(root, "CelebAMask-HQ-mask", "3.png"))           # class 40: not a class
    with pytest.raises(DatasetError, match=r"--balance: .*3\.png"):
        trainer.loader.ds.attributes(("glasses",))


def test_balance_names_the_attributes_of_the_dataset_mode(tmp_path, capsys):
    root = str(tmp_path / "c")
    with pytest.raises(SystemExit):
        train_opt(["--dataroot", root, "--balance", "hair_style"])
    err = capsys.readouterr().err
    assert "--balance 'hair_style': choose from glasses, open_mouth, bald, long_hair, hat" in err
    assert train_opt(["--dataroot", root, "--balance", "hat, glasses"]).balance == "hat,glasses"
