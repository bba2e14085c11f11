"""Checkpoint files: bit-exact round trips and clear errors, never a silent
partial load."""

import os
import pickle

import numpy as np
import pytest

from models import files
from models.deepfacedrawing import checkpoint as ckpt
from models.files import CheckpointError


def test_pkl_round_trip_is_bit_exact_and_jittor_readable(tmp_path):
    from util.jittor_env import get_jittor
    jt = get_jittor()
    rng = np.random.default_rng(0)
    params = {"a.weight": rng.standard_normal((3, 4)).astype(np.float32),
              "a.bias": rng.standard_normal(3).astype(np.float32)}
    path = str(tmp_path / "x.pkl")
    files.write_params(path, params)
    back = files.read_params(path)
    assert sorted(back) == sorted(params)
    for k in params:
        assert back[k].dtype == params[k].dtype
        assert back[k].tobytes() == params[k].tobytes()
    theirs = jt.load(path)                       # Jittor's own reader agrees
    np.testing.assert_array_equal(theirs["a.weight"], params["a.weight"])


def test_plain_pickle_of_older_jittor_is_read(tmp_path):
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps({"w": np.ones(3, np.float32)}, 2))
    assert files.read_params(str(path))["w"].tolist() == [1, 1, 1]


def test_network_round_trip_is_bit_exact(tmp_path, tiny_opt):
    from models import create_model
    from models.base_model import load_network, save_network
    a = create_model("ae", tiny_opt, part="nose")
    b = create_model("ae", tiny_opt, part="nose")
    path = str(tmp_path / "enc.pkl")
    save_network(a.encoder, path)
    load_network(b.encoder, path)
    sa, sb = a.encoder.state_dict(), b.encoder.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].numpy().tobytes() == sb[k].numpy().tobytes(), k


def test_truncated_file_names_the_file(tmp_path):
    path = str(tmp_path / "t.pkl")
    files.write_params(path, {"w": np.zeros(1000, np.float32)})
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="t.pkl.*truncated"):
        files.read_params(path)


def test_checksum_mismatch_is_caught(tmp_path):
    path = str(tmp_path / "c.pkl")
    files.write_params(path, {"w": np.zeros(100, np.float32)})
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))
    with pytest.raises(CheckpointError, match="c.pkl.*checksum"):
        files.read_params(path)


def test_missing_file_says_where_checkpoints_come_from(tmp_path):
    with pytest.raises(CheckpointError, match="not found.*train.*Params"):
        files.read_params(str(tmp_path / "nope.pkl"))


def test_code_in_a_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"w": Evil()}))
    with pytest.raises(CheckpointError, match="refusing|not a readable"):
        files.read_params(str(path))


@pytest.mark.parametrize("params,message", [
    ({"w": np.zeros((2, 3))}, "'b' is missing"),
    ({"w": np.zeros((2, 3)), "b": np.zeros(2), "extra": np.zeros(1)}, "unexpected parameter 'extra'"),
    ({"w": np.zeros((3, 2)), "b": np.zeros(2)}, r"'w' has shape \[3, 2\].*\[2, 3\]"),
    ({"w": np.full((2, 3), np.nan), "b": np.zeros(2)}, "'w' holds NaN"),
])
def test_check_params_names_file_and_parameter(params, message):
    with pytest.raises(CheckpointError, match=f"f.pkl: .*{message}"):
        files.check_params("f.pkl", params, {"w": (2, 3), "b": (2,)})


def test_wrong_architecture_is_a_clear_error(tmp_path, tiny_opt, official_opt):
    from models import create_model
    from models.base_model import load_network, save_network
    path = str(tmp_path / "enc.pkl")
    save_network(create_model("ae", tiny_opt, part="eye1").encoder, path)
    with pytest.raises(CheckpointError, match="enc.pkl: parameter '.*' is missing.*--preset"):
        load_network(create_model("ae", official_opt, part="eye1").encoder, path)


def test_banks_bin_and_npy(tmp_path):
    bank = np.random.default_rng(0).standard_normal((7, 16)).astype(np.float32)
    for ext in (".bin", ".npy"):
        path = str(tmp_path / f"man_nose_feature{ext}")
        ckpt.write_bank(path, bank)
        np.testing.assert_array_equal(ckpt.read_bank(path, 16), bank)
    raw = str(tmp_path / "man_nose_feature.bin")
    assert os.path.getsize(raw) == 7 * 16 * 4               # raw float32 bytes, as released
    open(raw, "ab").write(b"\0\0")
    with pytest.raises(CheckpointError, match="man_nose_feature.bin.*truncated"):
        ckpt.read_bank(raw, 16)
    with pytest.raises(CheckpointError, match=r"shape \[7, 16\], expected \(N, 8\)"):
        ckpt.read_bank(str(tmp_path / "man_nose_feature.npy"), 8)


def test_bank_lookup_by_gender_and_fallbacks(tmp_path):
    root = str(tmp_path)
    b = np.ones((2, 4), np.float32)
    ckpt.write_bank(ckpt.bank_path(root, "eye1", "male"), b)
    ckpt.write_bank(ckpt.bank_path(root, "eye1", "female"), b)
    ckpt.write_bank(ckpt.bank_path(root, "mouth", "all", ".npy"), b)
    files, note = ckpt.find_bank_files(root, "eye1", "all")
    assert [os.path.basename(f) for f in files] == ["man_eye1_feature.bin", "female_eye1_feature.bin"]
    assert note is None
    files, note = ckpt.find_bank_files(root, "mouth", "female")
    assert os.path.basename(files[0]) == "mouth_feature.npy" and "single bank" in note
    with pytest.raises(CheckpointError, match="no feature bank for part 'nose'"):
        ckpt.find_bank_files(root, "nose", "male")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = str(tmp_path / "a.pkl")
    files.write_params(path, {"w": np.zeros(3, np.float32)})
    before = open(path, "rb").read()

    def boom(*a, **k):
        raise KeyboardInterrupt("killed mid-write")
    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        files.write_params(path, {"w": np.ones(3, np.float32)})
    assert open(path, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["a.pkl"]       # no temp file left behind
