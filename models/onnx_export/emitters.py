"""Our module tree as ONNX: one emitter per module class, registered by
class path with ``@emits("module:Class")`` (resolved on first use, through
the class's MRO, as the benchmark's FLOP counter resolves its counters).

``emit(g, net, x, **ctx)`` adds ``net``'s forward pass on the value ``x`` to
the graph ``g`` and returns the output's name. A module without an emitter
is a ``Sequential`` whose children run in order; anything else is an error
naming its class, never a silent identity. ``ctx`` carries what a network
passes down besides its input: the appearance ``code`` of the generator's
modulated norms. Parameters are read from the modules (``var.numpy()``),
so an exported graph holds exactly the weights the module holds; every
initializer is named after the parameter it holds."""

import importlib

import numpy as np

from models.onnx_export import ops


class ExportError(ValueError):
    """A module this exporter cannot write (an unknown layer, training mode)."""


_EMITTERS = {}      # "module:Class" -> emitter
_RESOLVED = {}      # class -> emitter


def emits(*class_paths):
    def register(fn):
        for path in class_paths:
            _EMITTERS[path] = fn
        _RESOLVED.clear()
        return fn
    return register


def _emitter_for(net):
    if not _RESOLVED:
        from util.jittor_env import get_jittor
        get_jittor()                    # Jittor configured before any module imports it
        for path, fn in _EMITTERS.items():
            module, _, name = path.partition(":")
            _RESOLVED[getattr(importlib.import_module(module), name)] = fn
    for cls in type(net).__mro__:
        if cls in _RESOLVED:
            return _RESOLVED[cls]
    return None


def emit(g, net, x, **ctx):
    fn = _emitter_for(net)
    if fn is not None:
        return fn(g, net, x, **ctx)
    from jittor import nn
    if isinstance(net, nn.Sequential):
        for name, child in net.items():
            with g.scope(name):
                x = emit(g, child, x, **ctx)
        return x
    raise ExportError(f"no ONNX emitter for {type(net).__module__}.{type(net).__name__}")


def child(g, net, name, x, **ctx):
    """``emit`` for the sub-module ``net.<name>``, named in the graph's scope."""
    with g.scope(name):
        return emit(g, getattr(net, name), x, **ctx)


def jittor_forward(fn):
    """``fn`` (a module, or a function of Jittor Vars) on NumPy arrays, in
    inference: what an exported graph is checked against."""
    def run(*arrays):
        from models.base_model import jt
        with jt.no_grad():
            return fn(*[jt.array(np.asarray(a, np.float32)) for a in arrays]).numpy()
    return run


def P(var):
    """A parameter as a float32 array (None stays None)."""
    return None if var is None else np.asarray(var.numpy(), dtype=np.float32)


def _leaf_arg(net, key, default):
    args, kw = getattr(net, "args", ()), getattr(net, "kw", {})
    return args[0] if args else kw.get(key, default)


# ================================================================ Jittor layers
@emits("jittor.nn:Conv")
def _conv(g, net, x, **_):
    return ops.conv2d(g, x, P(net.weight), P(net.bias), net.stride, net.padding, net.groups,
                      net.dilation)


@emits("jittor.nn:ConvTranspose")
def _conv_transpose(g, net, x, **_):
    return ops.conv_transpose2d(g, x, P(net.weight), P(net.bias), net.stride, net.padding,
                                net.output_padding, net.groups, net.dilation)


@emits("jittor.nn:Linear")
def _linear(g, net, x, **_):
    return ops.linear(g, x, P(net.weight), P(net.bias))


@emits("jittor.nn:ReflectionPad2d")
def _reflection_pad(g, net, x, **_):
    return ops.pad(g, x, net.pt, net.pb, net.pl, net.pr, mode="reflect")


@emits("jittor.nn:Upsample")
def _upsample(g, net, x, **_):
    if net.mode != "nearest" or not isinstance(net.scale_factor, float):
        raise ExportError(f"Upsample mode {net.mode!r} (scale {net.scale_factor}) is not exported")
    f = net.scale_factor
    return g.op("Resize", x, "", g.const(np.array([1, 1, f, f], np.float32), "scales"),
                mode="nearest", coordinate_transformation_mode="asymmetric",
                nearest_mode="floor")


@emits("jittor.nn:ReLU")
def _relu(g, net, x, **_):
    return g.op("Relu", x)


