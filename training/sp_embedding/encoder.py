"""Stage ``encoder``: the sketch embedding's three encoders over a frozen
StyleGAN2 generator, in the paper's two steps (``--encoder_step``).

* ``coarse``: E_c alone; codes = repeat(M(E_c(x))) + latent_avg (M the
  frozen mapping network).
* ``fine``: E_s and E_a with E_c frozen (``--coarse_from``, default this
  experiment); codes as ``SketchEmbedding.codes``: rows below break_layer
  base + E_s(x), the rest base + E_a(y), with the appearance photo y = the
  target photo mean-pooled to the encoders' size (as pSp trains).

x is the one-hot semantic sketch at the encoders' size (background channel
dropped). The image is G(codes) as W+, with fresh noise maps drawn from the
step's seeded generator (``--encoder_noise random``, pSp's training) or the
stored ones. Output and target are mean-pooled to min(--loss_size,
output_size) and compared with

    l2_lambda * L2 + lpips_lambda * LPIPS* (or LPIPS, see training/lpips.py)
    + mask_feat_lambda * mean_k mean (P_k(out) - P_k(target))^2
    + w_norm_lambda * mean_b ||W_b - latent_avg||_F
    + latent_lambda * mean (W - W_true)^2 / var(W)     (sp_samples only)

where P_k are the face parser's decoder features (deepest first, the first
--mask_feat_layer of them; ``--parser_from``). The style heads' last linear
layers of E_s and E_a start at zero, so their offsets start at zero: the
coarse step's export is the coarse model exactly, and the fine step starts
from it. ``--encoders_from`` starts the step's encoders from another
export's instead (fine-tuning).

With ``--dataset_mode sp_samples`` (data/sample_pairs.py: the generator's
own samples, sketched, with the W+ code that made each) the code itself is
a target: W_true over the rows the step learns (coarse: the rows before
break_layer, which the sketch decides; fine: all), var(W) the mapping
network's mean per-dimension variance. With every image loss off the step
never runs G, which makes it several times faster.

Each step has its own training state (``train_state/encoder_coarse.pkl``,
``encoder_fine.pkl``), loss-log header and result page. The export is a
complete checkpoint folder (config.json naming the method, the three
encoders, the decoder, latent_avg, and the stroke labeller of
``--labeler_from`` when given): ``demo.py --params`` takes it.
"""

import os
import shutil

import numpy as np

from models.base_model import load_network
from models.files import CheckpointError
from models.sp_embedding import checkpoint as sp_ckpt
from models.sp_embedding.inputs import colour_labels, one_hot
from models.sp_embedding.labelers import labeler_path
from options.sp_embedding_train import loss_resolution
from training.base_trainer import StageError, jt
from training.optim import Adam
from training.sp_embedding.base import (SPTrainer, freeze, mean_pool, seeded_noise,
                                        to_rgb_images)
from util.arrays import photo_to_array

COARSE, FINE = "encoder_sketch_coarse", ("encoder_sketch_fine", "encoder_face_fine")


def load_stylegan(source, generator, n_latent, seed=0):
    """Load the generator of ``source`` (a folder of --stage stylegan or a
    rosinality .pt) into ``generator``; returns latent_avg (n_latent, D)."""
    if not source:
        raise StageError("--stage encoder needs --stylegan_from (a folder written by --stage "
                         "stylegan, or a rosinality StyleGAN2 .pt)")
    if os.path.isfile(source):
        avg = sp_ckpt.load_stylegan2(source, generator)
        if avg is None:
            from training.sp_embedding.stylegan import mean_w
            avg = mean_w(generator, seed)
        return np.repeat(np.asarray(avg, np.float32)[None], n_latent, axis=0)
    if not os.path.isdir(source):
        raise FileNotFoundError(f"--stylegan_from {source}: no such folder or file")
    load_network(generator, sp_ckpt.net_path(source, "decoder"))
    return sp_ckpt.read_latent_avg(source, (n_latent, generator.style_dim))


