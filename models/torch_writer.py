"""PyTorch checkpoint files written without PyTorch: ``torch.save``'s zip
format, loadable by ``torch.load(..., weights_only=True)``; used for the
authors' file format in tests and for exporting. (Reading: ``models/torch_file.py``.)
"""

import io
import struct
import zipfile

import numpy as np

from util.fileio import atomic_write

_DTYPE_STORAGES = {np.dtype(code if code in ("?", "i1", "u1") else "<" + code): name
                   for name, code in (("FloatStorage", "f4"), ("DoubleStorage", "f8"),
                                      ("HalfStorage", "f2"), ("LongStorage", "i8"),
                                      ("IntStorage", "i4"), ("ShortStorage", "i2"),
                                      ("CharStorage", "i1"), ("ByteStorage", "u1"),
                                      ("BoolStorage", "?"))}


class _PickleWriter:
    """Emits a protocol-2 pickle of plain values (dict, list, tuple, str,
    int, float, bool, None) with NumPy arrays as torch tensors, opcode by
    opcode: the torch classes it names are written as references, never
    imported, so no torch is needed (and nothing foreign gets in)."""

    def __init__(self):
        self.out = io.BytesIO()
        self.storages = []

    def dump(self, obj):
        self.out.write(b"\x80\x02")
        self._save(obj)
        self.out.write(b".")
        return self.out.getvalue()

    def _global(self, module, name):
        self.out.write(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def _str(self, text):
        raw = text.encode("utf-8")
        self.out.write(b"X" + struct.pack("<I", len(raw)) + raw)

    def _save(self, obj):
        w = self.out.write
        if obj is None:
            w(b"N")
        elif obj is True:
            w(b"\x88")
        elif obj is False:
            w(b"\x89")
        elif isinstance(obj, (int, np.integer)):
            obj = int(obj)
            if -2 ** 31 <= obj < 2 ** 31:
                w(b"J" + struct.pack("<i", obj))
            else:
                raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
                w(b"\x8a" + bytes([len(raw)]) + raw)
        elif isinstance(obj, (float, np.floating)):
            w(b"G" + struct.pack(">d", float(obj)))
        elif isinstance(obj, str):
            self._str(obj)
        elif isinstance(obj, dict):
            w(b"}")
            if obj:
                w(b"(")
                for k, v in obj.items():
                    self._save(k)
                    self._save(v)
                w(b"u")
        elif isinstance(obj, list):
            w(b"]")
            if obj:
                w(b"(")
                for v in obj:
                    self._save(v)
                w(b"e")
        elif isinstance(obj, tuple):
            w(b"(")
            for v in obj:
                self._save(v)
            w(b"t")
        elif isinstance(obj, np.ndarray):
            self._tensor(obj)
        else:
            raise TypeError(f"cannot write a {type(obj).__name__} into a torch file")

    def _tensor(self, arr):
        arr = np.asarray(arr)
        if not arr.flags.c_contiguous:          # (ascontiguousarray would make 0-d arrays 1-d)
            arr = arr.copy(order="C")
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        if arr.dtype not in _DTYPE_STORAGES:
            raise TypeError(f"cannot store a {arr.dtype} array in a torch file")
        key = str(len(self.storages))
        self.storages.append((key, arr))
        w = self.out.write
        self._global("torch._utils", "_rebuild_tensor_v2")
        w(b"(")                                    # the arguments tuple
        w(b"(")                                    # the persistent id of the storage
        self._str("storage")
        self._global("torch", _DTYPE_STORAGES[arr.dtype])
        self._str(key)
        self._str("cpu")
        self._save(int(arr.size))
        w(b"tQ")
        self._save(0)
        self._save(tuple(int(n) for n in arr.shape))
        self._save(tuple(int(st // arr.itemsize) for st in arr.strides))
        self._save(False)
        self._global("collections", "OrderedDict")
        w(b")R")                                   # OrderedDict(): the backward hooks
        w(b"tR")


def torch_file_bytes(obj, name="archive"):
    """The bytes of ``torch.save(obj)`` in the zip format, with NumPy arrays
    as tensors (contiguous, on the CPU). Plain values pass through."""
    writer = _PickleWriter()
    data = writer.dump(obj)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{name}/data.pkl", data)
        zf.writestr(f"{name}/byteorder", "little")
        for key, arr in writer.storages:
            zf.writestr(f"{name}/data/{key}", arr.tobytes())
        zf.writestr(f"{name}/version", "3\n")
    return out.getvalue()


def write_torch_file(path, obj):
    """``torch.save(obj, path)`` without torch (zip format), atomically."""
    atomic_write(path, torch_file_bytes(obj))
