"""StyleGAN2 in Jittor with rosinality's parameter layout, so that the
authors' ``decoder.*`` keys (and a ``g_ema`` converted by rosinality's
``convert_weight.py``) load without renaming.

* ops: ``upfirdn2d``, ``make_kernel``, ``fused_leaky_relu``;
* layers: ``PixelNorm``, ``EqualLinear``, ``EqualConv2d``, ``FusedLeakyReLU``,
  ``ScaledLeakyReLU``, ``Blur``, ``Upsample``, ``ModulatedConv2d``,
  ``NoiseInjection``, ``ConstantInput``, ``StyledConv``, ``ToRGB``,
  ``ConvLayer``, ``ResBlock``;
* networks: ``Generator`` (mapping + synthesis) and ``Discriminator``.

Facts kept from the authors' release (see the reference notes, sections 5,
6 and 11): weights are stored unscaled and multiplied by the equalised
learning-rate factor at run time; the modulated weight is 1 x out x in x k x k;
noise maps and blur kernels are buffers in the state_dict (here stop_grad
Vars, so optimisers skip them and a load through ``var.update`` keeps them
so); the output is the last RGB sum with neither tanh nor clamp.

The modulated convolution does not build one weight per sample for a
grouped convolution: it scales the input by the style, runs one ordinary (or
transposed) convolution shared by the batch and multiplies the output by the
demodulation coefficients. That is the same linear map, equal to float32
rounding. On the CPU (oneDNN runs both forms) its forward measured 5-50%
faster than the grouped form at batch 4, forward + backward about the same.
The FIR filters run as depthwise convolutions: oneDNN forward and backward
(as one-channel convolutions over B*C images their backward was ~10x slower).
"""

import math

import numpy as np

from util.jittor_env import get_jittor

jt = get_jittor()
from jittor import nn  # noqa: E402  (Jittor must be configured first)

from models.base_model import materialize as materialize_net  # noqa: E402

SQRT2 = math.sqrt(2.0)


# ---------------------------------------------------------------- ops
def make_kernel(k):
    """The separable FIR kernel outer(k, k) (or a given 2-D kernel), normalised
    to sum 1, as a float32 Var."""
    k = np.asarray(k, dtype=np.float64)
    if k.ndim == 1:
        k = np.outer(k, k)
    k = k / k.sum()
    return jt.array(k.astype(np.float32))


def _pair(p):
    if isinstance(p, (tuple, list)):
        if len(p) != 2:
            raise ValueError(f"pad must be one number or a pair, not {p!r}")
        return int(p[0]), int(p[1])
    return int(p), int(p)


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
    """Upsample by zero insertion (``up - 1`` zeros after every sample), pad
    with ``pad = (before, after)`` zeros on both axes, convolve (a true
    convolution: the kernel is flipped) with the 2-D ``kernel``, keep every
    ``down``-th sample. x: B x C x H x W; the output is
    ((H * up + before + after - kh) // down + 1) on each axis. Pads must be
    non-negative."""
    p0, p1 = _pair(pad)
    if p0 < 0 or p1 < 0:
        raise ValueError(f"upfirdn2d: negative pads are not supported ({pad!r})")
    if up < 1 or down < 1:
        raise ValueError(f"upfirdn2d: up and down must be >= 1, not {up}, {down}")
    if not isinstance(kernel, jt.Var):
        kernel = jt.array(np.asarray(kernel, dtype=np.float32))
    kh, kw = kernel.shape
    b, c, h, w = x.shape
    conv_pad = 0
    if up == 1 and p0 == p1:
        conv_pad = p0                 # plain symmetric padding: the convolution does it
    else:
        oh, ow = h * up + p0 + p1, w * up + p0 + p1
        if up == 1:
            x = x.reindex([b, c, oh, ow], ["i0", "i1", f"i2-{p0}", f"i3-{p0}"])
        else:
            x = x.reindex([b, c, oh, ow], ["i0", "i1", f"(i2-{p0})/{up}", f"(i3-{p0})/{up}"],
                          overflow_conditions=[f"i2<{p0}", f"i3<{p0}",
                                               f"(i2-{p0})%{up}!=0", f"(i3-{p0})%{up}!=0"])
    # a depthwise convolution with the flipped kernel: oneDNN runs it (forward
    # and backward) several times faster than one-channel convolutions over
    # B*C images or a sum of shifted slices
    flipped = kernel.reindex([c, 1, kh, kw], [f"{kh - 1}-i2", f"{kw - 1}-i3"])
    return nn.conv2d(x, flipped, stride=down, padding=conv_pad, groups=c)


