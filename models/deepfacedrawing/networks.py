"""The networks of DeepFaceDrawing.

* ``ComponentEncoder`` / ``SketchDecoder``: one sketch autoencoder per face
  component (CE module).
* ``FeatureDecoder``: a component latent to a feature map (FM module).
* ``GlobalGenerator``: the pix2pixHD global generator (IS module).
* ``MultiscaleDiscriminator``: pix2pixHD's multi-scale PatchGAN (training).

Every size comes from the options (see ``options/base_options.py``); the
defaults rebuild the authors' networks with their exact parameter names, so
their checkpoints load without renaming. The authors' quirks (a LeakyReLU of
slope 1, BatchNorm momentum 0.9 in the up/down blocks) are kept in the
``official`` variant; ``fixed`` uses LeakyReLU(0.2) and momentum 0.1.
"""

from util.jittor_env import get_jittor

jt = get_jittor()
from jittor import nn  # noqa: E402  (Jittor must be configured first)

from models.layers import BatchNorm2d, ModulatedInstanceNorm, make_norm  # noqa: E402

VARIANTS = ("official", "fixed")


def leaky(variant):
    """The authors' 'LeakyReLU(1)' is the identity; 'fixed' makes it leak."""
    return nn.Identity() if variant == "official" else nn.LeakyReLU(0.2)


def updown_momentum(variant):
    return 0.9 if variant == "official" else 0.1


# ---------------------------------------------------------------- blocks
class ResnetBlock(nn.Module):
    """x + [pad, conv3x3, norm, ReLU, pad, conv3x3, norm](x)."""

    def __init__(self, dim, norm="batch"):
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), make_norm(norm, dim), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), make_norm(norm, dim))

    def execute(self, x):
        return x + self.conv_block(x)


class DownBlock(nn.Module):
    """conv 4x4 stride 2 + norm + activation (names conv/bn as released)."""

    def __init__(self, cin, cout, norm, variant):
        self.conv = nn.Conv2d(cin, cout, 4, stride=2, padding=1)
        self.bn = make_norm(norm, cout, updown_momentum(variant))
        self.relu = leaky(variant)

    def execute(self, x):
        return self.relu(self.bn(self.conv(x)))


UPSAMPLES = ("transpose", "resize")


def upsample_layers(cin, cout, upsample, kernel=4):
    """2x upsampling convolution: the authors' transposed convolution, or
    nearest resize + 3x3 convolution ('resize': no checkerboard, as every
    output pixel sees the same number of input pixels)."""
    if upsample == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1)]
    if kernel == 4:
        return [nn.ConvTranspose(cin, cout, 4, stride=2, padding=1)]
    return [nn.ConvTranspose(cin, cout, 3, stride=2, padding=1, output_padding=1)]


class UpBlock(nn.Module):
    """ConvTranspose 4x4 stride 2 + norm + activation, as ``conv.0/1/2``
    (or resize + conv with ``upsample='resize'``)."""

    def __init__(self, cin, cout, norm, variant, upsample="transpose"):
        self.conv = nn.Sequential(
            *upsample_layers(cin, cout, upsample),
            make_norm(norm, cout, updown_momentum(variant)), leaky(variant))

    def execute(self, x):
        return self.conv(x)


# ---------------------------------------------------------------- CE / FM
def encoder_channels(ngf, n_down):
    """Channels after the first conv and each down block: 32..512 officially."""
    return [ngf * 2 ** i for i in range(n_down + 1)]


def latent_grid(crop_size, n_down):
    """Spatial size of the deepest feature map of a crop (S/32 officially)."""
    factor = 2 ** (n_down + 1)
    if crop_size % factor:
        raise ValueError(f"crop size {crop_size} is not divisible by {factor} "
                         f"(2^(ae_n_down+1)); choose image_size/ae_n_down to match")
    return crop_size // factor


class ComponentEncoder(nn.Module):
    """Sketch crop (B,1,S,S) -> latent (B, latent_dim)."""

    def __init__(self, crop_size, latent_dim=512, ngf=32, n_down=4, norm="batch",
                 variant="official", input_nc=1):
        chans = encoder_channels(ngf, n_down)
        self.grid = latent_grid(crop_size, n_down)
        layers = [DownBlock(input_nc, chans[0], norm, variant)]
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [ResnetBlock(c_in, norm), DownBlock(c_in, c_out, norm, variant)]
        layers.append(ResnetBlock(chans[-1], norm))
        self.conv = nn.Sequential(*layers)
        self.fc_mu = nn.Sequential(nn.Linear(chans[-1] * self.grid ** 2, latent_dim))

    def execute(self, x):
        h = self.conv(x)
        return self.fc_mu(h.reshape(h.shape[0], -1))


