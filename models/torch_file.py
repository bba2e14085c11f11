"""PyTorch checkpoint files (``torch.save``) read and written without
PyTorch, and without running code from the file.

Reading: the zip format of torch >= 1.6 (``PREFIX/data.pkl`` plus one
``PREFIX/data/KEY`` entry of raw bytes per storage) and the older "legacy"
format (a sequence of pickles followed by the raw storages). The pickle is
unpickled by a restricted unpickler that knows tensors, storages, ordered
dicts and plain Python values (dicts, lists, tuples, strings, numbers,
None, bools); anything else (a class to construct, a function to call) is
refused with a CheckpointError naming the file. Tensors become NumPy arrays
(bfloat16 widened to float32).

Writing (``write_torch_file``): the zip format, loadable by
``torch.load(..., weights_only=True)``; used for the authors' file format in
tests and for exporting.
"""

import io
import os
import pickle
import struct
import zipfile

import numpy as np

from models.checkpoint import CheckpointError
from util.fileio import atomic_write


class TorchFileError(CheckpointError):
    """A .pt/.pth file that is missing, damaged, or holds more than data."""


class _Refused(Exception):
    """The .pth asks for something other than tensors and dicts."""


class _StorageRef:
    """A torch storage named in the pickle; its bytes are filled in later
    (by ``loader``, on first use, for a lazily opened archive). With
    ``parent`` it is a view (legacy format) into another storage."""

    def __init__(self, dtype, numel, parent=None, offset=0, loader=None):
        self.dtype, self.numel, self.parent, self.offset = dtype, numel, parent, offset
        self.data = None
        self.loader = loader

    @property
    def array(self):
        if self.parent is None:
            if self.data is None and self.loader is not None:
                self.loader(self)
            return self.data
        base = self.parent.array
        return None if base is None else base[self.offset:self.offset + self.numel]

    def release(self):
        """Drop the bytes of a lazily loaded storage (read again if needed)."""
        if self.loader is not None:
            self.data = None


class _TensorRef:
    """A tensor of the file: ``shape`` and ``dtype`` known at once, the
    values read by ``numpy()`` (from the archive, for a lazy one)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    @property
    def shape(self):
        return self.size

    @property
    def dtype(self):
        return np.dtype(np.float32) if self.storage.dtype == "bf16" else _np_dtype(self.storage.dtype)

    def numpy(self, release=True):
        """The values as a new array; ``release`` frees the storage's bytes."""
        out = self.materialise()
        if release:
            self.storage.release()
        return out

    def materialise(self):
        base = self.storage.array
        if base is None:
            raise ValueError("tensor data missing from the file")
        if not self.size:
            return np.array(base[self.offset])
        end = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if min(self.size) > 0 and (self.offset < 0 or end > base.size):
            raise ValueError("a tensor reaches outside its storage; the file is damaged")
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(base[self.offset:], shape=self.size,
                                               strides=[s * item for s in self.stride],
                                               writeable=False)
        return np.array(view)


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    return data


_STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2",
    "BFloat16Storage": "bf16", "LongStorage": "i8", "IntStorage": "i4",
    "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class _StorageType:
    def __init__(self, name):
        self.name = name


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles a torch state dict into _TensorRefs; anything but tensors,
    storages and (ordered) dicts is refused, so the file runs no code."""

    def __init__(self, f, storage_for):
        super().__init__(f, encoding="utf-8")
        self._storage_for = storage_for

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return super().find_class(module, name)
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise _Refused(f"refusing to load {module}.{name} from a .pth "
                       f"(only tensors and dicts are read)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise _Refused(f"refusing the object reference {str(pid):.80} in a .pth")
        storage = self._storage_for(pid[1].name, str(pid[2]), int(pid[4]))
        if len(pid) > 5 and pid[5] is not None:          # legacy view of a storage
            _view_key, view_offset, view_size = pid[5]
            return _StorageRef(storage.dtype, int(view_size), storage, int(view_offset))
        return storage


def _np_dtype(code, byteorder="<"):
    if code == "bf16":
        return np.dtype(byteorder + "u2")
    return np.dtype(code if code in ("?", "i1", "u1") else byteorder + code)


def _fill(storage, raw, byteorder="<"):
    arr = np.frombuffer(raw, dtype=_np_dtype(storage.dtype, byteorder))
    if storage.dtype == "bf16":                       # bfloat16 = top half of a float32
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    storage.data = arr


def _to_arrays(obj):
    """The unpickled object with every _TensorRef made a numpy array."""
    if isinstance(obj, dict):
        return {k: _to_arrays(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_arrays(v) for v in obj)
    if isinstance(obj, _TensorRef):
        return obj.materialise()
    return obj


def _unpickle_zip(zf, lazy):
    """torch.save's zip format (torch >= 1.6): PREFIX/data.pkl plus one
    PREFIX/data/KEY entry of raw bytes per storage, read at once or, when
    ``lazy``, when a tensor's values are asked for."""
    pkl = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        raise ValueError("no data.pkl in the archive; not a torch file")
    prefix = pkl[0][:-len("data.pkl")]
    byteorder = "<"
    if prefix + "byteorder" in zf.namelist():
        byteorder = ">" if zf.read(prefix + "byteorder").strip() == b"big" else "<"
    storages = {}

    def storage_for(type_name, key, numel):
        if key not in storages:
            def load(st, entry=f"{prefix}data/{key}"):
                raw = zf.read(entry)
                if len(raw) != st.numel * _np_dtype(st.dtype).itemsize:
                    raise ValueError(f"storage {key} holds {len(raw)} bytes, "
                                     f"{st.numel} elements expected")
                _fill(st, raw, byteorder)
            st = _StorageRef(_STORAGE_DTYPES[type_name], numel, loader=load if lazy else None)
            if not lazy:
                load(st)
            storages[key] = st
        return storages[key]

    return _TorchUnpickler(io.BytesIO(zf.read(pkl[0])), storage_for).load()


