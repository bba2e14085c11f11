"""demo.py end to end on a random checkpoint folder in the authors' layout."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.conftest import face_sketch, run_script


def demo(argv):
    return run_script("demo.py", argv)


@pytest.fixture()
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    face_sketch(128).save(folder / "gray.png")
    face_sketch(512).save(folder / "canonical.png")             # 512: resized quietly
    face_sketch(200).save(folder / "small.png")
    face_sketch(128, "RGB").save(folder / "rgb.jpg", quality=95)
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))          # transparent = white
    ImageDraw.Draw(rgba).line([10, 10, 290, 190], fill=(0, 0, 0, 255), width=3)
    rgba.save(folder / "odd_size_rgba.png")
    Image.new("L", (128, 128), 255).save(folder / "empty.png")
    (folder / "notes.png").write_text("this is not an image")
    return folder


def test_batch_converts_and_skips_bad_files(tiny_params, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    rc = demo(["--params", tiny_params, "--input", str(inputs), "--output", str(out), "--shadow"])
    captured = capsys.readouterr()
    assert rc == 1                                     # one file skipped
    assert "notes.png: not an image" in captured.err
    assert "odd_size_rgba.png: 300x200 is not square" in captured.err
    assert "empty.png: the sketch is empty" in captured.err
    assert "small.png: 200x200 resized to 128x128" in captured.err
    assert "canonical.png" not in captured.err
    assert "converted 6, skipped 1" in captured.out
    names = sorted(os.listdir(out))
    assert names == sorted(f"{n}{s}.png" for n in ("canonical", "empty", "gray", "odd_size_rgba",
                                                    "rgb", "small")
                           for s in ("", "_shadow"))
    face = np.asarray(Image.open(out / "gray.png"))
    assert face.shape == (128, 128, 3) and face.dtype == np.uint8
    assert np.asarray(Image.open(out / "gray_shadow.png")).shape == (128, 128)


def test_results_are_deterministic_and_batching_does_not_change_them(tiny_params, inputs, tmp_path):
    (inputs / "notes.png").unlink()
    a, b = tmp_path / "a", tmp_path / "b"
    assert demo(["--params", tiny_params, "--input", str(inputs), "--output", str(a)]) == 0
    assert demo(["--params", tiny_params, "--input", str(inputs), "--output", str(b),
                 "--batch_size", "3"]) == 0
    for name in os.listdir(a):
        x = np.asarray(Image.open(a / name), dtype=np.int16)
        y = np.asarray(Image.open(b / name), dtype=np.int16)
        assert np.abs(x - y).max() <= 1, name


def test_refinement_changes_the_result(tiny_params, tmp_path):
    src = tmp_path / "s.png"
    face_sketch(128).save(src)
    outs = {}
    for refine in ("0", "1", "eye1=0.0,all=1"):
        out = tmp_path / f"r{refine}"
        assert demo(["--params", tiny_params, "--input", str(src), "--output", str(out),
                     "--refine", refine, "--k", "5"]) == 0
        outs[refine] = np.asarray(Image.open(out / "s.png"), dtype=np.int16)
    assert np.abs(outs["0"] - outs["1"]).max() > 0
    assert np.abs(outs["1"] - outs["eye1=0.0,all=1"]).max() > 0


@pytest.mark.slow
def test_authors_layout_without_config_and_single_npy_bank(tmp_path, capsys):
    params = str(tmp_path / "Params")
    assert run_script("scripts/make_random_params.py",
                      ["--preset", "tiny", "--out", params, "--no_config", "--single_bank",
                       "--bank_format", "npy", "--bank_size", "20"]) == 0
    assert not os.path.exists(os.path.join(params, "config.json"))
    src = tmp_path / "s.png"
    face_sketch(128).save(src)
    out = tmp_path / "o"
    # without config.json the official preset is assumed, so the tiny weights do not fit
    assert demo(["--params", params, "--input", str(src), "--output", str(out)]) == 2
    assert "is --preset right" in capsys.readouterr().err
    assert demo(["--params", params, "--preset", "tiny", "--input", str(src), "--output", str(out),
                 "--gender", "male"]) == 0
    assert "using the single bank" in capsys.readouterr().out
    assert os.path.isfile(out / "s.png")


def test_missing_and_damaged_checkpoints_exit_2(tiny_params, tmp_path, capsys):
    src = tmp_path / "s.png"
    face_sketch(128).save(src)
    assert demo(["--params", str(tmp_path / "nothing"), "--input", str(src),
                 "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "train" in err and "Params" in err

    broken = tmp_path / "broken"
    shutil.copytree(tiny_params, broken)
    g = broken / "Combine" / "latest_net_G.pkl"
    g.write_bytes(g.read_bytes()[:1000])
    assert demo(["--params", str(broken), "--input", str(src), "--output", str(tmp_path / "o")]) == 2
    assert "latest_net_G.pkl" in capsys.readouterr().err

    os.remove(broken / "AE_whole" / "man_nose_feature.bin")
    os.remove(broken / "AE_whole" / "female_nose_feature.bin")
    shutil.copy(os.path.join(tiny_params, "Combine", "latest_net_G.pkl"), g)
    assert demo(["--params", str(broken), "--input", str(src), "--output", str(tmp_path / "o")]) == 2
    assert "no feature bank for part 'nose'" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--refine", "eye3=0.5"], ["--refine", "1.5"], ["--k", "0"],
                                  ["--gender", "robot"], ["--preset", "nonexistent"]])
def test_bad_arguments_exit_2(tiny_params, args, capsys):
    assert demo(["--params", tiny_params] + args) == 2
    assert "error:" in capsys.readouterr().err


def test_missing_input_exits_2(tiny_params, tmp_path, capsys):
    assert demo(["--params", tiny_params, "--input", str(tmp_path / "none.png")]) == 2
    assert "none.png: no such file" in capsys.readouterr().err


def test_bundled_default_model_converts_the_sample_sketches(tmp_path, capsys):
    """The README's first command: demo.py with its defaults (params/default)."""
    from tests.conftest import ROOT
    samples = sorted(os.listdir(os.path.join(ROOT, "test_input")))
    assert len([s for s in samples if s.endswith("_rough.png")]) >= 3
    picked = [os.path.join(ROOT, "test_input", s) for s in samples[:2]]
    assert demo(["--input", *picked, "--output", str(tmp_path), "--shadow"]) == 0
    assert "converted 2, skipped 0" in capsys.readouterr().out
    face = np.asarray(Image.open(tmp_path / samples[0]).convert("RGB"), dtype=np.float64)
    assert face.shape == (128, 128, 3)
    # a trained face, not noise: the centre (skin) is smoother than random output
    centre = face[40:90, 40:90]
    assert np.abs(np.diff(centre, axis=1)).mean() < 25


