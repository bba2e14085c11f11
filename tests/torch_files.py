"""PyTorch files written without torch, for the tests: the exact pickle
``torch.save`` writes (zip format, or the legacy format of torch < 1.6),
from stand-ins, so the project's reader is tested against files that it did
not write itself (``models.torch_file.write_torch_file`` is tested against
this reader's files too)."""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _Global:
    """Stands for a torch global (written by name; torch is not needed)."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):   # pickle insists that a reduce function is callable
        raise AssertionError("never called")


class _Storage:
    def __init__(self, key, data, view=None):
        self.key, self.data, self.view = key, data, view


class _Tensor:
    def __init__(self, storage, offset, size, stride, legacy):
        self.args = (storage, offset, tuple(size), tuple(stride))
        self.legacy = legacy

    def __reduce__(self):
        if self.legacy:                                   # torch 0.3's form
            return _Global("torch._utils", "_rebuild_tensor"), self.args
        return (_Global("torch._utils", "_rebuild_tensor_v2"),
                self.args + (False, collections.OrderedDict()))


class _TorchPickler(pickle._Pickler):
    """Writes the pickle torch.save writes, from the stand-ins above."""
    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, f, legacy):
        super().__init__(f, protocol=2)
        self.legacy = legacy

    def _save_global(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[_Global] = _save_global

    def persistent_id(self, obj):
        if not isinstance(obj, _Storage):
            return None
        pid = ("storage", _Global("torch", "FloatStorage"), obj.key, "cpu", obj.data.size)
        return pid + (obj.view,) if self.legacy else pid


def _tensors(state, legacy):
    """name -> array as stand-ins: every other tensor transposed (strided)
    and, in legacy files, one a view into a shared storage."""
    out, storages = collections.OrderedDict(), []
    for k, (name, arr) in enumerate(state.items()):
        arr = np.asarray(arr, np.float32)
        if arr.ndim == 4 and k % 4 == 0:       # store (I, O, H, W), view it as OIHW
            data = np.ascontiguousarray(arr.transpose(1, 0, 2, 3))
            st = _Storage(str(len(storages)), data.ravel())
            i_, o_, h_, w_ = data.shape
            t = _Tensor(st, 0, arr.shape, (h_ * w_, o_ * h_ * w_, w_, 1), legacy)
        else:
            pad = np.zeros(5, np.float32)      # the tensor starts 5 floats in
            st = _Storage(str(len(storages)), np.concatenate([pad, arr.ravel()]))
            strides = [int(np.prod(arr.shape[d + 1:])) for d in range(arr.ndim)]
            t = _Tensor(st, 5, arr.shape, strides, legacy)
        storages.append(st)
        out[name] = t
    return out, storages


def write_pth(path, state, legacy=False):
    tensors, storages = _tensors(state, legacy)
    body = io.BytesIO()
    _TorchPickler(body, legacy).dump(tensors)
    if legacy:
        with open(path, "wb") as f:
            for header in (LEGACY_MAGIC, 1001,
                           {"protocol_version": 1001, "little_endian": True,
                            "type_sizes": {"short": 2, "int": 4, "long": 8}}):
                pickle.dump(header, f, protocol=2)
            f.write(body.getvalue())
            pickle.dump([s.key for s in storages], f, protocol=2)
            for s in storages:
                f.write(struct.pack("<q", s.data.size) + s.data.astype("<f4").tobytes())
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("archive/data.pkl", body.getvalue())
            zf.writestr("archive/byteorder", "little")
            for s in storages:
                zf.writestr(f"archive/data/{s.key}", s.data.astype("<f4").tobytes())
            zf.writestr("archive/version", "3\n")
