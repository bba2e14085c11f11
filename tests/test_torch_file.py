"""The PyTorch file reader and writer (models/torch_file.py), no torch needed."""

import os
import pickle
import zipfile

import numpy as np
import pytest

from models.files import CheckpointError
from models.torch_file import (TorchFileError, read_torch_file, read_torch_state_dict,
                               torch_file_bytes, write_torch_file)
from tests.torch_files import write_pth


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_torch_state_dict_reader(tmp_path, legacy):
    rng = np.random.default_rng(4)
    state = {"features.0.weight": rng.standard_normal((4, 3, 3, 3)),
             "features.0.bias": rng.standard_normal(4),
             "classifier.6.weight": rng.standard_normal((2, 5)),
             "scalar": np.float32(3.5)}
    path = tmp_path / "x.pth"
    write_pth(path, state, legacy)
    back = read_torch_state_dict(str(path))
    assert list(back) == list(state)
    for k, v in state.items():
        np.testing.assert_array_equal(back[k], np.asarray(v, np.float32))


def test_torch_reader_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return os.system, ("echo owned > " + str(tmp_path / "owned"),)
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": Evil()}, protocol=2))
    with pytest.raises(TorchFileError, match="refusing to load"):
        read_torch_state_dict(str(path))
    assert not (tmp_path / "owned").exists()
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="not a readable"):
        read_torch_state_dict(str(junk))




def test_writer_round_trips_checkpoints_of_the_authors_form(tmp_path):
    """A dict with a state dict (float32, int64 0-d buffers, strided
    arrays), a top-level tensor and an options dict of plain values comes
    back as written; the file is a torch zip archive."""
    rng = np.random.default_rng(1)
    obj = {"state_dict": {"enc.conv.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
                          "enc.bn.num_batches_tracked": np.array(7, np.int64),
                          "dec.w": rng.standard_normal((3, 5)).astype(np.float32).T},
           "latent_avg": rng.standard_normal((18, 8)).astype(np.float32),
           "opts": {"device": "cuda:0", "label_nc": 22, "lr": 1e-4, "flag": True,
                    "none": None, "sizes": [1, 2, 3], "pair": (4, 5), "big": 2 ** 40}}
    path = tmp_path / "model.pt"
    write_torch_file(str(path), obj)
    assert zipfile.is_zipfile(path)
    back = read_torch_file(str(path))
    assert back["opts"] == obj["opts"]
    for k, v in obj["state_dict"].items():
        got = back["state_dict"][k]
        assert got.dtype == v.dtype and got.shape == v.shape
        np.testing.assert_array_equal(got, v)
    np.testing.assert_array_equal(back["latent_avg"], obj["latent_avg"])
    assert torch_file_bytes(obj) == path.read_bytes()          # deterministic
    assert list(read_torch_state_dict(str(path))) == list(obj["state_dict"])


def test_writer_refuses_objects_it_cannot_store():
    with pytest.raises(TypeError, match="cannot write a object"):
        torch_file_bytes({"x": object()})
    with pytest.raises(TypeError, match="complex"):
        torch_file_bytes({"x": np.zeros(2, np.complex64)})


def test_damaged_torch_files_are_named(tmp_path):
    path = tmp_path / "model.pt"
    write_torch_file(str(path), {"w": np.ones((64, 64), np.float32)})
    blob = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match="cut.pt: not a readable"):
        read_torch_file(str(cut))
    with pytest.raises(CheckpointError, match="missing.pt: file not found"):
        read_torch_file(str(tmp_path / "missing.pt"))
