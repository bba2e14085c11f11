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
    from models.files import read_params, read_state
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
    from models.files import CheckpointError, read_params
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


# ================================================================ second round (issue 24)
SP_MICRO = ["--output_size", "32", "--style_dim", "64", "--encoder_width", "0.125",
            "--encoder_size", "32", "--channel_max", "64", "--n_mlp", "2", "--break_layer", "4"]
SP_BUNDLED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "params", "sp_embedding")


def one_line_error(capsys):
    """The error line of stderr, after checking that it is the last line and
    the only one about an error (no traceback)."""
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if "error" in line.lower() or "Traceback" in line]
    assert len(errors) == 1 and errors[0] == lines[-1] and errors[0].startswith("error: "), lines
    return errors[0]


@pytest.fixture(scope="module")
def micro_pt(tmp_path_factory):
    """A micro sketch-embedding model.pt in the authors' format."""
    path = str(tmp_path_factory.mktemp("micro") / "model.pt")
    assert run_script("scripts/make_random_params.py",
                      ["--method", "sp_embedding", "--preset", "tiny", "--out", path,
                       *SP_MICRO]) == 0
    return path


# ---------------------------------------------------------------- 1. strides of crafted .pt
def test_a_pt_with_a_negative_stride_is_one_line_not_a_crash(micro_pt, tmp_path, capsys):
    """A stride of minus one row on a tensor the model reads: it read before
    its buffer (a segfault, or values from outside the storage, exit 0)."""
    from tests.torch_corpus import bent_copy
    bent = str(tmp_path / "bent.pt")
    bent_copy(micro_pt, bent, "decoder.style.1.weight")
    one_sketch(tmp_path / "in")
    rc = demo(["--method", "sp_embedding", "--params", bent, "--input", str(tmp_path / "in"),
               "--output", str(tmp_path / "out")])
    line = one_line_error(capsys)
    assert rc == 2 and bent in line and "strides entry" in line
    assert not (tmp_path / "out" / "s.png").exists()


def test_evaluate_refuses_a_crafted_inception_file_in_one_line(tmp_path, capsys):
    """evaluate.py --inception_path with a negative stride printed "double
    free" and died."""
    from tests.torch_corpus import _negative_stride
    path = str(tmp_path / "inception.pth")
    _negative_stride(path)
    rc = run_script("scripts/evaluate.py", ["--params", SP_BUNDLED, "--inception_path", path,
                                            "--n_test", "2", "--no_images",
                                            "--results_dir", str(tmp_path / "r")])
    line = one_line_error(capsys)
    assert rc == 2 and path in line and "strides entry -1000000" in line


# ---------------------------------------------------------------- 2. memory bombs, .pkl side
def test_crafted_jittor_pickles_are_refused_before_they_expand(tmp_path):
    """Ten bytes asking for memo slot 2**27 made the unpickler allocate
    2 GB; a 1 KB pickle of shared lists expands to 2**40 items."""
    import struct

    from models.files import CheckpointError, read_params, read_state
    memo = tmp_path / "memo.pkl"
    memo.write_bytes(b"\x80\x04Nr" + struct.pack("<I", 0x08000000) + b".")
    node = [0]
    for _ in range(40):
        node = [node, node]
    dag = tmp_path / "dag.pkl"
    dag.write_bytes(pickle.dumps({"w": node}, protocol=4))
    deep = tmp_path / "deep.pkl"
    deep.write_bytes(b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b".")
    for path, reader, message in ((memo, read_params, "memo slot 134,217,728"),
                                  (dag, read_params, "more than 1,000,000 objects"),
                                  (dag, read_state, "more than 1,000,000 objects"),
                                  (deep, read_state, "nested more than 64 deep")):
        start = time.time()
        with pytest.raises(CheckpointError, match=message) as exc:
            reader(str(path))
        assert str(exc.value).startswith(str(path)) and time.time() - start < 10


# ---------------------------------------------------------------- 3. outputs over inputs
def test_outputs_never_replace_the_appearance_photos(tmp_path, capsys):
    photos = tmp_path / "photos"
    for name in ("a.png", "b.png"):
        one_sketch(photos, name)
        one_sketch(tmp_path / "in", name)
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    rc = demo(["--method", "sp_embedding", "--params", SP_BUNDLED, "--input",
               str(tmp_path / "in"), "--appearance", str(photos), "--output", str(photos)])
    line = one_line_error(capsys)
    assert rc == 2 and "would overwrite the input" in line and str(photos) in line
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before


