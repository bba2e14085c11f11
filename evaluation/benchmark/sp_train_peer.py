"""The sketch embedding's training steps in PyTorch (``worker_torch_sp_train``):
the steps of ``sp_train.py`` written as rosinality's StyleGAN2 train.py and
pSp's coach run them (torch.optim.Adam, backward, the regularisers through
torch.autograd.grad with create_graph), on the twin networks (``sp_twin.py``)
with the same seeded weights, the same batch, the same draws (the trainer's
seeded NumPy generator of step 1) and the same options (``job['options']``,
read from the Jittor trainer's). Its first two steps' losses are compared
with Jittor's before it is timed; a step whose first losses are out of
tolerance (``sp_train.within_tolerance``) is not timed.
"""

import copy
import math
from types import SimpleNamespace

import numpy as np

from evaluation.benchmark.sp_peer import SPTwin
from evaluation.benchmark.sp_train import (VGG16_BLOCKS, lpips_weights, training_batch,
                                           within_tolerance)
from evaluation.benchmark.timing import rss_mb, timed
from util.arrays import photo_to_array


def worker_torch_sp_train(job):
    import torch
    opt = SimpleNamespace(**dict(job["arch"], **job["options"]))
    make = StyleGANStep if job["step"].startswith("stylegan") else EncoderStep
    step = make(torch, opt, training_batch(opt, job["batch"]))
    res = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "rss_model_mb": rss_mb()}
    losses = []
    call = lambda: losses.append(step())         # noqa: E731
    call()
    call()
    res["losses"] = losses
    if job.get("ref_losses"):
        res["loss_diff"] = loss_diffs(losses, job["ref_losses"])
        res["failed"] = not within_tolerance(res["loss_diff"][0])
    if not res.get("failed"):
        res["times"] = {"step": timed(call, job["repeats"], 0, job["budget"], min_repeats=2)}
    res["rss_peak_mb"] = rss_mb()
    return res


def loss_diffs(mine, ref):
    """Per step, {loss: |mine - ref| / max(|ref|, 1e-6)} (inf for a missing one)."""
    return [{k: abs(m[k] - v) / max(abs(v), 1e-6) if k in m else float("inf")
             for k, v in r.items()} for m, r in zip(mine, ref)]


def mean_pool(x, size):
    b, c, n = x.shape[0], x.shape[1], x.shape[-1]
    f = n // size
    return x if f == 1 else x.reshape(b, c, size, f, size, f).mean([3, 5])


