"""DeepFaceDrawing's batch conversion for demo.py: which files a sketch
gives, how a sketch file is read, how a batch is converted.

A job (one per method, named in ``models/methods.py``) is built from the
options and the sorted input files before any model is loaded, so that
bad combinations fail at once; ``load()`` then loads the model.

With an appearance code (``--appearance_dim`` models): ``--appearance``
gives a reference photo per sketch (sorted order, or one for all), else
``--appearance_seed N`` draws one look per output k from (N, k), the same
for every sketch; without either, the mean appearance.

Each sketch is normalised as it is read (``data.sketch_norm``: strokes at
the training width, the face on the component layout; a note says what
changed) unless ``--no_sketch_norm``."""

import numpy as np

from data.sketch_io import ImageError, list_appearances, load_sketch, pair_appearances, \
    reference_photo
from data.sketch_norm import normalise_sketch, wanted


class DFDJob:
    def __init__(self, opt, files):
        from util.cli import UsageError
        self.opt, self.files = opt, files
        self.index = {path: i for i, path in enumerate(files)}
        self.model = None
        self.photos, self.photo_files = None, []
        if opt.appearance:
            try:
                self.photo_files = list_appearances(opt.appearance, opt.max_pixels)
                self.photos = pair_appearances(len(files), self.photo_files)
            except (ImageError, ValueError) as exc:
                raise UsageError(f"--appearance: {exc}") from None
        self.seed = opt.appearance_seed
        if self.seed is None and opt.n_outputs > 1:
            self.seed = 0

    def reads(self):
        """What the job reads besides the sketches (no output may replace
        it): the appearance photos and the checkpoint (a file or a folder)."""
        return list(self.photo_files) + [self.opt.params]

    def _suffixes(self):
        n = self.opt.n_outputs
        return [""] if n == 1 else [f"_{k}" for k in range(n)]

    def outputs(self, stem):
        """The files (relative to --output) written for one sketch."""
        out = [f"{stem}{s}.png" for s in self._suffixes()]
        return out + ([f"{stem}_shadow.png"] if self.opt.shadow else [])

    def load(self):
        """Load the model; returns one-line notes about how it will run."""
        from models.methods import prepare_inference
        self.model = prepare_inference(self.opt)
        return self.model.notes(self.opt)

    def read(self, path):
        """(item, [notes]); ImageError naming the sketch (or its reference photo)."""
        opt = self.opt
        sketch, notes = load_sketch(path, opt.image_size, opt.max_pixels)
        if wanted(opt):
            sketch, norm_notes = normalise_sketch(sketch)
            notes = notes + norm_notes
        item = {"sketch": sketch}
        if self.photos is not None:
            item["reference"] = reference_photo(self.photos[self.index[path]], opt.image_size,
                                                opt.max_pixels)
        return item, notes

    def _codes(self, batch, k):
        if self.photos is not None:
            return self.model.appearance_codes(np.stack([item["reference"]
                                                         for _, _, item in batch]))
        if self.seed is not None:
            return self.model.random_codes(self.seed, k, len(batch))
        return None

    def run(self, batch, stems):
        """[{relative path: image}] for a batch of (index, path, item)."""
        opt = self.opt
        sketches = np.stack([item["sketch"] for _, _, item in batch])
        out = [dict() for _ in batch]
        for k, suffix in enumerate(self._suffixes()):
            shadow = opt.shadow and k == 0
            result = self.model.convert(sketches, opt.k, opt.refine_by_part, opt.gender, shadow,
                                        self._codes(batch, k))
            for i, stem in enumerate(stems):
                out[i][f"{stem}{suffix}.png"] = result["images"][i]
                if shadow and result["shadows"] is not None:
                    out[i][f"{stem}_shadow.png"] = result["shadows"][i]
        return out
