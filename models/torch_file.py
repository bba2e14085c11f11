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

What a file declares is checked before anything is built from it, so a
crafted file can neither read outside a buffer nor claim unbounded memory
(docs/security.md):

* the tensor table (``data.pkl``): at most ``MAX_PICKLE_BYTES`` unpacked,
  judged from the zip's declared size before reading; its opcodes and the
  object it builds within ``util.pickle_limits`` (memo slots, objects
  counted as a tree, nesting);
* every tensor, as the table names it: sizes, strides and offset
  non-negative whole numbers, at most ``MAX_DIMS`` dimensions, the last
  element inside its storage, no more elements than the storage holds (a
  stride of 0 cannot turn 4 bytes into gigabytes);
* every storage: the zip entry's declared size must be the byte count the
  table gives it (the legacy format's count header likewise, and within
  the file); all of them together at most ``DEFAULT_MAX_BYTES``;
* what one reader unpacks and copies out (storages read, tensors made) at
  most its ``max_bytes``, which callers derive from the model they expect.

A storage shared by several tensors (one buffer for a whole state dict) is
read once and kept until its last tensor is read.

Writing (``write_torch_file``, ``torch_file_bytes``): ``models/torch_writer.py``,
importable from here too.
"""

import io
import os
import pickle
import zipfile

import numpy as np

from models.files import CheckpointError
from models.torch_writer import torch_file_bytes, write_torch_file  # noqa: F401
from util.pickle_limits import PickleLimitError, check_opcodes, check_tree

MAX_PICKLE_BYTES = 32 * 2 ** 20      # the authors' model.pt (2034 tensors): about 0.4 MB
DEFAULT_MAX_BYTES = 8 * 2 ** 30      # storages of one file; the authors' model.pt: 3.3 GB
MAX_DIMS = 32
_SMALL_RECORD = 64                   # the archive's 'byteorder' record


class TorchFileError(CheckpointError):
    """A .pt/.pth file that is missing, damaged, or holds more than data."""


class _Refused(Exception):
    """The .pth asks for something other than tensors and dicts."""


class _Unsafe(Exception):
    """The file declares something out of bounds (a tensor outside its
    storage, a size over a limit): refused before anything is built."""


def _whole(value, what):
    """``value`` as a non-negative int; _Unsafe for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise _Unsafe(f"{what} {value!r:.40} is not a non-negative whole number")
    return int(value)


def _dims(values, what):
    if not isinstance(values, (tuple, list)) or len(values) > MAX_DIMS:
        raise _Unsafe(f"a tensor's {what} {values!r:.60} is not a tuple of at most "
                      f"{MAX_DIMS} numbers")
    return tuple(_whole(v, f"a tensor's {what} entry") for v in values)


def tensor_extent(numel, offset, size, stride):
    """The element count of a tensor (``offset``, ``size``, ``stride``, all
    non-negative) over a storage of ``numel`` elements; _Unsafe when its
    last element lies outside the storage or it holds more elements than
    the storage (strides that repeat elements)."""
    if len(size) != len(stride):
        raise _Unsafe(f"a tensor with {len(size)} sizes and {len(stride)} strides")
    count = 1
    for n in size:
        count *= n
    if count == 0:
        if offset > numel:
            raise _Unsafe(f"an empty tensor at offset {offset} of a storage of {numel}")
        return 0
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= numel:
        raise _Unsafe(f"a tensor of shape {list(size)} (strides {list(stride)}, offset "
                      f"{offset}) reaches element {last} of a storage of {numel}")
    if count > numel:
        raise _Unsafe(f"a tensor of shape {list(size)} (strides {list(stride)}) has {count} "
                      f"elements, more than its storage's {numel}")
    return count