def noise_sizes(num_layers):
    return [2 ** ((i + 5) // 2) for i in range(num_layers)]


class StyleGANStep:
    """rosinality's training step: D, lazy R1, G (style mixing), lazy path
    length, EMA; Adam with the lazy-regularisation correction."""

    def __init__(self, torch, opt, batch):
        self.torch, self.opt = torch, opt
        twin = SPTwin(torch, opt, discriminator=True)
        self.g, self.d = twin.nets["decoder"].train(), twin.nets["discriminator"].train()
        self.g_ema = copy.deepcopy(self.g).eval()
        self.optim_g = self._adam(self.g, opt.g_reg_every if opt.path_regularize > 0 else 0)
        self.optim_d = self._adam(self.d, opt.d_reg_every if opt.r1 > 0 else 0)
        self.real = torch.from_numpy(photo_to_array(batch["photo"]))
        self.mean_path = 0.0
        self.n_latent, self.sizes = self.g.n_latent, noise_sizes(self.g.num_layers)

    def _adam(self, net, every):
        o, ratio = self.opt, every / (every + 1.0) if every else 1.0
        return self.torch.optim.Adam(net.parameters(), lr=o.lr * ratio,
                                     betas=(o.beta1 ** ratio, o.beta2 ** ratio), eps=o.eps)

    def generate(self, rng, b):
        """G of the trainer's draws: one or (mixing) two z's, the crossover, noise."""
        torch, o, n = self.torch, self.opt, self.n_latent
        mix = o.mixing > 0 and rng.random() < o.mixing
        zs = [rng.standard_normal((b, o.style_dim)).astype(np.float32)
              for _ in range(2 if mix else 1)]
        cut = int(rng.integers(1, n)) if mix else n
        noise = [torch.from_numpy(rng.standard_normal((b, 1, r, r)).astype(np.float32))
                 for r in self.sizes]
        ws = [self.g.style(torch.from_numpy(z)) for z in zs]
        latent = torch.cat([ws[0][:, None].expand(b, cut, -1)]
                           + ([ws[1][:, None].expand(b, n - cut, -1)] if mix else []), 1)
        return self.g(latent, noise), latent

    def __call__(self):
        torch, o = self.torch, self.opt
        F, rng = torch.nn.functional, np.random.default_rng([int(o.seed), 0, 1])
        b, losses = self.real.shape[0], {}
        with torch.no_grad():
            fake, _ = self.generate(rng, b)
        fake_pred, real_pred = self.d(fake), self.d(self.real)
        d_loss = F.softplus(fake_pred).mean() + F.softplus(-real_pred).mean()
        losses.update(D=d_loss, real_score=real_pred.mean(), fake_score=fake_pred.mean())
        self._step(self.optim_d, d_loss)
        if o.r1 > 0:
            real = self.real.clone().requires_grad_(True)
            grad, = torch.autograd.grad(self.d(real).sum(), real, create_graph=True)
            losses["R1"] = r1 = grad.pow(2).sum([1, 2, 3]).mean()
            self._step(self.optim_d, r1 * (o.r1 / 2.0 * o.d_reg_every))
        self.d.requires_grad_(False)
        fake, _ = self.generate(rng, b)
        losses["G"] = g_loss = F.softplus(-self.d(fake)).mean()
        self._step(self.optim_g, g_loss)
        self.d.requires_grad_(True)
        if o.path_regularize > 0:
            losses.update(self._path(rng, max(1, b // o.path_batch_shrink)))
        self._ema(b)
        return {k: float(v.detach()) for k, v in losses.items()}

    def _step(self, optim, loss):
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()

    def _path(self, rng, b):
        torch, o = self.torch, self.opt
        fake, latent = self.generate(rng, b)
        h, w = fake.shape[2:]
        y = torch.from_numpy((rng.standard_normal(tuple(fake.shape)) / math.sqrt(h * w))
                             .astype(np.float32))
        grad, = torch.autograd.grad((fake * y).sum(), latent, create_graph=True)
        lengths = grad.pow(2).sum(2).mean(1).sqrt()
        self.mean_path += 0.01 * (float(lengths.detach().mean()) - self.mean_path)
        penalty = ((lengths - self.mean_path) ** 2).mean()
        self._step(self.optim_g, penalty * (o.path_regularize * o.g_reg_every))
        return {"path": penalty, "path_length": lengths.mean()}

    def _ema(self, b):
        half_life = self.opt.ema_kimg * 1000.0
        beta = 0.5 ** (b / max(half_life, 1e-8)) if half_life > 0 else 0.0
        with self.torch.no_grad():
            for e, p in zip(self.g_ema.parameters(), self.g.parameters()):
                e.copy_(p + (e - p) * beta)


class EncoderStep:
    """pSp's step with E_c frozen: the W+ codes, G with fresh noise, L2 +
    lambda LPIPS at the loss size, Adam on E_s and E_a."""

    def __init__(self, torch, opt, batch):
        self.torch, self.opt = torch, opt
        self.twin = twin = SPTwin(torch, opt)
        for name in ("encoder_sketch_coarse", "decoder"):
            twin.nets[name].requires_grad_(False)
        trained = [twin.nets[n].train() for n in ("encoder_sketch_fine", "encoder_face_fine")]
        self.optim = torch.optim.Adam([p for n in trained for p in n.parameters()], lr=opt.lr,
                                      betas=(opt.beta1, opt.beta2), eps=opt.eps)
        self.lpips = LPIPS(torch)
        self.loss_res = min(int(opt.loss_size), int(opt.output_size))
        classes = np.arange(1, opt.label_nc + 1).reshape(1, -1, 1, 1)
        self.x = torch.from_numpy((batch["semantic"][:, None] == classes).astype(np.float32))
        photo = torch.from_numpy(photo_to_array(batch["photo"]))
        self.appearance = mean_pool(photo, opt.encoder_size)
        self.target = mean_pool(photo, self.loss_res)
        self.sizes = noise_sizes(twin.nets["decoder"].num_layers)

    def __call__(self):
        torch, o = self.torch, self.opt
        rng = np.random.default_rng([int(o.seed), 0, 1])
        codes = self.twin.codes(self.x, self.appearance)
        b = codes.shape[0]
        noise = [torch.from_numpy(rng.standard_normal((b, 1, r, r)).astype(np.float32))
                 for r in self.sizes]
        out = mean_pool(self.twin.nets["decoder"](codes, noise), self.loss_res)
        l2 = ((out - self.target) ** 2).mean()
        lp = self.lpips(out, self.target).mean()
        total = l2 * o.l2_lambda + lp * o.lpips_lambda
        self.optim.zero_grad(set_to_none=True)
        total.backward()
        self.optim.step()
        return {k: float(v.detach()) for k, v in (("L2", l2), ("LPIPS", lp), ("total", total))}


class LPIPS:
    """LPIPS-VGG as training/lpips.py computes it: the VGG16 relu1_2 .. relu5_3
    features of x and y (torchvision's input normalisation), unit-normalised
    over the channels, squared difference, the heads, spatial mean, summed."""

    MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self, torch, eps=1e-10):
        self.torch, self.eps = torch, eps
        trunk, heads = lpips_weights()
        self.convs = []
        for b, block in enumerate(VGG16_BLOCKS, 1):
            self.convs.append([(torch.from_numpy(trunk[f"conv{b}_{i}.weight"]),
                                torch.from_numpy(trunk[f"conv{b}_{i}.bias"]))
                               for i in range(1, len(block) + 1)])
        self.heads = [torch.from_numpy(h).view(1, -1, 1, 1) for h in heads]
        self.scale = torch.tensor([0.5 / s for s in self.STD]).view(1, 3, 1, 1)
        self.shift = torch.tensor([(0.5 - m) / s for m, s in zip(self.MEAN, self.STD)]) \
            .view(1, 3, 1, 1)

    def features(self, x):
        F = self.torch.nn.functional
        h, feats = x * self.scale + self.shift, []
        for k, block in enumerate(self.convs):
            if k:
                h = F.max_pool2d(h, 2, 2)
            for w, bias in block:
                h = F.relu(F.conv2d(h, w, bias, padding=1))
            feats.append(h)
        return feats

    def unit(self, f):
        return f / (f.pow(2).sum(1, keepdim=True).sqrt() + self.eps)

    def __call__(self, x, y):
        """(B,) distances; the target ``y`` in a pass of its own without
        gradients (as pSp's LPIPS and training/lpips.py run it)."""
        with self.torch.no_grad():
            targets = self.features(y)
        total = 0.0
        for w, f, t in zip(self.heads, self.features(x), targets):
            total = total + ((self.unit(f) - self.unit(t)) ** 2 * w).sum(1).mean([1, 2])
        return total
