"""One DeepFaceDrawing training step in PyTorch, the peer of the Jittor
trainer's (``worker_torch_train``, in a process of its own): the same
networks (parameter names of models/deepfacedrawing/networks.py, so the same
seeded weights load), the same losses with the same weights, Adam with the
same settings, on the same batch.

The options come from the Jittor worker (``options``: what the real trainer
ran with), as does the description of its VGG (layout, input convention,
layer weights); the reference losses of its first steps decide whether the
step is the same. torch is imported in the worker only.
"""

import time
from types import SimpleNamespace

import numpy as np

from evaluation.benchmark.timing import rss_mb, timed
from evaluation.benchmark.torch_twin import TwinBuilder, load_seeded, torch_feature_map
from evaluation.benchmark.train_steps import (CHECKED_STEPS, LOSS_TOLERANCE, TRAIN_SEEDS,
                                              loss_differences, same_step, step_batch)
from util.arrays import crop_part, photo_to_array, sketch_to_array
from util.components import PART_NAMES, pipeline_parts, scaled_boxes


def worker_torch_train(job):
    """The PyTorch step of ``job['stage']``: its first steps' losses against the
    Jittor trainer's (``ref_losses``); timed only when they agree. Latency and
    peak memory of this process."""
    import torch
    opt = SimpleNamespace(**job["options"])
    rss0 = rss_mb()
    step = (AEStep if job["stage"] == "ae" else CombineStep)(torch, opt, job.get("vgg"))
    res = {"torch": torch.__version__, "threads": torch.get_num_threads(), "stage": job["stage"],
           "rss_import_mb": rss0, "rss_model_mb": rss_mb()}
    batch = step_batch(opt, job["batch"])
    first = time.perf_counter()
    res["losses"] = [step(batch)]
    first = time.perf_counter() - first
    res["losses"] += [step(batch) for _ in range(CHECKED_STEPS - 1)]
    res["loss_diff"] = diffs = loss_differences(res["losses"], job.get("ref_losses") or [])
    if not same_step(diffs):
        got = ", ".join(f"{d:.1e}" for d in diffs) if diffs else "other names"
        res["error"] = (f"not the same step: losses of steps 1-{CHECKED_STEPS} differ from "
                        f"Jittor's by {got} (tolerance {LOSS_TOLERANCE}); not timed")
        return res
    t = timed(lambda: step(batch), job["repeats"], 0, job["budget"], min_repeats=2)
    t["first"] = first
    res.update(times={"step": t}, rss_peak_mb=rss_mb())
    return res


class Step:
    """What both stages' steps share: tensors, seeded networks, Adam."""

    def __init__(self, torch, opt):
        self.torch, self.opt = torch, opt
        self.build = TrainBuilder(torch, opt)
        self.boxes = scaled_boxes(opt.image_size)
        self.parts = pipeline_parts(opt.pipeline)
        self.whole = opt.pipeline == "whole_face"

    def tensor(self, a):
        return self.torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    def seeded(self, net, kind):
        load_seeded(self.torch, net, TRAIN_SEEDS[kind])
        return net

    def adam(self, params):
        o = self.opt
        return self.torch.optim.Adam(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps)

    def crops(self, x):
        n = self.opt.image_size
        return {p: self.tensor(crop_part(x, p, n, self.whole)) for p in self.parts}

    def update(self, optim, loss, params):
        """Adam on the gradients of ``loss`` for ``params`` alone (as the Jittor
        optimiser's jt.grad: no gradients for the other networks)."""
        for p, g in zip(params, self.torch.autograd.grad(loss, params)):
            p.grad = g
        optim.step()


class AEStep(Step):
    """AETrainer.step: every part's crop through its encoder and sketch
    decoder, the reconstruction loss (to the input or, with --ae_target clean,
    to the clean sketch) summed, Adam on all."""

    def __init__(self, torch, opt, vgg=None):
        super().__init__(torch, opt)
        size = {p: self.boxes[p][2] for p in self.parts}
        self.enc = {p: self.seeded(self.build.encoder(size[p]), "encoder").train()
                    for p in self.parts}
        self.dec = {p: self.seeded(self.build.sketch_decoder(size[p]), "decoder").train()
                    for p in self.parts}
        self.params = [v for p in self.parts for net in (self.enc[p], self.dec[p])
                       for v in net.parameters()]
        self.optim = self.adam(self.params)

    def __call__(self, batch):
        losses, total = {}, 0.0
        crops = self.crops(sketch_to_array(batch["sketch"]))
        targets = self.crops(sketch_to_array(batch["clean"])) if self.opt.ae_target == "clean" \
            else crops
        for p, crop in crops.items():
            diff = self.dec[p](self.enc[p](crop)) - targets[p]
            loss = (diff * diff).mean() if self.opt.ae_loss == "mse" else diff.abs().mean()
            losses[f"rec_{PART_NAMES[p]}"] = loss
            total = total + loss
        self.update(self.optim, total * self.opt.lambda_recon, self.params)
        return {k: float(v.detach()) for k, v in losses.items()}


