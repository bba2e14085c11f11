"""Stage ``stylegan``: StyleGAN2 (Karras et al., CVPR 2020) trained on the
training photos, the generator the sketch embedding inverts.

Per step (batch B, ``k_d = --d_reg_every``, ``k_g = --g_reg_every``):

* D: non-saturating logistic loss, softplus(D(G(z))) + softplus(-D(x));
* every k_d steps (the first included) lazy R1: (r1 / 2) ||grad_x D(x)||^2
  * k_d on the reals;
* G: softplus(-D(G(z))); with probability ``--mixing`` two z's and a random
  crossover row (style mixing);
* every k_g steps, when ``--path_regularize`` > 0, the path-length
  regulariser on B / ``--path_batch_shrink`` samples: a = ||J_w^T y|| with
  y ~ N(0, I) / sqrt(H W), (a - mean)^2, mean tracked with decay 0.01,
  weighted by path_regularize * k_g;
* g_ema <- g + (g_ema - g) * 0.5 ** (B / (ema_kimg * 1000)) (what is exported);
* with ``--diffaug`` (``training/diffaug.py``), every image D sees, real or
  generated, in the D, R1 and G steps, is augmented first (DiffAugment: the
  small-data remedy that keeps D from memorising a few thousand photos).

Adam with StyleGAN2's lazy-regularisation correction: for a network
regularised every k steps, lr * k / (k + 1) and betas ** (k / (k + 1)).
Every draw (z, crossover, noise maps, path noise) comes from the step's
seeded generator, so a resumed run repeats the uninterrupted one.

Export (``SPEmbedding/{tag}_net_decoder.pkl``, ``{tag}_latent_avg.pkl``: the
mean W of 4096 fixed z's repeated n_latent times; ``{tag}_net_discriminator.pkl``
for training only; with ``--export_rosinality`` also ``stylegan2_{tag}.pt``).
"""

import math
import os

import numpy as np

from models.base_model import save_network
from models.sp_embedding import checkpoint as sp_ckpt
from models.sp_embedding.psp import define_generator
from models.sp_embedding.stylegan2 import Discriminator
from training.base_trainer import StageError, jt
from training.optim import Adam
from training.sp_embedding.base import SPTrainer, seeded_noise, softplus, tile, to_rgb_images
from training.diffaug import augment, stage_policy
from util.arrays import photo_to_array

from jittor import nn  # noqa: E402  (configured by training.base_trainer's import)

LATENT_AVG_SAMPLES = 4096


class LazyAdam(Adam):
    """Adam for a network with lazy regularisation every ``k`` steps: lr and
    betas corrected by ratio = k / (k + 1) (lr * ratio, betas ** ratio).
    ``lr`` stays the base rate (the schedule sets it), the step uses lr * ratio."""

    def __init__(self, params, lr, betas, eps, every=0):
        self.ratio = every / (every + 1.0) if every else 1.0
        super().__init__(params, lr, tuple(b ** self.ratio for b in betas), eps)

    def step(self, loss):
        base = self.lr
        self.lr = base * self.ratio
        try:
            super().step(loss)
        finally:
            self.lr = base


class TrainingScalars(nn.Module):
    """Running values a resumed run needs (saved with the networks)."""

    def __init__(self):
        self.mean_path_length = jt.zeros(1).stop_grad()


def copy_weights(dst, src):
    """dst <- src, tensor by tensor (same architecture)."""
    d = dst.state_dict()
    for name, var in src.state_dict().items():
        frozen = d[name].is_stop_grad()
        d[name].update(var.detach().clone())
        if frozen:
            d[name].stop_grad()
    jt.sync(list(d.values()))


def mean_w(generator, seed, n=LATENT_AVG_SAMPLES, chunk=1024):
    """Mean of M(z) over n fixed z's (seeded): (D,) float32."""
    rng = np.random.default_rng([int(seed), 424242])
    z = rng.standard_normal((n, generator.style_dim)).astype(np.float32)
    total = np.zeros(generator.style_dim, np.float64)
    with jt.no_grad():
        for i in range(0, n, chunk):
            total += generator.style(jt.array(z[i:i + chunk])).numpy().sum(axis=0)
    return (total / n).astype(np.float32)