def fused_leaky_relu(x, bias=None, slope=0.2, scale=SQRT2):
    """leaky_relu(x + bias, slope) * scale, the bias on dim 1 (channels of a
    4-D input, features of a 2-D one)."""
    if bias is not None:
        x = x + bias.reshape([1, bias.shape[0]] + [1] * (x.ndim - 2))
    return jt.ternary(x > 0, x, x * slope) * scale


# ---------------------------------------------------------------- basic layers
class PixelNorm(nn.Module):
    """x / sqrt(mean(x^2 over dim 1) + 1e-8)."""

    def execute(self, x):
        return x * jt.rsqrt((x * x).mean(dims=[1], keepdims=True) + 1e-8)


class FusedLeakyReLU(nn.Module):
    """fused_leaky_relu with a learnt per-channel ``bias`` (zero at init)."""

    def __init__(self, channel, bias=True, negative_slope=0.2, scale=SQRT2):
        self.bias = jt.zeros(channel) if bias else None
        self.negative_slope = negative_slope
        self.scale = scale

    def execute(self, x):
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)


class ScaledLeakyReLU(nn.Module):
    """leaky_relu(x, slope) * sqrt(2), no parameters (a ConvLayer without bias)."""

    def __init__(self, negative_slope=0.2):
        self.negative_slope = negative_slope

    def execute(self, x):
        return fused_leaky_relu(x, None, self.negative_slope, SQRT2)


class EqualLinear(nn.Module):
    """Equalised linear: ``weight`` (out x in) stored as randn / lr_mul and
    used as weight * lr_mul / sqrt(in); ``bias`` used as bias * lr_mul.
    ``activation='fused_lrelu'`` applies fused_leaky_relu with that bias."""

    def __init__(self, in_dim, out_dim, bias=True, bias_init=0, lr_mul=1, activation=None):
        if activation not in (None, "fused_lrelu"):
            raise ValueError(f"EqualLinear: unknown activation {activation!r}")
        self.weight = jt.randn(out_dim, in_dim) / lr_mul
        self.bias = jt.full((out_dim,), float(bias_init)) if bias else None
        self.activation = activation
        self.scale = (1.0 / math.sqrt(in_dim)) * lr_mul
        self.lr_mul = lr_mul

    def execute(self, x):
        lead = x.shape[:-1]
        flat = x.ndim == 2                  # the usual case: no reshapes (fewer graph ops)
        # (x W^T) * scale: the scale on the B x out product, not on the out x in
        # weight (a pass over 512 x 512 values a layer); the same sums
        y = nn.matmul_transpose(x if flat else x.reshape(-1, x.shape[-1]),
                                self.weight) * self.scale
        bias = self.bias * self.lr_mul if self.bias is not None else None
        if self.activation:
            y = fused_leaky_relu(y, bias)
        elif bias is not None:
            y = y + bias
        return y if flat else y.reshape(list(lead) + [y.shape[-1]])


class EqualConv2d(nn.Module):
    """Equalised convolution: ``weight`` out x in x k x k ~ N(0, 1), used as
    weight / sqrt(in * k * k); optional ``bias`` (zero at init)."""

    def __init__(self, in_channel, out_channel, kernel_size, stride=1, padding=0, bias=True):
        self.weight = jt.randn(out_channel, in_channel, kernel_size, kernel_size)
        self.scale = 1.0 / math.sqrt(in_channel * kernel_size ** 2)
        self.stride = stride
        self.padding = padding
        self.bias = jt.zeros(out_channel) if bias else None

    def execute(self, x):
        return nn.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride,
                         padding=self.padding)


def _buffer(value):
    """A state_dict entry that is never trained."""
    return value.stop_grad()


class Blur(nn.Module):
    """upfirdn2d with the buffer ``kernel`` (make_kernel, times factor^2 when it
    follows an upsampling) and pads ``pad``."""

    def __init__(self, kernel, pad, upsample_factor=1):
        k = make_kernel(kernel)
        if upsample_factor > 1:
            k = k * (upsample_factor ** 2)
        self.kernel = _buffer(k)
        self.pad = _pair(pad)

    def execute(self, x):
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    """2x upsampling by zero insertion and the FIR ``kernel`` (times factor^2)."""

    def __init__(self, kernel, factor=2):
        self.factor = factor
        self.kernel = _buffer(make_kernel(kernel) * (factor ** 2))
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def execute(self, x):
        return upfirdn2d(x, self.kernel, up=self.factor, down=1, pad=self.pad)


