"""Geometry of the face: head outline, eyes, brows, nose, mouth, ears,
neck and body, as curves and polygons on the canonical 512 canvas."""

import numpy as np

from .accessories import earring_geometry, facial_hair_geometry, glasses_geometry
from .curves import arc, bump, normals, spline
from .hair import hair_geometry, side_x

def _head_side(p, sign):
    """One half of the head outline (top to chin); sign -1 left, +1 right."""
    k = 1.0 + sign * p.asym
    cx, ey = p.cx, (p.eye1[1] + p.eye2[1]) / 2
    fw, jw, chin = p.face_w * k, p.jaw_w * k, p.chin_w * k
    ctrl = [(cx, p.skull_top),
            (cx + sign * fw * 0.62, p.skull_top + 14),
            (cx + sign * fw * 0.92, ey - 88),
            (cx + sign * fw * 0.99, ey - 20),
            (cx + sign * fw, ey + 40),
            (cx + sign * (jw + (fw - jw) * 0.45), (ey + 40 + p.jaw_y) / 2),
            (cx + sign * jw, p.jaw_y),
            (cx + sign * (chin + (jw - chin) * 0.45), (p.jaw_y + p.chin_y) / 2 + 10),
            (cx + sign * chin, p.chin_y - 6),
            (cx, p.chin_y)]
    pts = spline(ctrl, n=8)
    pts[:, 1] = np.maximum.accumulate(pts[:, 1])   # keep y monotone
    return pts




def _eye_geometry(p, centre, sign):
    """Lids, crease and iris of one eye. ``sign`` +1: outer corner at +x."""
    cx, cy = centre
    ew = p.eye_w
    mid = cy + (p.eye_open - p.eye_low) / 2
    inner = np.array([cx - sign * ew, mid + p.eye_tilt / 2])
    outer = np.array([cx + sign * ew, mid - p.eye_tilt / 2])
    t = np.linspace(0, 1, 24)[:, None]
    base = inner * (1 - t) + outer * t
    upper = base - [0, 1] * (p.eye_open * bump(t, p.eye_peak))
    lower = base + [0, 1] * (p.eye_low * bump(t, 1.25))
    crease = None
    if p.crease > 0:
        tc = np.linspace(0.12, 1.0, 18)[:, None]
        bc = inner * (1 - tc) + outer * tc
        crease = bc - [0, 1] * ((p.eye_open + p.crease) * bump(tc, p.eye_peak * 0.9))
        crease[:, 0] += sign * 3
    iris_c = (cx + p.gaze[0], mid - p.eye_open * 0.18 + p.gaze[1])
    xs = upper[:, 0] if sign > 0 else upper[::-1, 0]
    up_y = upper[:, 1] if sign > 0 else upper[::-1, 1]
    lo_y = lower[:, 1] if sign > 0 else lower[::-1, 1]
    return dict(upper=upper, lower=lower, crease=crease, iris_c=iris_c,
                outline=np.vstack([upper, lower[::-1]]),
                clip=(xs, up_y, lo_y), sign=sign, outer=outer, inner=inner)


def clip_to_eye(eye, pts):
    """Clamp points into the eye opening (used for iris, pupil, glints)."""
    xs, up_y, lo_y = eye["clip"]
    x = np.clip(pts[:, 0], xs[0], xs[-1])
    y = np.clip(pts[:, 1], np.interp(x, xs, up_y), np.interp(x, xs, lo_y))
    return np.stack([x, y], 1)


def _brow_profile(p, t):
    """Height profile (0..1) and thickness factor of a brow along t in [0, 1]
    (inner end to tail) for the brow shapes."""
    head = np.clip(0.72 + 2.0 * t, 0, 1)        # a rounded inner end
    if p.brow_shape == "angled":           # straight rise to a peak, straight fall
        k = 0.64
        h = np.where(t < k, t / k, 1.0 - (t - k) / (1.0 - k) * 0.95)
        h = np.convolve(np.pad(h, 2, mode="edge"), np.ones(5) / 5, "valid")
        return h, head * (1.0 - 0.6 * t ** 1.8)
    if p.brow_shape == "straight":
        return np.sin(np.pi * t) * 0.6 + t * 0.4, head * (1.0 - 0.62 * t ** 1.6)
    return bump(t, 0.75), 1.0 - 0.6 * t ** 1.5


