"""What a method's job for demo.py shares (``models/<method>/job.py``): a
job is built from the options and the sorted input files before any model
is loaded, so that bad combinations fail at once; ``load()`` then loads
the method's inference contract (``models/inference.py``), ``read(path)``
reads one sketch through it, ``run(batch, stems)`` converts a batch and
says which files each sketch gives (``outputs(stem)``, relative to
--output)."""

from data.sketch_io import ImageError, list_appearances, pair_appearances


class Job:
    def __init__(self, opt, files):
        self.opt, self.files = opt, files
        self.index = {path: i for i, path in enumerate(files)}
        self.face = None
        self.photos, self.photo_files = None, []

    def pair_photos(self):
        """The --appearance photos paired with the sketches (sorted order, or
        one for all); a UsageError in one line when they cannot be."""
        from util.cli import UsageError
        try:
            self.photo_files = list_appearances(self.opt.appearance, self.opt.max_pixels)
            self.photos = pair_appearances(len(self.files), self.photo_files)
        except (ImageError, ValueError) as exc:
            raise UsageError(f"--appearance: {exc}") from None

    def reads(self):
        """What the job reads besides the sketches (no output may replace
        it): the appearance photos and the checkpoint (a file or a folder)."""
        return list(self.photo_files) + [self.opt.params]

    def suffixes(self):
        """The suffix of each output of a sketch (--n_outputs)."""
        n = self.opt.n_outputs
        return [""] if n == 1 else [f"_{k}" for k in range(n)]

    def load(self):
        """Load the method; returns one-line notes about how it will run."""
        from models.methods import prepare_inference
        self.face = prepare_inference(self.opt)
        return self.face.notes()
