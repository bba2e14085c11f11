"""Curve and drawing helpers shared by the geometry, photo and sketch code.

Coordinates are (x, y) in canonical 512 pixels; :func:`fx` scales them to
cv2's fixed-point integers for a canvas of another size.
"""

import numpy as np

from util.components import BOXES_512

SUBPIX = 4                 # fixed-point bits for cv2 drawing
FX = float(1 << SUBPIX)


def box_centre(key):
    x, y, s = BOXES_512[key]
    return (x + s / 2.0, y + s / 2.0)



def spline(points, n=10, closed=False):
    """Catmull-Rom curve through ``points`` with ``n`` samples per segment."""
    p = np.asarray(points, np.float64)
    if closed:
        p = np.vstack([p[-1:], p, p[:2]])
    else:
        p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0.0, 1.0, n, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    segs = []
    for i in range(len(p) - 3):
        p0, p1, p2, p3 = p[i], p[i + 1], p[i + 2], p[i + 3]
        segs.append(0.5 * (2 * p1 + (p2 - p0) * t
                           + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                           + (3 * p1 - p0 - 3 * p2 + p3) * t3))
    if not closed:
        segs.append(p[-2][None])
    return np.vstack(segs)


def resample(pts, n):
    """``n`` points evenly spaced along the polyline ``pts``."""
    seg = np.hypot(*np.diff(pts, axis=0).T)
    d = np.concatenate([[0.0], np.cumsum(seg)])
    if d[-1] <= 0:
        return np.repeat(pts[:1], n, axis=0)
    u = np.linspace(0.0, d[-1], n)
    return np.stack([np.interp(u, d, pts[:, 0]), np.interp(u, d, pts[:, 1])], 1)


def arc(centre, radii, a0, a1, n=24, rot=0.0):
    """Points of an (optionally rotated) ellipse arc, angles in degrees."""
    a = np.radians(np.linspace(a0, a1, n))
    x, y = radii[0] * np.cos(a), radii[1] * np.sin(a)
    r = np.radians(rot)
    return np.stack([centre[0] + x * np.cos(r) - y * np.sin(r),
                     centre[1] + x * np.sin(r) + y * np.cos(r)], 1)


def bump(t, power):
    """A lid-like profile on t in [0, 1]: 0 at both ends, 1 at the peak."""
    return np.sin(np.pi * np.clip(t, 0, 1) ** power)


def lerp_curve(a, b, t):
    """Point at fractional position ``t`` (0..1) along the resampled curve."""
    idx = t * (len(a) - 1)
    i = np.clip(np.floor(idx).astype(int), 0, len(a) - 2)
    f = (idx - i)[:, None]
    return a[i] * (1 - f) + a[i + 1] * f, b[i] * (1 - f) + b[i + 1] * f



def fx(pts, s):
    return np.round(np.asarray(pts) * (s * FX)).astype(np.int32)


def thickness(t, s):
    return max(1, int(round(t * s)))



def normals(pts):
    """Unit normals of a polyline (the tangent turned by +90 degrees)."""
    d = np.gradient(np.asarray(pts, np.float64), axis=0)
    n = np.hypot(d[:, 0], d[:, 1])[:, None]
    return np.stack([-d[:, 1], d[:, 0]], 1) / np.maximum(n, 1e-9)


def rounded_rect(centre, half_w, half_h, radius, n=6):
    """Closed outline of a rounded rectangle (clockwise on screen)."""
    cx, cy = centre
    r = min(radius, half_w, half_h)
    pts = []
    for (sx, sy, a0) in ((1, 1, 0), (-1, 1, 90), (-1, -1, 180), (1, -1, 270)):
        c = (cx + sx * (half_w - r), cy + sy * (half_h - r))
        pts.append(arc(c, (r, r), a0, a0 + 90, n))
    return np.vstack(pts)
