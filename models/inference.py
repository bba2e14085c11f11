"""The inference contract: what every method offers its callers (demo.py's
jobs, the drawing app, the evaluation, the benchmark), on either backend,
in the shape of a diffusers pipeline (or pix2pixHD's ``inference``):

    face = get_method(name).load(opt)        # load once (models/methods.py)
    inputs, notes = face.prepare(sketch)      # or face.read(path)
    result = face([inputs], Appearance.random(seed=3))
    result["faces"]                           # uint8 (B, N, N, 3)

* ``prepare(sketch)``: a uint8 black-on-white sketch (any square size) ->
  (the network input, [notes]): DeepFaceDrawing normalises the strokes and
  the layout (``data.sketch_norm``), the sketch embedding labels the
  strokes. ``inputs["sketch"]`` is the sketch as the method sees it.
* ``read(path)``: the same from a file (sketch I/O with its limits and
  notes; the sketch embedding also reads semantic sketches).
* ``photo_input(photo)``: a reference photo (a PIL image or uint8 array,
  its centre square) -> what ``Appearance.photos`` holds for this method.
* ``__call__(inputs, appearance, **settings)``: a batch of prepared inputs
  -> {"faces": uint8 (B, N, N, 3), ...}; the method's settings and extra
  results are its own (``DFDInference``, ``SPInference``).

The appearance is handled here, in one place per method: ``Appearance``
is the mean look, the random look drawn from (seed, key)
(``util.arrays.random_look``: the same seed gives the same look on either
backend), or reference photos, one per sketch of the batch.

The model behind (``model``) is the Jittor model or the ONNX Runtime one
(``models/onnx_runtime/``): the contract only calls what both have, so
this module and the methods' contracts import no Jittor.
"""


class Appearance:
    """How the faces of a batch look.

    ``kind`` is ``MEAN`` (the mean look; the sketch embedding, which has
    none, draws that of seed 0), ``SEED`` (the random look of draw
    (``seed``, ``key``), the same for every sketch of the batch) or
    ``PHOTO`` (``photos``: one ``photo_input`` per sketch). ``memo`` is a
    dict in which a method may keep what it computed from the photos (the
    drawing app keeps it with a reference photo)."""

    MEAN, SEED, PHOTO = "mean", "seed", "photo"

    def __init__(self, kind=MEAN, seed=0, key=0, photos=None, memo=None):
        if kind not in (self.MEAN, self.SEED, self.PHOTO):
            raise ValueError(f"unknown appearance {kind!r}")
        self.kind, self.seed, self.key = kind, seed, key
        self.photos, self.memo = photos, memo

    @classmethod
    def mean(cls):
        return cls(cls.MEAN)

    @classmethod
    def random(cls, seed, key=0):
        return cls(cls.SEED, seed=seed, key=key)

    @classmethod
    def of_photos(cls, photos, memo=None):
        return cls(cls.PHOTO, photos=list(photos), memo=memo)

    def __repr__(self):
        if self.kind == self.SEED:
            return f"Appearance.random({self.seed}, key={self.key})"
        return f"Appearance({self.kind})"


def appearance_or_mean(appearance):
    return Appearance.mean() if appearance is None else appearance


class SketchToFace:
    """The contract every method's inference class follows (see the module
    docstring). A subclass sets ``name`` and the texts the drawing app
    shows, and implements ``prepare``, ``read``, ``photo_input``,
    ``__call__`` and ``warm_up``."""

    name = None                # the method's name in models/methods.py
    normalises = False         # whether ``prepare`` normalises sketches
    title = None               # short, for the app's method picker
    settings = ()              # the app's request fields the method uses
    shadow_note = ""           # what the method's second image is
    results = ("faces",)       # what ``__call__`` returns
    appearance_note = ""       # what an appearance does, or why there is none

    def __init__(self, model, opt):
        self.model, self.opt = model, opt

    # ---------------------------------------------------------- facts
    @property
    def size(self):
        """The faces' size (pixels a side)."""
        return self.model.size

    @property
    def sketch_size(self):
        """The size of the sketches ``prepare`` is given by the app."""
        return self.size

    @property
    def has_appearance(self):
        return bool(self.model.has_appearance)

    def notes(self):
        """One-line notes about how the options will be applied."""
        return self.model.notes(self.opt)

    # ---------------------------------------------------------- the pass
    def normalise(self, sketch):
        """(sketch, [notes]): the sketch normalisation ``prepare`` applies
        (none by default)."""
        return sketch, []

    def read(self, path):
        raise NotImplementedError

    def prepare(self, sketch, normalise=None):
        raise NotImplementedError

    def photo_input(self, photo):
        raise NotImplementedError

    def __call__(self, inputs, appearance=None, **settings):
        raise NotImplementedError

    def warm_up(self):
        """Blank conversions, so that kernels compile before the first real one."""
        raise NotImplementedError

    @staticmethod
    def converting():
        """A context around one conversion: OpenMP gets the cores other
        processes leave free now (``util.threads``; nothing on a GPU or
        another backend)."""
        from util.threads import conversion_threads
        return conversion_threads()
