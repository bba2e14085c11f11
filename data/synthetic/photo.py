"""Photo painting: flat colour shapes in back-to-front order, times a soft
light map (``lighting.py``), then a light blur (no noise: PNGs stay small).

The painting order is the sketch's op order (``sketch.sketch_ops``) and the
label map's (``labels.parsing_map``): background, long hair behind the head,
clothes, ponytail, neck, ears and earrings, face, cheek lines, facial hair,
brows and eyes, nose and mouth, glasses, bun, front hair.
"""

import cv2
import numpy as np

from util.components import CANONICAL_SIZE

from .curves import SUBPIX, arc, fx, thickness
from .geometry import clip_to_eye
from .lighting import light_map
from .sampling import mix


class _Canvas:
    """A colour canvas plus a foreground mask, drawn in canonical units."""

    def __init__(self, size, background):
        self.s = size / CANONICAL_SIZE
        self.img = background
        self.fg = np.zeros((size, size), np.uint8)

    def fill(self, pts, color):
        pts = [fx(pts, self.s)]
        cv2.fillPoly(self.img, pts, color, cv2.LINE_AA, SUBPIX)
        cv2.fillPoly(self.fg, pts, 255, cv2.LINE_AA, SUBPIX)

    def line(self, pts, color, thick, closed=False):
        cv2.polylines(self.img, [fx(pts, self.s)], closed, color,
                      thickness(thick, self.s), cv2.LINE_AA, SUBPIX)

    def strokes(self, polys, color, factors, thicks):
        """Many open polylines in shades ``color * factors`` (quantised, so
        that strokes of one shade and width are drawn in one call)."""
        if not len(polys):
            return
        q = np.round(np.asarray(factors) / 0.06).astype(int)
        t = np.array([thickness(v, self.s) for v in thicks])
        same = len({len(poly) for poly in polys}) == 1
        pts = fx(np.asarray(polys), self.s) if same else [fx(poly, self.s) for poly in polys]
        for key in set(zip(q.tolist(), t.tolist())):
            idx = np.flatnonzero((q == key[0]) & (t == key[1]))
            cv2.polylines(self.img, [pts[i] for i in idx], False, shade(color, key[0] * 0.06),
                          key[1], cv2.LINE_AA, SUBPIX)

    def dots(self, pts, color, radius):
        """Dots as very short thick strokes, all in one call."""
        if len(pts):
            q = fx(np.stack([pts, pts + [radius * 0.5, 0]], 1), self.s)
            cv2.polylines(self.img, list(q), False, color, thickness(2 * radius, self.s),
                          cv2.LINE_AA, SUBPIX)

    def blend(self, pts, color, alpha):
        """Mix ``color`` into the polygon with opacity ``alpha``."""
        q = fx(pts, self.s)
        h, w = self.fg.shape
        x0, y0 = np.clip(q.min(0) >> SUBPIX, 0, [w, h])
        x1, y1 = np.clip((q.max(0) >> SUBPIX) + 2, 0, [w, h])
        if x1 <= x0 or y1 <= y0:
            return
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(m, [q - [x0 << SUBPIX, y0 << SUBPIX]], 255, cv2.LINE_AA, SUBPIX)
        a = m.astype(np.float32)[:, :, None] * (alpha / 255.0)
        roi = self.img[y0:y1, x0:x1].astype(np.float32)
        self.img[y0:y1, x0:x1] = (roi * (1 - a) + np.float32(color) * a + 0.5).astype(np.uint8)


def shade(color, k):
    return tuple(int(min(255, round(c * k))) for c in color)


def _background(p, size):
    top, bottom = np.array(p.bg_top, np.float32), np.array(p.bg_bottom, np.float32)
    t = np.linspace(0, 1, size, dtype=np.float32)[:, None]
    col = top * (1 - t) + bottom * t
    return np.ascontiguousarray(np.broadcast_to(col[:, None, :], (size, size, 3))
                                .astype(np.uint8))


