"""The sketch embedding's batch conversion for demo.py (see models/dfd_job.py
for what a job is).

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

from data.sketch_io import ImageError, list_appearances, open_image, pair_appearances
from models.sp_embedding import inputs


class SPJob:
    def __init__(self, opt, files):
        from util.cli import UsageError
        self.opt, self.files = opt, files
        self.index = {path: i for i, path in enumerate(files)}
        self.model = None
        self.random = opt.random_appearance or not opt.appearance
        self.seed = opt.appearance_seed if opt.appearance_seed is not None else 0
        self.photos, self.photo_files = None, []
        if not self.random:
            try:
                self.photo_files = list_appearances(opt.appearance, opt.max_pixels)
                self.photos = pair_appearances(len(files), self.photo_files)
            except (ImageError, ValueError) as exc:
                raise UsageError(f"--appearance: {exc}") from None

    def reads(self):
        """What the job reads besides the sketches (no output may replace
        it): the appearance photos and the checkpoint (a file or a folder)."""
        return list(self.photo_files) + [self.opt.params]

    def _suffixes(self):
        n = self.opt.n_outputs
        return [""] if n == 1 else [f"_{k}" for k in range(n)]

    def outputs(self, stem):
        opt = self.opt
        out = [f"{stem}{s}.png" for s in self._suffixes()]
        if opt.couple_outputs:
            out += [f"coupled/{stem}{s}.png" for s in self._suffixes()]
        if opt.save_latents:
            out += [f"latents/{stem}{s}.npy" for s in self._suffixes()]
        if opt.save_labels:
            out.append(f"labels/{stem}.png")
        return out

    def load(self):
        from models.methods import prepare_inference
        self.model = prepare_inference(self.opt)
        notes = self.model.notes(self.opt)
        if self.random and not self.opt.random_appearance:
            notes.append(f"no --appearance photo: random appearances (seed {self.seed})")
        notes.append(f"stroke labels of plain sketches: {self.model.labeler.description}")
        return notes

    def read(self, path):
        """(item, [notes]): the label maps and, when paired, the appearance."""
        opt = self.opt
        labels, labels512, notes = inputs.read_sketch(path, opt, self.model.labeler,
                                                      opt.max_pixels)
        item = {"labels": labels, "labels512": labels512}
        if self.photos is not None:
            photo = self.photos[self.index[path]]
            img = open_image(photo, opt.max_pixels)      # ImageError names the photo
            item["appearance"] = inputs.appearance_array(img, opt.encoder_size)
            item["reference"] = inputs.reference_image(img, opt.encoder_size)
        return item, notes

    def _z(self, key, batch):
        """Latents of one random draw (seed, key), the same for every sketch."""
        return self.model.random_z(self.seed, batch, key)

    def run(self, batch, stems):
        opt, model = self.opt, self.model
        labels = np.stack([item["labels"] for _, _, item in batch])
        appearance = None if self.random else np.stack([item["appearance"]
                                                        for _, _, item in batch])
        out = [dict() for _ in batch]
        for k, suffix in enumerate(self._suffixes()):
            z = self._z(k, len(batch)) if self.random else None
            mix = ((self._z(1000 + k, len(batch)), opt.latent_rows, opt.mix_alpha)
                   if opt.latent_rows else None)
            faces, codes = model.convert(labels, appearance, z, mix, opt.resize_outputs)
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
