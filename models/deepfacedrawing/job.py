"""DeepFaceDrawing's batch conversion for demo.py: which files a sketch
gives, and each batch through the method's inference contract
(``inference.DFDInference``: reading and normalising a sketch, the
appearance, the pass).

A job (one per method, named in ``models/methods.py``; ``models/job.py``
says what one is) is built from the options and the sorted input files
before any model is loaded, so that bad combinations fail at once.

With an appearance code (``--appearance_dim`` models): ``--appearance``
gives a reference photo per sketch (sorted order, or one for all), else
``--appearance_seed N`` draws one look per output k from (N, k), the same
for every sketch; without either, the mean appearance."""

from data.sketch_io import reference_photo
from models.inference import Appearance
from models.job import Job


class DFDJob(Job):
    def __init__(self, opt, files):
        super().__init__(opt, files)
        if opt.appearance:
            self.pair_photos()
        self.seed = opt.appearance_seed
        if self.seed is None and opt.n_outputs > 1:
            self.seed = 0

    def outputs(self, stem):
        """The files (relative to --output) written for one sketch."""
        out = [f"{stem}{s}.png" for s in self.suffixes()]
        return out + ([f"{stem}_shadow.png"] if self.opt.shadow else [])

    def read(self, path):
        """(item, [notes]); ImageError naming the sketch (or its reference photo)."""
        opt = self.opt
        item, notes = self.face.read(path)
        if self.photos is not None:
            item["reference"] = self.face.photo_input(reference_photo(
                self.photos[self.index[path]], opt.image_size, opt.max_pixels))
        return item, notes

    def appearance(self, batch, k):
        """The look of output ``k`` of a batch of (index, path, item)."""
        if self.photos is not None:
            return Appearance.of_photos([item["reference"] for _, _, item in batch])
        if self.seed is not None:
            return Appearance.random(self.seed, k)
        return Appearance.mean()

    def run(self, batch, stems):
        """[{relative path: image}] for a batch of (index, path, item)."""
        inputs = [item for _, _, item in batch]
        out = [dict() for _ in batch]
        for k, suffix in enumerate(self.suffixes()):
            shadow = self.opt.shadow and k == 0
            result = self.face(inputs, self.appearance(batch, k), shadow=shadow)
            for i, stem in enumerate(stems):
                out[i][f"{stem}{suffix}.png"] = result["faces"][i]
                if shadow and result["shadows"] is not None:
                    out[i][f"{stem}_shadow.png"] = result["shadows"][i]
        return out
