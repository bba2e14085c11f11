"""pSp's GradualStyleEncoder with an IR-SE backbone, in Jittor.

The parameter names follow the authors' PyTorch modules, so for the
authors' configuration (``num_layers=50``, ``width=1``, ``style_dim=512``,
``input_size=256``, 18 styles) ``state_dict()`` has exactly the keys of one
encoder group of their checkpoint (``encoder_sketch_coarse.`` etc.) with the
prefix removed, minus PyTorch's ``num_batches_tracked`` BatchNorm counters,
which Jittor has no use for (see ``TORCH_ONLY_SUFFIXES``).

Structure (256x256 input, IR-SE-50)::

    input_layer   conv3x3 (input_nc -> 64), BatchNorm, PReLU
    body          24 bottleneck_IR_SE units in blocks of 3/4/14/3,
                  64/128/256/512 channels, each block's first unit stride 2
                  c1 = end of the 128 block (64x64), c2 = end of the 256 block
                  (32x32), c3 = end of the 512 block (16x16)
    p2 = up(c3) + latlayer1(c2),  p1 = up(p2) + latlayer2(c1)
                  (bilinear, align_corners=True; laterals are 1x1 convs)
    styles        18 GradualStyleBlocks: 0-2 on c3, 3-6 on p2, 7-17 on p1
    output        scale * stack(styles) (B x n_styles x style_dim), or with
                  ``w_only`` scale * styles[0](c3) (B x style_dim), computing
                  no other head; ``net(x, rows=(start, stop))`` computes only
                  the styles start..stop-1 and the pyramid levels they read
                  (the sketch embedding uses E_s's rows below the break layer
                  and E_a's from it: the authors compute all 18 of each)

Smaller models for the CPU: ``num_layers=18`` (2 units per block, our own
addition), ``width`` scaling the body's channels, ``input_size`` 64 or 128
(fewer head convs) and a smaller ``style_dim``.

The encoder does not execute its random initial values when it is built
(267 M parameters at full size): they are computed on the first forward pass
(``models.base_model.materialize``), so a loader that overwrites every tensor
first never pays for the random fill.
"""

import math

import numpy as np

from models.base_model import materialize
from models.layers import BatchNorm2d
from util.jittor_env import get_jittor

jt = get_jittor()
from jittor import nn  # noqa: E402  (Jittor must be configured first)

# State-dict names of the authors' encoders that have no Jittor counterpart:
# a loader skips them, a saver writes them as int64 zeros of shape [].
TORCH_ONLY_SUFFIXES = ("num_batches_tracked",)
# Non-trainable tensors (PyTorch buffers): BatchNorm running statistics.
BUFFER_SUFFIXES = ("running_mean", "running_var") + TORCH_ONLY_SUFFIXES

# Units per block for each depth; 18 is our compact CPU configuration.
BLOCK_UNITS = {18: (2, 2, 2, 2), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 152: (3, 8, 36, 3)}
BASE_CHANNELS = (64, 128, 256, 512)
SE_REDUCTION = 16
COARSE_IND = 3    # styles [0, 3) read c3
MIDDLE_IND = 7    # styles [3, 7) read p2, the rest p1


def is_torch_only(name):
    """True for a checkpoint tensor name that Jittor's encoder does not hold."""
    return name.rsplit(".", 1)[-1] in TORCH_ONLY_SUFFIXES


def is_buffer(name):
    """True for a state-dict name that PyTorch stores as a buffer, not a parameter."""
    return name.rsplit(".", 1)[-1] in BUFFER_SUFFIXES


def count_parameters(net):
    """Trainable elements, counted as PyTorch's ``parameters()`` would (no
    BatchNorm running statistics); matches the manifest's parameter_count."""
    return int(sum(int(np.prod(v.shape)) for k, v in net.state_dict().items()
                   if not is_buffer(k)))


def scaled_channels(channels, width):
    """``channels * width`` rounded to a multiple of 16 (at least 16), so the
    squeeze-excitation reduction by 16 stays whole."""
    return max(SE_REDUCTION, int(round(channels * width / SE_REDUCTION)) * SE_REDUCTION)


def body_units(num_layers, width=1.0):
    """The body as a list of (in_channels, depth, stride) per unit."""
    if num_layers not in BLOCK_UNITS:
        raise ValueError(f"num_layers must be one of {sorted(BLOCK_UNITS)}, not {num_layers!r}")
    units = []
    in_c = scaled_channels(BASE_CHANNELS[0], width)
    for base, n in zip(BASE_CHANNELS, BLOCK_UNITS[num_layers]):
        depth = scaled_channels(base, width)
        units.append((in_c, depth, 2))
        units.extend((depth, depth, 1) for _ in range(n - 1))
        in_c = depth
    return units


