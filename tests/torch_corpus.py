"""A corpus of crafted PyTorch files, made at test time (nothing binary is
committed): every way a tester made a file lie to the reader, plus a few
honest files as controls. Each case is (name, builder, expectation):
``"refused"`` (a TorchFileError naming the file) or ``"read"``.

    python -m tests.torch_corpus OUTDIR      # writes OUTDIR/<name>.pt

The files are written with the stand-in pickler of ``tests/torch_files.py``
(the pickle torch.save writes), so their tensor tables look like torch's;
what they declare is then bent: strides, sizes, offsets, storage sizes, zip
records, the pickle itself.
"""

import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

from tests.torch_files import LEGACY_MAGIC, _Storage, _Tensor, _TorchPickler

MB = 2 ** 20


# ---------------------------------------------------------------- writing
def table_bytes(obj, legacy=False):
    """The pickle torch.save writes for ``obj`` (with _Tensor stand-ins)."""
    body = io.BytesIO()
    _TorchPickler(body, legacy).dump(obj)
    return body.getvalue()


def write_zip(path, pkl, storages, compress=False, extra=None):
    """A zip-format file: ``pkl`` as data.pkl, ``storages`` {key: bytes}."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/byteorder", "little")
        for key, raw in storages.items():
            zf.writestr(f"archive/data/{key}", raw)
        for name, raw in (extra or {}).items():
            zf.writestr(name, raw)
        zf.writestr("archive/version", "3\n")


def one_tensor(path, size, stride, offset=0, numel=16, entry_bytes=None, legacy=False):
    """A file with one tensor ``w`` (size, stride, offset) over a float
    storage of ``numel`` elements (``entry_bytes`` overrides the stored bytes)."""
    data = np.arange(numel, dtype="<f4")
    st = _Storage("0", data)
    obj = {"w": _Tensor(st, offset, size, stride, legacy)}
    raw = data.tobytes() if entry_bytes is None else entry_bytes
    if legacy:
        write_legacy(path, table_bytes(obj, True), [(st.key, numel, raw)])
    else:
        write_zip(path, table_bytes(obj), {"0": raw})


def write_legacy(path, pkl, storages):
    """The format of torch < 1.6: headers, the table, the keys, then each
    storage as (int64 count, bytes). ``storages``: [(key, count, bytes)]."""
    with open(path, "wb") as f:
        for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                                            "type_sizes": {"short": 2, "int": 4, "long": 8}}):
            pickle.dump(header, f, protocol=2)
        f.write(pkl)
        pickle.dump([key for key, _, _ in storages], f, protocol=2)
        for _, count, raw in storages:
            f.write(struct.pack("<q", count) + raw)


def declare_size(path, entry, size):
    """Rewrite the unpacked size the zip declares for ``entry`` (local and
    central headers), leaving its bytes: a record that lies about its size."""
    blob = bytearray(open(path, "rb").read())
    name = entry.encode()
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := blob.find(sig, start)) >= 0:
            name_at = start + (30 if sig == b"PK\x03\x04" else 46)
            n = struct.unpack_from("<H", blob, start + (26 if sig == b"PK\x03\x04" else 28))[0]
            if bytes(blob[name_at:name_at + n]) == name:
                struct.pack_into("<I", blob, start + size_at, size)
            start += 4
    open(path, "wb").write(bytes(blob))


# ---------------------------------------------------------------- the cases
def _negative_stride(path):                  # segfaulted: reads far before the buffer
    one_tensor(path, (4, 4), (-1_000_000, 1), offset=12)


def _minus_one_row(path):                    # converted with values from outside the storage
    one_tensor(path, (4, 4), (-4, 1), offset=0)


def _negative_stride_legacy(path):
    one_tensor(path, (4, 4), (-1_000_000, 1), offset=12, legacy=True)


def _offset_past_end(path):
    one_tensor(path, (4,), (1,), offset=100)


def _last_past_end(path):
    one_tensor(path, (5, 4), (4, 1))


def _negative_size(path):
    one_tensor(path, (-1, 4), (4, 1))


def _negative_offset(path):
    one_tensor(path, (4,), (1,), offset=-8)


def _stride_zero_bomb(path):                 # 1 KB that becomes 6.4 GB
    one_tensor(path, (40000, 40000), (0, 0), numel=1)


def _overlapping_strides(path):              # 64 floats seen as 4 M
    one_tensor(path, (2048, 2048), (1, 1), numel=4096)


def _too_many_dims(path):
    one_tensor(path, (1,) * 40, (1,) * 40)


def _float_strides(path):
    one_tensor(path, (4, 4), (4.5, 1))


def _sizes_and_strides_differ(path):
    one_tensor(path, (4, 4), (1,))


def _size_is_text(path):
    one_tensor(path, "4444", (1, 1, 1, 1))


def _storage_shorter_than_declared(path):
    one_tensor(path, (16,), (1,), entry_bytes=b"\0" * 8)


def _storage_missing(path):
    st = _Storage("7", np.zeros(4, "<f4"))
    write_zip(path, table_bytes({"w": _Tensor(st, 0, (4,), (1,), False)}), {})


def _storage_declared_huge(path):            # 3 x 4 GB declared by the table and the zip
    n = 2 ** 30 - 1
    obj, storages = {}, {}
    for k in range(3):
        st = _Storage(str(k), np.broadcast_to(np.float32(0), (n,)))
        obj[f"w{k}"] = _Tensor(st, 0, (n,), (1,), False)
        storages[str(k)] = b"\0" * 16
    write_zip(path, table_bytes(obj), storages)
    for k in range(3):
        declare_size(path, f"archive/data/{k}", 4 * n)


def _storage_bomb(path):                     # 128 MB of zeros deflated to 128 KB
    n = 32 * MB
    st = _Storage("0", np.zeros(1, "<f4"))
    st.data = np.broadcast_to(np.float32(0), (n,))
    write_zip(path, table_bytes({"w": _Tensor(st, 0, (n,), (1,), False)}),
              {"0": bytes(4 * n)}, compress=True)


def _table_bomb(path):                       # data.pkl of 64 MB deflated to 64 KB
    pkl = b"\x80\x02]q\x00(" + b"K\x00" * (32 * MB) + b"e."
    write_zip(path, pkl, {}, compress=True)


def _byteorder_bomb(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({}, protocol=2))
        zf.writestr("archive/byteorder", bytes(64 * MB))


def _views_of_one_storage(path):             # 2000 views of 16 MB: 32 GB when copied
    n = 4 * MB
    st = _Storage("0", np.zeros(1, "<f4"))
    st.data = np.broadcast_to(np.float32(0), (n,))
    obj = {f"w{k}": _Tensor(st, 0, (n,), (1,), False) for k in range(2000)}
    write_zip(path, table_bytes(obj), {"0": bytes(4 * n)}, compress=True)


def _shared_lists(path):                     # a DAG: 2**40 items once expanded
    node = [0]
    for _ in range(40):
        node = [node, node]
    write_zip(path, pickle.dumps({"state_dict": {}, "opts": node}, protocol=2), {})


def _deep_nesting(path):
    pkl = b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."
    write_zip(path, pkl, {})


def _cycle(path):
    pkl = b"\x80\x02]q\x00h\x00a."                  # a list that holds itself
    write_zip(path, pkl, {})


def _memo_bomb(path):                        # 10 bytes asking for a 2 GB memo
    write_zip(path, b"\x80\x02Nr" + struct.pack("<I", 0x08000000) + b".", {})


def _long_record(path):                      # a byte string claiming 2**40 bytes
    write_zip(path, b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 40) + b"ab.", {})


def _legacy_huge_count(path):                # the storage header claims 2**60 elements
    data = np.zeros(4, "<f4")
    st = _Storage("0", data)
    write_legacy(path, table_bytes({"w": _Tensor(st, 0, (4,), (1,), True)}, True),
                 [("0", 2 ** 60, data.tobytes())])


def _legacy_view_outside(path):
    data = np.zeros(16, "<f4")
    st = _Storage("0", data, view=("0", 12, 100))
    write_legacy(path, table_bytes({"w": _Tensor(st, 0, (100,), (1,), True)}, True),
                 [("0", 16, data.tobytes())])


def _legacy_memo_bomb(path):
    with open(path, "wb") as f:
        pickle.dump(LEGACY_MAGIC, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        f.write(b"\x80\x02Nr" + struct.pack("<I", 0x08000000) + b".")


def _code(path):
    write_zip(path, b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.", {})


def _truncated(path):
    _honest(path)
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[:len(blob) // 2])


def _honest(path):
    rng = np.random.default_rng(0)
    data = rng.standard_normal(40).astype("<f4")
    st = _Storage("0", data)
    obj = {"a": _Tensor(st, 0, (4, 5), (5, 1), False),
           "b": _Tensor(st, 20, (5, 4), (1, 5), False),         # transposed view
           "c": _Tensor(st, 39, (), (), False)}
    write_zip(path, table_bytes(obj), {"0": data.tobytes()})


def _honest_deflated_legacy(path):
    data = np.arange(12, dtype="<f4")
    st = _Storage("0", data)
    write_legacy(path, table_bytes({"w": _Tensor(st, 0, (3, 4), (4, 1), True),
                                    "e": _Tensor(st, 12, (0, 4), (4, 1), True)}, True),
                 [("0", 12, data.tobytes())])


def shared_storage_file(path, state, compress=False):
    """A state dict (name -> float32 array) with every tensor in one storage,
    one after the other (a flat parameter buffer)."""
    flat = np.concatenate([np.asarray(a, "<f4").ravel() for a in state.values()])
    st = _Storage("0", flat)
    obj, at = {}, 0
    for name, arr in state.items():
        strides = [int(np.prod(arr.shape[d + 1:])) for d in range(arr.ndim)]
        obj[name] = _Tensor(st, at, arr.shape, strides, False)
        at += arr.size
    write_zip(path, table_bytes(obj), {"0": flat.tobytes()}, compress)


def bent_copy(src, dst, name, row_stride_sign=-1):
    """The honest file ``src`` written again with the stand-in pickler (each
    tensor in its own storage), the tensor ``name`` of its ``state_dict``
    given a stride of minus one row at offset 0: what a crafted file does
    to read before its buffer (torch never writes negative strides)."""
    from models.torch_file import read_torch_file
    obj = read_torch_file(src)
    keys = iter(range(10 ** 6))

    def stand_in(value, bend=False):
        if isinstance(value, dict):
            return {k: stand_in(v, bend=k == name) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(stand_in(v) for v in value)
        if not isinstance(value, np.ndarray):
            return value
        arr = np.ascontiguousarray(value, "<f4")          # the stand-ins write float storages
        st = _Storage(str(next(keys)), arr.ravel())
        strides = [int(np.prod(arr.shape[d + 1:])) for d in range(arr.ndim)]
        if bend:
            strides[0] *= row_stride_sign
        return _Tensor(st, 0, arr.shape, strides, False)
    tree = stand_in(obj)
    storages = {}

    def collect(node):
        if isinstance(node, dict):
            for v in node.values():
                collect(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                collect(v)
        elif isinstance(node, _Tensor):
            st = node.args[0]
            storages[st.key] = st.data.tobytes()
    collect(tree)
    write_zip(dst, table_bytes(tree), storages)


CASES = [
    ("negative_stride", _negative_stride, "refused"),
    ("minus_one_row", _minus_one_row, "refused"),
    ("negative_stride_legacy", _negative_stride_legacy, "refused"),
    ("offset_past_end", _offset_past_end, "refused"),
    ("last_past_end", _last_past_end, "refused"),
    ("negative_size", _negative_size, "refused"),
    ("negative_offset", _negative_offset, "refused"),
    ("stride_zero_bomb", _stride_zero_bomb, "refused"),
    ("overlapping_strides", _overlapping_strides, "refused"),
    ("too_many_dims", _too_many_dims, "refused"),
    ("float_strides", _float_strides, "refused"),
    ("sizes_and_strides_differ", _sizes_and_strides_differ, "refused"),
    ("size_is_text", _size_is_text, "refused"),
    ("storage_shorter_than_declared", _storage_shorter_than_declared, "refused"),
    ("storage_missing", _storage_missing, "refused"),
    ("storage_declared_huge", _storage_declared_huge, "refused"),
    ("storage_bomb", _storage_bomb, "refused"),
    ("table_bomb", _table_bomb, "refused"),
    ("byteorder_bomb", _byteorder_bomb, "refused"),
    ("views_of_one_storage", _views_of_one_storage, "refused"),
    ("shared_lists", _shared_lists, "refused"),
    ("deep_nesting", _deep_nesting, "refused"),
    ("cycle", _cycle, "refused"),
    ("memo_bomb", _memo_bomb, "refused"),
    ("long_record", _long_record, "refused"),
    ("legacy_huge_count", _legacy_huge_count, "refused"),
    ("legacy_view_outside", _legacy_view_outside, "refused"),
    ("legacy_memo_bomb", _legacy_memo_bomb, "refused"),
    ("code", _code, "refused"),
    ("truncated", _truncated, "refused"),
    ("honest", _honest, "read"),
    ("honest_legacy", _honest_deflated_legacy, "read"),
]


def write_corpus(folder):
    """Write every case to ``folder``; returns {name: (path, expectation)}."""
    os.makedirs(folder, exist_ok=True)
    out = {}
    for name, build, expect in CASES:
        path = os.path.join(folder, f"{name}.pt")
        build(path)
        out[name] = (path, expect)
    return out


if __name__ == "__main__":
    for case, (file, expectation) in write_corpus(sys.argv[1]).items():
        print(f"{expectation:8} {os.path.getsize(file):>10} {file}")