def _paint_eye(c, p, eye, brow):
    skin, hair = p.skin, p.hair_color
    brow_col = mix(mix(hair, (20, 16, 14), 0.25), skin, 0.25)
    c.fill(brow["poly"], brow_col)
    rng = np.random.default_rng([p.detail_seed, 2 + eye["sign"]])
    cen, th = brow["centre"], brow["thick"]
    for _ in range(14):
        j = int(rng.integers(2, len(cen) - 3))
        off = rng.uniform(-0.35, 0.35) * th[j]
        a = cen[j] + [0, off]
        b = cen[j + 3] + [0, off * 0.6 + rng.normal(0, 1)]
        c.line(np.array([a, b]), shade(brow_col, rng.uniform(0.55, 0.85)), 1.2)
    c.fill(eye["outline"], mix((236, 232, 228), skin, 0.12))
    r, ic = p.iris_r, eye["iris_c"]
    c.fill(clip_to_eye(eye, arc(ic, (r, r), 0, 360, 40)), shade(p.iris_color, 0.7))
    c.fill(clip_to_eye(eye, arc(ic, (r * 0.8, r * 0.8), 0, 360, 32)), p.iris_color)
    c.fill(clip_to_eye(eye, arc(ic, (r * 0.42, r * 0.42), 0, 360, 20)), (16, 12, 12))
    glint = (ic[0] + r * 0.35 * p.light_x - r * 0.1, ic[1] - r * 0.3)
    xs, up_y, _ = eye["clip"]
    if glint[1] - r * 0.15 > np.interp(glint[0], xs, up_y):
        c.fill(arc(glint, (r * 0.16, r * 0.16), 0, 360, 10), (245, 245, 245))
    lash = mix((24, 18, 18), hair, 0.2)
    c.line(eye["upper"], lash, p.lash)
    if p.gender == "female":                  # winged lashes at the outer corner
        o, d, up = eye["outer"], eye["sign"], eye["upper"]
        c.fill(np.array([up[-7] + [0, -p.lash * 0.4], o + [d * 10, -7], o + [0, 1.5]]), lash)
    c.line(eye["lower"], shade(skin, 0.62), 1.6)
    if eye["crease"] is not None:
        c.line(eye["crease"], shade(skin, 0.72), 1.6)


def _paint_nose_mouth(c, p, g):
    skin, nose, m = p.skin, g["nose"], g["mouth"]
    for w in nose["wings"]:
        c.line(w, shade(skin, 0.74), 2.0)
    for n in nose["nostrils"]:
        c.fill(n, shade(skin, 0.38))
    c.line(nose["tip"], shade(skin, 0.84), 1.5)
    lip = p.lip_color
    c.fill(m["upper_lip"], shade(lip, 0.82))
    c.fill(m["lower_lip"], lip)
    if m["gap"] is not None:
        c.fill(m["gap"], (58, 22, 28))
        c.fill(m["teeth"], (236, 232, 222))
        for t in m["tooth_lines"]:
            c.line(t, (196, 190, 180), 1.0)
    c.line(m["line"], shade(lip, 0.45), 2.0)


def _strand_range(col):
    return (0.6, 1.5) if max(col) < 80 else (0.72, 1.22)


def _paint_hair(c, p, g, layer):
    hair, col = g["hair"], p.hair_color
    rng = np.random.default_rng([p.detail_seed, 4])
    lo, hi = _strand_range(col)
    if layer == "back":
        if hair["back"] is not None:
            c.fill(hair["back"], shade(col, 0.62))
        return
    if layer == "tail":
        tail = hair["tail"]
        if tail is not None:
            c.fill(tail["poly"], shade(col, 0.85))
            n = len(tail["strands"])
            c.strokes([st[4:-2] for st in tail["strands"]], col, rng.uniform(lo, hi, n),
                      rng.uniform(1.0, 2.0, n))
        return
    if hair["bun"] is not None:
        b = hair["bun"]
        c.fill(arc(b["c"], (b["r"], b["r"] * 0.9), 0, 360, 32), shade(col, 0.9))
    front_col = mix(p.skin, col, hair["tint"]) if hair["tint"] < 1 else col
    for poly in hair["front"]:
        c.fill(poly, front_col)
    if hair["tint"] < 1 or not (hair["strands"] or hair["curls"]):
        return
    n, m = len(hair["strands"]), len(hair["curls"])
    c.strokes(hair["strands"], col, rng.uniform(lo, hi, n), rng.uniform(0.8, 1.6, n))
    if m:                                        # dark curls with a light rim
        curls = np.asarray(hair["curls"])
        c.strokes(curls, col, rng.uniform(lo * 0.8, 0.9, m), rng.uniform(1.6, 2.6, m))
        c.strokes(curls - [0.8, 0.8], col, rng.uniform(1.05, hi * 1.1, m), np.ones(m))
    if hair["part_line"] is not None:
        c.line(hair["part_line"], shade(col, 0.5), 2.5)


