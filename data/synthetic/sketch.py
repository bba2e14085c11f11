"""Line sketch: a list of drawing operations and their rasterisation.

An op is an :class:`Op` ``(kind, group, pts, thick, closed, label)``:

* ``fill``  paints the polygon white (hides what is behind it),
* ``ink``   fills it black (pupils, nostrils),
* ``line``  strokes the polyline,
* ``dots``  stamps dots of radius ``thick`` at the points (stubble),
* ``extra`` a texture line (more hair strands, curls, beard hairs) that only
  the hand-drawn styles draw,
* ``shade`` a region (polygon) that hatching styles shade; ``thick`` is the
  shading strength.

``group`` names the face part (rough sketches move parts as a whole) and
``label`` is the stroke's edge class (``labels.EDGE_CLASSES``). The ops are
listed back to front in the photo's painting order; the clean sketch draws
the first four kinds.
"""

from collections import namedtuple

import cv2
import numpy as np

from util.components import CANONICAL_SIZE

from .accessories import inside
from .curves import SUBPIX, arc, fx, thickness
from .geometry import clip_to_eye
from .labels import E

Op = namedtuple("Op", "kind group pts thick closed label")

_CLEAN_STRANDS = 6          # hair strands in the clean sketch (the rest are extras)
_CLEAN_CURLS = 32


def _hair_back_ops(g, p):
    hair, ops = g["hair"], []
    if hair["back"] is not None:
        ops.append(Op("fill", "hair", hair["back"], 0, True, E["hair"]))
        if hair["loops"] is None:
            ops.append(Op("line", "hair", hair["back"][:-1], 2.2, False, E["hair"]))
    return ops


def _tail_ops(g):
    tail = g["hair"]["tail"]
    if tail is None:
        return []
    ops = [Op("fill", "hair", tail["poly"], 0, True, E["hair"]),
           Op("line", "hair", tail["poly"], 2.2, True, E["hair"])]
    kinds = ["line"] * 2 + ["extra"] * (len(tail["strands"]) - 2)
    return ops + [Op(k, "hair", st[8:-6], 1.4, False, E["hair"])
                  for k, st in zip(kinds, tail["strands"])]


def _face_outline_ops(g, p):
    """The face outline, split into runs of jaw / chin against the neck
    (18), against hair behind the face (17) and elsewhere (10)."""
    face = g["face"]
    pts = np.vstack([face, face[:1]])
    lab = np.full(len(pts), E["face"])
    neck = (np.abs(pts[:, 0] - p.cx) < p.neck_w * 1.02) & (pts[:, 1] > p.jaw_y - 40)
    lab[neck] = E["jaw"]
    if g["hair"]["back"] is not None:
        lab[~neck & inside(g["hair"]["back"], pts + (pts - [p.cx, p.nose_y]) * 0.03)] = \
            E["hairline"]
    cut = np.flatnonzero(np.diff(lab)) + 1
    ops, start = [], 0
    for end in list(cut) + [len(pts)]:
        run = pts[max(start - 1, 0):end]
        ops.append(Op("line", "face", run, 2.4, False, int(lab[start])))
        start = end
    return ops


def _facial_hair_ops(g):
    fh = g["facial_hair"]
    if fh is None:
        return []
    ops = []
    if fh["sketch_dots"] is not None:
        ops.append(Op("dots", "beard", fh["sketch_dots"], 0.9, False, E["hair"]))
    for poly in fh["shapes"]:
        ops += [Op("fill", "beard", poly, 0, True, E["hair"]),
                Op("line", "beard", poly, 2.0, True, E["hair"])]
    ops += [Op("line", "beard", f, 1.3, False, E["hair"]) for f in fh["sketch_flicks"]]
    ops += [Op("extra", "beard", f, 1.1, False, E["hair"]) for f in fh["flicks"][::6]]
    return ops


def _glasses_ops(g):
    gl = g["glasses"]
    if gl is None:
        return []
    ops = [Op("line", "glasses", q, 2.2, True, E["glasses"]) for q in gl["lenses"]]
    return ops + [Op("line", "glasses", q, 2.2, False, E["glasses"])
                  for q in [gl["bridge"]] + gl["temples"]]


