"""DeepFaceDrawing's three training stages, selected by ``--stage``.

* ``ae``: the five component autoencoders, on sketches alone.
* ``banks``: encode every training sketch into the per-part feature banks
  (split by gender when the dataset has genders).
* ``combine``: FM decoders + generator trained as a conditional GAN
  (multi-scale LSGAN, feature matching, VGG perceptual, total variation and
  L1 losses) with the encoders frozen.
"""

import os
import shutil

import numpy as np
from tqdm import tqdm

from models import checkpoint as ckpt
from models import create_model
from models.checkpoint import write_config
from training.base_trainer import BaseTrainer, Stage, jt
from training.losses import feature_matching, l1, lsgan, mse, total_variation
from training.optim import Adam
from util.arrays import photo_to_array, sketch_to_array, to_images
from util.components import GENDERS, PART_NAMES, pipeline_parts


def model_parts(opt, stage):
    """The parts with autoencoders in ``opt.pipeline``; a clear error when the
    stage has nothing to train (the direct pipeline has no autoencoders)."""
    parts = pipeline_parts(opt.pipeline)
    if not parts:
        raise StageError(f"--pipeline {opt.pipeline} has no autoencoders: there is no "
                         f"'{stage}' stage; train --stage combine only")
    return parts


class StageError(ValueError):
    """A stage that does not apply to the chosen options."""


class AETrainer(BaseTrainer):
    stage = "ae"

    def __init__(self, opt):
        super().__init__(opt)
        self.parts = {p: create_model("ae", opt, part=p).train()
                      for p in model_parts(opt, "ae")}
        params = [v for ae in self.parts.values()
                  for v in ae.encoder.parameters() + ae.decoder.parameters()]
        self.optim = Adam(params, opt.lr, (opt.beta1, opt.beta2), opt.eps)
        self.recon = mse if opt.ae_loss == "mse" else l1

    def networks(self):
        nets = {}
        for p, ae in self.parts.items():
            nets[f"encoder_{PART_NAMES[p]}"] = ae.encoder
            nets[f"decoder_{PART_NAMES[p]}"] = ae.decoder
        return nets

    def optimizers(self):
        return {"ae": self.optim}

    def step(self, batch):
        x = sketch_to_array(batch["sketch"])
        y = sketch_to_array(batch["clean"]) if self.opt.ae_target == "clean" else x
        losses, total = {}, 0.0
        for p, ae in self.parts.items():
            crop = jt.array(ae.crop(x))
            target = crop if y is x else jt.array(ae.crop(y))
            loss = self.recon(ae.decoder(ae.encoder(crop)), target)
            losses[f"rec_{PART_NAMES[p]}"] = loss
            total = total + loss
        self.optim.step(total * self.opt.lambda_recon)
        return self.losses_to_floats(losses)

    def visuals(self, batch):
        x = sketch_to_array(batch["sketch"][:1])
        out = [("sketch", batch["sketch"][0])]
        with jt.no_grad():          # eval mode: a display must not move BatchNorm statistics
            for p, ae in self.parts.items():
                ae.eval()
                rec = ae.decode(ae.encode(ae.crop(x)))
                ae.train()
                out.append((f"{PART_NAMES[p]}_rec", to_images(rec[:1])[0]))
        return out

    def export(self, tag):
        for ae in self.parts.values():
            ae.save(self.dir, tag)


def copy_ae_files(src, dst):
    """Put the trained encoders/decoders (and banks) of ``src`` into ``dst``
    so that ``dst`` is a complete checkpoint folder."""
    if os.path.abspath(src) == os.path.abspath(dst):
        return
    os.makedirs(os.path.join(dst, "AE_whole"), exist_ok=True)
    for name in os.listdir(os.path.join(src, "AE_whole")):
        if name.startswith("latest_") or name.endswith(("_feature.bin", "_feature.npy")):
            shutil.copy2(os.path.join(src, "AE_whole", name), os.path.join(dst, "AE_whole", name))


class BanksStage(Stage):
    """Encode the training sketches with the trained encoders of
    ``opt.ae_from`` and write the banks into ``opt.expr_dir`` (split by
    gender when every sample has one)."""

    stage = "banks"

    def run(self, batch_size=16):
        from data.datasets import create_dataset
        opt = self.opt
        ds = create_dataset(opt, "train")
        genders = [g if g in GENDERS else "all" for g in ds.genders()]
        split = all(g in GENDERS for g in genders) and len(set(genders)) == 2
        parts = {p: create_model("ae", opt, part=p).load(opt.ae_from, names=("encoder",)).eval()
                 for p in model_parts(opt, "banks")}
        latents = {p: [] for p in parts}
        kept = []
        for start in tqdm(range(0, len(ds), batch_size), desc="encoding sketches", unit="batch"):
            sketches = []
            for i in range(start, min(start + batch_size, len(ds))):
                if i in ds.bad:
                    continue
                try:
                    sample = ds.load(i)         # the clean sketch: the manifold of good ones
                    sketches.append(sample.clean if sample.clean is not None else sample.sketch)
                    kept.append(i)
                except Exception as exc:  # reported once, like in training
                    ds.bad.add(i)
                    tqdm.write(f"skipped {exc}")
            if not sketches:
                continue
            x = sketch_to_array(np.stack(sketches))
            for p, ae in parts.items():
                latents[p].append(ae.encode(ae.crop(x)))
        written = []
        for p in parts:
            z = np.concatenate(latents[p])
            if split:
                g = np.array([genders[i] for i in kept])
                for gender in GENDERS:
                    path = ckpt.bank_path(self.dir, p, gender)
                    ckpt.write_bank(path, z[g == gender])
                    written.append(path)
            else:
                path = ckpt.bank_path(self.dir, p, "all")
                ckpt.write_bank(path, z)
                written.append(path)
        copy_ae_files(opt.ae_from, self.dir)
        write_config(self.dir, self.config())
        print(f"wrote {len(written)} banks of {len(kept)} sketches "
              f"({'split by gender' if split else 'one bank per part'}) to "
              f"{os.path.join(self.dir, 'AE_whole')}")
        return 0