class _StorageRef:
    """A torch storage named in the pickle; its bytes are filled in later
    (by ``loader``, on first use, for a lazily opened archive). With
    ``parent`` it is a view (legacy format) into another storage.
    ``pending`` counts its tensors not read yet: a lazily loaded storage
    keeps its bytes until the last one is read."""

    def __init__(self, key, dtype, numel, parent=None, offset=0, loader=None):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.parent, self.offset = parent, offset
        self.data = None
        self.loader = loader
        self.pending = 0

    @property
    def nbytes(self):
        return self.numel * (2 if self.dtype == "bf16" else _np_dtype(self.dtype).itemsize)

    @property
    def root(self):
        return self if self.parent is None else self.parent

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
    values read by ``numpy()`` (from the archive, for a lazy one). Its
    bounds are checked when it is named (``tensor_extent``)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride
        self.numel = tensor_extent(storage.numel, offset, size, stride)
        self._counted = True
        storage.root.pending += 1

    @property
    def shape(self):
        return self.size

    @property
    def dtype(self):
        return np.dtype(np.float32) if self.storage.dtype == "bf16" else _np_dtype(self.storage.dtype)

    @property
    def nbytes(self):
        return self.numel * self.dtype.itemsize

    def numpy(self, release=True):
        """The values as a new array; ``release`` lets the storage's bytes
        go once every tensor of it has been read."""
        out = self.materialise()
        if release and self._counted:
            self._counted = False
            root = self.storage.root
            root.pending -= 1
            if root.pending <= 0:
                root.release()
        return out

    def materialise(self):
        base = self.storage.array
        if base is None:
            raise ValueError("tensor data missing from the file")
        tensor_extent(base.size, self.offset, self.size, self.stride)   # the bytes as read
        if not self.size:
            return np.array(base[self.offset])
        if self.numel == 0:
            return np.zeros(self.size, base.dtype)
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(base[self.offset:], shape=self.size,
                                               strides=[s * item for s in self.stride],
                                               writeable=False)
        return np.array(view)


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    if not isinstance(storage, _StorageRef):
        raise _Unsafe(f"a tensor over a {type(storage).__name__}, not a storage")
    return _TensorRef(storage, _whole(offset, "a tensor's offset"), _dims(size, "size"),
                      _dims(stride, "strides"))


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


class _StorageTable:
    """The storages a file's tensor table names, checked as they are named:
    one type and size per key; ``entry_size(key)`` (a zip archive: the
    entry's declared size) must be its byte count; all together at most
    ``cap`` bytes."""

    def __init__(self, cap, entry_size=None, loader=None):
        self.cap, self.entry_size, self.loader = cap, entry_size, loader
        self.storages = {}
        self.declared = 0

    def storage(self, type_name, key, numel):
        dtype = _STORAGE_DTYPES[type_name]
        st = self.storages.get(key)
        if st is not None:
            if (st.dtype, st.numel) != (dtype, numel):
                raise _Unsafe(f"storage {key} is named with two types or sizes")
            return st
        st = _StorageRef(key, dtype, numel, loader=self.loader)
        if self.entry_size is not None:
            size = self.entry_size(key)
            if size != st.nbytes:
                raise _Unsafe(f"storage {key}: the archive declares {size} bytes, the tensor "
                              f"table {numel} elements ({st.nbytes} bytes)")
        self.declared += st.nbytes
        if self.declared > self.cap:
            raise _Unsafe(f"its storages declare more than {self.cap:,} bytes")
        self.storages[key] = st
        return st

    def release(self):
        for st in self.storages.values():
            st.release()


class _Budget:
    """Bytes a reader may unpack and copy out of one file."""

    def __init__(self, limit):
        self.limit, self.used = limit, 0

    def spend(self, nbytes, what):
        if self.used + nbytes > self.limit:
            raise _Unsafe(f"{what} would take {self.used + nbytes:,} bytes in all, more than "
                          f"the {self.limit:,} allowed for this model")
        self.used += nbytes


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles a torch state dict into _TensorRefs; anything but tensors,
    storages and (ordered) dicts is refused, so the file runs no code."""

    def __init__(self, f, table):
        super().__init__(f, encoding="utf-8")
        self._table = table

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
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise _Refused(f"refusing the object reference {str(pid):.80} in a .pth")
        key = pid[2]
        if isinstance(key, bool) or not isinstance(key, (str, int)) or len(str(key)) > 200:
            raise _Unsafe(f"a storage key {key!r:.40}")
        storage = self._table.storage(pid[1].name, str(key), _whole(pid[4], "a storage size"))
        if len(pid) > 5 and pid[5] is not None:          # legacy view of a storage
            if not (isinstance(pid[5], tuple) and len(pid[5]) == 3):
                raise _Unsafe(f"a storage view {pid[5]!r:.60}")
            offset = _whole(pid[5][1], "a storage view's offset")
            size = _whole(pid[5][2], "a storage view's size")
            if offset + size > storage.numel:
                raise _Unsafe(f"a view of elements {offset}..{offset + size} of storage {key} "
                              f"of {storage.numel}")
            return _StorageRef(str(key), storage.dtype, size, storage, offset)
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


def _unpickle(f, table):
    """The tensor table at ``f`` (bytes or a bounded file), its opcodes
    checked before and the object it builds after."""
    if isinstance(f, bytes):
        check_opcodes(f)
        root = _TorchUnpickler(io.BytesIO(f), table).load()
    else:
        start = f.tell()
        check_opcodes(f)
        f.seek(start)
        root = _TorchUnpickler(f, table).load()
    check_tree(root)
    return root


def _read_entry(zf, name, limit, what):
    """The bytes of a zip entry, refused when it declares more than ``limit``
    unpacked (before reading; zipfile then reads no more than declared)."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise _Unsafe(f"{what} declares {info.file_size:,} bytes unpacked, more than the "
                      f"{limit:,} allowed")
    raw = zf.read(info)
    if len(raw) != info.file_size:
        raise ValueError(f"{name} is truncated")
    return raw