def test_outputs_never_replace_deepfacedrawing_references_or_checkpoints(tmp_path, capsys,
                                                                         tmp_path_factory):
    from tests.app.test_server import make_look_params
    look = make_look_params(tmp_path_factory)
    one_sketch(tmp_path / "in", "ref.png")
    photo = one_sketch(tmp_path / "refs", "ref.png")
    before = photo.read_bytes()
    rc = demo(["--params", look, "--input", str(tmp_path / "in"), "--appearance", str(photo),
               "--output", str(tmp_path / "refs")])
    assert rc == 2 and "would overwrite the input" in one_line_error(capsys)
    assert photo.read_bytes() == before
    # a file inside the checkpoint folder (--output inside it)
    import shutil
    params = tmp_path / "params"
    shutil.copytree(look, params)
    (params / "Combine" / "x.png").write_bytes(b"keep")
    one_sketch(tmp_path / "in2", "x.png")
    rc = demo(["--params", str(params), "--input", str(tmp_path / "in2"),
               "--output", str(params / "Combine")])
    assert rc == 2 and "would overwrite the input" in one_line_error(capsys)
    assert (params / "Combine" / "x.png").read_bytes() == b"keep"


# ---------------------------------------------------------------- 5. training keeps good work
TINY_SAVE = TINY_AE[:-2] + ["--max_iters", "2", "--save_latest_freq", "1"]


def _latest(folder):
    return {name: (folder / "AE_whole" / name).read_bytes()
            for name in sorted(os.listdir(folder / "AE_whole")) if name.startswith("latest_")}


def test_a_state_with_nan_moments_is_refused_and_latest_kept(tmp_path, capsys):
    from models.files import read_state, write_state
    args = TINY_SAVE + ["--checkpoints_dir", str(tmp_path), "--name", "n"]
    assert run_script("train.py", args) == 0
    good = _latest(tmp_path / "n")
    state_file = tmp_path / "n" / "train_state" / "ae.pkl"
    state = read_state(str(state_file))
    state["optim"]["ae"]["v"][3] = np.full_like(state["optim"]["ae"]["v"][3], np.nan)
    write_state(str(state_file), state)
    capsys.readouterr()
    rc = run_script("train.py", args + ["--max_iters", "4", "--continue_train"])
    line = one_line_error(capsys)
    assert rc == 2 and "ae.pkl" in line and "moment v[3] is not finite" in line
    assert _latest(tmp_path / "n") == good


@pytest.mark.parametrize("what", ["loss", "weight"])
def test_a_run_that_turns_nan_stops_before_saving(tmp_path, capsys, monkeypatch, what):
    from training.deepfacedrawing.autoencoders import AETrainer
    real = AETrainer.step

    def step(self, batch):
        losses = real(self, batch)
        if self.global_step == 1:                   # the second step goes wrong
            if what == "loss":
                losses = dict(losses, rec_eye1=float("nan"))
            else:
                w = self.parts["eye1"].encoder.state_dict()
                name = next(iter(w))
                w[name].update(w[name] * float("nan"))
        return losses
    monkeypatch.setattr(AETrainer, "step", step)
    args = TINY_SAVE + ["--checkpoints_dir", str(tmp_path), "--name", "d"]
    rc = run_script("train.py", args)
    line = one_line_error(capsys)
    assert rc == 2 and "stopped without saving" in line and "last good checkpoint" in line
    assert ("loss rec_eye1 is nan at step 2" if what == "loss" else "weight encoder_eye1") in line
    from models.files import read_state
    assert read_state(str(tmp_path / "d" / "train_state" / "ae.pkl"))["steps"] == 1


@pytest.mark.slow
def test_a_trained_stage_is_not_started_again_by_accident(tmp_path, capsys):
    args = TINY_SAVE + ["--checkpoints_dir", str(tmp_path), "--name", "t"]
    assert run_script("train.py", args) == 0
    good = _latest(tmp_path / "t")
    capsys.readouterr()
    assert run_script("train.py", args + ["--seed", "5"]) == 2
    line = one_line_error(capsys)
    assert "stage ae was trained" in line and "--continue_train" in line and "--overwrite" in line
    assert _latest(tmp_path / "t") == good
    assert run_script("train.py", args + ["--seed", "5", "--overwrite"]) == 0
    assert _latest(tmp_path / "t") != good


# ---------------------------------------------------------------- 6. --n_outputs
def test_n_outputs_is_bounded(tmp_path, capsys):
    one_sketch(tmp_path / "in")
    start = time.time()
    rc = demo(["--method", "sp_embedding", "--params", SP_BUNDLED, "--input",
               str(tmp_path / "in"), "--output", str(tmp_path / "out"),
               "--n_outputs", "100000000"])
    assert rc == 2 and time.time() - start < 30
    assert "--n_outputs must be between 1 and 100" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- 7. label maps by value
