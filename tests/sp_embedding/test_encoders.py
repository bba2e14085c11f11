"""pSp GradualStyleEncoder (models/sp_embedding/encoders.py) against the
authors' checkpoint manifest and against direct NumPy formulas (float64).

Full-size encoders are only built, never executed (Jittor creates their
267 M random values lazily); every forward pass runs on small configurations.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from models.sp_embedding import encoders as E
from tests.conftest import ROOT
from util.jittor_env import get_jittor

jt = get_jittor()

MANIFEST = Path(ROOT) / "tests" / "data" / "sp_embedding_checkpoint_manifest.json"
GROUPS = [("encoder_sketch_coarse.", 22), ("encoder_sketch_fine.", 22), ("encoder_face_fine.", 3)]


@pytest.fixture(scope="module")
def manifest():
    return json.loads(MANIFEST.read_text())


# ---------------------------------------------------------------- NumPy references
def conv_ref(x, w, b=None, stride=1, pad=0):
    """Cross-correlation, NCHW x OIHW, zero padding: a sum over kernel taps."""
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho = (h + 2 * pad - kh) // stride + 1
    wo = (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, o, ho, wo))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    if b is not None:
        out += b[None, :, None, None]
    return out


def bn_ref(x, p, prefix, train=False, eps=1e-5):
    if train:
        mean = x.mean(axis=(0, 2, 3))
        var = x.var(axis=(0, 2, 3))            # biased, as BatchNorm normalises
    else:
        mean, var = p[prefix + "running_mean"], p[prefix + "running_var"]
    c = (None, slice(None), None, None)
    return (x - mean[c]) / np.sqrt(var[c] + eps) * p[prefix + "weight"][c] + p[prefix + "bias"][c]


def prelu_ref(x, a):
    return np.where(x >= 0, x, a[None, :, None, None] * x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def se_ref(x, p, prefix):
    s = x.mean(axis=(2, 3), keepdims=True)
    s = np.maximum(conv_ref(s, p[prefix + "fc1.weight"]), 0.0)
    return x * sigmoid(conv_ref(s, p[prefix + "fc2.weight"]))


def unit_ref(x, p, prefix, stride, train=False):
    """bottleneck_IR_SE as written in the reference notes (section 4)."""
    if prefix + "shortcut_layer.0.weight" in p:
        short = bn_ref(conv_ref(x, p[prefix + "shortcut_layer.0.weight"], stride=stride),
                       p, prefix + "shortcut_layer.1.", train)
    else:
        short = x[:, :, ::stride, ::stride]     # MaxPool2d(1, stride)
    r = prefix + "res_layer."
    y = bn_ref(x, p, r + "0.", train)
    y = conv_ref(y, p[r + "1.weight"], pad=1)
    y = prelu_ref(y, p[r + "2.weight"])
    y = conv_ref(y, p[r + "3.weight"], stride=stride, pad=1)
    y = bn_ref(y, p, r + "4.", train)
    return se_ref(y, p, r + "5.") + short


def bilinear_ref(x, out_h, out_w):
    """align_corners=True: output (i, j) samples source (i*(h-1)/(H-1), j*(w-1)/(W-1))."""
    n, c, h, w = x.shape
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        sy = i * (h - 1) / (out_h - 1)
        y0 = int(math.floor(sy))
        y1 = min(y0 + 1, h - 1)
        fy = sy - y0
        for j in range(out_w):
            sx = j * (w - 1) / (out_w - 1)
            x0 = int(math.floor(sx))
            x1 = min(x0 + 1, w - 1)
            fx = sx - x0
            out[:, :, i, j] = ((1 - fy) * ((1 - fx) * x[:, :, y0, x0] + fx * x[:, :, y0, x1])
                               + fy * ((1 - fx) * x[:, :, y1, x0] + fx * x[:, :, y1, x1]))
    return out


def head_ref(x, p, prefix):
    """GradualStyleBlock: convs 3x3/2 + LeakyReLU(0.01) until 1x1, equalised linear."""
    i = 0
    while prefix + f"convs.{i}.weight" in p:
        x = conv_ref(x, p[prefix + f"convs.{i}.weight"], p[prefix + f"convs.{i}.bias"],
                     stride=2, pad=1)
        x = np.where(x >= 0, x, 0.01 * x)
        i += 2
    assert x.shape[2:] == (1, 1)
    x = x.reshape(x.shape[0], -1)
    w = p[prefix + "linear.weight"]
    return x @ (w / math.sqrt(w.shape[1])).T + p[prefix + "linear.bias"]


def encoder_ref(x, p, n_styles, taps, strides):
    x = bn_ref(conv_ref(x, p["input_layer.0.weight"], pad=1), p, "input_layer.1.")
    x = prelu_ref(x, p["input_layer.2.weight"])
    feats = {}
    for i, s in enumerate(strides):
        x = unit_ref(x, p, f"body.{i}.", s)
        feats[i] = x
    c1, c2, c3 = (feats[t] for t in taps)
    lat1 = conv_ref(c2, p["latlayer1.weight"], p["latlayer1.bias"])
    p2 = bilinear_ref(c3, *c2.shape[2:]) + lat1
    lat2 = conv_ref(c1, p["latlayer2.weight"], p["latlayer2.bias"])
    p1 = bilinear_ref(p2, *c1.shape[2:]) + lat2
    src = [c3] * 3 + [p2] * 4 + [p1] * (n_styles - 7)
    return np.stack([head_ref(src[k], p, f"styles.{k}.") for k in range(n_styles)], axis=1)


# ---------------------------------------------------------------- helpers
def randomize(net, seed):
    """Give every tensor of ``net`` a random value of a sensible range;
    return them as float64 NumPy arrays by name."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, var in net.state_dict().items():
        shape = tuple(var.shape)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var":
            a = rng.uniform(0.5, 2.0, shape)
        elif leaf == "running_mean":
            a = rng.normal(0.0, 0.3, shape)
        elif leaf == "bias":
            a = rng.normal(0.0, 0.1, shape)
        elif len(shape) == 4:                       # conv: unit gain
            a = rng.normal(0.0, 1.0, shape) / math.sqrt(np.prod(shape[1:]))
        elif name.endswith("linear.weight"):        # equalised: stored as randn
            a = rng.normal(0.0, 1.0, shape)
        else:                                       # BatchNorm gamma, PReLU slope
            a = rng.uniform(0.1, 1.5, shape)
        var.update(jt.array(a.astype(np.float32)))
        values[name] = a.astype(np.float32).astype(np.float64)
    return values