def _open_zip(zf, budget):
    """torch.save's zip format (torch >= 1.6): PREFIX/data.pkl plus one
    PREFIX/data/KEY entry of raw bytes per storage, each read when a tensor
    of it is first asked for. Returns (root object, storage table)."""
    names = set(zf.namelist())
    pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        raise ValueError("no data.pkl in the archive; not a torch file")
    prefix = pkl[0][:-len("data.pkl")]
    byteorder = "<"
    if prefix + "byteorder" in names:
        record = _read_entry(zf, prefix + "byteorder", _SMALL_RECORD, "its byteorder record")
        byteorder = ">" if record.strip() == b"big" else "<"

    def entry_size(key):
        name = f"{prefix}data/{key}"
        if name not in names:
            raise _Unsafe(f"storage {key} is missing from the archive")
        return zf.getinfo(name).file_size

    def load(st):
        budget.spend(st.nbytes, f"reading storage {st.key}")
        _fill(st, _read_entry(zf, f"{prefix}data/{st.key}", st.nbytes, f"storage {st.key}"),
              byteorder)

    table = _StorageTable(DEFAULT_MAX_BYTES, entry_size, load)
    blob = _read_entry(zf, pkl[0], MAX_PICKLE_BYTES, "its tensor table (data.pkl)")
    return _unpickle(blob, table), table


class _BoundedFile:
    """A binary file read no further than ``end``: a record claiming more
    bytes than the file holds is refused before anything is allocated."""

    def __init__(self, f, end):
        self.f, self.end = f, end

    def tell(self):
        return self.f.tell()

    def seek(self, pos):
        return self.f.seek(pos)

    def read(self, n=-1):
        left = self.end - self.f.tell()
        if n is None or n < 0:
            n = left
        if n > left:
            raise ValueError(f"a record of {n:,} bytes runs past the end of the file "
                             f"(truncated or crafted)")
        return self.f.read(n)

    def readline(self, limit=-1):
        left = self.end - self.f.tell()
        return self.f.readline(left if limit is None or limit < 0 else min(limit, left))


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _PlainUnpickler(pickle.Unpickler):
    """For the legacy format's header and key list: plain values only."""

    def find_class(self, module, name):
        raise _Refused(f"refusing to load {module}.{name} from a .pth header")


def _plain(f):
    start = f.tell()
    check_opcodes(f)
    f.seek(start)
    obj = _PlainUnpickler(f).load()
    check_tree(obj)
    return obj


def _read_legacy(path, budget):
    """torch.save's format before torch 1.6 (torchvision's VGG19 file): four
    pickles (magic, version, system info, the object, storage keys), then
    each storage as an int64 element count and its raw bytes; read whole.
    Returns (root object, storage table)."""
    size = os.path.getsize(path)
    with open(path, "rb") as raw:
        f = _BoundedFile(raw, size)
        if _plain(f) != _LEGACY_MAGIC:
            raise ValueError("not a torch file (bad magic number)")
        if _plain(f) != 1001:
            raise ValueError("unknown torch legacy protocol version")
        info = _plain(f)
        byteorder = "<" if not isinstance(info, dict) or info.get("little_endian", True) else ">"
        table = _StorageTable(min(size, DEFAULT_MAX_BYTES))
        result = _unpickle(f, table)
        keys = _plain(f)
        if not isinstance(keys, (list, tuple)) or len(keys) > len(table.storages):
            raise ValueError("a damaged storage list")
        for key in keys:
            st = table.storages.get(str(key))
            if st is None:
                raise ValueError(f"storage {key} is named by no tensor")
            numel = int(np.frombuffer(f.read(8), dtype=byteorder + "i8")[0])
            if numel != st.numel:
                raise ValueError(f"storage {key} holds {numel} elements, the tensor table "
                                 f"says {st.numel}")
            budget.spend(st.nbytes, f"reading storage {key}")
            _fill(st, f.read(st.nbytes), byteorder)
    return result, table


