"""The FM decoders and the IS generator (and, for training, the discriminator)."""

import numpy as np

from models import checkpoint as ckpt
from models.base_model import jt, load_network, materialize, save_network
from models.networks import FeatureDecoder, GlobalGenerator, MultiscaleDiscriminator
from util.components import (PART_NAMES, PASTE_ORDER, nose_paste_rows, pipeline_parts,
                             scaled_boxes)


class CombineModel:
    """Five FM decoders (latent -> feature map), pasted into one face map,
    and the generator from that map to a photo.

    Ablations (``opt.pipeline``): ``whole_face`` has one FM decoder for the
    whole face and nothing pasted; ``direct`` has no FM decoders and the
    generator takes the sketch itself (pix2pixHD)."""

    def __init__(self, opt, is_train=False):
        self.opt = opt
        self.direct = opt.pipeline == "direct"
        self.boxes = scaled_boxes(opt.image_size)
        self.fm = {p: FeatureDecoder(self.boxes[p][2], opt.fm_channels, opt.fm_nc,
                                     opt.latent_dim, opt.ae_norm, opt.variant)
                   for p in pipeline_parts(opt.pipeline)}
        self.netG = GlobalGenerator(1 if self.direct else opt.fm_nc, 3, opt.ngf,
                                    opt.n_downsample_global, opt.n_blocks_global, opt.norm)
        self.netD = None
        if is_train:
            self.netD = MultiscaleDiscriminator(1 + 3, opt.ndf, opt.n_layers_D, opt.num_D,
                                                opt.norm_D)
        self._masks = {p: self._paste_mask(p) for p in PASTE_ORDER if p in self.fm}
        materialize(*self.networks().values())

    def networks(self):
        nets = dict((f"DE_{PART_NAMES[p]}", n) for p, n in self.fm.items())
        nets["G"] = self.netG
        if self.netD is not None:
            nets["D"] = self.netD
        return nets

    # -------------------------------------------------------------- forward
    def _paste_rows(self, part):
        return nose_paste_rows(self.opt.image_size) if part == "nose" else self.boxes[part][2]

    def _paste_mask(self, part):
        n = self.opt.image_size
        x, y, s = self.boxes[part]
        mask = np.zeros((1, 1, n, n), np.float32)
        mask[:, :, y:y + self._paste_rows(part), x:x + s] = 1.0
        return mask

    def feature_map(self, latents):
        """{part: latents (B, D) Var} -> face feature map (B, fm_nc, H, W).

        The remainder's map first, then mouth, nose (top rows only), eye1,
        eye2 pasted over it; later pastes win."""
        n = self.opt.image_size
        face = self.fm[""](latents[""])
        for part in PASTE_ORDER:
            if part not in self.fm:
                continue
            x, y, s = self.boxes[part]
            rows = self._paste_rows(part)
            patch = self.fm[part](latents[part])[:, :, :rows, :]
            placed = jt.nn.pad(patch, [x, n - x - s, y, n - y - rows])
            mask = jt.array(self._masks[part])
            face = face * (1.0 - mask) + placed * mask
        return face

    def generate(self, inputs):
        """{part: latents} (or, for the direct pipeline, sketches
        (B, 1, H, W) in [-1, 1]) -> photos (B, 3, H, W) in [-1, 1]."""
        return self.netG(inputs if self.direct else self.feature_map(inputs))

    # -------------------------------------------------------------- modes
    def eval(self):
        """Inference mode; the official preset keeps the release's quirk of
        FM BatchNorm normalising with each sketch's own statistics."""
        for net in self.networks().values():
            net.eval()
        for dec in self.fm.values():
            dec.set_sample_stats(self.opt.fm_sample_stats)
        return self

    def train(self):
        for net in self.networks().values():
            net.train()
        for dec in self.fm.values():
            dec.set_sample_stats(False)
        return self

    # -------------------------------------------------------------- files
    def load(self, root, epoch="latest", discriminator=False):
        for p in self.fm:
            load_network(self.fm[p], ckpt.fm_path(root, p, epoch))
        load_network(self.netG, ckpt.generator_path(root, epoch))
        if discriminator and self.netD is not None:
            load_network(self.netD, ckpt.discriminator_path(root, epoch))
        return self

    def save(self, root, epoch="latest"):
        for p in self.fm:
            save_network(self.fm[p], ckpt.fm_path(root, p, epoch))
        save_network(self.netG, ckpt.generator_path(root, epoch))
        if self.netD is not None:
            save_network(self.netD, ckpt.discriminator_path(root, epoch))