def _semantic_16bit(path, classes):
    lab = np.zeros((128, 128), np.uint16)
    for k, c in enumerate(classes):
        lab[20 + 10 * k:24 + 10 * k, 20:100] = c
    Image.fromarray(lab).save(path)
    assert Image.open(path).mode.startswith("I")
    return lab


@pytest.mark.parametrize("kind", ["auto", "labels"])
def test_16_bit_semantic_sketches_keep_their_classes(tmp_path, kind):
    from types import SimpleNamespace

    from data.sketch_io import ImageError
    from models.sp_embedding import inputs
    opt = SimpleNamespace(sketch_kind=kind, label_nc=22, encoder_size=128)
    lab = _semantic_16bit(tmp_path / "s16.png", (5, 21, 1))
    labels, full, _ = inputs.read_sketch(str(tmp_path / "s16.png"), opt, labeler=None)
    np.testing.assert_array_equal(full, lab.astype(np.uint8))
    assert set(np.unique(labels)) == {0, 1, 5, 21}
    _semantic_16bit(tmp_path / "bad.png", (5, 300))
    opt.sketch_kind = "labels"
    with pytest.raises(ImageError, match=r"bad\.png: label value 300 above the model's 22"):
        inputs.read_sketch(str(tmp_path / "bad.png"), opt, labeler=None)


def test_a_float_label_map_with_nan_is_one_line_without_warnings(tiny_params, tmp_path, capsys):
    import warnings
    arr = np.zeros((128, 128), np.float32)
    arr[40:60, 30:90] = 3.0
    arr[0, 0] = np.nan
    (tmp_path / "in").mkdir()
    Image.fromarray(arr, mode="F").save(tmp_path / "in" / "nan.tif")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rc = demo(["--params", tiny_params, "--input", str(tmp_path / "in"),
                   "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1 and not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    skipped = [line for line in err.splitlines() if "nan.tif" in line]
    assert len(skipped) == 1 and "NaN" in skipped[0] and "Warning" not in err


# ---------------------------------------------------------------- 8. tracebacks
@pytest.mark.parametrize("args,message", [
    (["--appearance_seed", "-1"], "argument --appearance_seed: -1 is outside 0..4294967295"),
    (["--seed", "-1"], "argument --seed: -1 is outside"),
    (["--seed", "1e20"], "argument --seed: '1e20' is not a whole number"),
    (["--seed", str(10 ** 20)], "argument --seed: 100000000000000000000 is outside"),
])
def test_bad_seeds_are_usage_errors(tmp_path, capsys, args, message):
    one_sketch(tmp_path / "in")
    rc = demo(["--method", "sp_embedding", "--params", SP_BUNDLED, "--input",
               str(tmp_path / "in"), "--output", str(tmp_path / "out")] + args)
    assert rc == 2 and message in capsys.readouterr().err


def test_a_pt_whose_state_dict_is_a_list_is_one_line(tmp_path, capsys):
    from models.torch_file import write_torch_file
    path = str(tmp_path / "list.pt")
    write_torch_file(path, {"state_dict": [np.zeros(3, np.float32)], "latent_avg": None})
    one_sketch(tmp_path / "in")
    rc = demo(["--params", path, "--input", str(tmp_path / "in"),
               "--output", str(tmp_path / "out")])
    line = one_line_error(capsys)
    assert rc == 2 and path in line and "'state_dict' is a list" in line


@pytest.mark.parametrize("method,key,value,problem", [
    ("sp_embedding", "style_dim", 200000, "is outside 1..2048"),
    ("sp_embedding", "style_dim", -1, "is outside 1..2048"),
    ("sp_embedding", "style_dim", None, "is null"),
    ("sp_embedding", "style_dim", 2.5, "is not a whole number"),
    ("sp_embedding", "encoder_width", 2000, "is outside 0.01..4"),
    ("sp_embedding", "output_size", 2 ** 20, "is outside 8..2048"),
    ("sp_embedding", "encoder_layers", "50", "is not a whole number"),
    ("deepfacedrawing", "ngf", 2000, "is outside 1..1024"),
    ("deepfacedrawing", "image_size", None, "is null"),
    ("deepfacedrawing", "norm", "weird", "is not one of instance, batch, none"),
])
def test_an_architecture_out_of_range_in_config_json_is_one_line(tmp_path, capsys, method,
                                                                   key, value, problem):
    import json
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"method": method, key: value}))
    one_sketch(tmp_path / "in")
    rc = demo(["--params", str(folder), "--input", str(tmp_path / "in"),
               "--output", str(tmp_path / "out")])
    line = one_line_error(capsys)
    assert rc == 2 and line.startswith(f"error: {folder / 'config.json'}: {key} ")
    assert line.endswith(problem)


