"""The encoders, FM decoders and generator of DeepFaceDrawing written in
PyTorch, with the parameter names of models/deepfacedrawing/networks.py, so the same seeded
weights load into both and the peer's outputs can be checked against ours.

torch is passed in by the caller (``import torch`` happens in the peer's
process only), and the twin reads its sizes from a plain dict of options
(``twin_options``, made in the plan's process): the Python that has torch
needs NumPy and nothing else of the project's dependencies.
"""

from collections import OrderedDict

from evaluation.benchmark.inputs import preset_options, seeded_weights
from util.components import PARTS, PASTE_ORDER, nose_paste_rows, scaled_boxes

TWIN_KEYS = ("image_size", "latent_dim", "ae_ngf", "ae_n_down", "ae_norm", "variant",
             "fm_channels", "fm_nc", "fm_sample_stats", "ngf", "n_downsample_global",
             "n_blocks_global", "norm")


def twin_options(config):
    """{option: value} of the preset ``config`` that the twin is built from."""
    opt = preset_options(config)
    return {k: getattr(opt, k) for k in TWIN_KEYS}


_CLASSES = {}


def _classes(torch):
    """The two modules the twin needs beyond torch.nn's (made once torch is here)."""
    if not _CLASSES:
        nn, F = torch.nn, torch.nn.functional

        class BatchNorm(nn.BatchNorm2d):
            sample_stats = False

            def forward(self, x):
                if self.sample_stats:    # each sample's own statistics (the release's quirk)
                    return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
                return super().forward(x)

        class Residual(nn.Module):
            def __init__(self, block):
                super().__init__()
                self.conv_block = block

            def forward(self, x):
                return x + self.conv_block(x)

        _CLASSES.update(BatchNorm=BatchNorm, Residual=Residual)
    return _CLASSES


class TwinBuilder:
    """Builds the twin networks of ``opt`` (an object with the TWIN_KEYS)."""

    def __init__(self, torch, opt):
        self.nn, self.opt = torch.nn, opt
        self.cls = _classes(torch)

    def named(self, **children):
        """A Sequential whose children have these names (the parameter names)."""
        return self.nn.Sequential(OrderedDict(children))

    def norm(self, kind, c):
        if kind == "batch":
            return self.cls["BatchNorm"](c)
        if kind == "instance":
            return self.nn.InstanceNorm2d(c, affine=True)
        return self.nn.Identity()

    def act(self):
        return self.nn.Identity() if self.opt.variant == "official" else self.nn.LeakyReLU(0.2)

    def res(self, d, kind):
        nn = self.nn
        return self.cls["Residual"](nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(d, d, 3), self.norm(kind, d), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(d, d, 3), self.norm(kind, d)))

    def down(self, cin, cout):
        return self.named(conv=self.nn.Conv2d(cin, cout, 4, stride=2, padding=1),
                          bn=self.norm(self.opt.ae_norm, cout), relu=self.act())

    def up(self, cin, cout):
        nn = self.nn
        return self.named(conv=nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1),
                                             self.norm(self.opt.ae_norm, cout), self.act()))

    def encoder(self, s):
        """ComponentEncoder: crop (B, 1, s, s) -> latent."""
        nn, opt = self.nn, self.opt
        chans = [opt.ae_ngf * 2 ** i for i in range(opt.ae_n_down + 1)]
        grid = s // 2 ** (opt.ae_n_down + 1)
        layers = [self.down(1, chans[0])]
        for a, b in zip(chans[:-1], chans[1:]):
            layers += [self.res(a, opt.ae_norm), self.down(a, b)]
        layers.append(self.res(chans[-1], opt.ae_norm))
        return self.named(conv=nn.Sequential(*layers), flatten=nn.Flatten(),
                          fc_mu=nn.Sequential(nn.Linear(chans[-1] * grid * grid, opt.latent_dim)))

    def fm_decoder(self, s):
        """FeatureDecoder: latent -> feature map (B, fm_nc, s, s)."""
        nn, opt = self.nn, self.opt
        ch = list(opt.fm_channels)
        grid = s // 2 ** (len(ch) - 1)
        layers = [self.res(ch[0], opt.ae_norm)]
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [self.up(a, b), self.res(b, opt.ae_norm)]
        layers += [nn.ReflectionPad2d(2), nn.Conv2d(ch[-1], opt.fm_nc, 5)]
        return self.named(fc=nn.Sequential(nn.Linear(opt.latent_dim, ch[0] * grid ** 2)),
                          unflatten=nn.Unflatten(1, (ch[0], grid, grid)),
                          conv=nn.Sequential(*layers))

    def generator(self):
        """GlobalGenerator: feature map -> photo."""
        nn, opt = self.nn, self.opt
        ngf, nd = opt.ngf, opt.n_downsample_global
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(opt.fm_nc, ngf, 7), self.norm(opt.norm, ngf),
                  nn.ReLU()]
        for i in range(nd):
            c = ngf * 2 ** i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), self.norm(opt.norm, 2 * c),
                       nn.ReLU()]
        layers += [self.res(ngf * 2 ** nd, opt.norm) for _ in range(opt.n_blocks_global)]
        for i in range(nd, 0, -1):
            c = ngf * 2 ** i
            layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                       self.norm(opt.norm, c // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        return self.named(model=nn.Sequential(*layers))


def torch_networks(opt, torch):
    """({part: encoder}, {part: FM decoder}, generator) of ``opt`` in PyTorch."""
    build = TwinBuilder(torch, opt)
    boxes = scaled_boxes(opt.image_size)
    enc = {p: build.encoder(boxes[p][2]) for p in PARTS}
    fm = {p: build.fm_decoder(boxes[p][2]) for p in PARTS}
    for dec in fm.values():
        for m in dec.modules():
            if isinstance(m, build.cls["BatchNorm"]):
                m.sample_stats = bool(opt.fm_sample_stats)
    return enc, fm, build.generator()


def torch_feature_map(torch, opt, fm, z):
    """CombineModel.feature_map in PyTorch: the remainder, then the pastes."""
    F = torch.nn.functional
    n = opt.image_size
    boxes = scaled_boxes(n)
    face = fm[""](z[""])
    for part in PASTE_ORDER:
        x, y, s = boxes[part]
        rows = nose_paste_rows(n) if part == "nose" else s
        patch = fm[part](z[part])[:, :, :rows, :]
        placed = F.pad(patch, [x, n - x - s, y, n - y - rows])
        mask = torch.zeros((1, 1, n, n), dtype=face.dtype, device=face.device)
        mask[:, :, y:y + rows, x:x + s] = 1.0
        face = face * (1.0 - mask) + placed * mask
    return face


def load_seeded(torch, net, seed):
    """Give a PyTorch network the seeded weights (names as in networks.py)."""
    state = net.state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}
    weights = seeded_weights(shapes, seed)
    missing, unexpected = net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()},
                                              strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise RuntimeError(f"PyTorch peer: parameter names differ ({missing}, {unexpected})")