def zero_style_heads(encoder):
    """Set the last linear layer of every style head to zero (zero offsets)."""
    for block in encoder.styles:
        for var in (block.linear.weight, block.linear.bias):
            var.update(jt.zeros(var.shape))
    jt.sync([v for b in encoder.styles for v in (b.linear.weight, b.linear.bias)])


def w_variance(net, style_dim, seed, n=2048):
    """Mean per-dimension variance of the mapping network's W over n seeded z."""
    rng = np.random.default_rng([seed, 0x5EED])
    with jt.no_grad():
        w = net.mapping(jt.array(rng.standard_normal((n, style_dim)).astype(np.float32)))
        return max(float(w.numpy().var(axis=0).mean()), 1e-12)


class EncoderTrainer(SPTrainer):
    stage = "encoder"

    @classmethod
    def stage_name(cls, opt):
        return f"encoder_{opt.encoder_step}"

    @classmethod
    def check(cls, opt):
        if not opt.stylegan_from:
            raise StageError("--stage encoder needs --stylegan_from (a folder written by "
                             "--stage stylegan, or a rosinality StyleGAN2 .pt)")
        if opt.dataset_mode == "sp_samples" and (opt.jitter or opt.flip):
            raise StageError("--dataset_mode sp_samples: --jitter and --flip would part each "
                             "sample from the code that made it; leave them off")
        if opt.mask_feat_lambda > 0 and not opt.parser_from:
            raise StageError("--mask_feat_lambda needs --parser_from (a folder written by "
                             "--stage parser)")

    def __init__(self, opt, loader=None, files=None):
        self.check(opt)
        self.step_name = opt.encoder_step
        super().__init__(opt, loader, files)
        from models.sp_embedding.model import SPEmbeddingModel
        self.loss_res = loss_resolution(opt)
        self.model = SPEmbeddingModel(opt)
        net = self.net = self.model.net
        net.latent_avg = load_stylegan(opt.stylegan_from, net.decoder, opt.n_latent, opt.seed)
        freeze(net.decoder)
        for name in FINE:
            zero_style_heads(getattr(net, name))
        if self.step_name == "coarse":
            self.trained = [COARSE]
        else:
            source = opt.coarse_from or self.dir
            load_network(net.encoder_sketch_coarse, sp_ckpt.net_path(source, COARSE))
            freeze(net.encoder_sketch_coarse)
            self.trained = list(FINE)
        if opt.encoders_from:
            for name in self.trained:
                load_network(getattr(net, name), sp_ckpt.net_path(opt.encoders_from, name))
        for name in self.trained:
            getattr(net, name).train()
        self.w_var = (w_variance(net, opt.style_dim, opt.seed)      # the code loss's unit
                      if opt.dataset_mode == "sp_samples" else None)
        params = [p for name in self.trained for p in getattr(net, name).parameters()]
        self.optim = Adam(params, opt.lr, (opt.beta1, opt.beta2), opt.eps)
        self.lpips = self.parser = None
        if opt.lpips_lambda > 0:
            from training.lpips import make_lpips
            self.lpips = make_lpips(opt.lpips_heads, opt.lpips_backbone)
            if self.main:
                print(f"stage {self.stage}: perceptual loss {self.lpips.label} "
                      f"({self.lpips.vgg.weights_label})", flush=True)
        if opt.mask_feat_lambda > 0:
            from models.sp_embedding.parser import load_parser
            self.parser = freeze(load_parser(opt.parser_from))
        if opt.labeler_from and not os.path.isfile(labeler_path(opt.labeler_from)):
            raise CheckpointError(f"--labeler_from: {labeler_path(opt.labeler_from)} not found "
                                  f"(train it with --stage labeler)")

    def networks(self):
        return {name: getattr(self.net, name) for name in self.trained}

    def network_files(self, root, tag="latest"):
        return {name: sp_ckpt.net_path(root, name, tag) for name in self.trained}

    def optimizers(self):
        return {"encoders": self.optim}

    # ---------------------------------------------------------- forward
    def inputs(self, batch):
        """(one-hot sketch, appearance at the encoders' size, target at the
        loss size) as Vars."""
        opt = self.opt
        x = jt.array(one_hot(batch["semantic"], opt.label_nc))
        photo = jt.array(photo_to_array(batch["photo"]))
        return x, mean_pool(photo, opt.encoder_size), mean_pool(photo, self.loss_res)

    def codes(self, x, appearance):
        if self.step_name == "coarse":
            return self.net.coarse(x)
        return self.net.codes(x, appearance)

    def synthesize(self, codes, rng=None):
        g = self.net.decoder
        if rng is None or self.opt.encoder_noise == "stored":
            noise = g.stored_noise()
        else:
            noise = seeded_noise(g, rng, codes.shape[0])
        image, _ = g([codes], input_is_latent=True, noise=noise)
        return mean_pool(image, self.loss_res)

    def step(self, batch):
        opt = self.opt
        self.next_step()
        x, appearance, target = self.inputs(batch)
        codes = self.codes(x, appearance)
        rng = self.rng()
        image_losses = opt.l2_lambda > 0 or self.lpips is not None or self.parser is not None
        out = self.synthesize(codes, rng) if image_losses else None
        losses, total = {}, 0.0
        if batch.get("codes") is not None and opt.latent_lambda > 0:
            rows = opt.break_layer if self.step_name == "coarse" else opt.n_latent
            diff = codes[:, :rows] - jt.array(batch["codes"][:, :rows])
            losses["latent"] = (diff * diff).mean() / self.w_var
            total = total + losses["latent"] * opt.latent_lambda
        if opt.l2_lambda > 0:
            losses["L2"] = ((out - target) ** 2).mean()
            total = total + losses["L2"] * opt.l2_lambda
        if self.lpips is not None:
            losses[self.lpips.label] = self.lpips(out, target).mean()
            total = total + losses[self.lpips.label] * opt.lpips_lambda
        if self.parser is not None:
            losses["mask_feat"] = self.mask_feat(out, target)
            total = total + losses["mask_feat"] * opt.mask_feat_lambda
        if opt.w_norm_lambda > 0:
            delta = codes - jt.array(self.net.latent_avg).unsqueeze(0)
            losses["w_norm"] = jt.sqrt((delta * delta).sum(dims=[1, 2])).mean()
            total = total + losses["w_norm"] * opt.w_norm_lambda
        if not losses:
            raise StageError("every encoder loss is off: give one of --l2_lambda, "
                             "--lpips_lambda, --mask_feat_lambda, --w_norm_lambda (or, with "
                             "--dataset_mode sp_samples, --latent_lambda) a weight > 0")
        losses["total"] = total
        self.optim.step(total)
        return self.losses_to_floats(losses)

    def mask_feat(self, out, target):
        """Mean over the compared decoder features of the parser of the mean
        squared difference between output and (fixed) target."""
        _, f_out = self.parser(out, features=True)
        with jt.no_grad():
            _, f_tgt = self.parser(target, features=True)
        k = max(1, min(self.opt.mask_feat_layer, len(f_out)))
        return sum(((a - b.detach()) ** 2).mean() for a, b in zip(f_out[:k], f_tgt[:k])) / k

    # ---------------------------------------------------------- page and files
    def visuals(self, batch):
        one = {k: batch[k][:1] for k in ("semantic", "photo")}
        for name in self.trained:
            getattr(self.net, name).eval()
        with jt.no_grad():
            x, appearance, target = self.inputs(one)
            out = self.synthesize(self.codes(x, appearance)).numpy()
        for name in self.trained:
            getattr(self.net, name).train()
        return [("sketch", colour_labels(batch["semantic"][0])),
                ("output", to_rgb_images(out)[0]),
                ("target", to_rgb_images(target.numpy())[0])]

    def export(self, tag):
        self.model.save(self.dir, tag)
        if self.opt.labeler_from:
            dst = labeler_path(self.dir, tag)
            if os.path.abspath(labeler_path(self.opt.labeler_from)) != os.path.abspath(dst):
                shutil.copy2(labeler_path(self.opt.labeler_from), dst)