def test_an_architecture_of_the_wrong_type_in_a_pt_is_one_line(micro_pt, tmp_path, capsys):
    from models.torch_file import read_torch_file, write_torch_file
    obj = read_torch_file(micro_pt)
    obj["opts"]["break_layer"] = 2.5
    path = str(tmp_path / "odd.pt")
    write_torch_file(path, obj)
    one_sketch(tmp_path / "in")
    rc = demo(["--params", path, "--input", str(tmp_path / "in"),
               "--output", str(tmp_path / "out")])
    line = one_line_error(capsys)
    assert rc == 2 and line == f"error: {path}: break_layer 2.5 is not a whole number"


@pytest.mark.parametrize("change,message", [
    ("moment", "optimizer moment 2 has shape [1, 1]"),
    ("iter", "its iter is -5, not a count"),
])
def test_a_resumed_state_that_does_not_fit_is_one_line(tmp_path, capsys, change, message):
    from models.files import read_state, write_state
    args = TINY_AE + ["--checkpoints_dir", str(tmp_path), "--name", "r"]
    assert run_script("train.py", args) == 0
    state_file = tmp_path / "r" / "train_state" / "ae.pkl"
    state = read_state(str(state_file))
    if change == "moment":
        state["optim"]["ae"]["m"][2] = np.zeros((1, 1), np.float32)
    else:
        state["iter"] = -5
    write_state(str(state_file), state)
    capsys.readouterr()
    rc = run_script("train.py", args + ["--max_iters", "2", "--continue_train"])
    line = one_line_error(capsys)
    assert rc == 2 and "ae.pkl" in line and message in line


@pytest.mark.parametrize("extra,message", [
    (["--save_latest_freq", "0"], "--save_latest_freq must be at least 1"),
    (["--print_freq", "0"], "--print_freq must be at least 1"),
])
def test_frequencies_of_zero_are_usage_errors(tmp_path, capsys, extra, message):
    rc = run_script("train.py", TINY_AE + ["--checkpoints_dir", str(tmp_path), "--name", "f"]
                    + extra)
    assert rc == 2 and message in capsys.readouterr().err


def test_a_batch_larger_than_the_dataset_is_one_line(tmp_path, capsys):
    rc = run_script("train.py", TINY_AE + ["--checkpoints_dir", str(tmp_path), "--name", "b",
                                           "--batch_size", "16"])
    line = one_line_error(capsys)
    assert rc == 2 and "--batch_size 16: the dataset has 8 samples" in line


@pytest.mark.parametrize("kind", ["file", "proc"])
def test_evaluate_checks_its_results_dir_first(tmp_path, capsys, kind):
    out = tmp_path / "results.txt" if kind == "file" else "/proc/deepfacedrawing-eval"
    if kind == "file":
        out.write_text("not a folder")
    start = time.time()
    rc = run_script("scripts/evaluate.py", ["--params", SP_BUNDLED, "--n_test", "2",
                                            "--no_images", "--results_dir", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err == [err[-1]] and err[-1].startswith(f"error: --results_dir {out}: ")
    assert time.time() - start < 30                 # refused before the model is loaded


def test_one_appearance_file_that_is_no_image_is_refused_up_front(tmp_path, capsys):
    for name in ("a.png", "b.png", "c.png"):
        one_sketch(tmp_path / "in", name)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a photo")
    rc = demo(["--method", "sp_embedding", "--params", SP_BUNDLED, "--input",
               str(tmp_path / "in"), "--appearance", str(notes), "--output", str(tmp_path / "o")])
    line = one_line_error(capsys)
    assert rc == 2 and line == f"error: --appearance: {notes}: not an image"


# ---------------------------------------------------------------- 9. train.py --help
@pytest.mark.parametrize("method,stages", [
    ("deepfacedrawing", ("ae (", "banks (", "combine (")),
    ("sp_embedding", ("stylegan (", "parser (", "labeler (", "encoder (")),
])
def test_train_help_needs_no_stage_and_lists_the_stages(capsys, method, stages):
    assert run_script("train.py", ["--method", method, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert all(stage in out for stage in stages)
    assert "--method {deepfacedrawing,sp_embedding}" in out and "(default: )" not in out
    assert run_script("train.py", ["--help"]) == 0
    assert run_script("train.py", ["--preset", "tiny"]) == 2
    assert "--stage is required: the stages of deepfacedrawing are ae, banks, combine" in \
        capsys.readouterr().err


def test_the_first_run_notice_says_what_was_measured():
    from util.jittor_env import FIRST_RUN_MINUTES
    assert "2:09" in FIRST_RUN_MINUTES and "2 cores" in FIRST_RUN_MINUTES
    assert "10 minutes" not in FIRST_RUN_MINUTES