@emits("jittor.nn:LeakyReLU")
def _leaky(g, net, x, **_):
    return ops.leaky_relu(g, x, _leaf_arg(net, "scale", 0.01))


@emits("jittor.nn:Identity")
def _identity(g, net, x, **_):
    return x


@emits("jittor.nn:Tanh")
def _tanh(g, net, x, **_):
    return g.op("Tanh", x)


@emits("jittor.nn:Sigmoid")
def _sigmoid(g, net, x, **_):
    return g.op("Sigmoid", x)


@emits("jittor.nn:PReLU")
def _prelu(g, net, x, **_):
    return ops.prelu(g, x, P(net.weight))


# ================================================================ norms (models/layers.py)
@emits("models.layers:BatchNorm2d")
def _batch_norm(g, net, x, **_):
    if net.sample_stats:                 # each sample's own statistics: an instance norm
        return ops.instance_norm(g, x, P(net.weight), P(net.bias), net.eps)
    if net.is_training():
        raise ExportError("BatchNorm2d in training mode (call .eval() before exporting)")
    return ops.batch_norm(g, x, P(net.weight), P(net.bias), P(net.running_mean),
                          P(net.running_var), net.eps)


@emits("models.layers:InstanceNorm2d")
def _instance_norm(g, net, x, **_):
    if net.affine:
        weight, bias = P(net.weight), P(net.bias)
    else:
        raise ExportError("InstanceNorm2d without affine parameters: give the channel count")
    return ops.instance_norm(g, x, weight, bias, net.eps)


@emits("models.layers:ModulatedInstanceNorm")
def _modulated_norm(g, net, x, code=None, **_):
    """IN(x) * (1 + gamma(code)) + beta(code); the graph's code input."""
    y = child(g, net, "norm", x)
    if code is None:
        raise ExportError("a modulated norm needs the appearance code input")
    c = net.channels
    with g.scope("style"):
        gb = ops.linear(g, code, P(net.style.weight), P(net.style.bias))
    gamma = g.op("Slice", gb, g.ints([0]), g.ints([c]), g.ints([1]))
    beta = g.op("Slice", gb, g.ints([c]), g.ints([2 * c]), g.ints([1]))
    shape = g.ints([-1, c, 1, 1])
    gamma = g.op("Add", g.op("Reshape", gamma, shape), g.scalar(1.0))
    return g.op("Add", g.op("Mul", y, gamma), g.op("Reshape", beta, shape))


# ======================================================== DeepFaceDrawing (models/deepfacedrawing/networks.py)
@emits("models.deepfacedrawing.networks:ResnetBlock")
def _resnet_block(g, net, x, **ctx):
    return g.op("Add", x, child(g, net, "conv_block", x, **ctx))


@emits("models.deepfacedrawing.networks:DownBlock")
def _down_block(g, net, x, **ctx):
    for name in ("conv", "bn", "relu"):
        x = child(g, net, name, x, **ctx)
    return x


@emits("models.deepfacedrawing.networks:UpBlock")
def _up_block(g, net, x, **ctx):
    return child(g, net, "conv", x, **ctx)


@emits("models.deepfacedrawing.networks:ComponentEncoder")
def _component_encoder(g, net, x, **_):
    h = g.op("Flatten", child(g, net, "conv", x), axis=1)
    return child(g, net, "fc_mu", h)


@emits("models.deepfacedrawing.networks:LatentDecoder")
def _latent_decoder(g, net, z, **_):
    h = child(g, net, "fc", z)
    h = g.op("Reshape", h, g.ints([-1, net.top, net.grid, net.grid]))
    return child(g, net, "conv", h)


@emits("models.deepfacedrawing.networks:GlobalGenerator")
def _global_generator(g, net, x, code=None, **_):
    return child(g, net, "model", x, code=code)


@emits("models.deepfacedrawing.networks:AppearanceEncoder")
def _appearance_encoder(g, net, photo, **_):
    h = ops.spatial_mean(g, child(g, net, "conv", photo), keepdims=False)
    return child(g, net, "mu", h)


# ======================================================== IR-SE encoders (encoders.py)
@emits("models.sp_embedding.encoders:Subsample")
def _subsample(g, net, x, **_):
    return ops.subsample(g, x, net.stride)


@emits("models.sp_embedding.encoders:SEModule")
def _se(g, net, x, **_):
    s = ops.spatial_mean(g, x)
    for name in ("fc1", "relu", "fc2"):
        s = child(g, net, name, s)
    return g.op("Mul", x, g.op("Sigmoid", s))


