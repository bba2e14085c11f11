"""StyleGAN2 in Jittor (models/sp_embedding/stylegan2.py) against direct
NumPy/SciPy formulas: the FIR op, the equalised and modulated layers, the
mapping network, the generator's latent handling and the discriminator.

Everything runs at small channel counts and sizes; the only 1024 network is
the key/shape check against the authors' manifest, built lazily."""

import json
import math
import os

import numpy as np
import pytest
from scipy.signal import convolve2d, correlate2d

from tests.conftest import ROOT
from util.jittor_env import get_jittor

jt = get_jittor()

from models.sp_embedding import stylegan2 as sg  # noqa: E402

MANIFEST = os.path.join(ROOT, "tests", "data", "sp_embedding_checkpoint_manifest.json")
REL = 1e-5


def rel_err(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def randomize(net, seed, scale=0.5):
    """Give every parameter and buffer random values (so zero-initialised noise
    weights and biases take part); returns the numpy values by name."""
    rng = np.random.default_rng(seed)
    values = {}
    for name, var in net.state_dict().items():
        arr = rng.normal(0, scale, var.shape).astype(np.float32)
        if name.endswith("kernel"):          # keep the FIR kernels what they are
            arr = var.numpy()
        var.update(jt.array(arr))
        values[name] = arr
    return values


# ---------------------------------------------------------------- NumPy references
def np_zero_insert(img, up):
    """H x W -> H*up x W*up with img at (up*i, up*j), zeros elsewhere."""
    out = np.zeros((img.shape[0] * up, img.shape[1] * up), img.dtype)
    out[::up, ::up] = img
    return out


def np_upfirdn(img, kernel, up, down, pad):
    """Zero insertion, zero padding (before, after) on both axes, true 2-D
    convolution with scipy, keep every down-th sample."""
    padded = np.pad(np_zero_insert(img, up), [pad, pad])
    return convolve2d(padded, kernel, mode="valid")[::down, ::down]


def np_lrelu(x):
    return np.where(x > 0, x, 0.2 * x) * math.sqrt(2)


def np_style(style, a_weight, a_bias):
    """Modulation: an equalised linear (lr_mul 1) from style_dim to in."""
    return style @ (a_weight / math.sqrt(style.shape[-1])).T + a_bias


def np_modulated_weight(weight, s, demodulate):
    """Per-sample weight of a modulated conv: weight (1 x out x in x k x k),
    s (in,) -> out x in x k x k."""
    _, out_c, in_c, k, _ = weight.shape
    w = weight[0] * s[None, :, None, None] / math.sqrt(in_c * k * k)
    if demodulate:
        w = w / np.sqrt((w ** 2).sum(axis=(1, 2, 3)) + 1e-8)[:, None, None, None]
    return w


def np_conv(x, w, pad):
    """Plain (cross-correlation) convolution of one sample: in x H x W by
    out x in x k x k with zero padding pad."""
    xp = np.pad(x, [(0, 0), (pad, pad), (pad, pad)])
    return np.stack([sum(correlate2d(xp[i], w[o, i], mode="valid") for i in range(x.shape[0]))
                     for o in range(w.shape[0])])


def np_transposed_conv(x, w):
    """Stride-2 transposed conv, pad 0: zero insertion (2H - 1 samples) then
    a full convolution with every out x in kernel (2H + 1 for k = 3)."""
    z = [np_zero_insert(x[i], 2)[:-1, :-1] for i in range(x.shape[0])]
    return np.stack([sum(convolve2d(z[i], w[o, i], mode="full") for i in range(x.shape[0]))
                     for o in range(w.shape[0])])


BLUR4 = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0


# ---------------------------------------------------------------- ops
def test_make_kernel_is_the_normalised_outer_product():
    k = sg.make_kernel([1, 3, 3, 1]).numpy()
    assert k.shape == (4, 4)
    np.testing.assert_allclose(k, BLUR4, rtol=1e-7)
    np.testing.assert_allclose(sg.make_kernel([1, 2, 1]).numpy(),
                               np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16.0, rtol=1e-7)


@pytest.mark.parametrize("up,down,pad", [(1, 1, (1, 1)), (1, 1, (2, 1)), (2, 1, (2, 1)),
                                         (1, 2, (2, 2)), (2, 2, (1, 2)), (1, 1, (0, 0))])
def test_upfirdn2d_matches_zero_insert_pad_convolve(up, down, pad):
    rng = np.random.default_rng(up * 10 + down + pad[0] * 3)
    x = rng.normal(size=(2, 3, 7, 6)).astype(np.float32)
    kernel = rng.normal(size=(4, 3)).astype(np.float32)    # not symmetric: the flip matters
    got = sg.upfirdn2d(jt.array(x), jt.array(kernel), up=up, down=down, pad=pad).numpy()
    want = np.stack([np.stack([np_upfirdn(x[b, c].astype(np.float64), kernel, up, down, pad)
                               for c in range(3)]) for b in range(2)])
    assert rel_err(got, want) < REL


def test_upfirdn2d_rejects_negative_pads():
    with pytest.raises(ValueError):
        sg.upfirdn2d(jt.zeros(1, 1, 4, 4), sg.make_kernel([1, 3, 3, 1]), pad=(-1, 0))


def test_fused_leaky_relu_broadcasts_bias_on_dim_1():
    rng = np.random.default_rng(1)
    x4, x2, b = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(6, 3)), rng.normal(size=3)
    got4 = sg.fused_leaky_relu(jt.array(x4.astype(np.float32)), jt.array(b.astype(np.float32)))
    got2 = sg.fused_leaky_relu(jt.array(x2.astype(np.float32)), jt.array(b.astype(np.float32)))
    assert rel_err(got4.numpy(), np_lrelu(x4 + b[None, :, None, None])) < REL
    assert rel_err(got2.numpy(), np_lrelu(x2 + b[None, :])) < REL


