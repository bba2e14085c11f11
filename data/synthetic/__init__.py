"""Procedural faces: a photo-like colour face, its line sketch (clean or in
a hand-drawn style) and, on request, semantic labels.

Every sample starts from a :class:`FaceParams` (random geometry and
appearance, see :func:`sample_params`): face shape, hair style, facial hair,
glasses, expression, brows, earrings and random colours. :func:`build_geometry`
turns it into curves and polygons on the canonical 512x512 canvas, laid out
so that the eyes, nose and mouth sit inside their component boxes
(``util.components.BOXES_512``). The same geometry is then

* painted as a photo (``photo.py``: flat colour shapes, a soft low-resolution
  light map for shading and a light blur; no noise, so PNGs stay small),
* drawn as a sketch (``sketch.py``): black strokes on white, with the shapes
  filled white in the same back-to-front order as the photo so that hidden
  lines vanish; ``styles.py`` redraws the same strokes by hand (wobble,
  passes, gaps, pressure, hatching, texture, stray marks, missing parts),
* labelled (``labels.py``): a CelebAMask-HQ parsing map and a semantic
  sketch whose stroke pixels hold edge classes.

:func:`make_rough` redraws the strokes wobbly, broken, doubled, partly
missing and with parts slightly misplaced. :func:`make_sample` /
:func:`generate` give samples whose randomness depends only on
``(seed, index)``.

Coordinates are (x, y) in canonical 512 pixels throughout; drawing scales
them to the requested size, so 64, 128, 256 and 512 all work.

Modules: ``params`` (FaceParams, vocabularies, sample_params), ``sampling``
(per-part samplers, palettes), ``curves`` (spline and drawing helpers),
``geometry`` (head and features), ``hair`` (hair styles), ``accessories``
(facial hair, glasses, earrings), ``photo`` and ``lighting`` (painting),
``sketch`` (sketch ops), ``styles`` and ``strokes`` (hand-drawn styles),
``rough`` (rough variants), ``labels`` (label maps), ``samples`` (the API).
"""

from .geometry import build_geometry
from .labels import EDGE_CLASSES, PARSING_CLASSES, parsing_map
from .params import (ATTRIBUTES, BROW_SHAPES, EARRINGS, EXPRESSIONS, FACE_SHAPES, FACIAL_HAIR, GENDERS,
                     GLASSES, HAIR_STYLES, FaceParams, sample_params)
from .rough import make_rough
from .samples import generate, make_sample, render_face
from .styles import HELD_OUT_STYLE, SKETCH_STYLES, TRAIN_STYLES

__all__ = ["ATTRIBUTES", "BROW_SHAPES", "EARRINGS", "EDGE_CLASSES", "EXPRESSIONS", "FACE_SHAPES",
           "FACIAL_HAIR", "GENDERS", "GLASSES", "HAIR_STYLES", "HELD_OUT_STYLE",
           "PARSING_CLASSES", "SKETCH_STYLES", "TRAIN_STYLES", "FaceParams",
           "build_geometry", "generate", "make_rough", "make_sample", "parsing_map",
           "render_face", "sample_params"]
