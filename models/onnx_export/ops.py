"""Each layer type of our networks written once as ONNX operators.

A function here takes the graph (``graph.Graph``), the name of its input
value and the layer's settings and parameters as NumPy arrays, adds the
nodes and returns the name of its output. They compute what the Jittor
layers compute, in the same order of operations where it matters (the
modulated convolution scales the input by the style and demodulates the
output, as ``models/sp_embedding/stylegan2.py`` does; the FIR filters are
zero insertion, zero padding and a depthwise convolution with the flipped
kernel, as its ``upfirdn2d``); the test suite compares every exported
network with its Jittor module.

Nothing here knows Jittor: ``emitters.py`` reads our modules and calls
these."""

import math

import numpy as np

BIG = 2 ** 62       # "to the end" in Slice


def _pair(v):
    return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v), int(v))


def f32(a):
    return np.asarray(a, dtype=np.float32)


# ---------------------------------------------------------------- convolutions
def conv2d(g, x, weight, bias=None, stride=1, padding=0, groups=1, dilation=1):
    """Conv2d: weight (out, in / groups, kh, kw), symmetric zero padding."""
    ph, pw = _pair(padding)
    inputs = [x, g.const(f32(weight), "weight")]
    if bias is not None:
        inputs.append(g.const(f32(bias), "bias"))
    kh, kw = weight.shape[2:]
    return g.op("Conv", *inputs, kernel_shape=[int(kh), int(kw)], strides=list(_pair(stride)),
                pads=[ph, pw, ph, pw], group=int(groups), dilations=list(_pair(dilation)))