class StyleGANTrainer(SPTrainer):
    stage = "stylegan"

    def __init__(self, opt, loader=None, files=None):
        super().__init__(opt, loader, files)
        b = opt.batch_size
        if b % min(b, 4):
            raise StageError(f"--batch_size {b}: the discriminator's minibatch standard "
                             f"deviation takes groups of 4; use 1-4 or a multiple of 4")
        if opt.r1 > 0 and opt.d_reg_every < 1:
            raise StageError("--r1 needs --d_reg_every >= 1 (or --r1 0)")
        if opt.path_regularize > 0 and (opt.g_reg_every < 1 or opt.path_batch_shrink < 1):
            raise StageError("--path_regularize needs --g_reg_every >= 1 and "
                             "--path_batch_shrink >= 1")
        if not 0.0 <= opt.mixing <= 1.0:
            raise StageError(f"--mixing is a probability, got {opt.mixing}")
        self.diffaug = stage_policy(opt.diffaug)
        self.g = define_generator(opt)
        self.g_ema = define_generator(opt)
        copy_weights(self.g_ema, self.g)
        self.g_ema.eval()
        self.d = Discriminator(opt.output_size, channel_multiplier=opt.channel_multiplier,
                               channel_max=opt.channel_max)
        self.scalars = TrainingScalars()
        betas, eps = (opt.beta1, opt.beta2), opt.eps
        g_every = opt.g_reg_every if opt.path_regularize > 0 else 0
        d_every = opt.d_reg_every if opt.r1 > 0 else 0
        self.optim_g = LazyAdam(self.g.parameters(), opt.lr, betas, eps, g_every)
        self.optim_d = LazyAdam(self.d.parameters(), opt.lr, betas, eps, d_every)
        self.n_latent = self.g.n_latent

    def networks(self):
        return {"g": self.g, "g_ema": self.g_ema, "d": self.d, "scalars": self.scalars}

    def optimizers(self):
        return {"G": self.optim_g, "D": self.optim_d}

    def network_files(self, root, tag="latest"):
        """The exported generator (g_ema) starts both g and g_ema."""
        decoder = sp_ckpt.net_path(root, "decoder", tag)
        return {"g": decoder, "g_ema": decoder,
                "d": sp_ckpt.net_path(root, "discriminator", tag)}

    # ---------------------------------------------------------- draws
    def draw(self, rng, batch):
        """(styles, inject_index, noise) of one generator call: one or (with
        probability --mixing) two z's, the crossover row, fresh noise maps."""
        dim = self.opt.style_dim
        mix = self.opt.mixing > 0 and rng.random() < self.opt.mixing
        zs = [jt.array(rng.standard_normal((batch, dim)).astype(np.float32))
              for _ in range(2 if mix else 1)]
        inject = int(rng.integers(1, self.n_latent)) if mix else None
        noise = seeded_noise(self.g, rng, batch)
        return zs, inject, noise

    def generate(self, rng, batch, return_latents=False):
        zs, inject, noise = self.draw(rng, batch)
        return self.g(zs, noise=noise, inject_index=inject, return_latents=return_latents)

    # ---------------------------------------------------------- step
    def step(self, batch):
        opt = self.opt
        step = self.next_step()
        rng = self.rng()
        real_np = photo_to_array(batch["photo"])
        b = real_np.shape[0]
        losses = {}

        # discriminator
        fake, _ = self.generate(rng, b)
        fake_pred = self.d(self.augment(fake.detach(), rng))
        real_pred = self.d(self.augment(jt.array(real_np), rng))
        d_loss = softplus(fake_pred).mean() + softplus(-real_pred).mean()
        losses["D"] = d_loss
        losses["real_score"] = real_pred.mean()
        losses["fake_score"] = fake_pred.mean()
        self.optim_d.step(d_loss)

        if opt.r1 > 0 and (step - 1) % opt.d_reg_every == 0:
            real = jt.array(real_np)
            pred = self.d(self.augment(real, rng))
            grad, = jt.grad(pred.sum(), [real])
            r1 = (grad * grad).sum(dims=[1, 2, 3]).mean()
            losses["R1"] = r1
            self.optim_d.step(r1 * (opt.r1 / 2.0 * opt.d_reg_every))

        # generator
        fake, _ = self.generate(rng, b)
        g_loss = softplus(-self.d(self.augment(fake, rng))).mean()
        losses["G"] = g_loss
        self.optim_g.step(g_loss)

        if opt.path_regularize > 0 and (step - 1) % opt.g_reg_every == 0:
            losses.update(self._path_step(rng, max(1, b // opt.path_batch_shrink)))

        self._update_ema(step * b * self.world)
        return self.losses_to_floats(losses)

    def augment(self, images, rng):
        """``images`` through --diffaug's transforms (unchanged without it)."""
        return augment(images, self.diffaug, rng, jt) if self.diffaug else images

    def _path_step(self, rng, batch):
        opt = self.opt
        fake, latents = self.generate(rng, batch, return_latents=True)
        h, w = fake.shape[2:]
        y = jt.array((rng.standard_normal(fake.shape) / math.sqrt(h * w)).astype(np.float32))
        grad, = jt.grad((fake * y).sum(), [latents])
        lengths = jt.sqrt((grad * grad).sum(dim=2).mean(dim=1))
        old = float(self.scalars.mean_path_length.numpy()[0])
        mean = old + 0.01 * (float(lengths.mean().item()) - old)
        penalty = ((lengths - mean) ** 2).mean()
        self.optim_g.step(penalty * (opt.path_regularize * opt.g_reg_every))
        self.scalars.mean_path_length.update(jt.array(np.array([mean], np.float32)))
        self.scalars.mean_path_length.stop_grad()
        return {"path": penalty, "path_length": lengths.mean()}

    def _update_ema(self, images_seen):
        opt = self.opt
        half_life = opt.ema_kimg * 1000.0
        if opt.ema_rampup > 0:
            half_life = min(half_life, images_seen * opt.ema_rampup)
        beta = 0.5 ** (opt.batch_size * self.world / max(half_life, 1e-8)) if half_life > 0 else 0.0
        ema = self.g_ema.state_dict()
        for name, var in self.g.state_dict().items():
            if var.is_stop_grad():
                continue                     # buffers (noise maps, kernels) stay g_ema's
            ema[name].update((var + (ema[name] - var) * beta).detach())
        jt.sync(list(ema.values()))

    # ---------------------------------------------------------- page and files
    def sample_grid(self):
        """g_ema samples of fixed z's with the stored noise, as one image."""
        n = self.opt.sample_grid
        rng = np.random.default_rng([int(self.opt.seed), 777])
        z = rng.standard_normal((n * n, self.opt.style_dim)).astype(np.float32)
        out = []
        with jt.no_grad():
            for i in range(0, n * n, 8):
                img, _ = self.g_ema([jt.array(z[i:i + 8])], randomize_noise=False)
                out.append(img.numpy())
        return tile(to_rgb_images(np.concatenate(out)), n)

    def visuals(self, batch):
        real = np.asarray(batch["photo"][:self.opt.sample_grid ** 2])
        return [("g_ema_samples", self.sample_grid()),
                ("real", tile(real, self.opt.sample_grid))]

    def export(self, tag):
        avg = mean_w(self.g_ema, self.opt.seed)
        files = self.network_files(self.dir, tag)
        save_network(self.g_ema, files["g_ema"])
        save_network(self.d, files["d"])
        sp_ckpt.write_latent_avg(self.dir, np.repeat(avg[None], self.n_latent, axis=0), tag)
        if self.opt.export_rosinality:
            sp_ckpt.write_stylegan2(os.path.join(self.dir, f"stylegan2_{tag}.pt"), self.g_ema,
                                    avg, self.d)
