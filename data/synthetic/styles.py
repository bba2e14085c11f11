"""Hand-drawn sketch styles: the clean sketch ops redrawn as strokes with
wobble, overdrawn passes, gaps, pressure (width and darkness), hatching,
hair texture, stray marks and missing parts (``strokes.py`` draws them).

A style is a set of effect strengths (:data:`SKETCH_STYLES`). Every stroke
keeps the edge class of the op it came from, so the semantic sketch of a
style follows its strokes; hatching takes the class of the region it shades
and stray marks get class 21.

The randomness of a style comes from the face's ``detail_seed`` and the
style's name only: a sample's styled sketch is a function of (seed, index,
style) and drawing it does not disturb anything else.
"""

import zlib

import numpy as np

from .accessories import inside
from .curves import resample
from .labels import E, match_strokes
from .rough import break_stroke, wobble
from .strokes import Stroke, paper_grain, rasterise

_DEFAULTS = dict(wobble=0.0, passes=(1, 1), pass_jitter=0.0, pass_ink=0.8, gaps=0.0,
                 pressure=0.0, width=(1.0, 1.0), ink=(1.0, 1.0), hatch=0.0, hatch_ink=0.55,
                 texture=0.0, stray=(0, 0), drop=0.0, shift=0.0, grain=False)

SKETCH_STYLES = {
    "clean": {},
    "overdrawn": dict(passes=(2, 3), pass_jitter=1.4, wobble=0.9, pass_ink=0.85),
    "wobbly": dict(wobble=2.4, shift=2.5),
    "broken": dict(gaps=1.6, wobble=0.5),
    "pressure": dict(pressure=1.0, width=(0.8, 1.7), ink=(0.55, 1.0)),
    "hatched": dict(hatch=1.0, wobble=0.4),
    "scribbled": dict(texture=1.0, wobble=1.1, pressure=0.3),
    "stray": dict(stray=(5, 10), wobble=0.5),
    "sparse": dict(drop=1.0, wobble=0.7, width=(0.8, 1.1)),
    "messy": dict(wobble=1.8, passes=(1, 3), pass_jitter=2.0, gaps=0.8, stray=(2, 5),
                  pressure=0.5, shift=2.0, texture=0.3),
    "sketchy": dict(passes=(2, 3), pass_jitter=1.2, pressure=0.8, hatch=0.7, texture=0.6,
                    wobble=1.0, width=(0.8, 1.3)),
    # held out: light grey, broken, multi-pass strokes of varying width,
    # hatched shading and paper grain (no training style is light or grainy)
    "pencil": dict(ink=(0.5, 0.8), passes=(2, 4), pass_jitter=1.1, pass_ink=0.75, gaps=1.0,
                   pressure=1.0, width=(0.6, 1.5), hatch=1.0, hatch_ink=0.34, texture=0.5,
                   wobble=0.9, grain=True),
}
HELD_OUT_STYLE = "pencil"
TRAIN_STYLES = tuple(k for k in SKETCH_STYLES if k not in ("clean", HELD_OUT_STYLE))

_PART_GROUPS = ("eye1", "eye2", "brow1", "brow2", "nose", "mouth")
_DROPPABLE = {E["ear_l"]: 0.5, E["ear_r"]: 0.5, E["cloth"]: 0.5, E["neck"]: 0.4,
              E["earring"]: 0.5, E["hair"]: 0.35, E["face"]: 0.3, E["hairline"]: 0.2}


def pick_style(style, params):
    """Resolve ``style``: a name of :data:`SKETCH_STYLES`, ``"held_out"``
    (:data:`HELD_OUT_STYLE`) or ``"random"`` (clean or a training style,
    drawn from the face's detail seed)."""
    if style == "random":
        rng = np.random.default_rng([params.detail_seed, 20])
        names = ("clean",) + TRAIN_STYLES
        return names[int(rng.integers(len(names)))]
    if style in ("held_out", "held-out"):
        return HELD_OUT_STYLE
    if style not in SKETCH_STYLES:
        raise ValueError(f"unknown sketch style {style!r}; expected one of "
                         f"{', '.join(SKETCH_STYLES)}, random or held_out")
    return style