def conv_transpose2d(g, x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed convolution: weight (in, out / groups, kh, kw) (PyTorch's and
    Jittor's layout, which is ONNX's); output (H - 1) * stride - 2 * padding
    + dilation * (k - 1) + output_padding + 1."""
    ph, pw = _pair(padding)
    inputs = [x, g.const(f32(weight), "weight")]
    if bias is not None:
        inputs.append(g.const(f32(bias), "bias"))
    kh, kw = weight.shape[2:]
    return g.op("ConvTranspose", *inputs, kernel_shape=[int(kh), int(kw)],
                strides=list(_pair(stride)), pads=[ph, pw, ph, pw],
                output_padding=list(_pair(output_padding)), group=int(groups),
                dilations=list(_pair(dilation)))


def linear(g, x, weight, bias=None):
    """x @ weight^T + bias for x (B, in), weight (out, in)."""
    inputs = [x, g.const(f32(weight), "weight")]
    if bias is not None:
        inputs.append(g.const(f32(bias), "bias"))
    return g.op("Gemm", *inputs, transB=1)


def matmul_const(g, x, matrix, hint="matrix"):
    """x @ matrix (a constant), for any leading axes of x."""
    return g.op("MatMul", x, g.const(f32(matrix), hint))


# ---------------------------------------------------------------- normalisations
def batch_norm(g, x, weight, bias, mean, var, eps):
    """BatchNorm in eval mode: (x - running mean) / sqrt(running var + eps) * w + b."""
    return g.op("BatchNormalization", x, g.const(f32(weight), "weight"),
                g.const(f32(bias), "bias"), g.const(f32(mean), "running_mean"),
                g.const(f32(var), "running_var"), epsilon=float(eps))


def instance_norm(g, x, weight, bias, eps):
    """Per sample and channel: (x - mean) / sqrt(var + eps) * w + b over H, W
    (also the official FM decoders' BatchNorm, which normalises each sketch
    with its own statistics)."""
    return g.op("InstanceNormalization", x, g.const(f32(weight), "weight"),
                g.const(f32(bias), "bias"), epsilon=float(eps))


def pixel_norm(g, x, eps=1e-8):
    """x / sqrt(mean(x^2 over dim 1) + eps)."""
    energy = g.op("ReduceMean", g.op("Mul", x, x), axes=[1], keepdims=1)
    return g.op("Mul", x, rsqrt(g, g.op("Add", energy, g.scalar(eps))))


def rsqrt(g, x):
    return g.op("Reciprocal", g.op("Sqrt", x))


def spatial_mean(g, x, keepdims=True):
    return g.op("ReduceMean", x, axes=[2, 3], keepdims=int(keepdims))


# ---------------------------------------------------------------- padding, resampling
def pad(g, x, top, bottom, left, right, mode="constant"):
    """Pad H and W of an NCHW value (``mode`` constant (zeros) or reflect)."""
    pads = g.ints([0, 0, top, left, 0, 0, bottom, right])
    return g.op("Pad", x, pads, mode=mode)


def resize_nearest(g, x, size):
    """Nearest resize to ``size`` (H, W) sampling source floor(i * in / out)
    (Jittor's nearest ``resize`` and ``Upsample``)."""
    sizes = g.op("Concat", g.op("Slice", g.op("Shape", x), g.ints([0]), g.ints([2])),
                 g.ints(list(size)), axis=0)
    return g.op("Resize", x, "", "", sizes, mode="nearest",
                coordinate_transformation_mode="asymmetric", nearest_mode="floor")


def bilinear_align_corners(g, x, mh, mw):
    """Bilinear resize with align_corners=True as two products with the
    interpolation matrices (``mh`` (H, h), ``mw`` (w, W)), as the encoders'
    ``upsample_bilinear`` computes it."""
    y = matmul_const(g, x, mw, "bilinear_w")
    return g.op("MatMul", g.const(f32(mh), "bilinear_h"), y)


def subsample(g, x, stride):
    """Every ``stride``-th row and column (MaxPool2d(1, stride))."""
    if stride == 1:
        return x
    return g.op("Slice", x, g.ints([0, 0]), g.ints([BIG, BIG]), g.ints([2, 3]),
                g.ints([stride, stride]))


def max_pool(g, x, kernel, stride):
    return g.op("MaxPool", x, kernel_shape=list(_pair(kernel)), strides=list(_pair(stride)))


def upfirdn2d(g, x, kernel, channels, up=1, down=1, pads=(0, 0)):
    """StyleGAN2's FIR filter on ``channels`` channels: insert ``up - 1``
    zeros after every sample, pad ``pads = (before, after)`` zeros on both
    axes, convolve with the 2-D ``kernel`` (a true convolution: the kernel
    flipped), keep every ``down``-th sample. Output side
    (H * up + before + after - kh) // down + 1."""
    kernel = f32(kernel)
    kh, kw = kernel.shape
    p0, p1 = (int(p) for p in pads)
    if up > 1:
        # zeros between samples: a depthwise transposed convolution with a
        # 1x1 kernel of ones and stride up gives (H - 1) * up + 1 samples;
        # the last up - 1 zeros come with the padding below
        ones = np.ones((channels, 1, 1, 1), np.float32)
        x = g.op("ConvTranspose", x, g.const(ones, "zero_insertion"), kernel_shape=[1, 1],
                 strides=[up, up], group=int(channels))
        p1 += up - 1
    conv_pad = 0
    if p0 == p1:
        conv_pad = p0
    elif p0 or p1:
        x = pad(g, x, p0, p1, p0, p1)
    flipped = np.ascontiguousarray(np.broadcast_to(kernel[::-1, ::-1], (channels, 1, kh, kw)))
    return g.op("Conv", x, g.const(flipped, "fir"), kernel_shape=[kh, kw], strides=[down, down],
                pads=[conv_pad] * 4, group=int(channels))


# ---------------------------------------------------------------- activations
def leaky_relu(g, x, slope):
    return g.op("LeakyRelu", x, alpha=float(slope))


def prelu(g, x, slope):
    """PReLU with one slope per channel (or one for all)."""
    slope = f32(slope)
    if slope.size > 1:
        slope = slope.reshape(-1, 1, 1)
    return g.op("PRelu", x, g.const(slope, "weight"))


def fused_leaky_relu(g, x, bias, slope=0.2, scale=math.sqrt(2.0), rank=4):
    """leaky_relu(x + bias, slope) * scale, the bias on dim 1 of a value of
    ``rank`` 4 (channels) or 2 (features)."""
    if bias is not None:
        bias = f32(bias)
        x = g.op("Add", x, g.const(bias.reshape(1, -1, 1, 1) if rank == 4 else bias, "bias"))
    return g.op("Mul", leaky_relu(g, x, slope), g.scalar(scale))


# ---------------------------------------------------------------- StyleGAN2
def modulated_conv2d(g, x, s, weight, eps=1e-8, demodulate=True, upsample=None,
                     downsample=None, padding=0):
    """The modulated convolution, for a batch of styles: ``s`` (B, in) the
    modulation of each sample, ``weight`` (out, in, k, k) already scaled by
    1 / sqrt(in k^2). The input is multiplied by s, convolved with the shared
    weight (transposed with stride 2 then ``upsample(value)``, the blur, when
    upsampling; ``downsample(value)`` then stride 2 when downsampling), and
    with ``demodulate`` the output is multiplied by
    1 / sqrt(sum over in, k, k of (w s)^2 + eps) = rsqrt(s^2 @ sum_kk(w^2)^T)."""
    out_c, in_c = weight.shape[:2]
    x = g.op("Mul", x, g.op("Reshape", s, g.ints([-1, in_c, 1, 1])))
    if upsample is not None:
        out = conv_transpose2d(g, x, weight.transpose(1, 0, 2, 3), stride=2, padding=0)
        out = upsample(out)
    elif downsample is not None:
        out = conv2d(g, downsample(x), weight, stride=2, padding=0)
    else:
        out = conv2d(g, x, weight, padding=padding)
    if demodulate:
        energy_w = (f32(weight) * f32(weight)).sum(axis=(2, 3), dtype=np.float32)   # out x in
        energy = matmul_const(g, g.op("Mul", s, s), energy_w.T, "weight_energy")
        coef = rsqrt(g, g.op("Add", energy, g.scalar(eps)))
        out = g.op("Mul", out, g.op("Reshape", coef, g.ints([-1, out_c, 1, 1])))
    return out