def _read_zip_pth(path):
    with zipfile.ZipFile(path) as zf:
        return _unpickle_zip(zf, lazy=False)


class TorchArchive:
    """A PyTorch file opened for reading tensor by tensor: ``root`` is the
    saved object with each tensor a lazy reference (``shape``, ``dtype``,
    ``numpy()``), so names and shapes can be checked before any values are
    read and a large checkpoint never sits in memory twice. Use as a
    context manager. Zip format only (the legacy format is read whole)."""

    def __init__(self, path):
        self.path = path
        if not os.path.isfile(path):
            raise TorchFileError(f"{path}: file not found")
        self._zip = None
        try:
            if zipfile.is_zipfile(path):
                self._zip = zipfile.ZipFile(path)
                self.root = _unpickle_zip(self._zip, lazy=True)
            else:
                _refuse_broken_zip(path)
                self.root = _read_legacy_pth(path)
        except _Refused as exc:
            self.close()
            raise TorchFileError(f"{path}: {exc}") from None
        except Exception as exc:  # truncated or foreign files raise many types
            self.close()
            raise TorchFileError(f"{path}: not a readable PyTorch file "
                                 f"({_one_line(exc)})") from None

    def read(self, tensor, name="a tensor"):
        """The values of a lazy tensor of this file (TorchFileError when damaged)."""
        try:
            return tensor.numpy()
        except Exception as exc:
            raise TorchFileError(f"{self.path}: cannot read {name} ({_one_line(exc)})") from None

    def close(self):
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _one_line(exc):
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _refuse_broken_zip(path):
    """A file that starts like a zip archive but is not a whole one was cut
    short (or damaged): say so, rather than try the legacy format on it."""
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":
            raise ValueError("a damaged zip archive: truncated or altered; copy it again")


def is_tensor(obj):
    """True for the tensor references of a ``TorchArchive``."""
    return isinstance(obj, _TensorRef)


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _PlainUnpickler(pickle.Unpickler):
    """For the legacy format's header and key list: plain values only."""

    def find_class(self, module, name):
        raise _Refused(f"refusing to load {module}.{name} from a .pth header")


def _read_legacy_pth(path):
    """torch.save's format before torch 1.6 (torchvision's VGG19 file): four
    pickles (magic, version, system info, the object, storage keys), then
    each storage as an int64 element count and its raw bytes."""
    with open(path, "rb") as f:
        if _PlainUnpickler(f).load() != _LEGACY_MAGIC:
            raise ValueError("not a torch file (bad magic number)")
        if _PlainUnpickler(f).load() != 1001:
            raise ValueError("unknown torch legacy protocol version")
        info = _PlainUnpickler(f).load()
        byteorder = "<" if not isinstance(info, dict) or info.get("little_endian", True) else ">"
        storages = {}

        def storage_for(type_name, key, numel):
            if key not in storages:
                storages[key] = _StorageRef(_STORAGE_DTYPES[type_name], numel)
            return storages[key]

        result = _TorchUnpickler(f, storage_for).load()
        for key in _PlainUnpickler(f).load():
            st = storages[str(key)]
            numel = int(np.frombuffer(f.read(8), dtype=byteorder + "i8")[0])
            nbytes = numel * _np_dtype(st.dtype).itemsize
            raw = f.read(nbytes)
            if numel != st.numel or len(raw) != nbytes:
                raise ValueError(f"storage {key} is truncated")
            _fill(st, raw, byteorder)
    return result


def read_torch_file(path):
    """The object saved in a .pt/.pth file, tensors as NumPy arrays;
    TorchFileError naming the file when it is missing, damaged or asks for
    anything but data."""
    if not os.path.isfile(path):
        raise TorchFileError(f"{path}: file not found")
    try:
        if zipfile.is_zipfile(path):
            raw = _read_zip_pth(path)
        else:
            _refuse_broken_zip(path)
            raw = _read_legacy_pth(path)
        return _to_arrays(raw)
    except _Refused as exc:
        raise TorchFileError(f"{path}: {exc}") from None
    except Exception as exc:  # truncated or foreign files raise many types
        raise TorchFileError(f"{path}: not a readable PyTorch file ({_one_line(exc)})") from None


def read_torch_state_dict(path):
    """name -> numpy array from a .pth/.pt holding a state dict (the dict
    itself, or under a ``state_dict`` key)."""
    state = read_torch_file(path)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TorchFileError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return state


# ---------------------------------------------------------------- writing
_DTYPE_STORAGES = {np.dtype(v if v in ("?", "i1", "u1") else "<" + v): k
                   for k, v in _STORAGE_DTYPES.items() if v != "bf16"}


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
