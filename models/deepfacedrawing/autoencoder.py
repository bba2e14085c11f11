"""One component autoencoder (CE module): crop, encode, decode, feature bank."""

import numpy as np

from models import graph_replay
from models.base_model import BaseModel, jt, materialize
from models.deepfacedrawing import checkpoint as ckpt
from models.deepfacedrawing.manifold import load_bank
from models.deepfacedrawing.networks import define_encoder, define_sketch_decoder
from util.arrays import crop_part
from util.components import PART_NAMES, PARTS


class AEModel(BaseModel):
    """The encoder and sketch decoder of one part, plus its latent banks."""

    def __init__(self, opt, part):
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}")
        self.opt, self.part = opt, part
        self.name = PART_NAMES[part]
        self.whole = opt.pipeline == "whole_face"
        self.encoder = define_encoder(opt, part)
        self.decoder = define_sketch_decoder(opt, part)
        materialize(self.encoder, self.decoder)
        self._banks = {}

    def networks(self):
        return {"encoder": self.encoder, "decoder": self.decoder}

    def network_path(self, name, root, epoch="latest"):
        path = ckpt.encoder_path if name == "encoder" else ckpt.decoder_path
        return path(root, self.part, epoch)

    # -------------------------------------------------------------- nets
    def crop(self, sketches):
        return crop_part(sketches, self.part, self.opt.image_size, self.whole)

    def encode(self, crops):
        """Crops (B, 1, S, S) in [-1, 1] -> latents (B, D) numpy."""
        with jt.no_grad():
            return graph_replay.run(self, "encoder", self.encoder, jt.array(crops)).numpy()

    def decode(self, latents):
        """Latents (B, D) -> sketch crops (B, 1, S, S) numpy, about [-1, 1]."""
        with jt.no_grad():       # not replayed: the shadow decodes a varying number of rows
            return self.decoder(jt.array(np.asarray(latents, np.float32))).numpy()

    # -------------------------------------------------------------- banks
    def bank(self, root, gender="all"):
        """The LatentBank for ``gender`` (cached); prints a note on fallback."""
        key = (root, gender)
        if key not in self._banks:
            self._banks[key] = load_bank(root, self.part, gender, self.opt.latent_dim)
        return self._banks[key]
