"""The sketch embedding's networks in PyTorch, as the authors run them on a
CPU (reference notes, sections 4 and 6): pSp's GradualStyleEncoder over an
IR-SE body, all of its style heads computed (E_c too, which keeps head 0),
and rosinality's StyleGAN2 with the pure-PyTorch fallbacks of its two CUDA
ops: ``upfirdn2d`` as zero insertion, padding and one-channel convolutions
over the B x C images, ``fused_leaky_relu`` as leaky_relu(x + bias) *
sqrt(2); the modulated convolution builds one weight per sample and runs a
grouped (transposed) convolution over the batch. The discriminator is
rosinality's too (for the training step).

Parameter names are those of models/sp_embedding/ (the authors' own), so the
benchmark's seeded weights (``sp_peer.sp_seeded_weights``) load into both
frameworks. torch is passed in (imported in the peer's process only); the
sizes come from a plain dict, so this Python needs torch and NumPy only.
"""

import math

import numpy as np

BLOCK_UNITS = {18: (2, 2, 2, 2), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3), 152: (3, 8, 36, 3)}
BASE_CHANNELS = (64, 128, 256, 512)
COARSE_IND, MIDDLE_IND = 3, 7
SQRT2 = math.sqrt(2.0)


def scaled_channels(channels, width):
    return max(16, int(round(channels * width / 16)) * 16)


def body_units(num_layers, width):
    """(in, depth, stride) of every IR-SE unit (as models/sp_embedding/encoders.py)."""
    units, cin = [], scaled_channels(BASE_CHANNELS[0], width)
    for base, n in zip(BASE_CHANNELS, BLOCK_UNITS[num_layers]):
        depth = scaled_channels(base, width)
        units += [(cin, depth, 2)] + [(depth, depth, 1)] * (n - 1)
        cin = depth
    return units


def channel_table(multiplier, channel_max):
    table = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * multiplier, 128: 128 * multiplier,
             256: 64 * multiplier, 512: 32 * multiplier, 1024: 16 * multiplier}
    return {r: min(int(c), int(channel_max)) for r, c in table.items()}


def fir_kernel(gain=1.0):
    k = np.outer([1, 3, 3, 1], [1, 3, 3, 1]).astype(np.float64)
    return (k / k.sum() * gain).astype(np.float32)


_CLASSES = {}


def sp_classes(torch):
    """{name: module class} of the twin (made once torch is here)."""
    if not _CLASSES:
        _CLASSES.update(_stylegan(torch))
        _CLASSES.update(_encoder(torch, _CLASSES["EqualLinear"]))
    return _CLASSES