class CombineTrainer(BaseTrainer):
    stage = "combine"

    def __init__(self, opt):
        super().__init__(opt)
        self.encoders = {p: create_model("ae", opt, part=p).load(opt.ae_from, names=("encoder",))
                         for p in pipeline_parts(opt.pipeline)}
        for ae in self.encoders.values():
            ae.encoder.eval()
        if self.encoders:
            copy_ae_files(opt.ae_from, opt.expr_dir)
        self.use_d = opt.lambda_gan > 0 or opt.lambda_feat > 0
        self.model = create_model("combine", opt, is_train=self.use_d).train()  # D only when used
        self.vgg = None
        if opt.lambda_vgg > 0:
            from models.vgg import load_vgg
            from training.losses import VGGLoss
            self.vgg = VGGLoss(load_vgg(opt.vgg, opt.vgg_path or None))
        g_params = [v for n in self.model.fm.values() for v in n.parameters()]
        g_params += self.model.netG.parameters()
        if self.model.netA is not None:              # the appearance encoder learns with G
            g_params += self.model.netA.parameters()
        betas = (opt.beta1, opt.beta2)
        self.optim_G = Adam(g_params, opt.lr, betas, opt.eps)
        self.optim_D = Adam(self.model.netD.parameters(), opt.lr, betas, opt.eps) \
            if self.use_d else None

    def networks(self):
        return self.model.networks()

    def optimizers(self):
        out = {"G": self.optim_G}
        if self.use_d:
            out["D"] = self.optim_D
        return out

    def _inputs(self, batch):
        x = sketch_to_array(batch["sketch"])
        if self.model.direct:            # pix2pixHD baseline: the sketch is G's input
            latents = jt.array(x)
        else:
            with jt.no_grad():
                latents = {p: ae.encoder(jt.array(ae.crop(x))).stop_grad()
                           for p, ae in self.encoders.items()}
        real = jt.array(photo_to_array(batch["photo"]))
        return jt.array(x), latents, real

    def appearance(self, real, losses):
        """The appearance code of the target photos, sampled VAE-style (the
        noise drawn from (seed, step): a resumed run draws the same), and its
        KL divergence to N(0, I) in ``losses``; None without appearance code."""
        if self.model.netA is None:
            return None
        mu, logvar = self.model.netA(real)
        rng = np.random.default_rng([self.opt.seed, 7, self.global_step])
        eps = jt.array(rng.standard_normal(mu.shape).astype(np.float32))
        losses["KL"] = (-0.5 * (1.0 + logvar - mu * mu - logvar.exp())).mean()
        return mu + (logvar * 0.5).exp() * eps

    def step(self, batch):
        opt = self.opt
        cond, latents, real = self._inputs(batch)
        losses, loss_g = {}, 0.0
        code = self.appearance(real, losses)
        if code is not None:
            loss_g = loss_g + losses["KL"] * opt.lambda_kl
        fake = self.model.generate(latents, code)
        if self.use_d:
            pred_fake = self.model.netD(jt.concat([cond, fake], 1))
            pred_real = self.model.netD(jt.concat([cond, real], 1))
            if opt.lambda_gan > 0:
                losses["G_GAN"] = lsgan(pred_fake, True)
                loss_g = loss_g + losses["G_GAN"] * opt.lambda_gan
            if opt.lambda_feat > 0:
                losses["G_GAN_Feat"] = feature_matching(pred_fake, pred_real)
                loss_g = loss_g + losses["G_GAN_Feat"] * opt.lambda_feat
        if self.vgg is not None:
            losses["G_VGG"] = self.vgg(fake, real)
            loss_g = loss_g + losses["G_VGG"] * opt.lambda_vgg
        if opt.lambda_tv > 0:
            losses["G_TV"] = total_variation(fake)
            loss_g = loss_g + losses["G_TV"] * opt.lambda_tv
        if opt.lambda_l1 > 0:
            losses["G_L1"] = l1(fake, real)
            loss_g = loss_g + losses["G_L1"] * opt.lambda_l1
        if self.use_d:
            d_fake = self.model.netD(jt.concat([cond, fake.detach()], 1))
            losses["D_fake"] = lsgan(d_fake, False)
            losses["D_real"] = lsgan(pred_real, True)
        self.optim_G.step(loss_g)
        if self.use_d:
            self.optim_D.step((losses["D_fake"] + losses["D_real"]) * 0.5)
        return self.losses_to_floats(losses)

    def visuals(self, batch):
        one = {k: (v[:1] if v is not None and k != "gender" else v) for k, v in batch.items()}
        _, latents, real = self._inputs(one)
        self.model.eval()           # a display must not move BatchNorm statistics
        out = [("sketch", batch["sketch"][0])]
        with jt.no_grad():
            if self.model.netA is None:
                out.append(("output", to_images(self.model.generate(latents).numpy())[0]))
            else:
                codes = [("own_look", self.model.netA(real)[0]), ("mean_look", None)] + [
                    (f"random_look{k}", jt.array(np.random.default_rng([99, k]).standard_normal(
                        (1, self.opt.appearance_dim)).astype(np.float32))) for k in (1, 2)]
                for label, code in codes:
                    out.append((label, to_images(self.model.generate(latents, code).numpy())[0]))
        self.model.train()
        return out + [("target", batch["photo"][0])]

    def export(self, tag):
        self.model.save(self.dir, tag)


