"""DeepFaceDrawing's batch conversion for demo.py: which files a sketch
gives, how a sketch file is read, how a batch is converted.

A job (one per method, named in ``models/methods.py``) is built from the
options and the sorted input files before any model is loaded, so that
bad combinations fail at once; ``load()`` then loads the model."""

import numpy as np

from data.sketch_io import load_sketch


class DFDJob:
    def __init__(self, opt, files):
        self.opt, self.files = opt, files
        self.model = None

    def outputs(self, stem):
        """The files (relative to --output) written for one sketch."""
        return [f"{stem}.png"] + ([f"{stem}_shadow.png"] if self.opt.shadow else [])

    def load(self):
        """Load the model; returns one-line notes about how it will run."""
        from models.methods import prepare_inference
        self.model = prepare_inference(self.opt)
        return self.model.notes(self.opt)

    def read(self, path):
        """(sketch uint8 (S, S), [notes]); ImageError naming the file."""
        return load_sketch(path, self.opt.image_size, self.opt.max_pixels)

    def run(self, batch, stems):
        """[(stem, {relative path: image})] for a batch of (index, path, sketch)."""
        opt = self.opt
        result = self.model.convert(np.stack([item for _, _, item in batch]), opt.k,
                                    opt.refine_by_part, opt.gender, opt.shadow)
        out = []
        for i, stem in enumerate(stems):
            files = {f"{stem}.png": result["images"][i]}
            if opt.shadow and result["shadows"] is not None:
                files[f"{stem}_shadow.png"] = result["shadows"][i]
            out.append(files)
        return out