def _error(path, exc):
    """The TorchFileError (one line, naming the file) for an exception."""
    if isinstance(exc, _Refused):
        return TorchFileError(f"{path}: {exc}")
    if isinstance(exc, (_Unsafe, PickleLimitError)):
        return TorchFileError(f"{path}: refused: {_flat(exc)} (a damaged or crafted file)")
    return TorchFileError(f"{path}: not a readable PyTorch file ({_one_line(exc)})")


class TorchArchive:
    """A PyTorch file opened for reading tensor by tensor: ``root`` is the
    saved object with each tensor a lazy reference (``shape``, ``dtype``,
    ``numpy()``), so names and shapes can be checked before any values are
    read and a large checkpoint never sits in memory twice. What it unpacks
    and copies out is at most ``max_bytes``. Use as a context manager. Zip
    format (the legacy format is read whole at once)."""

    def __init__(self, path, max_bytes=DEFAULT_MAX_BYTES):
        self.path = path
        if not os.path.isfile(path):
            raise TorchFileError(f"{path}: file not found")
        self._zip = self._table = None
        self._budget = _Budget(max_bytes)
        try:
            if zipfile.is_zipfile(path):
                self._zip = zipfile.ZipFile(path)
                self.root, self._table = _open_zip(self._zip, self._budget)
            else:
                _refuse_broken_zip(path)
                self.root, self._table = _read_legacy(path, self._budget)
        except Exception as exc:  # truncated or foreign files raise many types
            self.close()
            raise _error(path, exc) from None

    def read(self, tensor, name="a tensor"):
        """The values of a lazy tensor of this file (TorchFileError when damaged)."""
        try:
            self._budget.spend(tensor.nbytes, f"reading {name}")
            return tensor.numpy()
        except Exception as exc:
            if isinstance(exc, (_Unsafe, PickleLimitError)):
                raise TorchFileError(f"{self.path}: refused: {_flat(exc)}") from None
            raise TorchFileError(f"{self.path}: cannot read {name} ({_one_line(exc)})") from None

    def tensors(self):
        """Every distinct tensor reference in ``root``."""
        found, stack = {}, [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, _TensorRef):
                found[id(node)] = node
            elif isinstance(node, dict):
                stack.extend(node.values())
            elif isinstance(node, (list, tuple)):
                stack.extend(node)
        return list(found.values())

    def close(self):
        if getattr(self, "_table", None) is not None:
            self._table.release()
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _flat(exc):
    return " ".join(str(exc).split())


def _one_line(exc):
    return f"{type(exc).__name__}: {_flat(exc)}"


def _refuse_broken_zip(path):
    """A file that starts like a zip archive but is not a whole one was cut
    short (or damaged): say so, rather than try the legacy format on it."""
    with open(path, "rb") as f:
        if f.read(4) == b"PK\x03\x04":
            raise ValueError("a damaged zip archive: truncated or altered; copy it again")


def is_tensor(obj):
    """True for the tensor references of a ``TorchArchive``."""
    return isinstance(obj, _TensorRef)


def _to_arrays(obj, done):
    """The unpickled object with every _TensorRef made a numpy array (each
    tensor once, however often it is referenced)."""
    if isinstance(obj, dict):
        return type(obj)((k, _to_arrays(v, done)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_arrays(v, done) for v in obj)
    if isinstance(obj, _TensorRef):
        if id(obj) not in done:
            done[id(obj)] = obj.numpy()
        return done[id(obj)]
    return obj


def read_torch_file(path, max_bytes=DEFAULT_MAX_BYTES):
    """The object saved in a .pt/.pth file, tensors as NumPy arrays;
    TorchFileError naming the file when it is missing, damaged, asks for
    anything but data, or would take more than ``max_bytes`` (its storages,
    or the arrays made of them; each is checked before anything is read)."""
    with TorchArchive(path, 2 * max_bytes) as archive:
        try:
            declared = sum(st.nbytes for st in archive._table.storages.values())
            made = sum(t.nbytes for t in archive.tensors())
            if max(declared, made) > max_bytes:
                raise _Unsafe(f"its tensors take {max(declared, made):,} bytes, more than the "
                              f"{max_bytes:,} allowed for this model")
            return _to_arrays(archive.root, {})
        except Exception as exc:
            raise _error(path, exc) from None


def read_torch_state_dict(path, max_bytes=DEFAULT_MAX_BYTES):
    """name -> numpy array from a .pth/.pt holding a state dict (the dict
    itself, or under a ``state_dict`` key)."""
    state = read_torch_file(path, max_bytes)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise TorchFileError(f"{path}: holds a {type(state).__name__}, not a state dict")
    odd = [k for k in state if not isinstance(k, str)]
    if odd:
        raise TorchFileError(f"{path}: a state dict key {odd[0]!r:.40} is not a name")
    return state