def _paint_facial_hair(c, p, g):
    fh = g["facial_hair"]
    if fh is None:
        return
    rng = np.random.default_rng([p.detail_seed, 5])
    col = shade(p.hair_color, 0.8)
    c.dots(fh["dots"], mix(p.skin, col, 0.3), 0.8)
    lo, hi = _strand_range(col)
    for poly in fh["shapes"]:
        c.fill(poly, mix(col, p.skin, 0.12))
    n = len(fh["flicks"])
    c.strokes(fh["flicks"], col, rng.uniform(lo, hi, n), rng.uniform(0.9, 1.6, n))


def _paint_glasses(c, p, g):
    gl = g["glasses"]
    if gl is None:
        return
    for lens in gl["lenses"]:
        c.blend(lens, (235, 240, 248), 0.10)
        lo, hi = lens.min(0), lens.max(0)
        glare = np.array([[lo[0] + (hi[0] - lo[0]) * 0.25, hi[1] - 4], [hi[0] - 4, lo[1] + 6],
                          [hi[0] - 4, lo[1] + 18], [lo[0] + (hi[0] - lo[0]) * 0.45, hi[1] - 4]])
        c.blend(glare, (255, 255, 255), 0.12)
        c.line(lens, p.glasses_color, p.glasses_thick, closed=True)
    for q in [gl["bridge"]] + gl["temples"]:
        c.line(q, p.glasses_color, p.glasses_thick)


def _paint_earrings(c, p, g):
    for e in g["earrings"]:
        if e["kind"] == "stud":
            c.fill(e["poly"], p.earring_color)
            lo = e["poly"].min(0)
            c.fill(arc(lo + np.ptp(e["poly"], axis=0) * 0.35, (1.0, 1.0), 0, 360, 8),
                   shade(p.earring_color, 1.3))
        else:
            c.line(e["ring"], p.earring_color, 2.4)


def _paint_flat(p, g, size):
    """Flat-coloured shapes in back-to-front order."""
    c = _Canvas(size, _background(p, size))
    skin, body = p.skin, g["body"]
    c.fill(body["body"], p.shirt_color)
    _paint_hair(c, p, g, "back")
    _paint_hair(c, p, g, "tail")
    c.fill(body["neck"], shade(skin, 0.97))
    for ear in g["ears"]:
        c.fill(ear["outer"], shade(skin, 0.96))
        c.line(ear["inner"], shade(skin, 0.72), 2.0)
    _paint_earrings(c, p, g)
    c.fill(g["face"], skin)
    for cheek in g["cheeks"]:
        c.line(cheek, shade(skin, 0.88), 2.2)
    _paint_facial_hair(c, p, g)
    for eye, brow in zip(g["eyes"], g["brows"]):
        _paint_eye(c, p, eye, brow)
    _paint_nose_mouth(c, p, g)
    _paint_glasses(c, p, g)
    _paint_hair(c, p, g, "front")
    return c


def paint_photo(p, g, size):
    """Flat shapes times the light map (foreground only), softly blurred."""
    c = _paint_flat(p, g, size)
    light = light_map(p, g, size)
    fg = c.fg.astype(np.float32) * (1.0 / 255)
    img = c.img.astype(np.float32) * (1.0 + (light - 1.0) * fg[:, :, None])
    img = cv2.GaussianBlur(img, (0, 0), max(0.4, 0.9 * c.s))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