# ---------------------------------------------------------------- equalised layers
@pytest.mark.parametrize("activation", [None, "fused_lrelu"])
def test_equal_linear_with_lr_mul(activation):
    lin = sg.EqualLinear(6, 4, bias_init=0.5, lr_mul=0.01, activation=activation)
    np.testing.assert_allclose(lin.bias.numpy(), 0.5)
    w = lin.weight.numpy()
    assert w.shape == (4, 6) and w.std() > 10        # stored as randn / lr_mul
    vals = randomize(lin, 2)
    x = np.random.default_rng(3).normal(size=(5, 6))
    y = x @ (vals["weight"] * 0.01 / math.sqrt(6)).T + vals["bias"] * 0.01
    want = np_lrelu(y) if activation else y
    assert rel_err(lin(jt.array(x.astype(np.float32))).numpy(), want) < REL


def test_equal_conv2d_scales_the_weight():
    conv = sg.EqualConv2d(3, 2, 3, padding=1)
    vals = randomize(conv, 4)
    x = np.random.default_rng(5).normal(size=(2, 3, 6, 6))
    w = vals["weight"] / math.sqrt(3 * 9)
    want = np.stack([np_conv(x[b], w, 1) + vals["bias"][:, None, None] for b in range(2)])
    assert rel_err(conv(jt.array(x.astype(np.float32))).numpy(), want) < REL


# ---------------------------------------------------------------- modulated layers
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_matches_the_per_sample_formula(demodulate):
    conv = sg.ModulatedConv2d(4, 5, 3, style_dim=6, demodulate=demodulate)
    vals = randomize(conv, 6)
    rng = np.random.default_rng(7)
    x, style = rng.normal(size=(3, 4, 6, 5)), rng.normal(size=(3, 6))
    want = []
    for b in range(3):
        s = np_style(style[b], vals["modulation.weight"], vals["modulation.bias"])
        want.append(np_conv(x[b], np_modulated_weight(vals["weight"], s, demodulate), 1))
    got = conv(jt.array(x.astype(np.float32)), jt.array(style.astype(np.float32))).numpy()
    assert rel_err(got, np.stack(want)) < REL


def test_upsampling_modulated_conv_is_transposed_conv_then_blur():
    conv = sg.ModulatedConv2d(3, 4, 3, style_dim=5, upsample=True)
    np.testing.assert_allclose(conv.blur.kernel.numpy(), BLUR4 * 4, rtol=1e-7)
    assert conv.blur.kernel.is_stop_grad()
    vals = randomize(conv, 8)
    rng = np.random.default_rng(9)
    x, style = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 5))
    want = []
    for b in range(2):
        s = np_style(style[b], vals["modulation.weight"], vals["modulation.bias"])
        t = np_transposed_conv(x[b], np_modulated_weight(vals["weight"], s, True))
        assert t.shape == (4, 11, 9)                      # 2H + 1
        want.append(np.stack([convolve2d(np.pad(t[o], 1), BLUR4 * 4, mode="valid")
                              for o in range(4)]))
    got = conv(jt.array(x.astype(np.float32)), jt.array(style.astype(np.float32))).numpy()
    assert got.shape == (2, 4, 10, 8)
    assert rel_err(got, np.stack(want)) < REL


