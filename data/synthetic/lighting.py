"""Lighting of the photo: a smooth multiplicative RGB light map (face and
hair shading, soft shadows and highlights, blush and beard-shadow tints)."""

import cv2
import numpy as np

from util.components import CANONICAL_SIZE

from .curves import SUBPIX, arc, fx, thickness


def _mask(shape, polys, s, value=255, img=None):
    img = np.zeros(shape, np.uint8) if img is None else img
    for poly in polys:
        cv2.fillPoly(img, [fx(poly, s)], value, cv2.LINE_AA, SUBPIX)
    return img


def light_map(p, g, size):
    """Multiplicative RGB lighting at quarter resolution (smooth shading)."""
    n = max(16, size // 4)
    s = n / CANONICAL_SIZE
    shp = (n, n)
    hair = g["hair"]
    hair_polys = list(hair["front"])
    if hair["back"] is not None:
        hair_polys.append(hair["back"])
    if hair["tail"] is not None:
        hair_polys.append(hair["tail"]["poly"])
    skin = _mask(shp, [e["outer"] for e in g["ears"]] + [g["body"]["neck"], g["face"]], s)
    _mask(shp, hair["front"], s, 0, skin)
    face = _mask(shp, [g["face"]], s)
    hairm = _mask(shp, hair_polys, s)
    _mask(shp, [g["body"]["neck"], g["face"]], s, 0, hairm)
    _mask(shp, hair["front"], s, 255, hairm)
    sig = 14 * s
    f = lambda m, k=sig: cv2.GaussianBlur(m.astype(np.float32) / 255, (0, 0), k)
    skin_f, hair_f = f(skin, 1.0 * s + 0.5), f(hairm, 1.0 * s + 0.5)
    light = 1.0 - 0.32 * (1.0 - f(face)) * skin_f
    light *= 1.0 - 0.38 * (1.0 - f(hairm)) * hair_f
    light *= 1.0 + 0.3 * f(_hair_sheen(p, g, shp, s), 6 * s) * hair_f
    light *= 1.0 - 0.28 * f(_mask(shp, hair["front"], s), 10 * s) * skin_f * (1 - hair_f)
    shade, high = _shadow_shapes(p, g, shp, s), _highlight_shapes(p, g, shp, s)
    light *= (1.0 - f(shade, 7 * s) * 0.5) * (1.0 + f(high, 9 * s) * 0.3 * (1 - hair_f))
    xs = (np.arange(n, dtype=np.float32) / s - p.cx) / p.face_w
    light *= 1.0 + 0.12 * p.light_x * np.clip(xs, -1.3, 1.3)[None, :]
    rgb = np.repeat(light[:, :, None], 3, axis=2)
    _tints(p, g, rgb, shp, s, skin_f)
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)


def _hair_sheen(p, g, shp, s):
    """A highlight band across the top of the hair."""
    m = np.zeros(shp, np.uint8)
    hair = g["hair"]
    if "outer" not in hair:
        return m
    o, i = hair["outer"], hair["inner"]
    band = o * 0.72 + i * 0.28
    top = band[band[:, 1] < p.hairline_y + 10]
    if len(top) > 2:
        shift = p.light_x * 20
        cv2.polylines(m, [fx(top + [shift, 0], s)], False, 255, thickness(14, s),
                      cv2.LINE_AA, SUBPIX)
    return m