@emits("models.sp_embedding.encoders:BottleneckIRSE")
def _bottleneck(g, net, x, **_):
    return g.op("Add", child(g, net, "res_layer", x), child(g, net, "shortcut_layer", x))


@emits("models.sp_embedding.encoders:EqualLinear")
def _encoder_equal_linear(g, net, x, **_):
    weight = P(net.weight) * np.float32(net.scale)
    bias = P(net.bias) * np.float32(net.lr_mul)
    return ops.linear(g, x, weight, bias)


@emits("models.sp_embedding.encoders:GradualStyleBlock")
def _style_block(g, net, x, **_):
    h = g.op("Reshape", child(g, net, "convs", x), g.ints([-1, net.out_c]))
    return child(g, net, "linear", h)


@emits("models.sp_embedding.encoders:GradualStyleEncoder")
def _gradual_style_encoder(g, net, x, rows=None, **_):
    """(B, n_styles, D) W+ offsets, or (B, D) for the W encoder (``w_only``);
    with ``rows`` = (start, stop) those styles only, as ``net(x, rows)``."""
    from models.sp_embedding.encoders import COARSE_IND, MIDDLE_IND, bilinear_matrix
    h = child(g, net, "input_layer", x)
    feats = []
    with g.scope("body"):
        for i, unit in enumerate(net.body):
            with g.scope(str(i)):
                h = emit(g, unit, h)
            if i in net.taps:
                feats.append(h)
    c1, c2, c3 = feats                       # at 1/4, 1/8 and 1/16 of the input
    s1, s2, s3 = (net.input_size // f for f in (4, 8, 16))

    def style(j, value):
        with g.scope(f"styles.{j}"):
            return emit(g, net.styles[j], value)

    scale = g.scalar(net.scale)
    if net.w_only:
        return g.op("Mul", style(0, c3), scale)
    start, stop = rows or (0, net.style_count)
    out = [style(j, c3) for j in range(start, min(COARSE_IND, stop))]
    if stop > COARSE_IND:
        up = ops.bilinear_align_corners(g, c3, bilinear_matrix(s3, s2), bilinear_matrix(s3, s2).T)
        p2 = g.op("Add", up, child(g, net, "latlayer1", c2))
        out += [style(j, p2) for j in range(max(start, COARSE_IND), min(MIDDLE_IND, stop))]
        if stop > MIDDLE_IND:
            up = ops.bilinear_align_corners(g, p2, bilinear_matrix(s2, s1),
                                            bilinear_matrix(s2, s1).T)
            p1 = g.op("Add", up, child(g, net, "latlayer2", c1))
            out += [style(j, p1) for j in range(max(start, MIDDLE_IND), stop)]
    axis = g.ints([1])
    stacked = g.op("Concat", *[g.op("Unsqueeze", r, axis) for r in out], axis=1)
    return g.op("Mul", stacked, scale)


# ======================================================== StyleGAN2 (sp_embedding/stylegan2.py)
@emits("models.sp_embedding.stylegan2:PixelNorm")
def _pixel_norm(g, net, x, **_):
    return ops.pixel_norm(g, x)


@emits("models.sp_embedding.stylegan2:EqualLinear")
def _equal_linear(g, net, x, **_):
    weight = P(net.weight) * np.float32(net.scale)
    bias = None if net.bias is None else P(net.bias) * np.float32(net.lr_mul)
    if net.activation:
        y = ops.linear(g, x, weight)
        return ops.fused_leaky_relu(g, y, bias, rank=2)
    return ops.linear(g, x, weight, bias)


@emits("models.sp_embedding.stylegan2:FusedLeakyReLU")
def _fused_lrelu(g, net, x, **_):
    return ops.fused_leaky_relu(g, x, P(net.bias), net.negative_slope, net.scale)


@emits("models.sp_embedding.stylegan2:Blur")
def _blur(g, net, x, channels=None, **_):
    if channels is None:
        raise ExportError("Blur needs the channel count of its input")
    return ops.upfirdn2d(g, x, P(net.kernel), channels, pads=net.pad)


@emits("models.sp_embedding.stylegan2:Upsample")
def _fir_upsample(g, net, x, channels=None, **_):
    if channels is None:
        raise ExportError("Upsample needs the channel count of its input")
    return ops.upfirdn2d(g, x, P(net.kernel), channels, up=net.factor, pads=net.pad)


@emits("models.sp_embedding.stylegan2:ModulatedConv2d")
def _modulated_conv(g, net, x, style=None, **_):
    """x (B, in, H, W), ``style`` (B, style_dim)."""
    s = child(g, net, "modulation", style)
    weight = P(net.weight)[0] * np.float32(net.scale)
    up = down = None
    if net.upsample:
        def up(v):
            return child(g, net, "blur", v, channels=net.out_channel)
    if net.downsample:
        def down(v):
            return child(g, net, "blur", v, channels=net.in_channel)
    with g.scope("weight"):
        return ops.modulated_conv2d(g, x, s, weight, net.eps, net.demodulate, up, down,
                                    net.padding)


@emits("models.sp_embedding.stylegan2:NoiseInjection")
def _noise(g, net, x, noise=None, **_):
    """image + weight * noise, with a stored noise map (B = 1, broadcast)."""
    if noise is None:
        raise ExportError("noise injection needs a stored noise map (randomised noise is "
                          "not exported)")
    weighted = P(net.weight).reshape(1, 1, 1, 1) * np.asarray(noise, np.float32)
    return g.op("Add", x, g.const(weighted, "weighted_noise"))


@emits("models.sp_embedding.stylegan2:StyledConv")
def _styled_conv(g, net, x, style=None, noise=None, **_):
    x = child(g, net, "conv", x, style=style)
    x = child(g, net, "noise", x, noise=noise)
    return child(g, net, "activate", x)


@emits("models.sp_embedding.stylegan2:ToRGB")
def _to_rgb(g, net, x, style=None, skip=None, **_):
    out = child(g, net, "conv", x, style=style)
    out = g.op("Add", out, g.const(P(net.bias), "bias"))
    if skip is not None:
        out = g.op("Add", out, child(g, net, "upsample", skip, channels=3))
    return out


@emits("models.sp_embedding.stylegan2:ConstantInput")
def _constant_input(g, net, latent, **_):
    const = P(net.input)
    batch = g.op("Slice", g.op("Shape", latent), g.ints([0]), g.ints([1]))
    shape = g.op("Concat", batch, g.ints(list(const.shape[1:])), axis=0)
    return g.op("Expand", g.const(const, "input"), shape)


@emits("models.sp_embedding.stylegan2:Generator")
def _synthesis(g, net, latent, **_):
    """The synthesis network on a W+ code (B, n_latent, D) with the stored
    noise maps (the mapping network is a graph of its own)."""
    noise = [P(v) for v in net.stored_noise()]

    def row(i):
        return g.op("Gather", latent, g.const(np.array(i, np.int64), "row"), axis=1)

    out = child(g, net, "input", latent)
    out = child(g, net, "conv1", out, style=row(0), noise=noise[0])
    skip = child(g, net, "to_rgb1", out, style=row(1))
    i = 1
    for k, to_rgb in enumerate(net.to_rgbs):
        with g.scope(f"convs.{2 * k}"):
            out = emit(g, net.convs[2 * k], out, style=row(i), noise=noise[2 * k + 1])
        with g.scope(f"convs.{2 * k + 1}"):
            out = emit(g, net.convs[2 * k + 1], out, style=row(i + 1), noise=noise[2 * k + 2])
        with g.scope(f"to_rgbs.{k}"):
            skip = emit(g, to_rgb, out, style=row(i + 2), skip=skip)
        i += 2
    return skip


# ================================================================ the UNet (sp_embedding/unet.py)
@emits("models.sp_embedding.unet:ConvBlock")
def _conv_block(g, net, x, **_):
    return child(g, net, "body", x)


@emits("models.sp_embedding.unet:UNet")
def _unet(g, net, x, size=None, **_):
    """Logits of the classes; ``size`` the input's side (a multiple of 2^depth)."""
    skips, sizes, side = [], [], size
    for i, block in enumerate(net.down):
        if i:
            x = ops.max_pool(g, x, 2, 2)
            side //= 2
        with g.scope(f"down.{i}"):
            x = emit(g, block, x)
        skips.append(x)
        sizes.append(side)
    x = skips.pop()
    sizes.pop()
    for i, block in enumerate(net.up):
        skip, side = skips.pop(), sizes.pop()
        x = ops.resize_nearest(g, x, (side, side))
        with g.scope(f"up.{i}"):
            x = emit(g, block, g.op("Concat", x, skip, axis=1))
    return child(g, net, "head", x)