def _brow_geometry(p, eye, sign):
    """Brow polygon: a tapered band above the eye (straight, arched or angled)."""
    cx = (eye["inner"][0] + eye["outer"][0]) / 2
    top = min(eye["upper"][:, 1]) - p.brow_gap
    half = p.eye_w * p.brow_len / 2
    t = np.linspace(0, 1, 20)
    x = cx - sign * half * 0.9 + sign * 2 * half * t
    height, taper = _brow_profile(p, t)
    y = top + 3 - p.brow_arch * height + p.brow_tail * t ** 2
    centre = np.stack([x, y], 1)
    thick = p.brow_thick * taper
    nrm = normals(centre)
    a = centre + nrm * thick[:, None] / 2
    b = centre - nrm * thick[:, None] / 2
    return dict(poly=np.vstack([a, b[::-1]]), centre=centre, thick=thick)


def _nose_geometry(p, eyes):
    """Nose wings (C-shaped arcs), nostrils, tip and an optional side line."""
    x, y, w = p.nose_x, p.nose_y, p.nose_w
    wings, nostrils = [], []
    for s in (-1, 1):
        a0, a1 = (-80, -262) if s < 0 else (-100, 82)
        wings.append(arc((x + s * w * 0.68, y - 3), (w * 0.36, w * 0.46), a0, a1, 18))
        nostrils.append(arc((x + s * w * 0.36, y + 4), (w * 0.21, w * 0.09), 0, 360,
                             16, rot=s * 18))
    tip = spline([(x - w * 0.42, y + 2), (x, y + 6), (x + w * 0.42, y + 2)], 6)
    bridge = None
    if p.nose_bridge:
        s = p.nose_bridge
        e = eyes[1] if s > 0 else eyes[0]
        top = (x + s * w * 0.3, e["inner"][1] + 24)
        bridge = spline([top, (x + s * w * 0.36, (top[1] + y) / 2 + 4),
                          (x + s * w * 0.52, y - w * 0.52)], 6)
    return dict(wings=wings, nostrils=nostrils, tip=tip, bridge=bridge)


def _mouth_geometry(p):
    """Lip outlines, the mouth line and (open mouth) the gap and teeth."""
    x, y, w = p.mouth_x, p.mouth_y, p.mouth_w
    sm, up, lo = p.smile, p.lip_up, p.lip_low
    dx = np.linspace(-1, 1, 31)
    line = np.stack([x + dx * w, y - sm * dx ** 2 + 1.5 * np.exp(-(dx / 0.15) ** 2)], 1)
    gap = p.mouth_open * (1 - dx ** 2)
    lower_in = line + np.stack([0 * dx, gap], 1)
    left, right = line[0], line[-1]
    top = spline([left, (x - 0.62 * w, y - up * 0.7 - sm * 0.45),
                   (x - 0.27 * w, y - up - 1), (x, y - up * 0.7),
                   (x + 0.27 * w, y - up - 1), (x + 0.62 * w, y - up * 0.7 - sm * 0.45),
                   right], 6)
    bottom = spline([left, (x - 0.58 * w, y + lo * 0.7 - sm * 0.3 + p.mouth_open * 0.6),
                      (x, y + lo + p.mouth_open),
                      (x + 0.58 * w, y + lo * 0.7 - sm * 0.3 + p.mouth_open * 0.6),
                      right], 6)
    out = dict(line=line, top=top, bottom=bottom,
               upper_lip=np.vstack([top, line[::-1]]),
               lower_lip=np.vstack([lower_in, bottom[::-1]]), gap=None, tooth_lines=[])
    if p.mouth_open > 0:
        out["gap"] = np.vstack([line, lower_in[::-1]])
        edge = line + np.stack([0 * dx, gap * 0.55], 1)             # teeth bottom
        out["teeth"] = np.vstack([line, edge[::-1]])
        out["tooth_lines"] = [np.array([line[i] + [0, 1.5], edge[i] - [0, 0.5]])
                              for i in (6, 11, 15, 19, 24) if gap[i] > 4]
    return out


