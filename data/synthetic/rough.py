"""Rough, hand-drawn-looking variants of the sketch (``make_rough``)."""

import cv2
import numpy as np

from util.components import CANONICAL_SIZE, scaled_boxes

from .curves import resample
from .geometry import build_geometry
from .sketch import Op, draw_ops, sketch_ops

_PART_GROUPS = ("eye1", "eye2", "brow1", "brow2", "nose", "mouth")


def wobble(pts, rng, amp):
    """Resample a stroke and add smooth low-frequency wobble plus tremor."""
    length = np.hypot(*np.diff(pts, axis=0).T).sum()
    n = int(np.clip(length / 3.0, 4, 400))
    q = resample(pts, n)
    knots = max(2, int(length / 40) + 2)
    kx, ky = rng.normal(0, amp, (2, knots))
    u = np.linspace(0, knots - 1, n)
    q[:, 0] += np.interp(u, np.arange(knots), kx) + rng.normal(0, amp * 0.15, n)
    q[:, 1] += np.interp(u, np.arange(knots), ky) + rng.normal(0, amp * 0.15, n)
    return q


def break_stroke(q, rng, strength):
    """Split a stroke (points ~3 px apart) into pieces with short gaps of
    6-18 px, about one per 250 px, and sometimes trim an end."""
    n = len(q)
    keep = np.ones(n, bool)
    if n > 12:
        for _ in range(rng.poisson(strength * (0.2 + n / 80.0))):
            a = int(rng.integers(2, n - 4))
            keep[a:a + int(rng.integers(2, 7))] = False
    if n > 8 and rng.random() < 0.3 * strength:
        cut = int(rng.integers(1, min(6, n // 4) + 1))
        if rng.random() < 0.5:
            keep[:cut] = False
        else:
            keep[-cut:] = False
    pieces, start = [], None
    for i, k in enumerate(np.append(keep, False)):
        if k and start is None:
            start = i
        elif not k and start is not None:
            if i - start >= 2:
                pieces.append(q[start:i])
            start = None
    return pieces


def rough_ops(ops, rng, strength):
    """Perturbed copies of sketch ops (see :func:`make_rough`)."""
    shift = {grp: rng.normal(0, 3.0 * strength, 2).clip(-8, 8) for grp in _PART_GROUPS}
    out = []
    for op in ops:
        kind, grp, pts, thick, closed, label = op
        pts = np.asarray(pts, np.float64) + shift.get(grp, 0.0)
        if kind != "line":
            out.append(op._replace(pts=pts))
            continue
        if closed:
            pts = np.vstack([pts, pts[:1]])
        short = np.hypot(*np.diff(pts, axis=0).T).sum() < 160
        if short and rng.random() < 0.08 * strength:
            continue                                   # missing stroke
        t = max(1.0, thick * rng.uniform(0.75, 1.3))
        q = wobble(pts, rng, 1.6 * strength)
        out += [Op("line", grp, piece, t, False, label)
                for piece in break_stroke(q, rng, strength)]
        if rng.random() < 0.22 * strength:              # doubled stroke
            q2 = wobble(pts, rng, 1.6 * strength) + rng.normal(0, 2.5 * strength, 2)
            m = len(q2)
            a = int(rng.integers(0, max(1, m - 4)))
            b = min(m, a + int(rng.integers(4, max(5, min(m, 60)))))
            out.append(Op("line", grp, q2[a:b], max(1.0, t * 0.7), False, label))
    return out


def rough_raster(sketch, rng, strength):
    """Roughen a sketch image directly (used when no geometry is given)."""
    size = sketch.shape[0]
    s = size / CANONICAL_SIZE
    ink = (255 - sketch).astype(np.float32)
    # component misplacement
    for key in ("eye1", "eye2", "nose", "mouth"):
        x, y, w = scaled_boxes(size)[key]
        d = rng.normal(0, 3 * strength * s, 2)
        sub = ink[y:y + w, x:x + w].copy()
        ink[y:y + w, x:x + w] = cv2.warpAffine(
            sub, np.float32([[1, 0, d[0]], [0, 1, d[1]]]), (w, w))
    # smooth wobble
    k = 6
    field = rng.normal(0, 2.0 * strength * s, (2, k, k)).astype(np.float32)
    fx, fy = (cv2.resize(f, (size, size), interpolation=cv2.INTER_CUBIC) for f in field)
    gx, gy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
    ink = cv2.remap(ink, gx + fx, gy + fy, cv2.INTER_LINEAR)
    # doubled strokes in a few regions
    step = max(2, int(round(4 * s)))
    dbl = np.roll(ink, tuple(int(v) for v in rng.integers(-1, 2, 2) * step), (0, 1))
    region = np.zeros_like(ink)
    for _ in range(int(rng.integers(1, 4))):
        c = rng.integers(0, size, 2)
        cv2.circle(region, (int(c[0]), int(c[1])), int(70 * s), 1.0, -1)
    ink = np.maximum(ink, dbl * region)
    # gaps
    gaps = np.ones_like(ink)
    ys, xs = np.nonzero(ink > 128)
    if len(xs):
        for j in rng.integers(0, len(xs), int(25 * strength)):
            r = max(2, int(round(rng.uniform(4, 9) * s)))
            cv2.circle(gaps, (int(xs[j]), int(ys[j])), r, 0.0, -1)
    return (255 - np.clip(ink * gaps, 0, 255)).astype(np.uint8)


def make_rough(sketch, rng, strength=1.0, params=None):
    """A rough, hand-drawn-looking variant of ``sketch`` (same size, uint8).

    Strokes wobble, break into pieces, are sometimes doubled or missing,
    and the eyes, brows, nose and mouth are shifted by a few pixels. With
    ``params`` (the sketch's :class:`FaceParams`) the strokes are redrawn from
    the geometry; without, the raster itself is warped and cut.
    """
    if params is None:
        return rough_raster(sketch, rng, strength)
    ops = sketch_ops(build_geometry(params), params)
    return draw_ops(rough_ops(ops, rng, strength), sketch.shape[0])
