"""One component autoencoder (CE module): crop, encode, decode, feature bank."""

import numpy as np

from models import checkpoint as ckpt
from models.base_model import jt, load_network, materialize, save_network
from models.manifold import LatentBank
from models.networks import ComponentEncoder, SketchDecoder
from util.components import PART_NAMES, PARTS, scaled_boxes


def crop_part(sketches, part, image_size, whole=False):
    """Crop ``part`` from sketches (B, 1, H, W) in [-1, 1] (white = 1).

    The remainder is the whole sketch with the other boxes painted white;
    with ``whole`` (the whole-face ablation) it is the untouched sketch."""
    boxes = scaled_boxes(image_size)
    if part == "" and whole:
        return np.array(sketches, dtype=np.float32, copy=True)
    if part == "":
        out = np.array(sketches, dtype=np.float32, copy=True)
        for p in PARTS[:-1]:
            x, y, s = boxes[p]
            out[:, :, y:y + s, x:x + s] = 1.0
        return out
    x, y, s = boxes[part]
    return np.ascontiguousarray(sketches[:, :, y:y + s, x:x + s], dtype=np.float32)


class AEModel:
    """The encoder and sketch decoder of one part, plus its latent banks."""

    def __init__(self, opt, part):
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}")
        self.opt, self.part = opt, part
        self.name = PART_NAMES[part]
        self.whole = opt.pipeline == "whole_face"
        self.crop_size = scaled_boxes(opt.image_size)[part][2]
        args = dict(latent_dim=opt.latent_dim, ngf=opt.ae_ngf, n_down=opt.ae_n_down,
                    norm=opt.ae_norm, variant=opt.variant)
        self.encoder = ComponentEncoder(self.crop_size, **args)
        self.decoder = SketchDecoder(self.crop_size, **args)
        materialize(self.encoder, self.decoder)
        self._banks = {}

    # -------------------------------------------------------------- nets
    def crop(self, sketches):
        return crop_part(sketches, self.part, self.opt.image_size, self.whole)

    def encode(self, crops):
        """Crops (B, 1, S, S) in [-1, 1] -> latents (B, D) numpy."""
        with jt.no_grad():
            return self.encoder(jt.array(crops)).numpy()

    def decode(self, latents):
        """Latents (B, D) -> sketch crops (B, 1, S, S) numpy, about [-1, 1]."""
        with jt.no_grad():
            return self.decoder(jt.array(np.asarray(latents, np.float32))).numpy()

    def eval(self):
        self.encoder.eval()
        self.decoder.eval()
        return self

    def train(self):
        self.encoder.train()
        self.decoder.train()
        return self

    # -------------------------------------------------------------- files
    def load(self, root, epoch="latest", decoder=True):
        load_network(self.encoder, ckpt.encoder_path(root, self.part, epoch))
        if decoder:
            load_network(self.decoder, ckpt.decoder_path(root, self.part, epoch))
        return self

    def save(self, root, epoch="latest"):
        save_network(self.encoder, ckpt.encoder_path(root, self.part, epoch))
        save_network(self.decoder, ckpt.decoder_path(root, self.part, epoch))

    # -------------------------------------------------------------- banks
    def bank(self, root, gender="all"):
        """The LatentBank for ``gender`` (cached); prints a note on fallback."""
        key = (root, gender)
        if key not in self._banks:
            files, note = ckpt.find_bank_files(root, self.part, gender)
            if note:
                print(f"note: {note}")
            arrays = [ckpt.read_bank(f, self.opt.latent_dim) for f in files]
            self._banks[key] = LatentBank(np.concatenate(arrays) if len(arrays) > 1 else arrays[0])
        return self._banks[key]

    def encode_all(self, sketches, batch_size=16):
        """Latents of many full sketches (N, 1, H, W), batch by batch."""
        out = [self.encode(self.crop(sketches[i:i + batch_size]))
               for i in range(0, len(sketches), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.opt.latent_dim), np.float32)