def _ear_geometry(p, sides, sign):
    """Ear ellipse (mostly hidden behind the face) and its inner fold."""
    y0, y1 = (p.eye1[1] - 12), p.nose_y + 2
    cy, h = (y0 + y1) / 2, (y1 - y0) / 2
    x = side_x(sides[sign > 0], cy) + sign * p.ear_w * 0.25
    outer = arc((x, cy), (p.ear_w, h), 0, 360, 28)
    inner = arc((x + sign * 1.0, cy + 2), (p.ear_w * 0.5, h * 0.62),
                 -70 if sign > 0 else -110, 60 if sign > 0 else -240, 12)
    return dict(outer=outer, inner=inner)


def _neck_body(p):
    """Neck with the shirt neckline, and the shoulders (body)."""
    cx, nw = p.cx, p.neck_w
    ytop = p.jaw_y - 40
    base = p.shoulder_y - 18
    neck = np.vstack([
        [[cx - nw, ytop], [cx - nw * 0.98, base - 8]],
        spline([(cx - nw * 1.0, base - 8), (cx - nw * 1.35, base + 8),
                 (cx - nw * 0.8, base + p.neckline * 0.6), (cx, base + p.neckline),
                 (cx + nw * 0.8, base + p.neckline * 0.6), (cx + nw * 1.35, base + 8),
                 (cx + nw * 1.0, base - 8)], 6),
        [[cx + nw, ytop]]])
    shoulders = spline([(-40, p.shoulder_y + 60), (cx - nw * 2.6, p.shoulder_y + 18),
                         (cx - nw * 1.3, base + 2), (cx, base),
                         (cx + nw * 1.3, base + 2), (cx + nw * 2.6, p.shoulder_y + 18),
                         (552, p.shoulder_y + 60)], 8)
    body = np.vstack([shoulders, [[552, 600], [-40, 600]]])
    side_l = np.array([[cx - nw, p.jaw_y - 10], [cx - nw * 0.98, base - 8]])
    side_r = side_l * [-1, 1] + [2 * cx, 0]
    neckline = neck[2:-1]
    return dict(neck=neck, body=body, shoulders=shoulders,
                neck_lines=[side_l, side_r], neckline=neckline)



def _cheek_lines(p):
    """Smile folds from beside the nose wings towards the mouth corners."""
    if not p.cheek_lines:
        return []
    out = []
    for sgn in (-1, 1):
        top = (p.nose_x + sgn * p.nose_w * 1.15, p.nose_y - 2)
        end = (p.mouth_x + sgn * (p.mouth_w + 6 + p.smile * 0.3), p.mouth_y - p.smile + 2)
        mid = ((top[0] + end[0]) / 2 + sgn * (5 + p.smile * 0.4), (top[1] + end[1]) / 2)
        out.append(spline([top, mid, end], 6))
    return out


def build_geometry(p):
    """All curves and polygons of the face, in canonical 512 coordinates."""
    sides = (_head_side(p, -1), _head_side(p, 1))
    face = np.vstack([sides[1], sides[0][::-1][1:-1]])
    eyes = [_eye_geometry(p, p.eye1, -1), _eye_geometry(p, p.eye2, 1)]
    g = dict(
        sides=sides, face=face, eyes=eyes,
        brows=[_brow_geometry(p, eyes[0], -1), _brow_geometry(p, eyes[1], 1)],
        nose=_nose_geometry(p, eyes), mouth=_mouth_geometry(p),
        ears=[_ear_geometry(p, sides, -1), _ear_geometry(p, sides, 1)],
        body=_neck_body(p), hair=hair_geometry(p, sides), cheeks=_cheek_lines(p))
    g["earrings"] = earring_geometry(p, g["ears"])
    g["facial_hair"] = facial_hair_geometry(p, g)
    g["glasses"] = glasses_geometry(p, g)
    return g