def _stylegan(torch):
    nn, F = torch.nn, torch.nn.functional

    def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0)):
        """The fallback: every channel of every sample is a one-channel image."""
        b, c, h, w = x.shape
        x = x.reshape(b * c, 1, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])              # zeros after each sample
        x = x.reshape(b * c, 1, h * up, w * up)
        x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
        x = F.conv2d(x, torch.flip(kernel, [0, 1])[None, None])  # a true convolution
        x = x[:, :, ::down, ::down]
        return x.reshape(b, c, x.shape[2], x.shape[3])

    def fused_leaky_relu(x, bias, slope=0.2):
        return F.leaky_relu(x + bias.view([1, -1] + [1] * (x.ndim - 2)), slope) * SQRT2

    class PixelNorm(nn.Module):
        def forward(self, x):
            return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)

    class EqualLinear(nn.Module):
        def __init__(self, cin, cout, bias_init=0.0, lr_mul=1.0, activation=False):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
            self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
            self.scale, self.lr_mul, self.activation = lr_mul / math.sqrt(cin), lr_mul, activation

        def forward(self, x):
            if self.activation:
                return fused_leaky_relu(F.linear(x, self.weight * self.scale),
                                        self.bias * self.lr_mul)
            return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)

    class Blur(nn.Module):
        def __init__(self, pad, gain=1.0, up=1):
            super().__init__()
            self.register_buffer("kernel", torch.from_numpy(fir_kernel(gain)))
            self.pad, self.up = pad, up

        def forward(self, x):
            return upfirdn2d(x, self.kernel, up=self.up, pad=self.pad)

    class ModulatedConv2d(nn.Module):
        def __init__(self, cin, cout, k, style_dim, demodulate=True, upsample=False):
            super().__init__()
            self.cin, self.cout, self.k = cin, cout, k
            self.weight = nn.Parameter(torch.randn(1, cout, cin, k, k))
            self.modulation = EqualLinear(style_dim, cin, bias_init=1)
            self.scale, self.demodulate, self.upsample = 1 / math.sqrt(cin * k * k), demodulate, \
                upsample
            if upsample:                           # k = 3: pads (1, 1) after the stride-2 conv
                p = 2 - (k - 1)
                self.blur = Blur(((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)

        def forward(self, x, style):
            b, c, h, w = x.shape
            weight = self.scale * self.weight * self.modulation(style).view(b, 1, c, 1, 1)
            if self.demodulate:
                demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
                weight = weight * demod.view(b, self.cout, 1, 1, 1)
            x = x.reshape(1, b * c, h, w)
            if self.upsample:
                weight = weight.transpose(1, 2).reshape(b * c, self.cout, self.k, self.k)
                out = F.conv_transpose2d(x, weight, stride=2, padding=0, groups=b)
                return self.blur(out.view(b, self.cout, out.shape[2], out.shape[3]))
            out = F.conv2d(x, weight.view(b * self.cout, c, self.k, self.k),
                           padding=self.k // 2, groups=b)
            return out.view(b, self.cout, out.shape[2], out.shape[3])

    class NoiseInjection(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(1))

        def forward(self, x, noise):
            return x + self.weight * noise

    class FusedLeakyReLU(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(c))

        def forward(self, x):
            return fused_leaky_relu(x, self.bias)

    class StyledConv(nn.Module):
        def __init__(self, cin, cout, style_dim, upsample=False):
            super().__init__()
            self.conv = ModulatedConv2d(cin, cout, 3, style_dim, upsample=upsample)
            self.noise = NoiseInjection()
            self.activate = FusedLeakyReLU(cout)

        def forward(self, x, style, noise):
            return self.activate(self.noise(self.conv(x, style), noise))

    class ToRGB(nn.Module):
        def __init__(self, cin, style_dim, upsample=True):
            super().__init__()
            if upsample:                                  # zero insertion, pads (2, 1)
                self.upsample = Blur((2, 1), gain=4.0, up=2)
            self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
            self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

        def forward(self, x, style, skip=None):
            out = self.conv(x, style) + self.bias
            return out if skip is None else out + self.upsample(skip)

    class Holder(nn.Module):
        """A module that only holds tensors (``input.input``, ``noises.noise_i``)."""

    class Generator(nn.Module):
        def __init__(self, size, style_dim, n_mlp, multiplier, channel_max):
            super().__init__()
            self.log_size = int(math.log2(size))
            self.style = nn.Sequential(PixelNorm(), *[
                EqualLinear(style_dim, style_dim, lr_mul=0.01, activation=True)
                for _ in range(n_mlp)])
            ch = channel_table(multiplier, channel_max)
            self.input = Holder()
            self.input.input = nn.Parameter(torch.randn(1, ch[4], 4, 4))
            self.conv1 = StyledConv(ch[4], ch[4], style_dim)
            self.to_rgb1 = ToRGB(ch[4], style_dim, upsample=False)
            self.num_layers = (self.log_size - 2) * 2 + 1
            self.noises = Holder()
            for i in range(self.num_layers):
                r = 2 ** ((i + 5) // 2)
                self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, r, r))
            self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
            cin = ch[4]
            for i in range(3, self.log_size + 1):
                cout = ch[2 ** i]
                self.convs.append(StyledConv(cin, cout, style_dim, upsample=True))
                self.convs.append(StyledConv(cout, cout, style_dim))
                self.to_rgbs.append(ToRGB(cout, style_dim))
                cin = cout
            self.n_latent = self.log_size * 2 - 2

        def stored_noise(self):
            return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]

        def forward(self, latent, noise=None):
            """W+ (B x n_latent x D) -> image; ``noise`` a list, else the stored maps."""
            noise = self.stored_noise() if noise is None else noise
            out = self.input.input.repeat(latent.shape[0], 1, 1, 1)
            out = self.conv1(out, latent[:, 0], noise[0])
            skip = self.to_rgb1(out, latent[:, 1])
            i = 1
            for k, to_rgb in enumerate(self.to_rgbs):
                out = self.convs[2 * k](out, latent[:, i], noise[2 * k + 1])
                out = self.convs[2 * k + 1](out, latent[:, i + 1], noise[2 * k + 2])
                skip = to_rgb(out, latent[:, i + 2], skip)
                i += 2
            return skip

    class EqualConv2d(nn.Module):
        def __init__(self, cin, cout, k, stride=1, padding=0, bias=True):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
            self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
            self.scale, self.stride, self.padding = 1 / math.sqrt(cin * k * k), stride, padding

        def forward(self, x):
            return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride,
                            padding=self.padding)

    class ScaledLeakyReLU(nn.Module):
        def forward(self, x):
            return F.leaky_relu(x, 0.2) * SQRT2

    class ConvLayer(nn.Sequential):
        def __init__(self, cin, cout, k, downsample=False, bias=True, activate=True):
            layers = []
            if downsample:
                p = 2 + (k - 1)
                layers.append(Blur(((p + 1) // 2, p // 2)))
            layers.append(EqualConv2d(cin, cout, k, stride=2 if downsample else 1,
                                      padding=0 if downsample else k // 2,
                                      bias=bias and not activate))
            if activate:
                layers.append(FusedLeakyReLU(cout) if bias else ScaledLeakyReLU())
            super().__init__(*layers)

    class ResBlock(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv1 = ConvLayer(cin, cin, 3)
            self.conv2 = ConvLayer(cin, cout, 3, downsample=True)
            self.skip = ConvLayer(cin, cout, 1, downsample=True, activate=False, bias=False)

        def forward(self, x):
            return (self.conv2(self.conv1(x)) + self.skip(x)) / SQRT2

    class Discriminator(nn.Module):
        def __init__(self, size, multiplier, channel_max):
            super().__init__()
            ch = channel_table(multiplier, channel_max)
            convs, cin = [ConvLayer(3, ch[size], 1)], ch[size]
            for i in range(int(math.log2(size)), 2, -1):
                convs.append(ResBlock(cin, ch[2 ** (i - 1)]))
                cin = ch[2 ** (i - 1)]
            self.convs = nn.Sequential(*convs)
            self.final_conv = ConvLayer(cin + 1, ch[4], 3)
            self.final_linear = nn.Sequential(EqualLinear(ch[4] * 16, ch[4], activation=True),
                                              EqualLinear(ch[4], 1))

        def forward(self, x):
            out = self.convs(x)
            b, c, h, w = out.shape
            group = min(b, 4)                     # the minibatch standard deviation
            y = out.view(group, -1, 1, c, h, w)
            y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True)
            y = y.squeeze(2).repeat(group, 1, h, w)
            out = self.final_conv(torch.cat([out, y], 1))
            return self.final_linear(out.view(b, -1))

    return dict(EqualLinear=EqualLinear, Generator=Generator, Discriminator=Discriminator)


def _encoder(torch, EqualLinear):
    nn, F = torch.nn, torch.nn.functional

    class SEModule(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.fc1 = nn.Conv2d(c, c // 16, 1, bias=False)
            self.fc2 = nn.Conv2d(c // 16, c, 1, bias=False)

        def forward(self, x):
            return x * torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))

    class BottleneckIRSE(nn.Module):
        def __init__(self, cin, depth, stride):
            super().__init__()
            if cin == depth:
                self.shortcut_layer = nn.MaxPool2d(1, stride)
            else:
                self.shortcut_layer = nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False),
                                                    nn.BatchNorm2d(depth))
            self.res_layer = nn.Sequential(
                nn.BatchNorm2d(cin), nn.Conv2d(cin, depth, 3, 1, 1, bias=False), nn.PReLU(depth),
                nn.Conv2d(depth, depth, 3, stride, 1, bias=False), nn.BatchNorm2d(depth),
                SEModule(depth))

        def forward(self, x):
            return self.shortcut_layer(x) + self.res_layer(x)

    class GradualStyleBlock(nn.Module):
        def __init__(self, cin, cout, spatial):
            super().__init__()
            layers = []
            for i in range(max(1, int(np.log2(spatial)))):
                layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride=2, padding=1),
                           nn.LeakyReLU(0.01)]
            self.convs, self.out_c = nn.Sequential(*layers), cout
            self.linear = EqualLinear(cout, cout)

        def forward(self, x):
            return self.linear(self.convs(x).view(-1, self.out_c))

    class GradualStyleEncoder(nn.Module):
        """Every style head computed, as the authors' code does; ``head0``
        returns head 0 only (E_c, the W encoder)."""

        def __init__(self, input_nc, n_styles, num_layers, style_dim, size, width, scale,
                     head0=False):
            super().__init__()
            stem = scaled_channels(64, width)
            self.input_layer = nn.Sequential(nn.Conv2d(input_nc, stem, 3, 1, 1, bias=False),
                                             nn.BatchNorm2d(stem), nn.PReLU(stem))
            self.body = nn.Sequential(*[BottleneckIRSE(i, d, s)
                                        for i, d, s in body_units(num_layers, width)])
            c1, c2, c3 = (scaled_channels(c, width) for c in BASE_CHANNELS[1:])
            self.styles = nn.ModuleList(
                GradualStyleBlock(c3 if i < COARSE_IND else style_dim, style_dim,
                                  size // 16 if i < COARSE_IND else
                                  size // 8 if i < MIDDLE_IND else size // 4)
                for i in range(n_styles))
            self.latlayer1 = nn.Conv2d(c2, style_dim, 1)
            self.latlayer2 = nn.Conv2d(c1, style_dim, 1)
            ends = np.cumsum(BLOCK_UNITS[num_layers]) - 1
            self.taps = tuple(int(e) for e in ends[1:])
            self.scale, self.head0, self.n_styles = scale, head0, n_styles

        @staticmethod
        def upsample_add(x, y):
            return F.interpolate(x, size=y.shape[2:], mode="bilinear", align_corners=True) + y

        def forward(self, x):
            x = self.input_layer(x)
            taps = []
            for i, unit in enumerate(self.body):
                x = unit(x)
                if i in self.taps:
                    taps.append(x)
            c1, c2, c3 = taps
            latents = [self.styles[j](c3) for j in range(COARSE_IND)]
            p2 = self.upsample_add(c3, self.latlayer1(c2))
            latents += [self.styles[j](p2) for j in range(COARSE_IND, MIDDLE_IND)]
            p1 = self.upsample_add(p2, self.latlayer2(c1))
            latents += [self.styles[j](p1) for j in range(MIDDLE_IND, self.n_styles)]
            out = torch.stack(latents, dim=1)
            return (out[:, 0] if self.head0 else out) * self.scale

    return dict(GradualStyleEncoder=GradualStyleEncoder)