def test_bundled_sketch_embedding_converts_with_a_photo_and_random_looks(tmp_path, capsys):
    """`demo.py --method sp_embedding` with no --params: the bundled
    params/sp_embedding, with a reference photo and with two random looks."""
    from tests.conftest import ROOT
    picked = [os.path.join(ROOT, "test_input", s) for s in ("face0.png", "face1_rough.png")]
    photo = tmp_path / "photo.png"
    from data.synthetic import make_sample
    Image.fromarray(make_sample(3, 10 ** 6, 128)["photo"]).save(photo)
    out_ref, out_random = tmp_path / "ref", tmp_path / "random"
    assert demo(["--method", "sp_embedding", "--input", *picked, "--output", str(out_ref),
                 "--appearance", str(photo)]) == 0
    assert "converted 2, skipped 0" in capsys.readouterr().out
    assert demo(["--method", "sp_embedding", "--input", *picked, "--output", str(out_random),
                 "--appearance_seed", "4", "--n_outputs", "2"]) == 0
    assert "converted 2, skipped 0" in capsys.readouterr().out
    with_ref = np.asarray(Image.open(out_ref / "face0.png").convert("RGB"), dtype=np.float64)
    looks = [np.asarray(Image.open(out_random / f"face0_{k}.png").convert("RGB"),
                        dtype=np.float64) for k in (0, 1)]
    assert with_ref.shape == looks[0].shape == (64, 64, 3)
    assert np.abs(looks[0] - looks[1]).mean() > 1          # two looks, two faces
    assert np.abs(with_ref - looks[0]).mean() > 1
    assert 40 < with_ref.mean() < 230                     # a face, not a blank
