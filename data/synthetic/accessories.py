"""Geometry of facial hair (stubble, moustache, goatee, beard), glasses and
earrings, built on the head geometry (canonical 512 coordinates)."""

import cv2
import numpy as np

from .curves import arc, normals, resample, rounded_rect, spline
from .hair import side_x


def inside(poly, pts, res=2.0):
    """Which of ``pts`` lie inside ``poly`` (tested on a 1/``res`` raster)."""
    pts = np.asarray(pts, np.float64)
    lo = np.floor(np.minimum(poly.min(0), pts.min(0))) - 2
    hi = np.ceil(np.maximum(poly.max(0), pts.max(0))) + 2
    w, h = (int(v) + 1 for v in (hi - lo) / res)
    m = np.zeros((h, w), np.uint8)
    cv2.fillPoly(m, [np.round((poly - lo) / res * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    ij = np.clip(np.round((pts - lo) / res).astype(int), 0, [w - 1, h - 1])
    return m[ij[:, 1], ij[:, 0]] > 0


def _hairy(pts, rng, amp=1.8, step=4.0):
    """A curve with a fine zigzag along it, so that outlines read as hair."""
    length = float(np.hypot(*np.diff(pts, axis=0).T).sum())
    q = resample(pts, max(4, int(length / step)))
    zig = np.where(np.arange(len(q)) % 2, 1.0, -1.0) * rng.uniform(0.4, 1.0, len(q)) * amp
    zig[[0, -1]] = 0
    return q + normals(q) * zig[:, None]


def _moustache_top(p, h):
    """Top edge of a moustache ``h`` high above the upper lip, image left
    to right, kept below the nose."""
    mx, my, mw = p.mouth_x, p.mouth_y, p.mouth_w
    top = max(p.nose_y + 12, my - p.lip_up - h)
    return spline([(mx - mw - 4, my - p.smile + 4), (mx - mw * 0.62, top + 4), (mx, top),
                   (mx + mw * 0.62, top + 4), (mx + mw + 4, my - p.smile + 4)], 8)


def _jaw_edge(p, g, y0, grow):
    """The face outline below ``y0`` (left side down, round the chin, right
    side up), pushed outwards by up to ``grow`` at the chin."""
    left, right = g["sides"]
    path = np.vstack([left[left[:, 1] >= y0], right[right[:, 1] >= y0][::-1][1:]])
    path = resample(path, 80)
    d = path - [p.cx, p.mouth_y - 60]
    d /= np.hypot(d[:, 0], d[:, 1])[:, None]
    w = np.clip((path[:, 1] - y0) / max(p.chin_y - y0, 1.0), 0, 1) ** 1.5
    return path + d * (1.5 + grow * w)[:, None]


def _full_region(p, g, grow):
    """Beard-shaped region: cheeks below the cheekbones from the sideburns,
    jaw, chin and the whole upper lip up to the nose."""
    left, right = g["sides"]
    ey = (p.eye1[1] + p.eye2[1]) / 2
    y0 = ey + 14
    edge = _jaw_edge(p, g, y0, grow)
    mx, nx, nw = p.mouth_x, p.nose_x, p.nose_w
    cheek_y = y0 + (p.mouth_y - y0) * 0.42
    under = min(p.nose_y + 16, p.mouth_y - p.lip_up - 8)
    upper = spline([(side_x(right, y0) - 13, y0), (p.cx + p.face_w * 0.7, cheek_y),
                    (nx + nw * 1.25, under + 4), (mx, under - 1), (nx - nw * 1.25, under + 4),
                    (p.cx - p.face_w * 0.7, cheek_y), (side_x(left, y0) + 13, y0)], 8)
    return np.vstack([edge, upper])


def _goatee(p):
    """Moustache joined to a chin beard round the mouth."""
    mx, my, mw, bl = p.mouth_x, p.mouth_y, p.mouth_w, p.beard_len
    cw = max(p.chin_w, mw * 0.75)
    top = _moustache_top(p, p.moustache_h)
    side = [(mx + mw + 9, my + 12), (p.cx + cw * 0.95 + 4, p.chin_y - 16),
            (p.cx + cw * 0.45, p.chin_y + bl * 0.7), (p.cx, p.chin_y + bl),
            (p.cx - cw * 0.45, p.chin_y + bl * 0.7), (p.cx - cw * 0.95 - 4, p.chin_y - 16),
            (mx - mw - 9, my + 12)]
    return np.vstack([top, spline([top[-1]] + side + [top[0]], 8)[1:-1]])


def _flicks(poly, rng, n, length, down=1.0):
    """Short hair strokes inside ``poly``, mostly pointing down."""
    lo, hi = poly.min(0), poly.max(0)
    pts = rng.uniform(lo, hi, (n * 4, 2))
    pts = pts[inside(poly, pts)][:n]
    ang = np.pi / 2 + rng.normal(0, 0.35, len(pts))
    ang += (pts[:, 0] - (lo[0] + hi[0]) / 2) / max(hi[0] - lo[0], 1) * 0.9 * down
    ln = length * rng.uniform(0.6, 1.3, len(pts))
    end = pts + np.stack([np.cos(ang), np.sin(ang) * down], 1) * ln[:, None]
    keep = inside(poly, end)
    return [np.array([a, b]) for a, b in zip(pts[keep], end[keep])]


def _dots(poly, rng, n):
    lo, hi = poly.min(0), poly.max(0)
    pts = rng.uniform(lo, hi, (n * 3, 2))
    return pts[inside(poly, pts)][:n]


def facial_hair_geometry(p, g):
    """Polygons, texture strokes and stubble dots of the facial hair.

    ``region`` is the stubble area (always built for facial hair: the
    shaved shadow), ``shapes`` the solid beard / moustache polygons."""
    if p.facial_hair == "none":
        return None
    rng = np.random.default_rng([p.detail_seed, 6])
    region = _full_region(p, g, 0.0)
    out = dict(region=region, shapes=[], flicks=[], sketch_flicks=[],
               dots=_dots(region, rng, 1400), sketch_dots=None)
    if p.facial_hair == "stubble":
        out["sketch_dots"] = out["dots"][:90]
        return out
    if p.facial_hair == "beard":
        shapes = [_full_region(p, g, p.beard_len)]
    elif p.facial_hair == "goatee":
        shapes = [_goatee(p)]
    else:
        top = _moustache_top(p, p.moustache_h)
        shapes = [np.vstack([top, g["mouth"]["top"][::-1] - [0, 0.5]])]
    shapes = [_hairy(poly, rng) for poly in shapes]
    out["shapes"] = shapes
    for poly in shapes:
        size = np.ptp(poly, axis=0).prod()
        out["flicks"] += _flicks(poly, rng, int(size / 50), 7.0)
        out["sketch_flicks"] += _flicks(poly, rng, max(5, int(size / 1500)), 8.0)
    return out


def glasses_geometry(p, g):
    """Lens outlines (round or rectangular), bridge and temples."""
    if p.glasses == "none":
        return None
    rng = np.random.default_rng([p.detail_seed, 9])
    left, right = g["sides"]
    w, h = p.glasses_w, p.glasses_h
    cy = (p.eye1[1] + p.eye2[1]) / 2 + (p.eye_open - p.eye_low) / 2 - 3
    lenses = []
    for ex in (p.eye1[0], p.eye2[0]):
        if p.glasses == "round":
            lenses.append(arc((ex, cy), (w, h), 0, 360, 44))
        else:
            lens = rounded_rect((ex, cy), w, h, rng.uniform(5, 13))
            lens[:, 1] += np.where(lens[:, 1] > cy, -0.08, 0.0) * np.abs(lens[:, 0] - ex)
            lenses.append(resample(np.vstack([lens, lens[:1]]), 48)[:-1])
    yb = cy - h * 0.3
    bridge = spline([(p.eye1[0] + w * 0.97, yb), (p.cx, yb - 6), (p.eye2[0] - w * 0.97, yb)], 8)
    temples = []
    for sgn, side, ex in ((-1, left, p.eye1[0]), (1, right, p.eye2[0])):
        x0 = ex + sgn * w * 0.98
        x1 = x0 + sgn * max(8.0, sgn * (side_x(side, yb) - x0) + 4)
        temples.append(np.array([(x0, yb), (x1, yb + 3)]))
    return dict(lenses=lenses, bridge=bridge, temples=temples)


def earring_geometry(p, ears):
    """Studs or hoops hanging from the ear lobes."""
    if p.earrings == "none":
        return []
    rng = np.random.default_rng([p.detail_seed, 10])
    size = rng.uniform(2.5, 4.5) if p.earrings == "stud" else rng.uniform(7, 13)
    out = []
    for ear in ears:
        o = ear["outer"]
        lobe = o[np.argmax(o[:, 1])] + [0, -3]
        if p.earrings == "stud":
            out.append(dict(kind="stud", poly=arc(lobe, (size, size), 0, 360, 14)))
        else:
            c = (lobe[0], lobe[1] + size - 1)
            out.append(dict(kind="hoop", ring=arc(c, (size * 0.8, size), -90, 270, 28)))
    return out