# ---------------------------------------------------------------- generator layers
class ModulatedConv2d(nn.Module):
    """Modulated convolution. s = modulation(style) (bias 1 at init);
    w' = weight * s_in / sqrt(in * k^2); demodulated w'' = w' / sqrt(sum over
    in, k, k of w'^2 + 1e-8); per-sample conv with pad k // 2. Upsampling:
    transposed conv stride 2 pad 0, then the blur (pad (1, 1) for k = 3).
    Downsampling: blur then conv stride 2 pad 0."""

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, demodulate=True,
                 upsample=False, downsample=False, blur_kernel=(1, 3, 3, 1)):
        if upsample and downsample:
            raise ValueError("ModulatedConv2d: upsample and downsample are exclusive")
        self.eps = 1e-8
        self.kernel_size = kernel_size
        self.in_channel = in_channel
        self.out_channel = out_channel
        self.upsample = upsample
        self.downsample = downsample
        factor = 2
        if upsample:
            p = (len(blur_kernel) - factor) - (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + factor - 1, p // 2 + 1),
                             upsample_factor=factor)
        if downsample:
            p = (len(blur_kernel) - factor) + (kernel_size - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2, p // 2))
        self.scale = 1.0 / math.sqrt(in_channel * kernel_size ** 2)
        self.padding = kernel_size // 2
        self.weight = jt.randn(1, out_channel, in_channel, kernel_size, kernel_size)
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1)
        self.demodulate = demodulate

    def execute(self, x, style):
        b, c, h, w = x.shape
        if c != self.in_channel:
            raise ValueError(f"ModulatedConv2d: expected {self.in_channel} channels, got {c}")
        s = self.modulation(style)                                   # B x in
        weight = self.weight[0] * self.scale                         # out x in x k x k
        x = x * s.reshape(b, c, 1, 1)
        if self.upsample:
            out = nn.conv_transpose2d(x, weight.transpose(1, 0, 2, 3), stride=2, padding=0)
            out = self.blur(out)
        elif self.downsample:
            out = nn.conv2d(self.blur(x), weight, stride=2, padding=0)
        else:
            out = nn.conv2d(x, weight, padding=self.padding)
        if self.demodulate:
            # sum over in, k, k of (w * s_in)^2 = (s^2) @ (sum over k, k of w^2)^T
            energy = nn.matmul_transpose(s * s, (weight * weight).sum(dims=[2, 3]))
            out = out * jt.rsqrt(energy + self.eps).reshape(b, self.out_channel, 1, 1)
        return out


class NoiseInjection(nn.Module):
    """image + weight * noise; ``weight`` (shape [1]) is zero at init; the
    noise (B or 1 x 1 x H x W) is drawn when none is given."""

    def __init__(self):
        self.weight = jt.zeros(1)

    def execute(self, image, noise=None):
        if noise is None:
            b, _, h, w = image.shape
            noise = jt.randn(b, 1, h, w)
        return image + self.weight.reshape(1, 1, 1, 1) * noise


class ConstantInput(nn.Module):
    """The learnt 1 x C x size x size ``input``, repeated over the batch."""

    def __init__(self, channel, size=4):
        self.input = jt.randn(1, channel, size, size)

    def execute(self, latent):
        b = latent.shape[0]
        return self.input.broadcast([b] + list(self.input.shape[1:]))


class StyledConv(nn.Module):
    """ModulatedConv2d, noise, bias and leaky ReLU * sqrt(2)."""

    def __init__(self, in_channel, out_channel, kernel_size, style_dim, upsample=False,
                 blur_kernel=(1, 3, 3, 1), demodulate=True):
        self.conv = ModulatedConv2d(in_channel, out_channel, kernel_size, style_dim,
                                    demodulate=demodulate, upsample=upsample,
                                    blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)

    def execute(self, x, style, noise=None):
        return self.activate(self.noise(self.conv(x, style), noise=noise))


class ToRGB(nn.Module):
    """Modulated 1x1 conv to RGB (no demodulation) + ``bias`` (1 x 3 x 1 x 1),
    plus the previous RGB upsampled (``upsample``) when one is given."""

    def __init__(self, in_channel, style_dim, upsample=True, blur_kernel=(1, 3, 3, 1)):
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, 3, 1, style_dim, demodulate=False)
        self.bias = jt.zeros(1, 3, 1, 1)

    def execute(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class NoiseBuffers(nn.Module):
    """Holds the stored noise maps ``noise_0 .. noise_{n-1}`` (stop_grad)."""


def channel_table(channel_multiplier=2, channel_max=512):
    """Channels per resolution (rosinality's table, each capped at channel_max)."""
    cm = channel_multiplier
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm,
             256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}
    return {r: min(int(c), int(channel_max)) for r, c in table.items()}


