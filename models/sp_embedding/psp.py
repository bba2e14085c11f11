"""The sketch embedding's networks and how their codes are composed
(the authors' ``pSp.forward``; reference notes, section 5).

With M the mapping network, a = latent_avg (n_latent x D), x the one-hot
sketch without its background channel, y the appearance photo pooled to the
encoders' size, and b = break_layer (8 of 18 in the authors' model)::

    w_c  = M(E_c(x))                        # the W code is used as a z
    base = repeat(w_c) + a
    W[:, :b] = base[:, :b] + E_s(x)[:, :b]
    W[:, b:] = base[:, b:] + E_a(y)[:, b:]  # or, random appearance: M(z)

and the image is G(W) with W as W+ (no second mapping) and the stored noise
maps (deterministic). E_s computes only its rows below b and E_a only its
rows from b (``fine_rows``); the authors compute all
of both and drop the rest. Style mixing (``latent_mask``, ``mix_alpha``), broken
in the authors' release, is implemented as its evident intent: the masked
rows are replaced by, or blended with (alpha * random + (1 - alpha) * own),
the W of a random z.
"""

import numpy as np

from models.base_model import jt, materialize
from models.sp_embedding.encoders import GradualStyleEncoder
from models.sp_embedding.stylegan2 import Generator

NETWORKS = ("encoder_sketch_coarse", "encoder_sketch_fine", "encoder_face_fine", "decoder")


def fine_rows(opt):
    """The W+ rows (start, stop) each fine encoder gives: E_s those below the
    break layer, E_a the rest; each computes only its own."""
    b = opt.break_layer
    return {"encoder_sketch_fine": (0, b), "encoder_face_fine": (b, opt.n_latent)}


def define_encoder(opt, input_nc, w_only=False):
    return GradualStyleEncoder(input_nc, n_styles=opt.n_latent, num_layers=opt.encoder_layers,
                               style_dim=opt.style_dim, input_size=opt.encoder_size,
                               width=opt.encoder_width,
                               scale=opt.w_scale if w_only else opt.wplus_scale, w_only=w_only)


def define_generator(opt, build=True):
    return Generator(opt.output_size, style_dim=opt.style_dim, n_mlp=opt.n_mlp,
                     channel_multiplier=opt.channel_multiplier, channel_max=opt.channel_max,
                     materialize=build)


class SketchEmbedding:
    """E_c, E_s, E_a and G with latent_avg. Their random initial values are
    computed on first use (``ready``), not when built: a checkpoint loaded
    first replaces them without their ever taking memory (3.3 GB at the
    authors' size)."""

    def __init__(self, opt):
        self.opt = opt
        self.n_latent, self.break_layer = opt.n_latent, opt.break_layer
        self.encoder_sketch_coarse = define_encoder(opt, opt.label_nc, w_only=True)
        self.encoder_sketch_fine = define_encoder(opt, opt.label_nc)
        self.encoder_face_fine = define_encoder(opt, 3)
        self.decoder = define_generator(opt, build=False)
        self.latent_avg = np.zeros((opt.n_latent, opt.style_dim), np.float32)
        self.rows = fine_rows(opt)
        self._ready = False

    def networks(self):
        return {name: getattr(self, name) for name in NETWORKS}

    def ready(self, loaded=False):
        """Compute every parameter once (random ones, unless ``loaded``)."""
        if not self._ready:
            materialize(*self.networks().values())
            self._ready = True

    # ---------------------------------------------------------- codes
    def mapping(self, z):
        self.ready()
        return self.decoder.style(z)

    def coarse(self, x):
        """repeat(M(E_c(x))) + latent_avg: B x n_latent x D."""
        self.ready()
        w = self.mapping(self.encoder_sketch_coarse(x))
        avg = jt.array(self.latent_avg)
        return w.unsqueeze(1) + avg.unsqueeze(0)

    def sketch_offsets(self, x):
        """E_s(x): its W+ offsets of the rows below the break layer."""
        return self.encoder_sketch_fine(x, rows=self.rows["encoder_sketch_fine"])

    def appearance_offsets(self, y):
        """E_a(y): its W+ offsets of the rows from the break layer."""
        return self.encoder_face_fine(y, rows=self.rows["encoder_face_fine"])

    def random_w(self, z):
        """W rows of random z's (B x D, numpy or a Var): M(z) as B x n_latent x D."""
        z = z if isinstance(z, jt.Var) else jt.array(np.asarray(z, np.float32))
        w = self.mapping(z)
        return w.unsqueeze(1).broadcast([w.shape[0], self.n_latent, w.shape[1]])

    def codes(self, x, y=None, z=None):
        """W+ (B x n_latent x D) from sketches ``x`` (B x label_nc x S x S,
        0/1) and appearance photos ``y`` (B x 3 x S x S, [-1, 1], already
        pooled) or, for a random appearance, latents ``z`` (B x D)."""
        self.ready()
        b = self.break_layer
        base = self.coarse(x)
        top = base[:, :b] + self.sketch_offsets(x)
        if z is not None:
            bottom = self.random_w(z)[:, b:]
        else:
            bottom = base[:, b:] + self.appearance_offsets(y)
        return jt.concat([top, bottom], dim=1)

    def mix(self, codes, z, rows, alpha=None):
        """Style mixing: ``rows`` of ``codes`` replaced by the random W of
        ``z`` (B x D), or blended with it by ``alpha``."""
        if not rows:
            return codes
        from models.sp_embedding.pipeline import mix_weights
        inject = self.random_w(z)
        keep = jt.array(mix_weights(self.n_latent, rows, alpha))
        return codes * keep + inject * (1.0 - keep)

    def synthesize(self, codes):
        """Images (B x 3 x N x N, about [-1, 1]) from W+ codes, with the
        stored noise maps."""
        self.ready()
        image, _ = self.decoder([codes], input_is_latent=True, randomize_noise=False)
        return image
