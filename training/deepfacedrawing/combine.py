"""Stage ``combine``: DeepFaceDrawing's FM decoders and generator (and,
with ``--appearance_dim``, the appearance encoder) trained as a conditional
GAN over the frozen encoders of ``--ae_from``. With ``--diffaug`` the
discriminator sees every (sketch, photo) pair, real or generated, through
differentiable augmentation (``training.diffaug.augment_pair``: one draw per
step, from (seed, step), shared by the real and the generated photos)."""

import numpy as np

from models import create_model
from training.base_trainer import BaseTrainer, jt
from training.deepfacedrawing.banks import copy_ae_files
from training.diffaug import augment_pair, draw, stage_policy
from training.losses import feature_matching, l1, lsgan, total_variation
from training.optim import Adam
from util.arrays import photo_to_array, sketch_to_array, to_images
from util.components import pipeline_parts


class CombineTrainer(BaseTrainer):
    """Built from the options and the frozen part encoders ({part:
    AEModel}; ``parts`` loads them from --ae_from): the FM decoders, the
    generator, the discriminator when a GAN loss is on, the appearance
    encoder with --appearance_dim, the VGG loss and both optimisers."""

    stage = "combine"

    @classmethod
    def parts(cls, opt):
        """The trained encoders of --ae_from (their files, with the banks,
        copied into this experiment so that it is a whole checkpoint)."""
        encoders = {p: create_model("ae", opt, part=p).load(opt.ae_from, names=("encoder",))
                    for p in pipeline_parts(opt.pipeline)}
        if encoders:
            copy_ae_files(opt.ae_from, opt.expr_dir)
        return {"encoders": encoders}

    def __init__(self, opt, encoders, loader=None, files=None):
        super().__init__(opt, loader, files)
        self.encoders = encoders
        for ae in self.encoders.values():
            ae.encoder.eval()
        self.use_d = opt.lambda_gan > 0 or opt.lambda_feat > 0
        self.diffaug = stage_policy(opt.diffaug)
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

    def network_files(self, root, tag="latest"):
        return {name: self.model.network_path(name, root, tag) for name in self.networks()}

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
        d_input = self.d_input(cond, real) if self.use_d else None
        if self.use_d:
            pred_fake = self.model.netD(d_input(fake))
            pred_real = self.model.netD(d_input(real))
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
        _, pred_random, loss_g = self.random_look(latents, real, d_input, losses, loss_g)
        if self.use_d:
            # D's verdicts on the fakes are the ones G's losses used: the D
            # step asks jt.grad for D's parameters only, so nothing flows into
            # G and a second forward of D on the detached fakes would repeat it
            losses["D_fake"] = lsgan(pred_fake, False)
            losses["D_real"] = lsgan(pred_real, True)
            loss_d = (losses["D_fake"] + losses["D_real"]) * 0.5
            if pred_random is not None:
                losses["D_random"] = lsgan(pred_random, False)
                loss_d = (losses["D_fake"] + losses["D_random"]) * 0.25 + losses["D_real"] * 0.5
        self.optim_G.step(loss_g)
        if self.use_d:
            self.optim_D.step(loss_d)
        return self.losses_to_floats(losses)

    def random_look(self, latents, real, d_input, losses, loss_g):
        """BicycleGAN's cLR-GAN branch (--lambda_gan_random, --lambda_z): the
        same sketches with appearance codes drawn from N(0, I) (from (seed,
        step)), their faces judged by D beside the real photos, and the
        appearance encoder's mean on them pulled to the drawn code. Returns
        (those faces, D's verdict on them or None when D does not see them,
        loss_g); (None, None, loss_g) when the branch is off."""
        opt = self.opt
        if self.model.netA is None or (opt.lambda_gan_random <= 0 and opt.lambda_z <= 0):
            return None, None, loss_g
        rng = np.random.default_rng([opt.seed, 9, self.global_step])
        z = jt.array(rng.standard_normal((real.shape[0], opt.appearance_dim)).astype(np.float32))
        fake = self.model.generate(latents, z)
        pred = None
        if opt.lambda_gan_random > 0:
            pred = self.model.netD(d_input(fake))
            losses["G_GAN_random"] = lsgan(pred, True)
            loss_g = loss_g + losses["G_GAN_random"] * opt.lambda_gan_random
        if opt.lambda_z > 0:
            mu, _ = self.model.netA(fake)
            losses["z_L1"] = l1(mu, z)
            loss_g = loss_g + losses["z_L1"] * opt.lambda_z
        return fake, pred, loss_g

    def d_input(self, cond, real):
        """photo -> the discriminator's input beside ``cond``: augmented by
        this step's draws with --diffaug, else the plain concatenation."""
        if not self.diffaug:
            return lambda photo: jt.concat([cond, photo], 1)
        b, _, h, w = real.shape
        draws = draw(self.diffaug, np.random.default_rng([self.opt.seed, 8, self.global_step]),
                     b, h, w)
        return lambda photo: augment_pair(cond, photo, draws, jt)

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