def _log_size(size, who):
    log_size = int(round(math.log2(size))) if size > 0 else 0
    if 2 ** log_size != size or not 8 <= size <= 1024:
        raise ValueError(f"{who}: size must be a power of two from 8 to 1024, not {size}")
    return log_size


# ---------------------------------------------------------------- generator
class Generator(nn.Module):
    """StyleGAN2 generator (config-f at size 1024 with the defaults).

    ``execute(styles, ...)`` returns (image, latent or None), see there.
    ``materialize=False`` leaves the random initial values uncomputed (lazy),
    which makes building the big network cheap when only its layout matters;
    compute them (``models.base_model.materialize``) before running it.
    """

    def __init__(self, size, style_dim=512, n_mlp=8, channel_multiplier=2, lr_mlp=0.01,
                 channel_max=512, blur_kernel=(1, 3, 3, 1), materialize=True):
        self.size = size
        self.style_dim = style_dim
        self.log_size = _log_size(size, "Generator")
        blur_kernel = list(blur_kernel)
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation="fused_lrelu")
            for _ in range(n_mlp)])
        self.channels = channel_table(channel_multiplier, channel_max)
        ch = self.channels
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(ch[4], style_dim, upsample=False)
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = NoiseBuffers()
        for i in range(self.num_layers):
            res = 2 ** ((i + 5) // 2)
            setattr(self.noises, f"noise_{i}", _buffer(jt.randn(1, 1, res, res)))
        in_ch = ch[4]
        for i in range(3, self.log_size + 1):
            out_ch = ch[2 ** i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, style_dim, upsample=True,
                                         blur_kernel=blur_kernel))
            self.convs.append(StyledConv(out_ch, out_ch, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(out_ch, style_dim))
            in_ch = out_ch
        self.n_latent = self.log_size * 2 - 2
        if materialize:
            materialize_net(self)

    # -- latents
    def make_noise(self):
        """Fresh noise maps with the shapes of the stored ones."""
        noises = [jt.randn(1, 1, 4, 4)]
        for i in range(3, self.log_size + 1):
            noises += [jt.randn(1, 1, 2 ** i, 2 ** i) for _ in range(2)]
        return noises

    def mean_latent(self, n_latent):
        """Mean of the mapping network's output over n_latent random z (1 x D)."""
        z = jt.randn(n_latent, self.style_dim)
        return self.style(z).mean(dims=[0], keepdims=True)

    def get_latent(self, z):
        return self.style(z)

    def stored_noise(self):
        return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]

    def execute(self, styles, input_is_latent=False, noise=None, randomize_noise=True,
                return_latents=False, inject_index=None, truncation=1.0, truncation_latent=None):
        """``styles``: a list of one or two Vars, z's (B x D) unless
        ``input_is_latent`` (then W's, B x D, or one W+ of B x n_latent x D).
        One W is used for every layer; two are mixed: rows [0, inject_index)
        from the first, the rest from the second (inject_index drawn from
        numpy's RNG in [1, n_latent - 1] when None). ``truncation`` < 1 pulls
        every W towards ``truncation_latent``. Noise: the list ``noise`` (one
        per layer, None entries drawn fresh), else fresh maps
        (``randomize_noise``) or the stored buffers. Returns (image, latent
        if return_latents else None)."""
        if isinstance(styles, jt.Var):
            styles = [styles]
        styles = list(styles)
        if not 1 <= len(styles) <= 2:
            raise ValueError(f"Generator: styles must hold one or two Vars, not {len(styles)}")
        if not input_is_latent:
            styles = [self.style(s) for s in styles]
        if noise is None:
            noise = [None] * self.num_layers if randomize_noise else self.stored_noise()
        if len(noise) != self.num_layers:
            raise ValueError(f"Generator: {self.num_layers} noise maps needed, got {len(noise)}")
        if truncation < 1:
            if truncation_latent is None:
                raise ValueError("Generator: truncation < 1 needs a truncation_latent")
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]

        if len(styles) == 1:
            s = styles[0]
            if s.ndim < 3:
                latent = s.unsqueeze(1).broadcast([s.shape[0], self.n_latent, s.shape[1]])
            else:
                latent = s
        else:
            if inject_index is None:
                inject_index = int(np.random.randint(1, self.n_latent))
            if not 1 <= inject_index <= self.n_latent - 1:
                raise ValueError(f"Generator: inject_index must be in 1..{self.n_latent - 1}")
            a, b = styles
            latent = jt.concat([
                a.unsqueeze(1).broadcast([a.shape[0], inject_index, a.shape[-1]]),
                b.unsqueeze(1).broadcast([b.shape[0], self.n_latent - inject_index, b.shape[-1]]),
            ], dim=1)
        if latent.ndim != 3 or latent.shape[1] != self.n_latent:
            raise ValueError(f"Generator: W+ must be B x {self.n_latent} x D, not {latent.shape}")

        out = self.input(latent)
        out = self.conv1(out, latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for k, to_rgb in enumerate(self.to_rgbs):
            out = self.convs[2 * k](out, latent[:, i], noise=noise[2 * k + 1])
            out = self.convs[2 * k + 1](out, latent[:, i + 1], noise=noise[2 * k + 2])
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip, (latent if return_latents else None)


# ---------------------------------------------------------------- discriminator
class ConvLayer(nn.Sequential):
    """[Blur when downsampling], EqualConv2d (its own bias only when bias and
    not activate), [FusedLeakyReLU with bias, or ScaledLeakyReLU without, when
    activate]. Downsampling: blur pads ((p + 1) // 2, p // 2) with
    p = len(kernel) - 2 + (k - 1), then conv stride 2 pad 0; else pad k // 2."""

    def __init__(self, in_channel, out_channel, kernel_size, downsample=False,
                 blur_kernel=(1, 3, 3, 1), bias=True, activate=True):
        layers = []
        if downsample:
            p = (len(blur_kernel) - 2) + (kernel_size - 1)
            layers.append(Blur(list(blur_kernel), pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(in_channel, out_channel, kernel_size, stride=stride,
                                  padding=padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channel) if bias else ScaledLeakyReLU(0.2))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """(conv2(conv1(x)) + skip(x)) / sqrt(2), halving the resolution."""

    def __init__(self, in_channel, out_channel, blur_kernel=(1, 3, 3, 1)):
        self.conv1 = ConvLayer(in_channel, in_channel, 3, blur_kernel=blur_kernel)
        self.conv2 = ConvLayer(in_channel, out_channel, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(in_channel, out_channel, 1, downsample=True, blur_kernel=blur_kernel,
                              activate=False, bias=False)

    def execute(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / SQRT2


def minibatch_stddev(x, group_size=4, n_feat=1):
    """StyleGAN2's minibatch standard deviation: x (B x C x H x W) seen as
    (group, B / group, n_feat, C / n_feat, H, W); sqrt(biased variance over
    the group + 1e-8), averaged over C / n_feat, H, W; sample b gets the
    statistics of b % (B / group); appended as n_feat more channels."""
    b, c, h, w = x.shape
    group = min(b, group_size)
    if b % group != 0:
        raise ValueError(f"minibatch_stddev: batch {b} is not a multiple of the group {group}")
    m = b // group
    y = x.reshape(group, m, n_feat, c // n_feat, h, w)
    y = y - y.mean(dims=[0], keepdims=True)
    y = jt.sqrt((y * y).mean(dims=[0]) + 1e-8)                      # m x F x C/F x H x W
    y = y.mean(dims=[2, 3, 4])                                    # m x F
    y = y.reindex([b, n_feat, h, w], [f"i0%{m}", "i1"])
    return jt.concat([x, y], dim=1)


class Discriminator(nn.Module):
    """StyleGAN2's residual discriminator: B x 3 x size x size -> B x 1."""

    def __init__(self, size, channel_multiplier=2, channel_max=512, blur_kernel=(1, 3, 3, 1),
                 materialize=True):
        self.log_size = _log_size(size, "Discriminator")
        self.channels = channel_table(channel_multiplier, channel_max)
        ch = self.channels
        blur_kernel = list(blur_kernel)
        convs = [ConvLayer(3, ch[size], 1)]
        in_ch = ch[size]
        for i in range(self.log_size, 2, -1):
            out_ch = ch[2 ** (i - 1)]
            convs.append(ResBlock(in_ch, out_ch, blur_kernel))
            in_ch = out_ch
        self.convs = nn.Sequential(*convs)
        self.stddev_group = 4
        self.stddev_feat = 1
        self.final_conv = ConvLayer(in_ch + 1, ch[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 4 * 4, ch[4], activation="fused_lrelu"),
            EqualLinear(ch[4], 1))
        if materialize:
            materialize_net(self)

    def execute(self, x):
        out = self.convs(x)
        out = minibatch_stddev(out, self.stddev_group, self.stddev_feat)
        out = self.final_conv(out)
        return self.final_linear(out.reshape(out.shape[0], -1))