def set_values(net, values):
    for name, var in net.state_dict().items():
        var.update(jt.array(values[name].astype(np.float32)))


def close(got, ref, rel=1e-4):
    scale = max(1.0, float(np.abs(ref).max()))
    err = float(np.abs(np.asarray(got, np.float64) - ref).max())
    assert err <= rel * scale, f"max abs error {err:.3g} (reference scale {scale:.3g})"


def tiny(**kw):
    """IR-SE-18 at width 1/4 (16..128 channels), 64x64 input, style_dim 128."""
    args = dict(input_nc=22, n_styles=18, num_layers=18, style_dim=128, input_size=64,
                width=0.25)
    args.update(kw)
    return E.GradualStyleEncoder(**args)


# ---------------------------------------------------------------- structure
@pytest.mark.parametrize("group,input_nc", GROUPS)
def test_state_dict_equals_manifest(manifest, group, input_nc):
    entries = manifest["groups"][group]["keys"]
    expected = [(name[len(group):], tuple(shape), dtype) for name, shape, dtype, _ in entries
                if not E.is_torch_only(name)]
    dropped = [name for name, *_ in entries if E.is_torch_only(name)]
    assert len(dropped) == 52 and all(name.endswith(".num_batches_tracked") for name in dropped)
    net = E.GradualStyleEncoder(input_nc)               # lazy: nothing is executed
    got = [(k, tuple(v.shape), str(v.dtype)) for k, v in net.state_dict().items()]
    assert got == expected                              # names, order, shapes, dtypes
    kinds = {name[len(group):]: kind for name, _, _, kind in entries}
    assert all(E.is_buffer(k) == (kinds[k] == "buffer") for k, _, _ in got)


@pytest.mark.parametrize("group,input_nc", GROUPS)
def test_parameter_counts_equal_manifest(manifest, group, input_nc):
    info = manifest["groups"][group]
    net = E.GradualStyleEncoder(input_nc)
    sd = net.state_dict()
    assert E.count_parameters(net) == info["parameter_count"]
    # the manifest's buffer elements include one per num_batches_tracked
    buffers = sum(int(np.prod(v.shape)) for k, v in sd.items() if E.is_buffer(k))
    assert buffers == info["buffer_elements"] - 52

    def params_under(prefix):
        return sum(int(np.prod(v.shape)) for k, v in sd.items()
                   if k.startswith(prefix) and not E.is_buffer(k))

    if input_nc == 22:
        b = manifest["encoder_breakdown"]
        assert params_under("input_layer.") == b["input_layer"]
        assert params_under("body.") == b["body (24 bottleneck_IR_SE)"]
        assert params_under("styles.") == b["styles (18 GradualStyleBlock)"]
        assert params_under("latlayer") == b["latlayer1+latlayer2"]


