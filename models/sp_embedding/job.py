"""The sketch embedding's batch conversion for demo.py (see
``models/deepfacedrawing/job.py`` for what a job is), through the method's
inference contract (``inference.SPInference``).

Outputs, relative to --output, for a sketch with stem S:
``S.png`` (``S_0.png`` .. with --n_outputs > 1), and on request
``coupled/S.png`` (label map | result | reference), ``latents/S.npy`` (the
W+ code, rows x D float32) and ``labels/S.png`` (the labelled sketch,
coloured). Appearance: the photo paired with the sketch (sorted order, or
one photo for all), or random: output k of every sketch uses the latent of
(seed, k), so the same seed gives the same looks across sketches and runs.
"""

import numpy as np
from PIL import Image

from data.sketch_io import open_image
from models.inference import Appearance
from models.job import Job
from models.sp_embedding import inputs
from models.sp_embedding.inference import StyleMix


class SPJob(Job):
    def __init__(self, opt, files):
        super().__init__(opt, files)
        self.random = opt.random_appearance or not opt.appearance
        self.seed = opt.appearance_seed if opt.appearance_seed is not None else 0
        if not self.random:
            self.pair_photos()

    def outputs(self, stem):
        opt = self.opt
        out = [f"{stem}{s}.png" for s in self.suffixes()]
        if opt.couple_outputs:
            out += [f"coupled/{stem}{s}.png" for s in self.suffixes()]
        if opt.save_latents:
            out += [f"latents/{stem}{s}.npy" for s in self.suffixes()]
        if opt.save_labels:
            out.append(f"labels/{stem}.png")
        return out

    def load(self):
        notes = super().load()
        if self.random and not self.opt.random_appearance:
            notes.append(f"no --appearance photo: random appearances (seed {self.seed})")
        notes.append(f"stroke labels of plain sketches: {self.face.labeler.description}")
        return notes

    def read(self, path):
        """(item, [notes]): the label maps and, when paired, the appearance."""
        opt = self.opt
        item, notes = self.face.read(path)
        if self.photos is not None:
            photo = self.photos[self.index[path]]
            img = open_image(photo, opt.max_pixels)      # ImageError names the photo
            item["appearance"] = self.face.photo_input(img)
            item["reference"] = inputs.reference_image(img, opt.encoder_size)
        return item, notes

    def appearance(self, batch, k):
        """The look of output ``k``: the paired photos, or the random draw
        (seed, k), the same for every sketch."""
        if self.random:
            return Appearance.random(self.seed, k)
        return Appearance.of_photos([item["appearance"] for _, _, item in batch])

    def run(self, batch, stems):
        opt = self.opt
        items = [item for _, _, item in batch]
        out = [dict() for _ in batch]
        for k, suffix in enumerate(self.suffixes()):
            mix = StyleMix(opt.latent_rows, opt.mix_alpha, self.seed, 1000 + k)
            result = self.face(items, self.appearance(batch, k), mix, opt.resize_outputs)
            faces, codes = result["faces"], result["codes"]
            for i, (stem, (_, _, item)) in enumerate(zip(stems, batch)):
                out[i][f"{stem}{suffix}.png"] = faces[i]
                if opt.couple_outputs:
                    out[i][f"coupled/{stem}{suffix}.png"] = coupled(item, faces[i])
                if opt.save_latents:
                    out[i][f"latents/{stem}{suffix}.npy"] = codes[i].astype(np.float32)
        if opt.save_labels:
            for i, (stem, (_, _, item)) in enumerate(zip(stems, batch)):
                out[i][f"labels/{stem}.png"] = inputs.colour_labels(item["labels512"])
        return out


def coupled(item, face):
    """Label map | result | reference (when there is one), each at the
    result's size (bicubic, as the authors' panels)."""
    n = face.shape[0]

    def fit(arr):
        img = Image.fromarray(arr)
        return np.asarray(img if img.size == (n, n) else img.resize((n, n), Image.BICUBIC))
    panels = [fit(inputs.colour_labels(item["labels512"])), face]
    if "reference" in item:
        panels.append(fit(item["reference"]))
    return np.concatenate(panels, axis=1)
