"""Rasterising hand-drawn strokes: several ink layers (one per pass plus
one for shading) multiplied together, so that overdrawn strokes darken
where they cross, and the matching stroke-label raster.

A :class:`Stroke` is ``(kind, pts, width, ink, label, layer)`` in canonical
512 units: ``line`` (``width`` and ``ink`` per point), ``fill`` (white:
clears every layer, hiding what was drawn before), ``ink`` (a filled
polygon) or ``dots`` (``width`` is the dot radius).
"""

from collections import namedtuple

import cv2
import numpy as np

from util.components import CANONICAL_SIZE

from .curves import SUBPIX, fx

Stroke = namedtuple("Stroke", "kind pts width ink label layer")

_CHUNK = 4                  # segments per constant-width piece of a line


def _chunks(st, s):
    """(points, pixel thickness, ink 0..255) pieces of a line stroke with a
    constant width and darkness; lines thinner than a pixel at this size get
    lighter instead. Neighbouring chunks that round alike are merged."""
    q = fx(st.pts, s)
    n = len(q)
    if np.ndim(st.width) == 0 and np.ndim(st.ink) == 0:            # constant: one piece
        wpx = st.width * s
        return [(q, max(1, int(round(wpx))), int(round(255 * st.ink * min(1.0, wpx + 0.45))))]
    start = np.arange(0, n - 1, _CHUNK)
    end = np.minimum(start + _CHUNK + 1, n)

    def means(v):
        c = np.concatenate([[0.0], np.cumsum(np.broadcast_to(np.asarray(v, float), (n,)))])
        return (c[end] - c[start]) / (end - start)

    wpx = means(st.width) * s
    t = np.maximum(1, np.round(wpx)).astype(int)
    k = np.round(255 * means(st.ink) * np.minimum(1.0, wpx + 0.45)).astype(int)
    brk = np.flatnonzero((np.diff(t) != 0) | (np.diff(k) != 0)) + 1
    out = []
    for a, b in zip(np.r_[0, brk], np.r_[brk, len(start)]):
        out.append((q[start[a]:end[b - 1]], int(t[a]), int(k[a])))
    return out


def rasterise(strokes, size, n_layers, grain=None, labels=False):
    """Black-on-white image of ``strokes`` (uint8) and, with ``labels``,
    the strokes' edge classes drawn aliased in the same order (white fills
    clear to 0). ``grain`` (size x size, 0..1) scales the ink like paper
    texture."""
    s = size / CANONICAL_SIZE
    layers = np.zeros((n_layers, size, size), np.uint8)
    lab = np.zeros((size, size), np.uint8) if labels else None
    aa, al = cv2.LINE_AA, cv2.LINE_8
    for st in strokes:
        if st.kind == "fill":
            poly = [fx(st.pts, s)]
            for layer in layers:
                cv2.fillPoly(layer, poly, 0, aa, SUBPIX)
            if labels:
                cv2.fillPoly(lab, poly, 0, al, SUBPIX)
            continue
        layer = layers[min(st.layer, n_layers - 1)]
        if st.kind == "ink":
            poly = [fx(st.pts, s)]
            cv2.fillPoly(layer, poly, int(255 * st.ink), aa, SUBPIX)
            if labels:
                cv2.fillPoly(lab, poly, st.label, al, SUBPIX)
        elif st.kind == "dots":
            r = max(1, int(round(st.width * s * (1 << SUBPIX))))
            for c in fx(st.pts, s):
                centre = (int(c[0]), int(c[1]))
                cv2.circle(layer, centre, r, int(255 * st.ink), -1, aa, SUBPIX)
                if labels:
                    cv2.circle(lab, centre, r, st.label, -1, al, SUBPIX)
        else:
            for q, t, k in _chunks(st, s):
                cv2.polylines(layer, [q], False, k, t, aa, SUBPIX)
                if labels:
                    cv2.polylines(lab, [q], False, st.label, t, al, SUBPIX)
    paper = np.ones((size, size), np.float32)
    for layer in layers:
        paper *= 1.0 - layer.astype(np.float32) * (1.0 / 255)
    if grain is not None:
        paper = 1.0 - (1.0 - paper) * grain
    return np.clip(paper * 255.0 + 0.5, 0, 255).astype(np.uint8), lab


def paper_grain(rng, size):
    """Pencil-on-paper texture: 0.45..1 multiplier of the ink."""
    n = max(8, size // 2)
    g = rng.random((n, n)).astype(np.float32)
    g = cv2.resize(g, (size, size), interpolation=cv2.INTER_LINEAR)
    streak = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 0.6)
    return 0.45 + 0.55 * np.clip(0.6 * g + 0.6 * streak, 0, 1)