def test_downsampling_modulated_conv_is_blur_then_stride_2():
    conv = sg.ModulatedConv2d(3, 2, 3, style_dim=4, downsample=True)
    np.testing.assert_allclose(conv.blur.kernel.numpy(), BLUR4, rtol=1e-7)
    vals = randomize(conv, 25)
    rng = np.random.default_rng(26)
    x, style = rng.normal(size=(2, 3, 8, 6)), rng.normal(size=(2, 4))
    want = []
    for b in range(2):
        s = np_style(style[b], vals["modulation.weight"], vals["modulation.bias"])
        blurred = np.stack([np_upfirdn(c, BLUR4, 1, 1, (2, 2)) for c in x[b]])
        want.append(np_conv(blurred, np_modulated_weight(vals["weight"], s, True), 0)[:, ::2, ::2])
    got = conv(jt.array(x.astype(np.float32)), jt.array(style.astype(np.float32))).numpy()
    assert got.shape == (2, 2, 4, 3)
    assert rel_err(got, np.stack(want)) < REL


def test_to_rgb_adds_the_upsampled_skip():
    rgb = sg.ToRGB(4, style_dim=5)
    np.testing.assert_allclose(rgb.upsample.kernel.numpy(), BLUR4 * 4, rtol=1e-7)
    vals = randomize(rgb, 10)
    rng = np.random.default_rng(11)
    x, style = rng.normal(size=(2, 4, 6, 6)), rng.normal(size=(2, 5))
    skip = rng.normal(size=(2, 3, 3, 3))
    want = []
    for b in range(2):
        s = np_style(style[b], vals["conv.modulation.weight"], vals["conv.modulation.bias"])
        out = np_conv(x[b], np_modulated_weight(vals["conv.weight"], s, False), 0)
        up = np.stack([convolve2d(np.pad(np_zero_insert(skip[b, c], 2), (2, 1)), BLUR4 * 4,
                                  mode="valid") for c in range(3)])
        want.append(out + vals["bias"][0] + up)
    got = rgb(jt.array(x.astype(np.float32)), jt.array(style.astype(np.float32)),
              jt.array(skip.astype(np.float32))).numpy()
    assert rel_err(got, np.stack(want)) < REL


# ---------------------------------------------------------------- generator
SMALL = dict(size=16, style_dim=8, n_mlp=3, channel_multiplier=1, channel_max=8)


@pytest.fixture(scope="module")
def small_g():
    g = sg.Generator(**SMALL)
    vals = randomize(g, 12, scale=0.3)
    return g, vals


def run_g(g, styles, **kw):
    img, latent = g([jt.array(s.astype(np.float32)) for s in styles], **kw)
    return img.numpy(), (latent.numpy() if latent is not None else None)


def test_generator_state_dict_equals_the_manifest_at_1024():
    with open(MANIFEST) as fh:
        keys = json.load(fh)["groups"]["decoder."]["keys"]
    want = {name[len("decoder."):]: (tuple(shape), kind) for name, shape, _, kind in keys}
    g = sg.Generator(1024, materialize=False)         # lazy: nothing computed
    state = g.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: s for k, (s, _) in want.items()}
    assert {k for k, v in state.items() if v.is_stop_grad()} == \
        {k for k, (_, kind) in want.items() if kind == "buffer"}
    assert g.n_latent == 18 and g.num_layers == 17


def test_generator_layout_at_a_small_size(small_g):
    g, _ = small_g
    assert (g.n_latent, g.num_layers, g.log_size) == (6, 5, 4)
    assert [tuple(n.shape) for n in g.stored_noise()] == \
        [(1, 1, 4, 4), (1, 1, 8, 8), (1, 1, 8, 8), (1, 1, 16, 16), (1, 1, 16, 16)]
    assert [tuple(n.shape) for n in g.make_noise()] == [tuple(n.shape) for n in g.stored_noise()]
    assert sg.channel_table(2, 512) == {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256,
                                        256: 128, 512: 64, 1024: 32}
    with pytest.raises(ValueError):
        sg.Generator(48, materialize=False)


def test_mapping_network_matches_the_formula(small_g):
    g, vals = small_g
    z = np.random.default_rng(13).normal(size=(3, 8))
    x = z / np.sqrt((z ** 2).mean(axis=1, keepdims=True) + 1e-8)
    for i in range(1, 4):
        w = vals[f"style.{i}.weight"] * 0.01 / math.sqrt(8)
        x = np_lrelu(x @ w.T + vals[f"style.{i}.bias"] * 0.01)
    assert rel_err(g.get_latent(jt.array(z.astype(np.float32))).numpy(), x) < REL
    mean = g.mean_latent(16).numpy()
    assert mean.shape == (1, 8) and np.isfinite(mean).all()


