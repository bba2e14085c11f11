"""scripts/evaluate.py, the ablation presets and scripts/run_ablations.py."""

import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, run_script


def test_presets_compose_and_every_ablation_is_listed():
    from configs import ablation_names, load_preset, preset_notes
    names = ablation_names()
    assert names[:6] == ["full", "no_projection", "whole_face", "pix2pixhd", "no_perceptual",
                         "no_smoothness"]
    assert {"k1", "k3", "k5", "k10", "k15"} <= set(names)
    merged = load_preset("tiny+ablations/no_perceptual")
    assert merged["image_size"] == 128 and merged["lambda_vgg"] == 0.0   # size + method
    assert load_preset("small+ablations/k3")["k"] == 3
    assert preset_notes("ablations/no_projection")["_model"] == "full"
    with pytest.raises(ValueError, match="unknown preset 'ablations/nope'"):
        load_preset("tiny+ablations/nope")


def test_training_plan_shares_models():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "run_ablations", os.path.join(ROOT, "scripts", "run_ablations.py"))
    ra = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ra)
    train, uses = ra.plan(["k3", "no_projection"])
    assert train == [("full", None)] and uses == {"k3": "full", "no_projection": "full"}
    train, _ = ra.plan(["no_smoothness", "no_perceptual"])
    assert train == [("full", None), ("no_smoothness", "full"), ("no_perceptual", "full")]
    assert ra.stages("pix2pixhd", None) == ["combine"]
    assert ra.stages("no_perceptual", "full") == ["combine"]
    assert ra.stages("whole_face", None) == ["ae", "banks", "combine"]


def test_whole_face_crop_keeps_the_boxes():
    from util.arrays import crop_part
    x = -np.ones((1, 1, 128, 128), np.float32)          # all black
    assert crop_part(x, "", 128, whole=True).min() == -1.0 and crop_part(x, "", 128).max() == 1.0
    assert (crop_part(x, "", 128, whole=True) == -1.0).all()


def test_per_image_scores_a_perfect_output():
    from evaluation.scores import per_image, summarize
    from evaluation.sets import TestSet
    from data.synthetic import make_sample
    s = make_sample(5, 0, 128)
    ts = TestSet("clean", s["sketch"][None], s["photo"][None], ["a"])
    row = per_image(s["photo"][None], ts, 128)[0]
    assert row["l1"] == 0.0 and row["psnr"] == float("inf") and row["ssim"] == pytest.approx(1.0)
    assert row["eye1/ssim"] == pytest.approx(1.0) and row["mouth/l1"] == 0.0
    assert 0 <= row["chamfer"] < 10 and 0 < row["edge_f1"] <= 1
    blank = np.full_like(s["photo"][None], 255)
    worse = per_image(blank, ts, 128)[0]
    assert worse["psnr"] < 20 and worse["ssim"] < row["ssim"]
    assert summarize([row, worse])["psnr"] == worse["psnr"]       # inf is left out of the mean


def test_line_scores_tell_the_style_from_the_geometry():
    """A hand-drawn style's extra strokes (hatching, shading, passes) lower
    edge F1 against the input even for the perfect face; against the face's
    clean lines the perfect face scores as it does on the clean sketch, and
    target_edge_f1 is that perfect face's score: the set's ceiling."""
    from data.synthetic import HELD_OUT_STYLE, make_sample
    from evaluation.scores import per_image
    from evaluation.sets import TestSet
    s = make_sample(5, 3, 128, style=HELD_OUT_STYLE)
    assert not np.array_equal(s["sketch"], s["sketch_clean"])
    photo, clean = s["photo"][None], s["sketch_clean"][None]
    on_clean = per_image(photo, TestSet("clean", clean, photo, ["a"], lines=clean), 128)[0]
    assert on_clean["line_f1"] == on_clean["edge_f1"] == on_clean["target_edge_f1"]
    assert on_clean["line_chamfer"] == on_clean["chamfer"]
    hand = per_image(photo, TestSet("hand_like", s["sketch"][None], photo, ["a"],
                                    lines=clean), 128)[0]
    assert hand["line_f1"] == on_clean["edge_f1"] and hand["line_chamfer"] == on_clean["chamfer"]
    assert hand["edge_f1"] < hand["line_f1"]                 # the style costs the perfect face
    assert hand["target_edge_f1"] == hand["edge_f1"]         # the output is the target here
    blank = per_image(np.full_like(photo, 255), TestSet("hand_like", s["sketch"][None], photo,
                                                        ["a"], lines=clean), 128)[0]
    assert blank["line_f1"] < 0.05 and blank["target_edge_f1"] == hand["target_edge_f1"]
    no_lines = per_image(photo, TestSet("hand", s["sketch"][None], None, ["a"]), 128)[0]
    assert "line_f1" not in no_lines and "target_edge_f1" not in no_lines