def _hair_front_ops(g, p):
    hair, ops = g["hair"], []
    lab = {"outer": E["hair"], "inner": E["hairline"]}
    for poly in hair["front"]:
        ops.append(Op("fill", "hair", poly, 0, True, E["hair"]))
        ops.append(Op("shade", "hair", poly, 1.0, True, E["hair"]))
    for pts, side in hair["edges"]:
        if side == "outer" and hair["loops"] is not None:
            continue
        ops.append(Op("line", "hair", pts, 2.2, False, lab[side]))
    if hair["loops"] is not None:
        ops.append(Op("line", "hair", hair["loops"], 1.8, False, E["hair"]))
    n_lines = 0 if p.hair_style == "buzz" else _CLEAN_STRANDS
    ops += [Op("line" if k < n_lines else "extra", "hair", st, 1.4, False, E["hair"])
            for k, st in enumerate(hair["strands"])]
    ops += [Op("line" if k < _CLEAN_CURLS else "extra", "hair", c, 1.4, False, E["hair"])
            for k, c in enumerate(hair["curls"])]
    if hair["part_line"] is not None:
        ops.append(Op("line", "hair", hair["part_line"], 1.6, False, E["hair"]))
    return ops


def _neck_shade(g, p):
    """The shadow under the chin: the top of the neck (the face, drawn
    later, hides the part behind it)."""
    x0, x1 = p.cx - p.neck_w, p.cx + p.neck_w
    y0, y1 = p.jaw_y - 40, p.chin_y + 30
    poly = np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    return Op("shade", "neck", poly, 1.0, True, E["neck"])


def _nose_shade(p):
    """A band down the shadow side of the nose."""
    sgn = 1 if p.light_x < 0 else -1
    x, y, w = p.nose_x, p.nose_y, p.nose_w
    ey = (p.eye1[1] + p.eye2[1]) / 2
    poly = np.array([(x + sgn * 6, ey + 20), (x + sgn * 16, ey + 24),
                     (x + sgn * w * 0.95, y - 8), (x + sgn * w * 0.45, y - 6)])
    return Op("shade", "nose", poly, 0.6, True, E["nose"])


def sketch_ops(g, p):
    """Sketch ops back to front, in the photo's painting order."""
    body = g["body"]
    ops = [Op("fill", "body", body["body"], 0, True, E["cloth"]),
           Op("line", "body", body["shoulders"], 2.2, False, E["cloth"])]
    ops += _hair_back_ops(g, p)
    ops += _tail_ops(g)
    ops += [Op("fill", "neck", body["neck"], 0, True, E["neck"]),
            Op("line", "neck", body["neckline"], 2.0, False, E["cloth"])]
    ops += [Op("line", "neck", ln, 2.2, False, E["neck"]) for ln in body["neck_lines"]]
    ops.append(_neck_shade(g, p))
    for k, ear in enumerate(g["ears"]):
        lab = E["ear_l"] if k == 0 else E["ear_r"]
        ops += [Op("fill", "face", ear["outer"], 0, True, lab),
                Op("line", "face", ear["outer"], 2.2, True, lab),
                Op("line", "face", ear["inner"], 1.6, False, lab)]
    for e in g["earrings"]:
        if e["kind"] == "stud":
            ops += [Op("fill", "face", e["poly"], 0, True, E["earring"]),
                    Op("line", "face", e["poly"], 1.6, True, E["earring"])]
        else:
            ops.append(Op("line", "face", e["ring"], 1.8, False, E["earring"]))
    ops.append(Op("fill", "face", g["face"], 0, True, E["face"]))
    ops += _face_outline_ops(g, p)
    side = 1 if p.light_x < 0 else -1                      # the shadow side
    ops.append(Op("shade", "face", _cheek_band(g, side), 0.7, True, E["face"]))
    ops += [Op("line", "face", c, 1.4, False, E["face"]) for c in g["cheeks"]]
    ops += _facial_hair_ops(g)
    ops += _feature_ops(g, p)
    ops.append(_nose_shade(p))
    ops += _glasses_ops(g)
    hair = g["hair"]
    if hair["bun"] is not None:
        b = hair["bun"]
        circle = arc(b["c"], (b["r"], b["r"] * 0.9), 0, 360, 32)
        ops += [Op("fill", "hair", circle, 0, True, E["hair"]),
                Op("shade", "hair", circle, 1.0, True, E["hair"]),
                Op("line", "hair", circle, 2.2, True, E["hair"]),
                Op("line", "hair", arc(b["c"], (b["r"] * 0.6, b["r"] * 0.5), 200, 340, 12),
                   1.4, False, E["hair"])]
    return ops + _hair_front_ops(g, p)


