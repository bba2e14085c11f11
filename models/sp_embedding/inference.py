"""The sketch embedding's inference contract (``models/inference.py``):
what demo.py, the drawing app, the evaluation and the benchmark call, over
the Jittor model (``model.SPEmbeddingModel``) or the ONNX Runtime one
(``models/onnx_runtime/sp.py``); no Jittor is imported here.

* ``prepare(sketch)``: a plain sketch labelled by the model's stroke
  labeller at the canonical 512 (resized bilinearly when it is another
  size), the label map then at the encoders' size (``inputs``):
  ``labels``, and ``labels512`` to show. ``read(path)`` also takes the
  authors' semantic sketches (label maps read by value).
* ``__call__(inputs, appearance, mix, resize)``: faces at the generator's
  size (256 with ``resize``) and their W+ codes (``codes``).
* Appearance: reference photos go through E_a (``photo_input`` is the
  authors' input pipeline: 2x the encoders' size, bilinear, pooled); a
  seeded look is M(z) of z drawn from (seed, key); the mean look, which
  this method has not, is the look of seed 0.
* Style mixing (``mix``, a ``StyleMix``): the W+ rows ``rows`` replaced
  by (or blended with, ``alpha``) the random W of (seed, key).
"""

import collections

import numpy as np
from PIL import Image

from models.inference import Appearance, SketchToFace, appearance_or_mean
from models.sp_embedding import inputs as sp_inputs
from util.components import CANONICAL_SIZE

StyleMix = collections.namedtuple("StyleMix", "rows alpha seed key")


class SPInference(SketchToFace):
    name = "sp_embedding"
    title = "Sketch embedding"
    settings = ()
    shadow_note = "stroke labels: the class the labeller gave each stroke, in colour"
    results = ("faces", "codes")
    appearance_note = ("a reference photo or a random draw sets the face's appearance (the "
                       "W+ rows from the break layer on); none: the draw of seed 0")

    @property
    def size(self):
        return self.opt.output_size

    @property
    def sketch_size(self):
        return CANONICAL_SIZE

    @property
    def has_appearance(self):
        return True

    @property
    def labeler(self):
        return self.model.labeler

    # ---------------------------------------------------------- inputs
    def prepare(self, sketch, normalise=None):
        """(inputs, []): the sketch labelled (``normalise`` is DeepFaceDrawing's:
        strokes are labelled here, not fitted)."""
        gray = np.asarray(sketch, np.uint8)
        if gray.shape != (CANONICAL_SIZE, CANONICAL_SIZE):
            gray = np.asarray(Image.fromarray(gray).resize((CANONICAL_SIZE, CANONICAL_SIZE),
                                                           Image.BILINEAR))
        with self.converting():
            labels512 = self.labeler(gray)
        labels = sp_inputs.resize_labels(labels512, self.opt.encoder_size)
        return {"sketch": sketch, "labels": labels, "labels512": labels512}, []

    def read(self, path):
        labels, labels512, notes = sp_inputs.read_sketch(path, self.opt, self.labeler,
                                                         self.opt.max_pixels)
        return {"labels": labels, "labels512": labels512}, notes

    def photo_input(self, photo):
        """float32 (3, S, S) in [-1, 1]: the authors' appearance input."""
        img = photo if isinstance(photo, Image.Image) else Image.fromarray(np.asarray(photo))
        return sp_inputs.appearance_array(img, self.opt.encoder_size)

    # ---------------------------------------------------------- the pass
    def random_z(self, seed, key, batch):
        return self.model.random_z(seed, batch, key)

    def __call__(self, inputs, appearance=None, mix=None, resize=False):
        """{"faces": (B, N, N, 3), "codes": W+ (B, n_latent, D)}."""
        appearance = appearance_or_mean(appearance)
        labels = np.stack([item["labels"] for item in inputs])
        batch = len(inputs)
        looks = z = None
        if appearance.kind == Appearance.PHOTO:
            looks = np.stack(appearance.photos)
        elif appearance.kind == Appearance.SEED:
            z = self.random_z(appearance.seed, appearance.key, batch)
        else:
            z = self.random_z(0, 0, batch)
        mixing = None
        if mix is not None and mix.rows:
            mixing = (self.random_z(mix.seed, mix.key, batch), mix.rows, mix.alpha)
        with self.converting():
            faces, codes = self.model.convert(labels, looks, z, mixing, resize)
        return {"faces": faces, "codes": codes}

    def warm_up(self):
        blank = [self.prepare(np.full((CANONICAL_SIZE, CANONICAL_SIZE), 255, np.uint8))[0]]
        self(blank)
        big = 2 * self.opt.encoder_size
        gray = self.photo_input(Image.new("RGB", (big, big), (128,) * 3))
        self(blank, Appearance.of_photos([gray]))