def dfd_contract(size):
    """DeepFaceDrawing's inference contract with no model: what ``prepare``
    does to a sketch (normalisation) needs none."""
    from models.deepfacedrawing.inference import DFDInference
    from options.test_options import TestOptions
    return DFDInference(None, TestOptions().parse(["--preset", "tiny", "--image_size",
                                                   str(size)]))


def test_synthetic_sets_carry_the_clean_lines_through_normalisation():
    from evaluation.sets import prepare_sets, synthetic_sets
    sets = synthetic_sets(2, 7, 128, rough=True, hand_like=True)
    assert [ts.name for ts in sets] == ["clean", "rough", "hand_like"]
    for ts in sets:
        assert np.array_equal(ts.lines, sets[0].sketches)
    small = sets[2].sketches[:1].copy()               # a face drawn at half size, off-centre
    small[:] = 255
    small[0, :64, :64] = sets[0].sketches[0, ::2, ::2]
    from evaluation.sets import TestSet
    moved = TestSet("hand", small, None, ["x"], lines=sets[0].sketches[:1])
    out, changed = prepare_sets(sets + [moved], dfd_contract(128), report=lambda line: None)
    assert changed["hand"] == 1                       # the small face was fitted ...
    assert np.array_equal(out[3].lines, out[0].sketches[:1])   # ... its lines stay the clean set's
    for ts in out[:3]:
        assert np.array_equal(ts.lines, out[0].sketches)


@pytest.mark.slow
def test_evaluate_is_deterministic_and_complete(tiny_params, tmp_path):
    args = ["--params", tiny_params, "--n_test", "3", "--rough", "--feature_net", "random",
            "--hand", os.path.join(ROOT, "test_input")]
    for run in ("a", "b"):
        assert run_script("scripts/evaluate.py", args + ["--results_dir", str(tmp_path / run)]) == 0
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert a["sets"] == b["sets"]                                   # same seed, same numbers
    assert set(a["sets"]) == {"clean", "rough", "hand"}
    clean = a["sets"]["clean"]
    for key in ("l1", "psnr", "ssim", "vgg", "fid", "kid", "chamfer", "edge_f1",
                "eye1/ssim", "nose/chamfer", "mouth/psnr"):
        assert np.isfinite(clean[key]), key
    assert "psnr" not in a["sets"]["hand"] and np.isfinite(a["sets"]["hand"]["fid"])
    assert a["gap"]["chamfer"] == pytest.approx(a["sets"]["rough"]["chamfer"] - clean["chamfer"])
    assert 0 < a["sets"]["rough"]["to_clean"] < 1 and "to_clean" not in clean
    assert clean["line_f1"] == clean["edge_f1"] and 0 <= a["sets"]["rough"]["line_f1"] <= 1
    assert 0 < clean["target_edge_f1"] <= 1 and "line_f1" not in a["sets"]["hand"]
    assert (tmp_path / "a" / "rough" / "face0000.png").is_file()
    assert (tmp_path / "a" / "target" / "face0002.png").is_file()
    assert (tmp_path / "a" / "index.html").is_file()
    md = (tmp_path / "a" / "metrics.md").read_text()
    assert "| rough - clean |" in md and "| clean | eye1 |" in md
    # sketches normalised as demo.py does: the procedural ones and test_input/ need nothing
    assert a["options"]["sketch_norm"] is True
    assert a["normalised"] == {"clean": 0, "rough": 0, "hand": 0}
    assert "Sketches normalised (data/sketch_norm.py" in md and "hand 0 of " in md


