"""Bad input, crafted files and failing disks: each case a tester found,
with its behaviour now (one line naming the file, no lost work, no code run
from a file)."""

import errno
import os
import pickle
import time

import numpy as np
import pytest
from PIL import Image

from tests.conftest import face_sketch, run_script


def demo(argv):
    return run_script("demo.py", argv)


def one_sketch(folder, name="s.png", size=128):
    folder.mkdir(exist_ok=True)
    face_sketch(size).save(folder / name)
    return folder / name


# ---------------------------------------------------------------- training state
class Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


TINY_AE = ["--stage", "ae", "--preset", "tiny", "--dataset_mode", "synthetic",
           "--n_samples", "8", "--batch_size", "4", "--max_iters", "1"]


def test_a_crafted_training_state_runs_no_code(tmp_path, capsys):
    state = tmp_path / "x" / "train_state" / "ae.pkl"
    state.parent.mkdir(parents=True)
    marker = tmp_path / "owned"
    state.write_bytes(pickle.dumps({"stage": "ae", "nets": Payload(marker)}, protocol=4))
    rc = run_script("train.py", TINY_AE + ["--checkpoints_dir", str(tmp_path), "--name", "x",
                                           "--continue_train"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and not marker.exists()
    assert err[-1].startswith("error: ") and "ae.pkl" in err[-1] and "refusing" in err[-1]


def test_a_truncated_training_state_is_one_line_exit_2(tmp_path, capsys):
    args = TINY_AE + ["--checkpoints_dir", str(tmp_path), "--name", "t"]
    assert run_script("train.py", args) == 0
    state = tmp_path / "t" / "train_state" / "ae.pkl"
    state.write_bytes(state.read_bytes()[:5000])
    assert run_script("train.py", args + ["--max_iters", "2", "--continue_train"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "ae.pkl" in err[-1] and "truncated" in err[-1]


def test_interrupted_saves_leave_no_temporaries_behind(tmp_path, capsys):
    folder = tmp_path / "c" / "AE_whole"
    folder.mkdir(parents=True)
    stale = folder / ".tmp-abc123latest_net_encoder_.pkl"
    stale.write_bytes(b"x" * 4096)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    assert run_script("train.py", TINY_AE + ["--checkpoints_dir", str(tmp_path),
                                             "--name", "c"]) == 0
    assert not stale.exists()
    assert not [n for n in os.listdir(folder) if n.startswith(".tmp-")]
    # a run shorter than an epoch still leaves its result page, and says its plan
    assert (tmp_path / "c" / "web" / "ae" / "index.html").is_file()
    assert "stage ae: 1 steps to go" in capsys.readouterr().out


# ---------------------------------------------------------------- checkpoints
def test_files_written_by_jittor_itself_load(tmp_path):
    from models.base_model import jt, load_network
    from models.checkpoint import read_params, read_state
    from jittor import nn
    net = nn.Linear(3, 2)
    net.save(str(tmp_path / "module.pkl"))
    other = nn.Linear(3, 2)
    load_network(other, str(tmp_path / "module.pkl"))
    np.testing.assert_array_equal(other.weight.numpy(), net.weight.numpy())
    jt.save({"w": jt.ones((2, 2)), "nested": {"b": jt.array([1.0, 2.0])}},
            str(tmp_path / "jt.pkl"))
    back = read_state(str(tmp_path / "jt.pkl"))
    np.testing.assert_array_equal(back["nested"]["b"], [1.0, 2.0])
    (tmp_path / "p5.pkl").write_bytes(pickle.dumps({"w": np.arange(6, dtype="<f4")}, protocol=5))
    np.testing.assert_array_equal(read_params(str(tmp_path / "p5.pkl"))["w"], np.arange(6))


def test_object_arrays_and_foreign_classes_are_refused_naming_the_file(tmp_path):
    from models.checkpoint import CheckpointError, read_params
    (tmp_path / "obj.pkl").write_bytes(pickle.dumps({"w": np.array([1, "a"], dtype=object)}))
    with pytest.raises(CheckpointError, match="obj.pkl: parameter 'w' is not numeric"):
        read_params(str(tmp_path / "obj.pkl"))
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"w": Payload(tmp_path / "m")}))
    with pytest.raises(CheckpointError, match="evil.pkl: refusing to load posix.system"):
        read_params(str(tmp_path / "evil.pkl"))


# ---------------------------------------------------------------- demo.py
def test_output_that_would_overwrite_inputs_is_refused_before_loading(tmp_path, capsys):
    src = one_sketch(tmp_path / "in", "a.png")
    before = src.read_bytes()
    rc = demo(["--params", str(tmp_path / "no_such_model"), "--input", str(tmp_path / "in"),
               "--output", str(tmp_path / "in")])
    err = capsys.readouterr().err
    assert rc == 2 and "would overwrite the input" in err and "no_such_model" not in err
    assert src.read_bytes() == before


@pytest.mark.parametrize("kind", ["file", "proc"])
def test_unusable_output_is_one_line_before_loading(tmp_path, kind, capsys):
    one_sketch(tmp_path / "in")
    out = tmp_path / "out.txt" if kind == "file" else "/proc/deepfacedrawing-test"
    if kind == "file":
        out.write_text("not a folder")
    rc = demo(["--params", str(tmp_path / "no_such_model"), "--input", str(tmp_path / "in"),
               "--output", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(out) in err[0]


def test_a_write_failure_mid_batch_is_one_line(tiny_params, tmp_path, monkeypatch, capsys):
    for name in ("a.png", "b.png", "c.png"):
        one_sketch(tmp_path / "in", name)
    import util.png
    real, calls = util.png.save_png, []

    def full_disk(path, arr):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        real(path, arr)
    monkeypatch.setattr(util.png, "save_png", full_disk)
    rc = demo(["--params", tiny_params, "--input", str(tmp_path / "in"),
               "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1] == (f"error: cannot write {calls[1]} (No space left on device); "
                       f"stopped after 1 of 3")


def test_huge_images_are_skipped_and_the_batch_goes_on(tiny_params, tmp_path, capsys):
    one_sketch(tmp_path / "in", "good.png")
    Image.new("1", (20000, 20000), 1).save(tmp_path / "in" / "bomb.png", optimize=True)
    assert os.path.getsize(tmp_path / "in" / "bomb.png") < 1_000_000
    rc = demo(["--params", tiny_params, "--input", str(tmp_path / "in"),
               "--output", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert rc == 1 and "converted 1, skipped 1" in captured.out
    assert "bomb.png: 20000x20000 is too large" in captured.err
    assert "--max_pixels" in captured.err
    rc = demo(["--params", tiny_params, "--input", str(tmp_path / "in" / "good.png"),
               "--output", str(tmp_path / "out2"), "--max_pixels", "1000"])
    assert rc == 1 and "good.png: 128x128 is too large" in capsys.readouterr().err


def test_k_above_the_banks_is_clamped_with_a_note(tiny_params, tmp_path, capsys):
    one_sketch(tmp_path / "in")
    assert demo(["--params", tiny_params, "--input", str(tmp_path / "in"),
                 "--output", str(tmp_path / "out"), "--k", "1000"]) == 0
    assert "--k 1000 is more than the feature banks hold (80 sketches): using K=80" \
        in capsys.readouterr().err


# ---------------------------------------------------------------- image loading
def _asymmetric(size=128):
    img = Image.new("L", (size, size), 255)
    img.paste(0, (10, 10, 40, 20))                     # a bar at the top left
    return img


def test_exif_orientation_is_applied_to_sketches_and_photos(tmp_path):
    from data.sketch_io import load_photo, load_sketch
    upright = _asymmetric()
    stored = upright.transpose(Image.ROTATE_90)         # how a phone stores it
    exif = Image.Exif()
    exif[0x0112] = 6                                   # "rotate 90 CW to view"
    stored.convert("RGB").save(tmp_path / "phone.jpg", exif=exif, quality=95)
    sketch, _ = load_sketch(str(tmp_path / "phone.jpg"), 128)
    assert sketch[10:20, 10:40].mean() < 60 and sketch[10:40, 108:118].mean() > 200
    photo = load_photo(str(tmp_path / "phone.jpg"))
    assert photo[10:20, 10:40].mean() < 60


def test_16_bit_pngs_are_scaled_not_clipped(tmp_path):
    from data.sketch_io import load_sketch
    eight = np.asarray(face_sketch(128), np.uint16)
    Image.fromarray(eight * 257).save(tmp_path / "deep.png")     # 0..65535
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    sketch, _ = load_sketch(str(tmp_path / "deep.png"), 128)
    np.testing.assert_array_equal(sketch, eight.astype(np.uint8))


def test_inverted_sketches_are_detected_and_inverted(tmp_path):
    from data.sketch_io import load_sketch
    normal = np.asarray(face_sketch(128))
    Image.fromarray(255 - normal).save(tmp_path / "chalk.png")
    sketch, notes = load_sketch(str(tmp_path / "chalk.png"), 128)
    np.testing.assert_array_equal(sketch, normal)
    assert any("inverted" in n for n in notes)