def test_generator_output_and_stored_noise_determinism(small_g):
    g, _ = small_g
    w = np.random.default_rng(14).normal(size=(2, 8))
    a, latent = run_g(g, [w], input_is_latent=True, randomize_noise=False)
    b, _ = run_g(g, [w], input_is_latent=True, randomize_noise=False)
    assert a.shape == (2, 3, 16, 16) and latent is None
    np.testing.assert_array_equal(a, b)
    c, _ = run_g(g, [w], input_is_latent=True, randomize_noise=True)
    d, _ = run_g(g, [w], input_is_latent=True, randomize_noise=True)
    assert np.abs(c - a).max() > 1e-4 and np.abs(c - d).max() > 1e-4
    old = g.noises.noise_3.numpy()
    try:
        g.noises.noise_3.update(jt.array(old + 1.0))
        assert g.noises.noise_3.is_stop_grad()          # a load keeps buffers untrained
        e, _ = run_g(g, [w], input_is_latent=True, randomize_noise=False)
        assert np.abs(e - a).max() > 1e-4
        # the same maps passed explicitly give the same image
        f, _ = run_g(g, [w], input_is_latent=True, noise=g.stored_noise())
        np.testing.assert_array_equal(e, f)
    finally:
        g.noises.noise_3.update(jt.array(old))


def test_w_broadcast_equals_the_repeated_w_plus(small_g):
    g, _ = small_g
    w = np.random.default_rng(15).normal(size=(2, 8))
    a, latent = run_g(g, [w], input_is_latent=True, randomize_noise=False, return_latents=True)
    w_plus = np.repeat(w[:, None, :], g.n_latent, axis=1)
    np.testing.assert_array_equal(latent, w_plus.astype(np.float32))
    b, _ = run_g(g, [w_plus], input_is_latent=True, randomize_noise=False)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * np.abs(a).max())
    # rows really drive different layers: changing only the last row changes the image
    w_plus[:, -1] += 1.0
    c, _ = run_g(g, [w_plus], input_is_latent=True, randomize_noise=False)
    assert np.abs(c - a).max() > 1e-4


@pytest.mark.parametrize("inject_index", [1, 4, None])
def test_style_mixing_equals_a_hand_built_w_plus(small_g, inject_index):
    g, _ = small_g
    rng = np.random.default_rng(16)
    z1, z2 = rng.normal(size=(2, 8)), rng.normal(size=(2, 8))
    np.random.seed(5)
    img, latent = run_g(g, [z1, z2], inject_index=inject_index, randomize_noise=False,
                        return_latents=True)
    np.random.seed(5)
    i = inject_index if inject_index is not None else np.random.randint(1, g.n_latent)
    w1 = g.get_latent(jt.array(z1.astype(np.float32))).numpy()
    w2 = g.get_latent(jt.array(z2.astype(np.float32))).numpy()
    w_plus = np.concatenate([np.repeat(w1[:, None], i, 1),
                             np.repeat(w2[:, None], g.n_latent - i, 1)], 1)
    np.testing.assert_allclose(latent, w_plus, rtol=0, atol=1e-6)
    want, _ = run_g(g, [w_plus], input_is_latent=True, randomize_noise=False)
    np.testing.assert_allclose(img, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_truncation_pulls_towards_the_truncation_latent(small_g):
    g, _ = small_g
    rng = np.random.default_rng(17)
    w, t = rng.normal(size=(2, 8)), rng.normal(size=(1, 8))
    got, _ = run_g(g, [w], input_is_latent=True, randomize_noise=False, truncation=0.7,
                   truncation_latent=jt.array(t.astype(np.float32)))
    want, _ = run_g(g, [t + 0.7 * (w - t)], input_is_latent=True, randomize_noise=False)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_buffers_are_not_trainable_and_gradients_reach_the_parameters(small_g):
    g, _ = small_g
    state = g.state_dict()
    buffers = {k for k, v in state.items() if v.is_stop_grad()}
    assert buffers == {f"noises.noise_{i}" for i in range(5)} | {
        "convs.0.conv.blur.kernel", "convs.2.conv.blur.kernel",
        "to_rgbs.0.upsample.kernel", "to_rgbs.1.upsample.kernel"}
    trainable = [p for p in g.parameters() if not p.is_stop_grad()]
    assert len(trainable) == len(state) - len(buffers)
    w = jt.array(np.random.default_rng(18).normal(size=(2, 6, 8)).astype(np.float32))
    z = jt.array(np.random.default_rng(19).normal(size=(2, 8)).astype(np.float32))
    img, _ = g([w], input_is_latent=True, randomize_noise=False)
    img2, _ = g([z], randomize_noise=False)          # through the mapping network
    loss = (img * img).sum() + img2.sum()
    names = [k for k in state if k not in buffers]
    grads = jt.grad(loss, [state[k] for k in names])
    for name, grad in zip(names, grads):
        arr = grad.numpy()
        assert np.isfinite(arr).all() and np.abs(arr).max() > 0, name
    # d(sum of img2)/d(last RGB bias) is H * W for every channel
    (gb,) = jt.grad(img2.sum(), [state["to_rgbs.1.bias"]])
    np.testing.assert_allclose(gb.numpy().ravel(), [2 * 16 * 16] * 3, rtol=1e-6)


# ---------------------------------------------------------------- discriminator
def np_minibatch_stddev(x, group=4):
    b, c, h, w = x.shape
    g = min(b, group)
    m = b // g
    y = x.reshape(g, m, c, h, w)
    sd = np.sqrt(y.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))       # m
    extra = np.stack([np.full((1, h, w), sd[i % m]) for i in range(b)])
    return np.concatenate([x, extra], axis=1)