def tap_indices(num_layers):
    """Body indices whose outputs are c1, c2, c3 (6, 20, 23 for IR-SE-50)."""
    ends = np.cumsum(BLOCK_UNITS[num_layers]) - 1
    return int(ends[1]), int(ends[2]), int(ends[3])


def bilinear_matrix(n_in, n_out):
    """(n_out, n_in) weights of 1-D linear interpolation with
    align_corners=True: output i samples source i * (n_in - 1) / (n_out - 1)."""
    m = np.zeros((n_out, n_in), dtype=np.float64)
    for i in range(n_out):
        src = i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        i0 = min(int(math.floor(src)), n_in - 1)
        i1 = min(i0 + 1, n_in - 1)
        frac = src - i0
        m[i, i0] += 1.0 - frac
        m[i, i1] += frac
    return m


def upsample_bilinear(x, size):
    """Bilinear resize of an NCHW Var to ``size`` (H, W) with
    align_corners=True (PyTorch's F.interpolate semantics), as two matmuls
    with exact float64-built weights."""
    n, c, h, w = x.shape
    big_h, big_w = size
    mh = jt.array(bilinear_matrix(h, big_h).astype(np.float32))          # H x h
    mw = jt.array(bilinear_matrix(w, big_w).T.astype(np.float32))        # w x W
    y = jt.matmul(x.reshape(n * c * h, w), mw)                           # (nch) x W
    y = y.reshape(n * c, h, big_w)
    y = jt.matmul(mh.broadcast((n * c, big_h, h)), y)                    # nc x H x W
    return y.reshape(n, c, big_h, big_w)


# ---------------------------------------------------------------- layers
class Subsample(nn.Module):
    """MaxPool2d(kernel 1, stride s): takes every s-th row and column."""

    def __init__(self, stride):
        self.stride = stride

    def execute(self, x):
        if self.stride == 1:
            return x
        return x[:, :, ::self.stride, ::self.stride]


class SEModule(nn.Module):
    """Squeeze-excitation: x * sigmoid(fc2(relu(fc1(mean over H, W of x))))."""

    def __init__(self, channels, reduction=SE_REDUCTION):
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)

    def execute(self, x):
        # the 1x1 convolutions of a 1x1 map as matrix products (B x C): the same
        # sums, without oneDNN's per-call convolution set-up (E_s at 64 px 6 % faster)
        s = x.mean(dims=(2, 3))
        w1, w2 = self.fc1.weight, self.fc2.weight
        s = self.relu(nn.matmul_transpose(s, w1.reshape(w1.shape[0], w1.shape[1])))
        s = nn.matmul_transpose(s, w2.reshape(w2.shape[0], w2.shape[1])).sigmoid()
        return x * s.reshape(s.shape[0], s.shape[1], 1, 1)