def lsgan(outputs, target):
    return sum(((scale[-1] - target) ** 2).mean() for scale in outputs) / len(outputs)


def feature_matching(fake_outputs, real_outputs):
    total = 0.0
    for fake, real in zip(fake_outputs, real_outputs):
        for f, r in zip(fake[:-1], real[:-1]):
            total = total + (f - r.detach()).abs().mean() * (4.0 / (len(fake) - 1)) / len(
                fake_outputs)
    return total


class CombineStep(Step):
    """CombineTrainer.step: frozen encoders, FM + paste + G (with the
    appearance code of the photo, sampled as the trainer does), D on (sketch,
    photo); G's losses (KL, LSGAN, feature matching, VGG, TV, L1, weighted),
    D's LSGAN; Adam on G (+ FM, + A), then on D."""

    def __init__(self, torch, opt, vgg=None):
        super().__init__(torch, opt)
        if opt.pipeline != "components":
            raise ValueError("the PyTorch combine step has the components pipeline only")
        b, size = self.build, {p: self.boxes[p][2] for p in self.parts}
        self.enc = {p: self.seeded(b.encoder(size[p]), "encoder").eval() for p in self.parts}
        self.fm = {p: self.seeded(b.decoder(size[p], opt.fm_channels, opt.fm_nc), "fm").train()
                   for p in self.parts}
        self.G = self.seeded(b.generator(), "G").train()
        self.A = self.seeded(b.appearance_encoder(), "A").train() if opt.appearance_dim else None
        self.use_d = opt.lambda_gan > 0 or opt.lambda_feat > 0
        self.D = self.seeded(b.discriminator(), "D").train() if self.use_d else None
        self.vgg = self.vgg_of(vgg) if opt.lambda_vgg > 0 else None
        self.g_params = [v for p in self.parts for v in self.fm[p].parameters()]
        self.g_params += list(self.G.parameters()) + (list(self.A.parameters()) if self.A else [])
        self.optim_G = self.adam(self.g_params)
        if self.use_d:
            self.d_params = list(self.D.parameters())
            self.optim_D = self.adam(self.d_params)

    def vgg_of(self, desc):
        """The VGG the Jittor worker used: the .npz it read, or the same seeded weights."""
        net = self.build.vgg(desc)
        if desc["source"] == "seeded":
            self.seeded(net, "vgg")
        else:
            with np.load(desc["source"]) as f:
                net.load_state_dict({k: self.torch.from_numpy(f[k].astype(np.float32))
                                     for k in desc["shapes"]})
        for v in net.parameters():
            v.requires_grad_(False)
        net.weights = [float(w) for w in desc["weights"]]
        return net.eval()

    def vgg_loss(self, x, y):
        n = x.shape[0]
        feats = self.vgg(self.torch.cat([x, y.detach()], 0))
        return sum(w * (f[:n] - f[n:].detach()).abs().mean()
                   for w, f in zip(self.vgg.weights, feats))

    def __call__(self, batch):
        torch, o = self.torch, self.opt
        x = sketch_to_array(batch["sketch"])
        with torch.no_grad():
            latents = {p: self.enc[p](c) for p, c in self.crops(x).items()}
        cond, real = self.tensor(x), self.tensor(photo_to_array(batch["photo"]))
        losses, loss_g, code = {}, 0.0, None
        if self.A is not None:          # CombineTrainer.appearance, at global step 0
            mu, logvar = self.A(real)
            eps = np.random.default_rng([o.seed, 7, 0]).standard_normal(tuple(mu.shape))
            losses["KL"] = (-0.5 * (1.0 + logvar - mu * mu - logvar.exp())).mean()
            loss_g = loss_g + losses["KL"] * o.lambda_kl
            code = mu + (logvar * 0.5).exp() * self.tensor(eps)
        fake = self.G(torch_feature_map(torch, o, self.fm, latents), code)
        if self.use_d:
            pred_fake = self.D(torch.cat([cond, fake], 1))
            pred_real = self.D(torch.cat([cond, real], 1))
            if o.lambda_gan > 0:
                losses["G_GAN"] = lsgan(pred_fake, 1.0)
                loss_g = loss_g + losses["G_GAN"] * o.lambda_gan
            if o.lambda_feat > 0:
                losses["G_GAN_Feat"] = feature_matching(pred_fake, pred_real)
                loss_g = loss_g + losses["G_GAN_Feat"] * o.lambda_feat
        if self.vgg is not None:
            losses["G_VGG"] = self.vgg_loss(fake, real)
            loss_g = loss_g + losses["G_VGG"] * o.lambda_vgg
        if o.lambda_tv > 0:
            losses["G_TV"] = ((fake[:, :, :, 1:] - fake[:, :, :, :-1]).abs().mean()
                              + (fake[:, :, 1:, :] - fake[:, :, :-1, :]).abs().mean())
            loss_g = loss_g + losses["G_TV"] * o.lambda_tv
        if o.lambda_l1 > 0:
            losses["G_L1"] = (fake - real).abs().mean()
            loss_g = loss_g + losses["G_L1"] * o.lambda_l1
        if self.use_d:
            losses["D_fake"] = lsgan(self.D(torch.cat([cond, fake.detach()], 1)), 0.0)
            losses["D_real"] = lsgan(pred_real, 1.0)
        self.update(self.optim_G, loss_g, self.g_params)
        if self.use_d:
            self.update(self.optim_D, (losses["D_fake"] + losses["D_real"]) * 0.5, self.d_params)
        return {k: float(v.detach()) for k, v in losses.items()}