class LatentDecoder(nn.Module):
    """Latent -> image-like map; the common form of the sketch decoder and the
    FM feature decoder. ``channels`` is the channel count at the deepest grid
    followed by the output of every up block; a 5x5 conv makes ``output_nc``.
    """

    def __init__(self, crop_size, channels, output_nc, latent_dim=512, norm="batch",
                 variant="official", upsample="transpose"):
        n_up = len(channels) - 1
        self.grid = latent_grid(crop_size, n_up - 1)
        self.top = channels[0]
        self.fc = nn.Sequential(nn.Linear(latent_dim, channels[0] * self.grid ** 2))
        layers = [ResnetBlock(channels[0], norm)]
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [UpBlock(c_in, c_out, norm, variant, upsample), ResnetBlock(c_out, norm)]
        layers += [nn.ReflectionPad2d(2), nn.Conv2d(channels[-1], output_nc, 5)]
        self.conv = nn.Sequential(*layers)

    def execute(self, z):
        h = self.fc(z).reshape(z.shape[0], self.top, self.grid, self.grid)
        return self.conv(h)


def sketch_decoder_channels(ngf, n_down):
    """The encoder's path reversed plus one more up block at ``ngf``."""
    return encoder_channels(ngf, n_down)[::-1] + [ngf]


class SketchDecoder(LatentDecoder):
    def __init__(self, crop_size, latent_dim=512, ngf=32, n_down=4, norm="batch",
                 variant="official"):
        super().__init__(crop_size, sketch_decoder_channels(ngf, n_down), 1,
                         latent_dim, norm, variant)


class FeatureDecoder(LatentDecoder):
    def __init__(self, crop_size, channels=(512, 256, 256, 128, 64, 64), output_nc=32,
                 latent_dim=512, norm="batch", variant="official", upsample="transpose"):
        super().__init__(crop_size, list(channels), output_nc, latent_dim, norm, variant,
                         upsample)

    def set_sample_stats(self, on):
        """Normalise with each sample's own statistics (the release's quirk)."""
        for m in self.modules():
            if isinstance(m, BatchNorm2d):
                m.sample_stats = bool(on)


