"""DeepFaceDrawing's inference contract (``models/inference.py``): what
demo.py, the drawing app, the evaluation and the benchmark call, over the
Jittor model (``model.DeepFaceDrawingModel``) or the ONNX Runtime one
(``models/onnx_runtime/dfd.py``); no Jittor is imported here.

* ``prepare(sketch)``: the sketch normalised (``data.sketch_norm``: strokes
  at the training width, the face on the component layout; a note for
  each change) unless ``--no_sketch_norm`` (or ``normalise=False``).
* ``__call__(inputs, appearance, k, refine, gender, shadow)``: faces, and
  the shadow guidance (``shadows``) and the neighbours the projection
  found (``neighbours``). Sketches at another size than the model's are
  resized to it (bicubic); the faces come at the model's size.
* Appearance: the mean look (no code: the generator's own), a seeded
  random code (the prior N(0, I)) or the appearance encoder's code of
  reference photos at the model's size; a model without an appearance
  code takes the mean look only.
"""

import numpy as np
from PIL import Image

from data.sketch_io import load_sketch
from data.sketch_norm import normalise_sketch, wanted
from models.inference import Appearance, SketchToFace, appearance_or_mean
from util.components import BANK_CHOICES

NO_CODE = "this model has no appearance code"


class DFDInference(SketchToFace):
    name = "deepfacedrawing"
    title = "DeepFaceDrawing"
    settings = ("k", "refine", "gender")
    shadow_note = "shadow guidance: the strokes of the faces each part was projected onto"
    results = ("faces", "shadows", "neighbours")

    def __init__(self, model, opt):
        super().__init__(model, opt)
        self.normalises = wanted(opt)

    @property
    def size(self):
        return self.opt.image_size

    @property
    def appearance_note(self):
        if self.has_appearance:
            return ("a reference photo or a random draw sets the face's colours (hair, skin, "
                    "background); none: the mean appearance")
        return ("this DeepFaceDrawing model has no appearance code (it was trained without "
                "--appearance_dim)")

    def largest_k(self):
        """The largest K every part allows with its largest bank (1 for the
        direct pipeline); the banks of every gender are loaded now, so that
        their errors come early."""
        for gender in BANK_CHOICES:
            self.model.check_banks(gender)
        return min((max(len(self.model.bank(p, g)) for g in BANK_CHOICES)
                    for p in self.model.part_keys()), default=1)

    # ---------------------------------------------------------- inputs
    def normalise(self, sketch, normalise=None):
        """(sketch, [notes]): ``data.sketch_norm.normalise_sketch`` against the
        model's training width when ``normalise`` (default: the options' choice)."""
        if not (self.normalises if normalise is None else normalise):
            return sketch, []
        return normalise_sketch(sketch, self.size)

    def prepare(self, sketch, normalise=None):
        sketch, notes = self.normalise(np.asarray(sketch, np.uint8), normalise)
        return {"sketch": sketch}, notes

    def read(self, path):
        sketch, notes = load_sketch(path, self.size, self.opt.max_pixels)
        inputs, more = self.prepare(sketch)
        return inputs, notes + more

    def photo_input(self, photo):
        """uint8 (S, S, 3) at the model's size (a photo at another size is
        resized with Lanczos, as ``data.sketch_io.reference_photo`` does)."""
        img = photo if isinstance(photo, Image.Image) else Image.fromarray(np.asarray(photo))
        if img.size != (self.size, self.size):
            img = img.resize((self.size, self.size), Image.LANCZOS)
        return np.array(img, dtype=np.uint8)

    # ---------------------------------------------------------- the pass
    def codes(self, appearance, batch):
        """The generator's appearance codes (B, D) of ``appearance``, or None
        for the mean look; ValueError for a model without a code."""
        appearance = appearance_or_mean(appearance)
        if appearance.kind == Appearance.MEAN:
            return None
        if not self.has_appearance:
            raise ValueError(NO_CODE)
        if appearance.kind == Appearance.SEED:
            return self.model.random_codes(appearance.seed, appearance.key, batch)
        memo = appearance.memo
        if memo is not None and self.name in memo:
            return memo[self.name]
        codes = self.model.appearance_codes(np.stack(appearance.photos))
        if memo is not None:
            memo[self.name] = codes
        return codes

    def sketches(self, inputs):
        """The batch's sketches at the model's size."""
        sketches = [item["sketch"] for item in inputs]
        n = self.size
        return np.stack([s if s.shape[0] == n else
                         np.asarray(Image.fromarray(s).resize((n, n), Image.BICUBIC))
                         for s in sketches])

    def __call__(self, inputs, appearance=None, k=None, refine=None, gender=None,
                 shadow=False):
        """{"faces": (B, N, N, 3), "shadows": (B, N, N) or None, "neighbours":
        {part: (indices, weights)}}; ``k``, ``refine`` ({part: t}) and
        ``gender`` default to the options'."""
        opt = self.opt
        with self.converting():
            result = self.model.convert(
                self.sketches(inputs), opt.k if k is None else k,
                opt.refine_by_part if refine is None else refine,
                opt.gender if gender is None else gender, shadow,
                self.codes(appearance, len(inputs)))
        return {"faces": result["images"], "shadows": result["shadows"],
                "neighbours": result["neighbours"]}

    def warm_up(self):
        """Blank conversions with shadows (and with an appearance code when the
        model has one): Jittor compiles its kernels now."""
        blank = [self.prepare(np.full((self.size, self.size), 255, np.uint8), False)[0]]
        k = min(self.opt.k, self.largest_k())
        self(blank, k=k, shadow=True)
        if self.has_appearance:
            gray = self.photo_input(np.full((self.size, self.size, 3), 128, np.uint8))
            self(blank, Appearance.of_photos([gray]), k=k, shadow=True)