@pytest.mark.parametrize("batch", [8, 2])
def test_minibatch_stddev_matches_numpy(batch):
    x = np.random.default_rng(20 + batch).normal(size=(batch, 3, 4, 4)) * 3 + 1
    got = sg.minibatch_stddev(jt.array(x.astype(np.float32))).numpy()
    assert rel_err(got, np_minibatch_stddev(x)) < REL


def test_discriminator_layout_output_and_input_gradient():
    d = sg.Discriminator(16, channel_multiplier=1, channel_max=8)
    keys = list(d.state_dict())
    assert keys[:9] == ["convs.0.0.weight", "convs.0.1.bias", "convs.1.conv1.0.weight",
                        "convs.1.conv1.1.bias", "convs.1.conv2.0.kernel", "convs.1.conv2.1.weight",
                        "convs.1.conv2.2.bias", "convs.1.skip.0.kernel", "convs.1.skip.1.weight"]
    assert "convs.3.conv1.0.weight" not in keys and "convs.2.skip.1.weight" in keys
    assert tuple(d.state_dict()["final_conv.0.weight"].shape) == (8, 9, 3, 3)
    assert tuple(d.state_dict()["final_linear.0.weight"].shape) == (8, 8 * 16)
    assert {k for k, v in d.state_dict().items() if v.is_stop_grad()} == \
        {"convs.1.conv2.0.kernel", "convs.1.skip.0.kernel", "convs.2.conv2.0.kernel",
         "convs.2.skip.0.kernel"}
    x = jt.array(np.random.default_rng(22).normal(size=(4, 3, 16, 16)).astype(np.float32))
    out = d(x)
    assert tuple(out.shape) == (4, 1)
    (gx,) = jt.grad(out.sum(), [x])
    arr = gx.numpy()
    assert arr.shape == (4, 3, 16, 16) and np.isfinite(arr).all() and np.abs(arr).min() > 0


def test_resblock_matches_the_formula():
    """(conv2(conv1(x)) + skip(x)) / sqrt(2) with blur-then-stride-2 downsampling."""
    blk = sg.ResBlock(2, 3)
    v = randomize(blk, 23)
    x = np.random.default_rng(24).normal(size=(1, 2, 8, 8))[0]
    blur = lambda img, pad: np.stack([np_upfirdn(c, BLUR4, 1, 1, pad) for c in img])  # noqa: E731
    h = np_conv(x, v["conv1.0.weight"] / math.sqrt(18), 1)
    h = np_lrelu(h + v["conv1.1.bias"][:, None, None])
    h = np_conv(blur(h, (2, 2)), v["conv2.1.weight"] / math.sqrt(18), 0)[:, ::2, ::2]
    h = np_lrelu(h + v["conv2.2.bias"][:, None, None])
    s = np_conv(blur(x, (1, 1)), v["skip.1.weight"] / math.sqrt(2), 0)[:, ::2, ::2]
    got = blk(jt.array(x[None].astype(np.float32))).numpy()
    assert rel_err(got, ((h + s) / math.sqrt(2))[None]) < REL