def _length(pts):
    return float(np.hypot(*np.diff(pts, axis=0).T).sum()) if len(pts) > 1 else 0.0


def _profile(n, rng, pressure):
    """Pressure along a stroke of n points: tapered ends and slow swells."""
    if pressure <= 0 or n < 3:
        return np.ones(n)
    t = np.linspace(0, 1, n)
    taper = np.clip(np.sin(np.pi * t) * 2.5, 0, 1) ** 0.7
    knots = rng.normal(0, 0.25, 4)
    swell = 1 + np.interp(t * 3, np.arange(4), knots)
    return np.clip((1 - pressure) + pressure * (0.3 + 0.7 * taper) * swell, 0.15, 1.6)


def _trim(q, rng):
    """Remove a random stretch of a long stroke (a sparse sketch)."""
    n = len(q)
    a = int(rng.integers(0, n))
    b = a + int(n * rng.uniform(0.2, 0.5))
    if b >= n:
        return [q[b - n:a]] if a - (b - n) > 2 else []
    return [piece for piece in (q[:a], q[b:]) if len(piece) > 2]


def _line_strokes(op, pts, cfg, rng, out):
    if op.closed:
        pts = np.vstack([pts, pts[:1]])
    length = _length(pts)
    if length < 1:
        return
    pieces_src = [pts]
    if cfg["drop"]:
        p = cfg["drop"] * _DROPPABLE.get(op.label, 0.12 if length < 80 else 0.0)
        if rng.random() < (p if length < 150 else 0.0):
            return
        if length > 150 and rng.random() < 0.5 * cfg["drop"]:
            pieces_src = _trim(resample(pts, max(4, int(length / 3))), rng)
    base_w = op.thick * rng.uniform(*cfg["width"])
    base_k = rng.uniform(*cfg["ink"])
    passes = int(rng.integers(cfg["passes"][0], cfg["passes"][1] + 1))
    for src in pieces_src:
        for k in range(passes):
            q = wobble(src, rng, cfg["wobble"])
            ink = base_k * (cfg["pass_ink"] ** k)
            if k:
                q = q + rng.normal(0, cfg["pass_jitter"], 2)
                m = len(q)
                q = q[int(rng.integers(0, max(1, m // 8))):m - int(rng.integers(0, max(1, m // 8)))]
            pieces = break_stroke(q, rng, cfg["gaps"]) if cfg["gaps"] else [q]
            for piece in pieces:
                prof = _profile(len(piece), rng, cfg["pressure"])
                out.append(Stroke("line", piece, base_w * prof,
                                  np.clip(ink * (0.7 + 0.3 * prof), 0, 1), op.label, k))


def _hatch(op, cfg, rng, layer, out):
    """Parallel hatching lines clipped to the region ``op.pts``."""
    poly = np.asarray(op.pts, np.float64)
    lo, hi = poly.min(0), poly.max(0)
    ang = np.radians(rng.uniform(35, 60) * rng.choice([-1, 1]))
    d = np.array([np.cos(ang), np.sin(ang)])
    nrm = np.array([-d[1], d[0]])
    centre = (lo + hi) / 2
    r = np.hypot(*(hi - lo)) / 2
    spacing = rng.uniform(4.5, 6.5) / max(op.thick * cfg["hatch"], 0.3)
    offs = np.arange(-r, r, spacing)
    u = np.arange(-r, r + 1.5, 1.5)
    pts = (centre + (offs + rng.normal(0, 0.6, len(offs)))[:, None, None] * nrm
           + u[None, :, None] * d)                                  # (lines, points, 2)
    keep = inside(poly, pts.reshape(-1, 2)).reshape(pts.shape[:2])
    if op.group == "hair":                          # shade in patches, not everywhere
        keep &= (np.sin(offs / r * 5 + rng.uniform(0, 6)) > 0.1)[:, None]
    edges = np.diff(np.pad(keep.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    for j in range(len(offs)):
        runs = np.flatnonzero(edges[j])
        for a, b in zip(runs[::2], runs[1::2]):
            if b - a >= 3:
                ink = cfg["hatch_ink"] * rng.uniform(0.7, 1.1)
                out.append(Stroke("line", pts[j, a:b], 0.9, ink, op.label, layer))


def _stray_marks(ops, rng, n, layer, out):
    """Marks that belong to nothing: short strokes near the outline, a
    centre or eye construction line, a small scribble (edge class 21)."""
    face = next(op.pts for op in ops if op.kind == "fill" and op.group == "face"
                and len(op.pts) > 40)
    lo, hi = face.min(0), face.max(0)
    for _ in range(n):
        kind = rng.random()
        if kind < 0.6:
            a = face[int(rng.integers(len(face)))]
            a = a + (a - (lo + hi) / 2) * rng.uniform(0.04, 0.15)
            ang = rng.uniform(0, np.pi)
            b = a + rng.uniform(12, 45) * np.array([np.cos(ang), np.sin(ang)])
            pts = np.array([a, (a + b) / 2 + rng.normal(0, 3, 2), b])
        elif kind < 0.8:
            x = (lo[0] + hi[0]) / 2 + rng.normal(0, 3)
            y = lo[1] + (hi[1] - lo[1]) * rng.uniform(0.35, 0.45)
            pts = (np.array([[x, lo[1] + 40], [x, hi[1] - 10]]) if rng.random() < 0.5 else
                   np.array([[lo[0] + 10, y], [hi[0] - 10, y + rng.normal(0, 4)]]))
        else:
            c = rng.uniform(lo, hi)
            pts = c + np.cumsum(rng.normal(0, 4, (8, 2)), 0)
        out.append(Stroke("line", resample(pts, 12), rng.uniform(0.8, 1.6),
                          rng.uniform(0.35, 0.8), E["stray"], layer))


def style_strokes(ops, cfg, rng):
    """The strokes of ``ops`` drawn in style ``cfg``; also returns the
    number of ink layers they use."""
    shift = {g: rng.normal(0, cfg["shift"], 2).clip(-7, 7) for g in _PART_GROUPS}
    hatch_layer = cfg["passes"][1]
    out = []
    for op in ops:
        pts = np.asarray(op.pts, np.float64) + shift.get(op.group, 0.0)
        if op.kind == "fill":
            out.append(Stroke("fill", pts, 0, 0, 0, 0))
        elif op.kind == "ink":
            out.append(Stroke("ink", pts, 0, rng.uniform(*cfg["ink"]) * 0.95, op.label, 0))
        elif op.kind == "dots":
            out.append(Stroke("dots", pts, op.thick, rng.uniform(*cfg["ink"]) * 0.8, op.label, 0))
        elif op.kind == "shade":
            if cfg["hatch"] > 0:
                _hatch(op._replace(pts=pts), cfg, rng, hatch_layer, out)
        elif op.kind == "line" or (op.kind == "extra" and rng.random() < cfg["texture"]):
            _line_strokes(op, pts, cfg, rng, out)
    n_stray = int(rng.integers(cfg["stray"][0], cfg["stray"][1] + 1))
    if n_stray:
        _stray_marks(ops, rng, n_stray, 0, out)
    return out, hatch_layer + 1


def render_style(ops, params, size, style, labels=False):
    """``(sketch, semantic sketch or None)`` of ``ops`` in ``style``."""
    cfg = dict(_DEFAULTS, **SKETCH_STYLES[style])
    rng = np.random.default_rng([params.detail_seed, 21, zlib.crc32(style.encode())])
    strokes, n_layers = style_strokes(ops, cfg, rng)
    grain = paper_grain(rng, size) if cfg["grain"] else None
    img, lab = rasterise(strokes, size, n_layers, grain, labels)
    return img, (match_strokes(lab, img) if labels else None)