def test_body_layout():
    units = E.body_units(50)
    assert len(units) == 24 and E.tap_indices(50) == (6, 20, 23)
    assert [i for i, u in enumerate(units) if u[2] == 2] == [0, 3, 7, 21]
    assert [u[1] for u in units] == [64] * 3 + [128] * 4 + [256] * 14 + [512] * 3
    assert len(E.body_units(100)) == 49 and len(E.body_units(152)) == 50
    assert E.tap_indices(18) == (3, 5, 7)
    assert [u[1] for u in E.body_units(18, 0.25)] == [16, 16, 32, 32, 64, 64, 128, 128]
    assert E.scaled_channels(512, 0.3) == 160 and E.scaled_channels(64, 0.1) == 16
    with pytest.raises(ValueError):
        E.body_units(34)
    net = tiny(n_styles=8, input_size=128)     # head conv counts follow the map sizes
    convs = [len([k for k in net.state_dict() if k.startswith(f"styles.{i}.convs.")
                  and k.endswith("weight")]) for i in (0, 3, 7)]
    assert convs == [3, 4, 5]


def test_invalid_configurations():
    with pytest.raises(ValueError):
        tiny(style_dim=64)           # p2 = up(c3) + latlayer1(c2) needs c3 channels
    with pytest.raises(ValueError):
        tiny(input_size=96)
    net = tiny(n_styles=2)
    net.eval()
    with pytest.raises(ValueError):
        net(jt.zeros((1, 22, 32, 32)))


# ---------------------------------------------------------------- parts against NumPy
@pytest.mark.parametrize("cin,depth,stride,train", [
    (16, 16, 2, False),     # max-pool 1x1 shortcut (subsampling), odd input size
    (16, 32, 2, False),     # conv + BatchNorm shortcut
    (32, 32, 1, False),     # identity shortcut
    (16, 32, 2, True),      # train mode: batch statistics
])
def test_unit_matches_numpy(cin, depth, stride, train):
    unit = E.BottleneckIRSE(cin, depth, stride)
    assert ("shortcut_layer.0.weight" in unit.state_dict()) == (cin != depth)
    p = randomize(unit, seed=cin + depth + stride)
    if train:
        unit.train()
    else:
        unit.eval()
    x = np.random.default_rng(1).normal(size=(2, cin, 7, 7))
    got = unit(jt.array(x.astype(np.float32))).numpy()
    ref = unit_ref(x.astype(np.float32).astype(np.float64), p, "", stride, train)
    assert got.shape == ref.shape
    close(got, ref)


def test_se_module_matches_numpy():
    se = E.SEModule(48)
    p = randomize(se, seed=3)
    x = np.random.default_rng(2).normal(size=(2, 48, 5, 6)).astype(np.float32)
    close(se(jt.array(x)).numpy(), se_ref(x.astype(np.float64), p, ""))


@pytest.mark.parametrize("src,dst", [((4, 4), (8, 8)), ((16, 16), (32, 32)), ((3, 5), (7, 9))])
def test_bilinear_align_corners(src, dst):
    x = np.random.default_rng(4).normal(size=(2, 3) + src).astype(np.float32)
    got = E.upsample_bilinear(jt.array(x), dst).numpy()
    ref = bilinear_ref(x.astype(np.float64), *dst)
    assert np.abs(got - ref).max() < 2e-6
    corners = got[:, :, ::dst[0] - 1, ::dst[1] - 1]      # align_corners: corners kept exactly
    assert np.array_equal(corners, x[:, :, ::src[0] - 1, ::src[1] - 1])


def test_gradual_style_block_matches_numpy():
    block = E.GradualStyleBlock(24, 16, 8)
    names = sorted(block.state_dict())
    assert names == sorted(["convs.0.weight", "convs.0.bias", "convs.2.weight", "convs.2.bias",
                            "convs.4.weight", "convs.4.bias", "linear.weight", "linear.bias"])
    assert tuple(block.state_dict()["convs.0.weight"].shape) == (16, 24, 3, 3)
    p = randomize(block, seed=5)
    x = np.random.default_rng(6).normal(size=(3, 24, 8, 8)).astype(np.float32)
    got = block(jt.array(x)).numpy()
    assert got.shape == (3, 16)
    close(got, head_ref(x.astype(np.float64), p, ""))


