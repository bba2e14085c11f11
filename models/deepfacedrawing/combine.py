"""The FM decoders and the IS generator (and, for training, the discriminator)."""

import numpy as np

from models.base_model import BaseModel, jt, materialize
from models.deepfacedrawing import checkpoint as ckpt
from models.deepfacedrawing.networks import define_A, define_D, define_fm, define_G
from models.deepfacedrawing.pipeline import paste_rows
from util.components import PART_NAMES, PASTE_ORDER, pipeline_parts, scaled_boxes


class CombineModel(BaseModel):
    """Five FM decoders (latent -> feature map), pasted into one face map,
    and the generator from that map to a photo.

    Ablations (``opt.pipeline``): ``whole_face`` has one FM decoder for the
    whole face and nothing pasted; ``direct`` has no FM decoders and the
    generator takes the sketch itself (pix2pixHD)."""

    training_only = ("D",)

    def __init__(self, opt, is_train=False):
        self.opt = opt
        self.direct = opt.pipeline == "direct"
        self.boxes = scaled_boxes(opt.image_size)
        self.fm = {p: define_fm(opt, p) for p in pipeline_parts(opt.pipeline)}
        self.netG = define_G(opt)
        self.netA = define_A(opt) if opt.appearance_dim else None
        self.netD = define_D(opt) if is_train else None
        self._masks = {p: self._paste_mask(p) for p in PASTE_ORDER if p in self.fm}
        materialize(*self.networks().values())

    def networks(self):
        nets = {f"DE_{PART_NAMES[p]}": n for p, n in self.fm.items()}
        nets["G"] = self.netG
        if self.netA is not None:
            nets["A"] = self.netA
        if self.netD is not None:
            nets["D"] = self.netD
        return nets

    def network_path(self, name, root, epoch="latest"):
        if name == "G":
            return ckpt.generator_path(root, epoch)
        if name == "A":
            return ckpt.appearance_path(root, epoch)
        if name == "D":
            return ckpt.discriminator_path(root, epoch)
        part = next(p for p in self.fm if f"DE_{PART_NAMES[p]}" == name)
        return ckpt.fm_path(root, part, epoch)

    # -------------------------------------------------------------- forward
    def _paste_rows(self, part):
        return paste_rows(part, self.opt.image_size)

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

    def generate(self, inputs, code=None):
        """{part: latents} (or, for the direct pipeline, sketches
        (B, 1, H, W) in [-1, 1]) -> photos (B, 3, H, W) in [-1, 1]; ``code``
        (B, appearance_dim) sets the appearance of a generator that has one
        (None: the mean appearance)."""
        return self.netG(inputs if self.direct else self.feature_map(inputs), code)

    # -------------------------------------------------------------- modes
    def eval(self):
        """Inference mode; the official preset keeps the release's quirk of
        FM BatchNorm normalising with each sketch's own statistics."""
        super().eval()
        for dec in self.fm.values():
            dec.set_sample_stats(self.opt.fm_sample_stats)
        return self

    def train(self):
        super().train()
        for dec in self.fm.values():
            dec.set_sample_stats(False)
        return self