# ---------------------------------------------------------------- IS
class GlobalGenerator(nn.Module):
    """pix2pixHD's global generator: 7x7 conv, n_down stride-2 convs,
    n_blocks residual blocks, n_down transposed convs, 7x7 conv, tanh.

    Beyond the paper (both off by default, so the authors' G is unchanged):
    ``appearance_dim`` > 0 makes every norm layer a ``ModulatedInstanceNorm``
    driven by an appearance code (``execute(x, code)``; no code = the zero
    code, the mean appearance); ``upsample='resize'`` replaces the
    transposed convolutions (nearest resize + 3x3 conv: no checkerboard)."""

    def __init__(self, input_nc=32, output_nc=3, ngf=56, n_down=4, n_blocks=9,
                 norm="instance", appearance_dim=0, upsample="transpose"):
        self.appearance_dim = appearance_dim
        if appearance_dim:
            norm = lambda c: ModulatedInstanceNorm(c, appearance_dim)  # noqa: E731
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7),
                  make_norm(norm, ngf), nn.ReLU()]
        for i in range(n_down):
            c = ngf * 2 ** i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), make_norm(norm, 2 * c),
                       nn.ReLU()]
        top = ngf * 2 ** n_down
        layers += [ResnetBlock(top, norm) for _ in range(n_blocks)]
        for i in range(n_down, 0, -1):
            c = ngf * 2 ** i
            layers += upsample_layers(c, c // 2, upsample, kernel=3)
            layers += [make_norm(norm, c // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        self._modulated = [m for m in self.modules() if isinstance(m, ModulatedInstanceNorm)]

    def execute(self, x, code=None):
        if not self._modulated:
            return self.model(x)
        if code is None:
            code = jt.zeros((x.shape[0], self.appearance_dim))
        for m in self._modulated:
            m.code = code
        try:
            return self.model(x)
        finally:
            for m in self._modulated:
                m.code = None


class AppearanceEncoder(nn.Module):
    """A photo's appearance (hair, skin, background colours) as a small code,
    VAE-style: strided convs, global average pooling, then the mean and log
    variance of the code (``execute`` returns both). Trained with the
    generator (the code of the target photo must let G rebuild its colours;
    a KL term keeps the codes near N(0, I), so random codes look plausible)."""

    def __init__(self, code_dim=8, nf=16, n_down=4):
        layers, c = [nn.Conv2d(3, nf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)], nf
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(c, min(2 * c, 256), 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c = min(2 * c, 256)
        self.conv = nn.Sequential(*layers)
        self.mu = nn.Linear(c, code_dim)
        self.logvar = nn.Linear(c, code_dim)

    def execute(self, photo):
        h = self.conv(photo).mean(dims=(2, 3))
        return self.mu(h), self.logvar(h)


# ---------------------------------------------------------------- D
class NLayerDiscriminator(nn.Module):
    """PatchGAN; returns the output of every stage (for feature matching)."""

    def __init__(self, input_nc, ndf=64, n_layers=3, norm="instance"):
        kw, pad = 4, 2
        stages = [nn.Sequential(nn.Conv2d(input_nc, ndf, kw, stride=2, padding=pad),
                                nn.LeakyReLU(0.2))]
        c = ndf
        for i in range(1, n_layers + 1):
            c_next = min(c * 2, 512)
            stride = 2 if i < n_layers else 1
            stages.append(nn.Sequential(
                nn.Conv2d(c, c_next, kw, stride=stride, padding=pad),
                make_norm(norm, c_next), nn.LeakyReLU(0.2)))
            c = c_next
        stages.append(nn.Sequential(nn.Conv2d(c, 1, kw, stride=1, padding=pad)))
        self.stages = nn.ModuleList(stages)

    def execute(self, x):
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` PatchGANs on the input downsampled 1x, 2x, 4x, ..."""

    def __init__(self, input_nc, ndf=64, n_layers=3, num_D=2, norm="instance"):
        self.nets = nn.ModuleList([NLayerDiscriminator(input_nc, ndf, n_layers, norm)
                                   for _ in range(num_D)])
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def execute(self, x):
        outs = []
        for i, net in enumerate(self.nets):
            if i:
                x = self.down(x)
            outs.append(net(x))
        return outs


# ---------------------------------------------------------------- factories
# A model asks for a network by options (as pix2pixHD's define_G), so the
# constructor arguments are spelled out here only.
def crop_size(opt, part):
    from util.components import scaled_boxes
    return scaled_boxes(opt.image_size)[part][2]


def define_encoder(opt, part):
    """The component encoder of ``part`` (CE)."""
    return ComponentEncoder(crop_size(opt, part), latent_dim=opt.latent_dim, ngf=opt.ae_ngf,
                            n_down=opt.ae_n_down, norm=opt.ae_norm, variant=opt.variant)


def define_sketch_decoder(opt, part):
    """The sketch decoder of ``part`` (CE, training and shadows)."""
    return SketchDecoder(crop_size(opt, part), latent_dim=opt.latent_dim, ngf=opt.ae_ngf,
                         n_down=opt.ae_n_down, norm=opt.ae_norm, variant=opt.variant)


def define_fm(opt, part):
    """The feature-mapping decoder of ``part`` (FM)."""
    return FeatureDecoder(crop_size(opt, part), opt.fm_channels, opt.fm_nc, opt.latent_dim,
                          opt.ae_norm, opt.variant, opt.upsample)


def define_G(opt):
    """The image synthesis generator (IS); the direct pipeline (pix2pixHD
    baseline) feeds it the one-channel sketch instead of the FM map."""
    input_nc = 1 if opt.pipeline == "direct" else opt.fm_nc
    return GlobalGenerator(input_nc, 3, opt.ngf, opt.n_downsample_global, opt.n_blocks_global,
                           opt.norm, opt.appearance_dim, opt.upsample)


def define_A(opt):
    """The appearance encoder (only when ``appearance_dim`` > 0)."""
    return AppearanceEncoder(opt.appearance_dim)


def define_D(opt):
    """The multi-scale PatchGAN on (sketch, photo) pairs (training only)."""
    return MultiscaleDiscriminator(1 + 3, opt.ndf, opt.n_layers_D, opt.num_D, opt.norm_D)
