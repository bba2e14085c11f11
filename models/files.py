"""Parameter files, training states and config.json, read without running
code (no Jittor needed here); ``CheckpointError`` for every file problem.

A .pkl is what Jittor's ``Module.save`` writes: a pickled dict name -> numpy
array, followed by a SHA-1 of the pickle and the tag ``HCAJSLHD`` (older
Jittor wrote the pickle alone; both are read). A training state is written
the same way. Everything goes through the restricted unpickler below,
within ``util.pickle_limits`` (see docs/security.md). Where each method
keeps its files is the method's ``checkpoint`` module
(``models/deepfacedrawing/checkpoint.py``, ``models/sp_embedding/checkpoint.py``).
"""

import hashlib
import io
import json
import os
import pickle

import numpy as np

from util.fileio import atomic_write
from util.pickle_limits import PickleLimitError, check_opcodes, check_tree

_TAG = b"HCAJSLHD"

# the hint a missing file gets (each method's checkpoint module has its own)
WHERE_FROM = ("Checkpoints come from training your own (python train.py, see README) "
              "or from the authors' published 'Params' folder (pass it with --params).")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, damaged or does not fit the network."""


# ---------------------------------------------------------------- paths
def config_path(root):
    return os.path.join(root, "config.json")


# ---------------------------------------------------------------- .pkl
def write_params(path, params):
    """Save name -> array in Jittor's format, atomically."""
    arrays = {k: np.ascontiguousarray(v) for k, v in params.items()}
    blob = pickle.dumps(arrays, 4)
    atomic_write(path, blob + hashlib.sha1(blob).digest() + _TAG)


def _read_pickle(path, what="checkpoint"):
    """The object pickled in ``path`` (with or without the SHA-1 trailer),
    through the restricted unpickler, within ``util.pickle_limits`` (memo
    slots, objects counted as a tree, nesting); CheckpointError naming the
    file."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: {what} file not found. {WHERE_FROM}")
    with open(path, "rb") as f:
        blob = f.read()
    if blob.endswith(_TAG):
        body, digest = blob[:-28], blob[-28:-8]
        if hashlib.sha1(body).digest() != digest:
            raise CheckpointError(f"{path}: checksum mismatch, the file is damaged "
                                  f"(truncated or altered); copy it again")
        blob = body
    try:
        check_opcodes(blob)
        obj = _SafeUnpickler(io.BytesIO(blob)).load()
        check_tree(obj)
        return obj
    except (CheckpointError, PickleLimitError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except Exception as exc:  # pickle raises many types on bad bytes
        raise CheckpointError(f"{path}: not a readable {what}, probably truncated "
                              f"({type(exc).__name__}: {exc})") from None


def read_params(path):
    """name -> numpy array from a Jittor .pkl; CheckpointError when damaged."""
    obj = _read_pickle(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a parameter dict")
    out = {}
    for name, value in obj.items():
        arr = value.numpy() if hasattr(value, "numpy") and not isinstance(value, np.ndarray) \
            else np.asarray(value)
        if arr.dtype == object:
            raise CheckpointError(f"{path}: parameter {str(name)!r} is not numeric "
                                  f"(an object array)")
        out[str(name)] = arr
    return out


def write_state(path, state):
    """Save a training state (nested dicts and lists of numbers, strings and
    arrays) like a parameter file: pickle + SHA-1 trailer, atomically."""
    blob = pickle.dumps(state, 4)
    atomic_write(path, blob + hashlib.sha1(blob).digest() + _TAG)


def read_state(path):
    """A training state written by ``write_state``, read through the same
    restricted unpickler as the weights (a state file runs no code)."""
    obj = _read_pickle(path, "training state")
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a training state")
    return obj


def _var_as_array(data, *_ignored):
    """Jittor pickles a Var as jittor_core.Var(ndarray): we keep the array."""
    return np.asarray(data)


def _frombuffer(buf, dtype, shape, order="C"):
    """NumPy's protocol-5 array constructor, for numeric dtypes only (an
    object dtype could carry pickled Python objects)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biufc?" or dtype.hasobject:
        raise CheckpointError(f"refusing an array of dtype {dtype} (only numeric arrays)")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order).copy()


class _SafeUnpickler(pickle.Unpickler):
    """Only numpy arrays and plain containers: a checkpoint runs no code.

    Also read: Jittor Vars (as Jittor 1.3's ``Module.save`` and ``jt.save``
    write them), which become their arrays, and NumPy's protocol-5 arrays
    (``_frombuffer``, numeric dtypes only)."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"), ("collections", "OrderedDict"),
                ("builtins", "dict"), ("_codecs", "encode")}  # protocol 2 stores bytes so
    _REPLACED = {("jittor", "jittor_core.Var"): _var_as_array,
                 ("jittor_core", "Var"): _var_as_array,
                 ("numpy.core.numeric", "_frombuffer"): _frombuffer,
                 ("numpy._core.numeric", "_frombuffer"): _frombuffer}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        if (module, name) in self._REPLACED:
            return self._REPLACED[(module, name)]
        raise CheckpointError(f"refusing to load {module}.{name} (only arrays and plain "
                              f"containers are read from a checkpoint)")


def check_names_and_shapes(path, found, expected, what="parameter", prefix="",
                           hint="is --preset right for this checkpoint?"):
    """Raise a CheckpointError naming the file and the first name of
    ``expected`` (name -> shape) missing from ``found`` (name -> anything
    with a shape), the first name there that is not expected, or the first
    with another shape: never a silent partial load. ``prefix`` is shown
    before names (a group of a larger file)."""
    missing = [k for k in expected if k not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CheckpointError(f"{path}: {what} {prefix}{missing[0]!r} is missing{more}; {hint}")
    extra = [k for k in found if k not in expected]
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise CheckpointError(f"{path}: unexpected {what} {prefix}{extra[0]!r}{more}; {hint}")
    for name, shape in expected.items():
        got = tuple(found[name].shape)
        if got != tuple(shape):
            raise CheckpointError(f"{path}: {what} {prefix}{name!r} has shape {list(got)}, "
                                  f"the network expects {list(shape)}; {hint}")


def check_params(path, params, expected):
    """``check_names_and_shapes`` for a parameter file, and finite values."""
    check_names_and_shapes(path, params, expected)
    for name in expected:
        if not np.all(np.isfinite(params[name])):
            raise CheckpointError(f"{path}: parameter {name!r} holds NaN or infinite values")


def weights_digest(params, names):
    """SHA-256 over (name, shape, little-endian float32 bytes) of the arrays
    ``names`` in that order (identifies converted weights independently of
    the file they are stored in)."""
    h = hashlib.sha256()
    for name in names:
        arr = np.ascontiguousarray(params[name], dtype="<f4")
        h.update(name.encode() + b"\0")
        h.update(np.asarray(arr.shape, dtype="<i8").tobytes())
        h.update(arr.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- config
def arch_dict(opt, keys, method):
    """The options ``keys`` of ``opt``, JSON-ready, with the method's name
    (what config.json holds). Lists become comma-separated strings."""
    out = {"method": method}
    for k in keys:
        v = getattr(opt, k)
        out[k] = ",".join(str(c) for c in v) if isinstance(v, (list, tuple)) else v
    return out


def write_config(root, arch):
    atomic_write(config_path(root), (json.dumps(arch, indent=2, sort_keys=True) + "\n").encode())


def read_config(root):
    """The architecture saved with a checkpoint folder we wrote, or None."""
    path = config_path(root)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            cfg = json.load(f)
    except ValueError as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{path}: expected a JSON object of options")
    return cfg