def _cheek_band(g, side):
    """A band inside the face outline on the shadow side (cheek to jaw)."""
    half = g["sides"][side > 0]
    pts = half[(half[:, 1] > half[0, 1] + 150)]
    cx = g["face"][:, 0].mean()
    inner = pts + np.stack([(cx - pts[:, 0]) * 0.18, 0 * pts[:, 1]], 1)
    return np.vstack([pts, inner[::-1]])


def _feature_ops(g, p):
    """Sketch ops of brows, eyes, nose and mouth."""
    ops = []
    for k, (eye, brow) in enumerate(zip(g["eyes"], g["brows"])):
        eg, bg = f"eye{k + 1}", f"brow{k + 1}"
        el = E["eye_l"] if k == 0 else E["eye_r"]
        bl = E["brow_l"] if k == 0 else E["brow_r"]
        r = p.iris_r
        iris = clip_to_eye(eye, arc(eye["iris_c"], (r, r), 0, 360, 40))
        pupil = clip_to_eye(eye, arc(eye["iris_c"], (r * 0.42, r * 0.42), 0, 360, 20))
        ops += [Op("fill", bg, brow["poly"], 0, True, bl),
                Op("line", bg, brow["poly"], 2.0, True, bl),
                Op("fill", eg, eye["outline"], 0, True, el),
                Op("line", eg, eye["upper"], 3.0, False, el),
                Op("line", eg, eye["lower"], 2.0, False, el),
                Op("line", eg, iris, 2.0, True, el),
                Op("ink", eg, pupil, 0, True, el)]
        if eye["crease"] is not None:
            ops.append(Op("line", eg, eye["crease"], 1.4, False, el))
    nose, n_lab = g["nose"], E["nose"]
    ops += [Op("line", "nose", w, 2.0, False, n_lab) for w in nose["wings"]]
    ops += [Op("ink", "nose", n, 0, True, n_lab) for n in nose["nostrils"]]
    ops.append(Op("line", "nose", nose["tip"], 1.4, False, n_lab))
    if nose["bridge"] is not None:
        ops.append(Op("line", "nose", nose["bridge"], 1.4, False, n_lab))
    m, m_lab = g["mouth"], E["mouth"]
    ops += [Op("fill", "mouth", m["upper_lip"], 0, True, m_lab),
            Op("fill", "mouth", m["lower_lip"], 0, True, m_lab),
            Op("line", "mouth", m["top"], 2.0, False, m_lab),
            Op("line", "mouth", m["line"], 3.0, False, m_lab),
            Op("line", "mouth", m["bottom"][4:-4], 2.0, False, m_lab)]
    if m["gap"] is not None:
        ops += [Op("fill", "mouth", m["gap"], 0, True, m_lab),
                Op("line", "mouth", m["gap"], 2.0, True, m_lab),
                Op("line", "mouth", m["teeth"][len(m["line"]):], 1.4, False, m_lab)]
        ops += [Op("line", "mouth", t, 1.0, False, m_lab) for t in m["tooth_lines"]]
    return ops


def draw_ops(ops, size):
    """Rasterise sketch ops (fill, ink, line, dots): black strokes on white."""
    img = np.full((size, size), 255, np.uint8)
    s = size / CANONICAL_SIZE
    for op in ops:
        kind, pts = op[0], op[2]
        if kind == "dots":
            r = max(1, int(round(op[3] * s * (1 << SUBPIX))))
            for c in fx(pts, s):
                cv2.circle(img, (int(c[0]), int(c[1])), r, 0, -1, cv2.LINE_AA, SUBPIX)
        elif len(pts) < 2 or kind not in ("fill", "ink", "line"):
            continue
        elif kind == "fill":
            cv2.fillPoly(img, [fx(pts, s)], 255, cv2.LINE_AA, SUBPIX)
        elif kind == "ink":
            cv2.fillPoly(img, [fx(pts, s)], 0, cv2.LINE_AA, SUBPIX)
        else:
            cv2.polylines(img, [fx(pts, s)], op[4], 0, thickness(op[3], s),
                          cv2.LINE_AA, SUBPIX)
    return img