# ---------------------------------------------------------------- the whole encoder
@pytest.fixture(scope="module")
def tiny_net():
    net = tiny(scale=6.0)
    p = randomize(net, seed=7)
    net.eval()
    x = np.random.default_rng(8).normal(size=(2, 22, 64, 64)).astype(np.float32)
    return net, p, x


def test_encoder_matches_numpy(tiny_net):
    net, p, x = tiny_net
    got = net(jt.array(x)).numpy()
    assert got.shape == (2, 18, 128)
    strides = [u[2] for u in E.body_units(18, 0.25)]
    ref = 6.0 * encoder_ref(x.astype(np.float64), p, 18, (3, 5, 7), strides)
    close(got, ref)
    again = net(jt.array(x)).numpy()          # eval mode is deterministic
    assert np.array_equal(got, again)


def test_rows_are_the_whole_outputs_rows_and_skip_the_other_heads(tiny_net):
    """E_s's rows below a break layer, E_a's from it: the same values as the
    whole output's rows, with the other heads (and p1, when no row reads it)
    never executed."""
    net, p, x = tiny_net
    full = net(jt.array(x)).numpy()
    calls = []
    for j, block in enumerate(net.styles):
        block.execute = (lambda j, run: lambda *a: (calls.append(j), run(*a))[1])(j, block.execute)
    lat2 = net.latlayer2.execute
    net.latlayer2.execute = lambda *a: (calls.append("p1"), lat2(*a))[1]
    try:
        for rows in ((0, 6), (0, 8), (6, 18), (3, 7), (17, 18)):
            calls.clear()
            got = net(jt.array(x), rows=rows).numpy()
            assert got.shape == (2, rows[1] - rows[0], 128)
            np.testing.assert_allclose(got, full[:, rows[0]:rows[1]], rtol=1e-5, atol=1e-6)
            assert [c for c in calls if c != "p1"] == list(range(*rows))
            assert ("p1" in calls) == (rows[1] > E.MIDDLE_IND)
    finally:
        for block in net.styles:
            del block.execute
        del net.latlayer2.execute
    for bad in ((0, 0), (5, 3), (-1, 4), (0, 19)):
        with pytest.raises(ValueError, match="rows must be"):
            net(jt.array(x), rows=bad)


def test_w_only_is_head0_and_skips_the_rest(tiny_net):
    net, p, x = tiny_net
    full = net(jt.array(x)).numpy()
    w_net = tiny(scale=60.0, w_only=True)
    set_values(w_net, p)
    w_net.eval()

    def boom(*args):
        raise AssertionError("w_only computed a module it should skip")

    for m in [w_net.latlayer1, w_net.latlayer2] + [w_net.styles[k] for k in range(1, 18)]:
        m.execute = boom
    w = w_net(jt.array(x)).numpy()
    assert w.shape == (2, 128)
    close(w, 10.0 * full[:, 0])


def test_fewer_styles_shapes():
    for n in (2, 5):
        net = tiny(n_styles=n)
        net.eval()
        assert net(jt.ones((1, 22, 64, 64))).shape == (1, n, 128)


def test_train_mode_batch_stats_and_gradient():
    net = tiny(n_styles=8, scale=6.0)
    randomize(net, seed=9)
    x = jt.array(np.random.default_rng(10).normal(size=(2, 22, 64, 64)).astype(np.float32))
    net.train()
    out = net(x)
    # train mode normalises with batch statistics: the running ones do not matter
    bn = net.input_layer[1]
    bn.running_mean.update(bn.running_mean + 5.0)
    assert np.allclose(net(x).numpy(), out.numpy(), atol=1e-5)
    net.eval()
    assert not np.allclose(net(x).numpy(), out.numpy(), atol=1e-2)
    net.train()
    w = net.input_layer[0].weight
    w0 = w.numpy().copy()
    loss = (net(x) ** 2).sum()
    g = jt.grad(loss, w)
    jt.sync([loss, g])
    loss0, g = loss.item(), g.numpy()
    assert g.shape == w0.shape and np.isfinite(g).all() and np.abs(g).max() > 0
    # a small step against the gradient lowers the loss (it is the gradient)
    lr = 1e-3 * float(np.abs(w0).max()) / float(np.abs(g).max())
    w.update(jt.array(w0 - lr * g))
    assert (net(x) ** 2).sum().item() < loss0