def _shadow_shapes(p, g, shp, s):
    """Soft shadows: eye sockets, nose side, under nose / lip, under the jaw."""
    m = np.zeros(shp, np.uint8)
    jaw = g["face"] + [0, 22]
    cv2.fillPoly(m, [fx(jaw, s)], 130, cv2.LINE_AA, SUBPIX)
    cv2.fillPoly(m, [fx(g["face"], s)], 0, cv2.LINE_AA, SUBPIX)
    for eye in g["eyes"]:
        c = (eye["inner"] + eye["outer"]) / 2
        cv2.fillPoly(m, [fx(arc(c - [0, p.eye_open * 0.7], (p.eye_w * 1.05, p.eye_open * 1.1),
                                  0, 360, 20), s)], 60, cv2.LINE_AA, SUBPIX)
        cv2.polylines(m, [fx(eye["upper"] + [0, 2], s)], False, 110,
                      thickness(5, s), cv2.LINE_AA, SUBPIX)
    side = 1 if p.light_x < 0 else -1
    e = g["eyes"][1 if side > 0 else 0]
    bridge = np.array([e["inner"] + [-side * 8, 6],
                       (p.nose_x + side * p.nose_w * 0.45, p.nose_y - 18)])
    cv2.polylines(m, [fx(bridge, s)], False, 45, thickness(7, s), cv2.LINE_AA, SUBPIX)
    for w in g["nose"]["wings"]:
        cv2.polylines(m, [fx(w, s)], False, 80, thickness(5, s), cv2.LINE_AA, SUBPIX)
    y = p.nose_y + 10
    cv2.fillPoly(m, [fx(arc((p.nose_x, y), (p.nose_w * 0.8, 6), 0, 360, 16), s)],
                 70, cv2.LINE_AA, SUBPIX)
    cv2.fillPoly(m, [fx(arc((p.mouth_x, p.mouth_y + p.lip_low + 8 + p.mouth_open),
                              (p.mouth_w * 0.5, 6), 0, 360, 16), s)], 80, cv2.LINE_AA, SUBPIX)
    return m


def _highlight_shapes(p, g, shp, s):
    """Soft highlights: forehead, nose bridge and tip, cheeks, chin, lower lip."""
    m = np.zeros(shp, np.uint8)
    ey = (p.eye1[1] + p.eye2[1]) / 2
    lx = p.light_x * 14
    spots = [((p.cx + lx, p.hairline_y + 48), (p.face_w * 0.5, 26), 70),
             ((p.nose_x + lx * 0.2, p.nose_y - 8), (p.nose_w * 0.32, 8), 200),
             ((p.nose_x + lx * 0.2, (ey + p.nose_y) / 2), (5, 28), 140),
             ((p.cx, p.chin_y - 18), (p.chin_w * 0.7, 9), 120),
             ((p.mouth_x, p.mouth_y + p.lip_low * 0.5 + p.mouth_open), (p.mouth_w * 0.3, 3), 160)]
    for sx in (-1, 1):
        spots.append(((p.cx + sx * p.face_w * 0.55 + lx, ey + 55), (26, 16),
                      70 if sx * p.light_x >= 0 else 30))
    for c, r, v in spots:
        cv2.fillPoly(m, [fx(arc(c, r, 0, 360, 16), s)], v, cv2.LINE_AA, SUBPIX)
    return m


def _tints(p, g, rgb, shp, s, skin_f):
    """Colour tints in place: cheek blush and beard stubble."""
    ey = (p.eye1[1] + p.eye2[1]) / 2
    if p.blush > 0:
        m = np.zeros(shp, np.uint8)
        for sx in (-1, 1):
            cv2.fillPoly(m, [fx(arc((p.cx + sx * p.face_w * 0.6, ey + 62), (28, 18),
                                      0, 360, 16), s)], 255, cv2.LINE_AA, SUBPIX)
        b = cv2.GaussianBlur(m.astype(np.float32) / 255, (0, 0), 10 * s) * p.blush
        rgb[:, :, 1] *= 1 - b
        rgb[:, :, 2] *= 1 - 0.8 * b
    if p.stubble > 0 and g["facial_hair"] is not None:
        m = np.minimum(_mask(shp, [g["facial_hair"]["region"]], s), _mask(shp, [g["face"]], s))
        cv2.fillPoly(m, [fx(g["mouth"]["upper_lip"], s), fx(g["mouth"]["lower_lip"], s)],
                     0, cv2.LINE_AA, SUBPIX)
        ys = np.arange(shp[0], dtype=np.float32) / s
        ramp = np.clip((ys - p.nose_y - 8) / 60.0, 0, 1)[:, None]
        b = cv2.GaussianBlur(m.astype(np.float32) / 255 * ramp, (0, 0), 4 * s) * skin_f
        ratio = np.array(p.hair_color, np.float32) / np.maximum(p.skin, 1)
        rgb *= 1 - b[:, :, None] * p.stubble * (1 - np.minimum(ratio, 1.2))[None, None, :]
