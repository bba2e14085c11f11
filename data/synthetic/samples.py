"""Samples of a procedural face stream: ``make_sample``, ``generate`` and
``render_face``."""

import numpy as np

from util.components import scaled_boxes

from .geometry import build_geometry
from .labels import draw_label_ops, match_strokes, parsing_map
from .params import sample_params
from .photo import paint_photo
from .rough import rough_ops
from .sketch import draw_ops, sketch_ops
from .styles import pick_style, render_style


def render_face(params, size=512, style="clean"):
    """Render ``params`` to ``(photo RGB uint8 HxWx3, sketch uint8 HxW)``.

    Both are drawn from the same geometry; the sketch has black lines on
    white (255), in ``style`` (see ``styles.SKETCH_STYLES``; ``"random"``
    picks one from the face's own detail seed). ``size`` is any square size
    whose component boxes scale to whole pixels (64, 128, 256, 512, ...).
    """
    scaled_boxes(size)                       # validates the size
    g = build_geometry(params)
    ops = sketch_ops(g, params)
    style = pick_style(style, params)
    sketch = draw_ops(ops, size) if style == "clean" else \
        render_style(ops, params, size, style)[0]
    return paint_photo(params, g, size), sketch


def make_sample(seed, index, size=512, rough=False, gender=None, style="clean",
                labels=False):
    """Sample ``index`` of the stream ``seed``: depends on nothing else.

    Returns a dict with ``photo`` (RGB uint8), ``sketch`` (uint8, black on
    white, in ``style``), ``sketch_clean`` (the clean sketch; the same array
    when ``style`` is clean), ``style`` (the style drawn: ``"random"``
    resolves to a training style or clean, chosen from the sample's own
    random stream), ``gender`` and ``params``; with ``rough``,
    ``sketch_rough`` (see ``make_rough``); with ``labels``, ``labels`` (the
    CelebAMask-HQ parsing map), ``semantic_sketch`` (edge classes on the
    clean sketch's stroke pixels) and ``semantic_sketch_style`` (the same
    for ``sketch``). Forcing ``gender`` changes the sample.

    ``photo``, ``sketch_clean`` and ``sketch_rough`` equal ``render_face`` /
    ``make_rough(..., params=params)`` on ``sample_params(
    np.random.default_rng([seed, index]), gender)``; neither the style nor
    the labels change them.
    """
    scaled_boxes(size)
    rng = np.random.default_rng([seed, index])
    params = sample_params(rng, gender)
    g = build_geometry(params)
    ops = sketch_ops(g, params)
    clean = draw_ops(ops, size)
    style = pick_style(style, params)
    out = dict(photo=paint_photo(params, g, size), sketch=clean, sketch_clean=clean,
               style=style, gender=params.gender, params=params)
    if rough:
        out["sketch_rough"] = draw_ops(rough_ops(ops, rng, 1.0), size)
    if style != "clean":
        out["sketch"], style_labels = render_style(ops, params, size, style, labels)
    if labels:
        out["labels"] = parsing_map(params, g, size)
        out["semantic_sketch"] = match_strokes(draw_label_ops(ops, size), clean)
        out["semantic_sketch_style"] = (out["semantic_sketch"] if style == "clean"
                                        else style_labels)
    return out


def generate(n, seed, size=512, rough=False, start=0, style="clean", labels=False):
    """Yield samples ``start .. start+n-1`` of the stream ``seed`` (see
    :func:`make_sample` for the keys)."""
    for i in range(start, start + n):
        yield make_sample(seed, i, size, rough, style=style, labels=labels)