def test_evaluate_reports_a_missing_folder(tmp_path, capsys):
    assert run_script("scripts/evaluate.py", ["--params", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("evaluate: ")           # how it runs, at once
    assert len(err) == 2 and err[1].startswith("error: ") and str(tmp_path / "none") in err[1]


@pytest.mark.slow
def test_run_ablations_fills_every_row(tmp_path):
    ck, out = tmp_path / "ck", tmp_path / "out"
    args = ["--checkpoints_dir", str(ck), "--out", str(out), "--n_train", "8",
            "--ae_steps", "1", "--combine_steps", "1", "--ae_batch", "4", "--combine_batch", "2",
            "--n_test", "2", "--grid_rows", "2", "--vgg", "random", "--feature_net", "random",
            "--sweep", "0,1"]
    assert run_script("scripts/run_ablations.py", args) == 0
    from configs import ablation_names
    lines = (out / "ablations.md").read_text().splitlines()
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| method")]
    assert [row.split(" | ")[0][2:] for row in table] == ablation_names()
    for row in table:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(cells), row                                    # every cell filled
    rows = list(csv.reader(open(out / "ablations.csv")))
    assert len(rows) == 1 + len(ablation_names())
    assert rows[0].index("rough:chamfer") > 0 and all(r[rows[0].index("rough:ssim")] for r in rows[1:])
    grid = Image.open(out / "grid.png")
    assert grid.size == (128 * (2 + len(ablation_names())), 18 + 128 * 4)
    assert (out / "refine_sweep.png").is_file()
    assert len((out / "refine_sweep.csv").read_text().splitlines()) == 3
    # what each pipeline wrote
    assert sorted(f for f in os.listdir(ck / "whole_face" / "AE_whole")
                  if f.startswith("latest_")) == ["latest_net_decoder__image.pkl",
                                                  "latest_net_encoder_.pkl"]
    assert not (ck / "pix2pixhd" / "AE_whole").exists()
    assert json.loads((ck / "pix2pixhd" / "config.json").read_text())["pipeline"] == "direct"
    status = json.loads((ck / "status.json").read_text())
    assert set(status) == {"full/ae", "full/banks", "full/combine", "whole_face/ae",
                           "whole_face/banks", "whole_face/combine", "pix2pixhd/combine",
                           "no_perceptual/combine", "no_smoothness/combine"}
    # a second run, from a moved folder, trains nothing (--skip_train stops on anything missing)
    import shutil
    shutil.move(str(ck), str(tmp_path / "moved"))
    again = ["--methods", "no_projection", "--sweep", "", "--skip_train",
             "--checkpoints_dir", str(tmp_path / "moved")]
    assert run_script("scripts/run_ablations.py", args[2:-2] + again) == 0
    # the sketch embedding as a row beside the ablations, on the same test faces
    sp = str(tmp_path / "sp")
    assert run_script("scripts/make_random_params.py", [
        "--method", "sp_embedding", "--preset", "tiny", "--output_size", "32", "--style_dim",
        "64", "--encoder_width", "0.125", "--encoder_size", "32", "--channel_max", "64",
        "--n_mlp", "2", "--break_layer", "4", "--out", sp]) == 0
    both = args[2:-2] + again + ["--sp_params", sp, "--out", str(tmp_path / "out2")]
    assert run_script("scripts/run_ablations.py", both) == 0
    rows = [line.split(" | ")[0][2:] for line in (tmp_path / "out2" / "ablations.md")
            .read_text().splitlines() if line.startswith("| ") and "method" not in line]
    assert rows == ["no_projection", "sp_embedding"]


def test_evaluate_on_a_paired_folder_skips_a_bad_file(tiny_params, tmp_path, capsys):
    from data.synthetic import make_sample
    for d in ("sketch", "photo"):
        (tmp_path / "data" / d).mkdir(parents=True)
    for i in range(3):
        s = make_sample(9, i, 128)
        Image.fromarray(s["sketch"]).save(tmp_path / "data" / "sketch" / f"p{i}.png")
        Image.fromarray(s["photo"]).save(tmp_path / "data" / "photo" / f"p{i}.png")
    (tmp_path / "data" / "photo" / "p1.png").write_bytes(b"not a png")
    out = tmp_path / "ev"
    assert run_script("scripts/evaluate.py", [
        "--params", tiny_params, "--test_set", "paired", "--dataroot", str(tmp_path / "data"),
        "--rough", "--feature_net", "none", "--results_dir", str(out)]) == 0
    res = json.loads((out / "metrics.json").read_text())
    assert res["sets"]["clean"]["n"] == 2 and res["sets"]["rough"]["n"] == 2
    assert "p1.png" in capsys.readouterr().out
    assert (out / "clean" / "p2.png").is_file() and "fid" not in res["sets"]["clean"]


def test_evaluate_scores_the_sketch_embedding_with_semantics_and_looks(tmp_path):
    """Either method through the same evaluation: the sketch embedding at
    another size than the test faces, the held-out hand-like set, the
    semantics metric (a face parser saved in the folder) and the appearance
    block (reference photos, random looks)."""
    from models.base_model import save_network
    from models.sp_embedding.parser import define_parser, parser_path
    micro = ["--method", "sp_embedding", "--preset", "tiny", "--output_size", "32",
             "--style_dim", "64", "--encoder_width", "0.125", "--encoder_size", "32",
             "--channel_max", "64", "--n_mlp", "2", "--break_layer", "4"]
    folder = str(tmp_path / "sp")
    assert run_script("scripts/make_random_params.py", micro + ["--out", folder]) == 0
    save_network(define_parser(), parser_path(folder))
    out = tmp_path / "eval"
    assert run_script("scripts/evaluate.py", [
        "--params", folder, "--n_test", "3", "--hand_like", "--looks", "2", "--eval_size", "64",
        "--feature_net", "random", "--parser", folder, "--results_dir", str(out)]) == 0
    res = json.loads((out / "metrics.json").read_text())
    assert res["method"] == "sp_embedding" and set(res["sets"]) == {"clean", "hand_like"}
    assert res["options"]["sketch_norm"] is False and "normalised" not in res   # DFD's alone
    assert res["options"]["image_size"] == 64 and res["options"]["model_size"] == 32
    for name in ("clean", "hand_like"):
        s = res["sets"][name]
        assert 0 <= s["semantic_miou"] <= 1 and 0 <= s["hair_iou"] <= 1 and s["diversity"] > 0 and np.isfinite(s["edge_f1"])
        assert set(s["attributes"]) == {"glasses", "open_mouth", "bald", "long_hair", "hat"}
    # the parser's own reading of the true photos: the attributes' ceiling, with the counts
    assert res["attributes_photos"]["bald"]["n"] == res["sets"]["clean"]["attributes"]["bald"]["n"]
    assert set(res["sets"]["clean"]["attributes_looks"]) == set(res["attributes_photos"])
    md = (out / "metrics.md").read_text()
    assert "Drawn attributes carried over" in md
    assert "| attribute | faces with it | clean | clean, a look each | hand_like | true photos |" in md
    assert "bald: hair under 3 % and no hat" in md
    app = res["appearance"]
    assert set(app["to_reference"]) == {"hair", "skin", "background"}
    assert app["look_diversity"] > 0
    assert (out / "looks" / "look1" / "face0002.png").is_file()
    assert "Appearance control" in (out / "metrics.md").read_text()
    # every clean face also in a random look of its own, scored as a distribution
    clean = res["sets"]["clean"]
    assert np.isfinite(clean["kid_looks"]) and clean["fid_looks"] >= 0 and "kid_looks" not in res["sets"]["hand_like"]
    own = [np.asarray(Image.open(out / "looks" / "own_look" / f"face000{i}.png")) for i in range(3)]
    look0 = [np.asarray(Image.open(out / "looks" / "look0" / f"face000{i}.png")) for i in range(3)]
    look1 = [np.asarray(Image.open(out / "looks" / "look1" / f"face000{i}.png")) for i in range(3)]
    assert np.array_equal(own[0], look0[0])          # face i: the look of (seed 0, key i)
    assert np.array_equal(own[1], look1[1])
    assert not np.array_equal(own[1], look0[1]) and not np.array_equal(own[2], look0[2])
    assert "kid_looks" in (out / "metrics.md").read_text()
    # and KID* of every face in one random look, for each of the two looks
    assert len(clean["kid_each_look_all"]) == 2 and all(np.isfinite(clean["kid_each_look_all"]))
    assert clean["kid_each_look"] == pytest.approx(np.mean(clean["kid_each_look_all"]))
    assert clean["kid_each_look_all"][0] == pytest.approx(clean["kid"])     # look 0 is seed 0's
    assert "kid_each_look: the mean KID*" in (out / "metrics.md").read_text()
    # without features: the looks are still made and saved, with no distribution of them
    bare = tmp_path / "bare"
    assert run_script("scripts/evaluate.py", [
        "--params", folder, "--n_test", "2", "--looks", "1", "--eval_size", "64",
        "--feature_net", "none", "--parser", folder, "--results_dir", str(bare)]) == 0
    res = json.loads((bare / "metrics.json").read_text())
    assert "kid_looks" not in res["sets"]["clean"] and "to_reference" in res["appearance"]
    assert (bare / "looks" / "look0" / "face0001.png").is_file()
    assert not (bare / "looks" / "own_look").exists()


def test_hair_iou_counts_hair_given_to_a_bald_head():
    from evaluation.scores import HAIR_CLASS, iou_or_one, parse_faces, semantic_iou
    from models.base_model import jt
    assert iou_or_one(np.zeros((4, 4), bool), np.zeros((4, 4), bool)) == 1.0
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3] = True
    assert iou_or_one(a, b) == pytest.approx(4 / 12)

    def parser_saying(label_map):        # logits whose argmax is ``label_map``
        def parser(x):
            logits = np.zeros((x.shape[0], 19) + label_map.shape, np.float32)
            for c in range(19):
                logits[:, c][:, label_map == c] = 1.0
            return jt.array(logits)
        return parser

    size = 8
    hair = np.ones((size, size), np.uint8)          # skin ...
    hair[:3] = HAIR_CLASS                           # ... with hair on top
    bald = np.ones((size, size), np.uint8)
    images = np.zeros((2, size, size, 3), np.uint8)
    parsing = np.stack([hair, bald])
    def read(label_map, ims, maps):
        return semantic_iou(*parse_faces(parser_saying(label_map), ims, maps, size))
    miou, hair_iou = read(hair, images, parsing)
    assert hair_iou == pytest.approx(0.5)           # right on the first face, hair on the bald one
    assert miou == pytest.approx((1.0 + 5 / 8) / 2)
    assert read(bald, images, parsing)[1] == pytest.approx(0.5)
    assert read(bald, images[1:], parsing[1:]) == (1.0, 1.0)


def test_likeness_counts_the_own_photo_among_the_nearest():
    from evaluation.scores import identity_descriptors, likeness
    rng = np.random.default_rng(0)
    photos = rng.standard_normal((10, 6))
    assert likeness(photos, photos) == {"likeness_top1": 1.0, "likeness_top5": 1.0}
    shuffled = photos[np.roll(np.arange(10), 1)]            # every face looks like another one
    assert likeness(shuffled, photos)["likeness_top1"] == 0.0
    near = photos + 0.01 * rng.standard_normal(photos.shape)
    assert likeness(near, photos)["likeness_top1"] == 1.0
    # descriptors: per layer normalised, pooled to a grid, each layer weighing the same
    taps = [[rng.random((3, 8, 16, 16)).astype(np.float32), rng.random((3, 16, 4, 4))]]
    d = identity_descriptors(taps, grid=4)
    assert d.shape == (3, 8 * 16 + 16 * 16)
    np.testing.assert_allclose((d[:, :128] ** 2).sum(1), (d[:, 128:] ** 2).sum(1), rtol=0.3)


@pytest.mark.parametrize("method", ["deepfacedrawing", "sp_embedding"])
def test_evaluate_on_the_real_test_split_of_a_celebamask_folder(tiny_params, tmp_path, method):
    """--test_set celeba: the faces of --test_ids aligned, drawn cleanly, roughly and in the
    held-out style from their strokes, with their parsing maps; likeness scored."""
    from tests.test_celeba import make_standin
    root = str(tmp_path / "celeba")
    make_standin(root, n=6, size=128)
    params = tiny_params
    extra = []
    if method == "sp_embedding":
        params = str(tmp_path / "sp")
        assert run_script("scripts/make_random_params.py", [
            "--method", "sp_embedding", "--preset", "tiny", "--output_size", "32",
            "--style_dim", "64", "--encoder_width", "0.125", "--encoder_size", "32",
            "--channel_max", "64", "--n_mlp", "2", "--break_layer", "4", "--out", params]) == 0
        extra = ["--eval_size", "64"]
    out = tmp_path / "eval"
    assert run_script("scripts/evaluate.py", [
        "--params", params, "--test_set", "celeba", "--dataroot", root, "--test_ids", "2-5",
        "--n_test", "0", "--rough", "--hand_like", "--looks", "0", "--feature_net", "random",
        "--no_images", "--results_dir", str(out)] + extra) == 0
    res = json.loads((out / "metrics.json").read_text())
    assert set(res["sets"]) == {"clean", "rough", "hand_like"}
    for s in res["sets"].values():
        assert s["n"] == 4
        assert 0 <= s["likeness_top1"] <= s["likeness_top5"] <= 1
        assert np.isfinite(s["line_f1"]) and np.isfinite(s["kid"])
    assert "likeness_top5" in (out / "metrics.md").read_text()