class TrainBuilder(TwinBuilder):
    """The twin's networks, plus what training adds: resize up-sampling, the
    appearance-modulated generator, the appearance encoder, the sketch
    decoders, the multiscale discriminator and the VGG trunk."""

    def __init__(self, torch, opt):
        super().__init__(torch, opt)
        self.cls = _train_classes(torch)

    def up(self, cin, cout, upsample=None):
        nn = self.nn
        if (upsample or self.opt.upsample) != "resize":
            return super().up(cin, cout)
        return self.named(conv=nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, padding=1),
            self.norm(self.opt.ae_norm, cout), self.act()))

    def decoder(self, s, channels, out_nc, upsample=None):
        """LatentDecoder: latent -> (B, out_nc, s, s)."""
        nn, ch = self.nn, list(channels)
        grid = s // 2 ** (len(ch) - 1)
        layers = [self.res(ch[0], self.opt.ae_norm)]
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [self.up(a, b, upsample), self.res(b, self.opt.ae_norm)]
        layers += [nn.ReflectionPad2d(2), nn.Conv2d(ch[-1], out_nc, 5)]
        return self.named(fc=nn.Sequential(nn.Linear(self.opt.latent_dim, ch[0] * grid ** 2)),
                          unflatten=nn.Unflatten(1, (ch[0], grid, grid)),
                          conv=nn.Sequential(*layers))

    def sketch_decoder(self, s):
        """SketchDecoder (always transposed convolutions, as networks.py)."""
        o = self.opt
        chans = [o.ae_ngf * 2 ** i for i in range(o.ae_n_down + 1)][::-1] + [o.ae_ngf]
        return self.decoder(s, chans, 1, "transpose")

    def generator(self):
        o, nn = self.opt, self.nn
        norm = (lambda c: self.cls["Modulated"](c, o.appearance_dim)) if o.appearance_dim \
            else (lambda c: self.norm(o.norm, c))
        ngf, nd = o.ngf, o.n_downsample_global
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(o.fm_nc, ngf, 7), norm(ngf), nn.ReLU()]
        for i in range(nd):
            c = ngf * 2 ** i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), norm(2 * c), nn.ReLU()]
        layers += [self.res(ngf * 2 ** nd, norm) for _ in range(o.n_blocks_global)]
        for i in range(nd, 0, -1):
            c = ngf * 2 ** i
            layers += ([nn.Upsample(scale_factor=2, mode="nearest"),
                        nn.Conv2d(c, c // 2, 3, padding=1)] if o.upsample == "resize" else
                       [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1)])
            layers += [norm(c // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        return self.cls["Generator"](nn.Sequential(*layers))

    def norm(self, kind, c):
        return kind(c) if callable(kind) else super().norm(kind, c)

    def appearance_encoder(self, nf=16, n_down=4):
        nn = self.nn
        layers, c = [nn.Conv2d(3, nf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)], nf
        for _ in range(n_down - 1):
            layers += [nn.Conv2d(c, min(2 * c, 256), 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c = min(2 * c, 256)
        return self.cls["Appearance"](nn.Sequential(*layers), nn.Linear(c, self.opt.appearance_dim),
                                      nn.Linear(c, self.opt.appearance_dim))

    def discriminator(self):
        """MultiscaleDiscriminator on (sketch, photo): every stage's output per scale."""
        nn, o = self.nn, self.opt
        nets = []
        for _ in range(o.num_D):
            stages = [nn.Sequential(nn.Conv2d(4, o.ndf, 4, stride=2, padding=2), nn.LeakyReLU(0.2))]
            c = o.ndf
            for i in range(1, o.n_layers_D + 1):
                c_next = min(c * 2, 512)
                stages.append(nn.Sequential(
                    nn.Conv2d(c, c_next, 4, stride=2 if i < o.n_layers_D else 1, padding=2),
                    self.norm(o.norm_D, c_next), nn.LeakyReLU(0.2)))
                c = c_next
            stages.append(nn.Sequential(nn.Conv2d(c, 1, 4, stride=1, padding=2)))
            nets.append(nn.ModuleList(stages))
        return self.cls["Multiscale"](nn.ModuleList(nets))

    def vgg(self, desc):
        """The VGG trunk the Jittor worker described (names conv1_1 ...)."""
        convs = {}
        for name, _, _ in desc["plan"]:
            cout, cin = desc["shapes"][f"{name}.weight"][:2]
            convs[name] = self.nn.Conv2d(cin, cout, 3, padding=1)
        return self.cls["VGG"](convs, desc)


def _train_classes(torch):
    """The modules of the training twin beyond TwinBuilder's (made once torch is here)."""
    from evaluation.benchmark.torch_twin import _classes
    cls = _classes(torch)
    if "VGG" in cls:
        return cls
    nn, F = torch.nn, torch.nn.functional

    class Modulated(nn.Module):
        """ModulatedInstanceNorm: IN(x) * (1 + gamma(code)) + beta(code)."""

        def __init__(self, c, dim):
            super().__init__()
            self.norm, self.style, self.c, self.code = nn.InstanceNorm2d(c, affine=True), \
                nn.Linear(dim, 2 * c), c, None

        def forward(self, x):
            y = self.norm(x)
            if self.code is None:
                return y
            gb = self.style(self.code)
            return y * (1.0 + gb[:, :self.c, None, None]) + gb[:, self.c:, None, None]

    class Generator(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x, code=None):
            mods = [m for m in self.modules() if isinstance(m, Modulated)]
            if mods and code is None:
                code = x.new_zeros((x.shape[0], mods[0].style.in_features))
            for m in mods:
                m.code = code
            try:
                return self.model(x)
            finally:
                for m in mods:
                    m.code = None

    class Appearance(nn.Module):
        def __init__(self, conv, mu, logvar):
            super().__init__()
            self.conv, self.mu, self.logvar = conv, mu, logvar

        def forward(self, photo):
            h = self.conv(photo).mean(dim=(2, 3))
            return self.mu(h), self.logvar(h)

    class Multiscale(nn.Module):
        def __init__(self, nets):
            super().__init__()
            self.nets = nn.ModuleList([nn.Module() for _ in nets])
            for holder, stages in zip(self.nets, nets):
                holder.stages = stages

        def forward(self, x):
            outs = []
            for i, net in enumerate(self.nets):
                if i:   # Jittor's AvgPool2d (ceil_mode off) counts the padding whatever
                    # count_include_pad says: networks.py's count_include_pad=False is ignored
                    x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=True)
                feats, h = [], x
                for stage in net.stages:
                    h = stage(h)
                    feats.append(h)
                outs.append(feats)
            return outs

    class VGG(nn.Module):
        def __init__(self, convs, desc):
            super().__init__()
            for name, conv in convs.items():
                self.add_module(name, conv)
            self.plan = desc["plan"]
            order, scale, shift = desc["input"]
            self.order = list(order)
            for key, val in (("scale", scale), ("shift", shift)):
                val = torch.tensor(val, dtype=torch.float32)[None, :, None, None]
                self.register_buffer(key, val, persistent=False)

        def forward(self, x):
            h = x[:, self.order] * self.scale + self.shift
            feats = []
            for name, pool_first, tap in self.plan:
                if pool_first:
                    h = F.max_pool2d(h, 2, stride=2)
                h = F.relu(getattr(self, name)(h))
                if tap:
                    feats.append(h)
            return feats

    cls.update(Modulated=Modulated, Generator=Generator, Appearance=Appearance,
               Multiscale=Multiscale, VGG=VGG)
    return cls