class BottleneckIRSE(nn.Module):
    """bottleneck_IR_SE: res_layer(x) + shortcut_layer(x)."""

    def __init__(self, in_channel, depth, stride):
        if in_channel == depth:
            self.shortcut_layer = Subsample(stride)
        else:
            self.shortcut_layer = nn.Sequential(
                nn.Conv2d(in_channel, depth, 1, stride=stride, bias=False),
                BatchNorm2d(depth, eps=1e-5))
        self.res_layer = nn.Sequential(
            BatchNorm2d(in_channel, eps=1e-5),
            nn.Conv2d(in_channel, depth, 3, stride=1, padding=1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride=stride, padding=1, bias=False),
            BatchNorm2d(depth, eps=1e-5),
            SEModule(depth, SE_REDUCTION))

    def execute(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


class EqualLinear(nn.Module):
    """rosinality's equalised linear without activation: the weight is stored
    as randn / lr_mul and used as W * lr_mul / sqrt(in); bias * lr_mul."""

    def __init__(self, in_dim, out_dim, bias_init=0.0, lr_mul=1.0):
        self.weight = jt.randn(out_dim, in_dim) / lr_mul
        self.bias = jt.full((out_dim,), float(bias_init))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul

    def execute(self, x):
        return jt.matmul(x, (self.weight * self.scale).transpose()) + self.bias * self.lr_mul


def head_conv_count(spatial):
    """GradualStyleBlock convs for a spatial x spatial input: log2(spatial),
    at least one (each halves the map, down to 1x1)."""
    return max(1, int(np.log2(spatial)))


class GradualStyleBlock(nn.Module):
    """Map a C x s x s feature map to one style vector: log2(s) convs 3x3
    stride 2 with LeakyReLU(0.01) (``convs`` = conv, lrelu, conv, ...), flatten,
    equalised linear."""

    def __init__(self, in_c, out_c, spatial):
        self.out_c = out_c
        self.spatial = spatial
        layers = []
        for i in range(head_conv_count(spatial)):
            layers += [nn.Conv2d(in_c if i == 0 else out_c, out_c, 3, stride=2, padding=1),
                       nn.LeakyReLU(0.01)]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(out_c, out_c, lr_mul=1.0)

    def execute(self, x):
        x = self.convs(x)
        return self.linear(x.reshape(x.shape[0], self.out_c))


# ---------------------------------------------------------------- encoder
class GradualStyleEncoder(nn.Module):
    """pSp's GradualStyleEncoder (IR-SE backbone, feature pyramid, one
    GradualStyleBlock per style). See the module docstring."""

    def __init__(self, input_nc, n_styles=18, num_layers=50, style_dim=512, input_size=256,
                 width=1.0, scale=1.0, w_only=False):
        if input_size < 32 or input_size & (input_size - 1):
            raise ValueError(f"input_size must be a power of two >= 32, not {input_size!r}")
        if n_styles < 1:
            raise ValueError(f"n_styles must be at least 1, not {n_styles!r}")
        units = body_units(num_layers, width)
        c1_ch, c2_ch, c3_ch = (scaled_channels(c, width) for c in BASE_CHANNELS[1:])
        if n_styles > COARSE_IND and style_dim != c3_ch:
            # p2 = up(c3) + latlayer1(c2) adds c3 to a style_dim-channel map
            raise ValueError(f"style_dim ({style_dim}) must equal the last block's channels "
                             f"({c3_ch} = 512 x width, rounded to 16) when n_styles > "
                             f"{COARSE_IND}")
        self.input_nc = input_nc
        self.style_count = n_styles
        self.num_layers = num_layers
        self.style_dim = style_dim
        self.input_size = input_size
        self.scale = float(scale)
        self.w_only = bool(w_only)
        self.coarse_ind = COARSE_IND
        self.middle_ind = MIDDLE_IND
        self.taps = tap_indices(num_layers)
        self._materialized = False

        stem = scaled_channels(BASE_CHANNELS[0], width)
        self.input_layer = nn.Sequential(
            nn.Conv2d(input_nc, stem, 3, stride=1, padding=1, bias=False),
            BatchNorm2d(stem, eps=1e-5),
            nn.PReLU(stem))
        self.body = nn.Sequential(*[BottleneckIRSE(i, d, s) for i, d, s in units])

        self.styles = nn.ModuleList()
        for i in range(n_styles):
            if i < COARSE_IND:
                block = GradualStyleBlock(c3_ch, style_dim, input_size // 16)
            elif i < MIDDLE_IND:
                block = GradualStyleBlock(style_dim, style_dim, input_size // 8)
            else:
                block = GradualStyleBlock(style_dim, style_dim, input_size // 4)
            self.styles.append(block)
        self.latlayer1 = nn.Conv2d(c2_ch, style_dim, 1, stride=1, padding=0)
        self.latlayer2 = nn.Conv2d(c1_ch, style_dim, 1, stride=1, padding=0)

    def _materialize_once(self):
        if not self._materialized:       # random init executed once, before any fusion
            materialize(self)
            self._materialized = True

    def features(self, x):
        """(c1, c2, c3): the body outputs at 1/4, 1/8 and 1/16 of the input."""
        self._materialize_once()
        x = self.input_layer(x)
        i1, i2, i3 = self.taps
        c1 = c2 = None
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i == i1:
                c1 = x
            elif i == i2:
                c2 = x
            elif i == i3:
                return c1, c2, x
        raise AssertionError("unreachable: the body ends at c3")

    def execute(self, x, rows=None):
        """(B, n_styles, D); with ``rows`` = (start, stop) the styles start..
        stop-1 only, (B, stop - start, D), each exactly as in the whole output."""
        if tuple(x.shape[2:]) != (self.input_size, self.input_size):
            raise ValueError(f"expected a {self.input_size}x{self.input_size} input, got "
                             f"{tuple(x.shape)}")
        start, stop = (0, self.style_count) if rows is None else (int(rows[0]), int(rows[1]))
        if not 0 <= start < stop <= self.style_count or (self.w_only and rows is not None):
            only = " (none for the W encoder)" if self.w_only else ""
            raise ValueError(f"rows must be (start, stop) with 0 <= start < stop <= "
                             f"{self.style_count}{only}, not {rows!r}")
        c1, c2, c3 = self.features(x)
        if self.w_only:
            return self.styles[0](c3) * self.scale
        latents = [self.styles[j](c3) for j in range(start, min(COARSE_IND, stop))]
        if stop > COARSE_IND:
            p2 = upsample_bilinear(c3, c2.shape[2:]) + self.latlayer1(c2)
            latents += [self.styles[j](p2)
                        for j in range(max(start, COARSE_IND), min(MIDDLE_IND, stop))]
            if stop > MIDDLE_IND:
                p1 = upsample_bilinear(p2, c1.shape[2:]) + self.latlayer2(c1)
                latents += [self.styles[j](p1) for j in range(max(start, MIDDLE_IND), stop)]
        return jt.stack(latents, dim=1) * self.scale
