"""Semantic labels of a face, from the same geometry as its photo and sketch.

Two maps, both uint8 (S, S) at the requested size:

* a face-parsing map in CelebAMask-HQ's 19-class order (:data:`PARSING_CLASSES`),
  painted back to front in the photo's order so that the visible part wins;
* a semantic sketch: every stroke pixel of a sketch holds the class of the
  stroke that drew it (:data:`EDGE_CLASSES`, the 22-class edge scheme of the
  Semantics-Preserving Sketch Embedding authors), 0 where there is no stroke.

Left / right. In both maps "left" and "right" are as seen in the image:
``l_eye`` / ``l_brow`` / ``l_ear`` (and edge classes 2, 5, 12) are the
image-left ones (``eye1``, on the person's right), ``r_*`` (and edge
classes 1, 4, 11) the image-right ones. This matches the component boxes
``eye1`` (image left) / ``eye2`` (image right).

Parsing conventions: facial hair is ``hair`` (13); stubble is skin. The
glasses class (3, ``eye_g``) covers lenses and frame, and, as in
CelebAMask-HQ's own layering, the eyes and brows are painted over it.
Earrings are ``ear_r`` (15). ``hat`` (14) and ``neck_l`` (16) never occur.
"""

import cv2
import numpy as np
from scipy import ndimage

from util.components import CANONICAL_SIZE

from .curves import SUBPIX, arc, fx, spline, thickness

# CelebAMask-HQ face-parsing classes: the id is the index.
PARSING_CLASSES = ("background", "skin", "nose", "eye_g", "l_eye", "r_eye", "l_brow",
                   "r_brow", "l_ear", "r_ear", "mouth", "u_lip", "l_lip", "hair", "hat",
                   "ear_r", "neck_l", "neck", "cloth")
P = {name: i for i, name in enumerate(PARSING_CLASSES)}

# Edge classes of the semantic sketch: value -> which strokes carry it. Read
# from the authors' example sketches (sp-embedding reference notes, section 3);
# "left" / "right" are image sides. 9, 13, 20 and 22 never occur there and are
# not used here; 19 (face / collar boundary) does not occur in our faces
# (collars never touch the face). 21 was a short stray segment by the ear in
# the examples: we give it to stray marks of the hand-drawn styles.
EDGE_CLASSES = {
    0: "background (no stroke)",
    1: "eye, image right",
    2: "eye, image left",
    3: "eyeglasses frame",
    4: "eyebrow, image right",
    5: "eyebrow, image left",
    6: "nose",
    7: "lips / mouth line (and teeth)",
    8: "earrings",
    10: "face outline against the background, cheek lines (and face shading)",
    11: "ear, image right",
    12: "ear, image left",
    14: "neck outline (and neck shading)",
    15: "hair strands and outline, facial hair",
    16: "clothes / shoulders (and the neckline)",
    17: "hairline (hair / face boundary)",
    18: "jaw / chin (face / neck boundary)",
    19: "face / collar boundary (unused)",
    21: "stray marks (hand-drawn styles only)",
}
EDGE_LABEL_NC = 22          # label values run 0..22 (one-hot: 23 channels)
E = dict(eye_r=1, eye_l=2, glasses=3, brow_r=4, brow_l=5, nose=6, mouth=7, earring=8,
         face=10, ear_r=11, ear_l=12, neck=14, hair=15, cloth=16, hairline=17, jaw=18,
         collar=19, stray=21)

DARK = 128                  # a sketch pixel below this is a stroke pixel


def _nose_region(p):
    ey = (p.eye1[1] + p.eye2[1]) / 2
    x, y, w = p.nose_x, p.nose_y, p.nose_w
    half = [(x + 8, ey + 8), (x + w * 0.5, y - 32), (x + w * 1.02, y - 2),
            (x + w * 0.7, y + 8), (x, y + 10)]
    other = [(2 * x - a, b) for a, b in half[::-1][1:]]
    return spline(half + other, 6, closed=True)


def parsing_map(p, g, size):
    """CelebAMask-HQ style label map of the face (uint8, size x size)."""
    s = size / CANONICAL_SIZE
    lab = np.zeros((size, size), np.uint8)

    def fill(polys, v):
        cv2.fillPoly(lab, [fx(q, s) for q in polys], v, cv2.LINE_8, SUBPIX)

    def line(q, v, t, closed=False):
        cv2.polylines(lab, [fx(q, s)], closed, v, thickness(t, s), cv2.LINE_8, SUBPIX)

    hair, body = g["hair"], g["body"]
    fill([body["body"]], P["cloth"])
    if hair["back"] is not None:
        fill([hair["back"]], P["hair"])
    if hair["tail"] is not None:
        fill([hair["tail"]["poly"]], P["hair"])
    fill([body["neck"]], P["neck"])
    fill([g["ears"][0]["outer"]], P["l_ear"])
    fill([g["ears"][1]["outer"]], P["r_ear"])
    for e in g["earrings"]:
        if e["kind"] == "stud":
            fill([e["poly"]], P["ear_r"])
        else:
            line(e["ring"], P["ear_r"], 2.5)
    fill([g["face"]], P["skin"])
    if g["facial_hair"] is not None and g["facial_hair"]["shapes"]:
        fill(g["facial_hair"]["shapes"], P["hair"])
    fill([_nose_region(p)], P["nose"])
    gl = g["glasses"]
    if gl is not None:
        fill(gl["lenses"], P["eye_g"])
        for q in gl["lenses"]:
            line(q, P["eye_g"], p.glasses_thick + 1, True)
        for q in [gl["bridge"]] + gl["temples"]:
            line(q, P["eye_g"], p.glasses_thick + 1)
    for k, (eye, brow) in enumerate(zip(g["eyes"], g["brows"])):
        fill([brow["poly"]], P["l_brow"] if k == 0 else P["r_brow"])
        fill([eye["outline"]], P["l_eye"] if k == 0 else P["r_eye"])
    m = g["mouth"]
    fill([m["upper_lip"]], P["u_lip"])
    fill([m["lower_lip"]], P["l_lip"])
    if m["gap"] is not None:
        fill([m["gap"]], P["mouth"])
    if hair["bun"] is not None:
        b = hair["bun"]
        fill([arc(b["c"], (b["r"], b["r"] * 0.9), 0, 360, 32)], P["hair"])
    if hair["front"]:
        fill(hair["front"], P["hair"])
    return lab


def draw_label_ops(ops, size):
    """Rasterise sketch ops without anti-aliasing, each stroke with its
    edge class and each white fill with 0 (later ops win)."""
    img = np.zeros((size, size), np.uint8)
    s = size / CANONICAL_SIZE
    for op in ops:
        kind, pts = op[0], op[2]
        if kind not in ("fill", "ink", "line", "dots") or len(pts) < 1:
            continue
        if kind == "dots":
            r = max(1, int(round(op.thick * s * (1 << SUBPIX))))
            for c in fx(pts, s):
                cv2.circle(img, (int(c[0]), int(c[1])), r, op.label, -1, cv2.LINE_8, SUBPIX)
        elif len(pts) < 2:
            continue
        elif kind == "fill":
            cv2.fillPoly(img, [fx(pts, s)], 0, cv2.LINE_8, SUBPIX)
        elif kind == "ink":
            cv2.fillPoly(img, [fx(pts, s)], op.label, cv2.LINE_8, SUBPIX)
        else:
            cv2.polylines(img, [fx(pts, s)], op.closed, op.label, thickness(op.thick, s),
                          cv2.LINE_8, SUBPIX)
    return img


def match_strokes(lab, sketch, threshold=DARK):
    """Restrict a stroke label raster to the sketch's stroke pixels
    (``sketch < threshold``): labels under light pixels are dropped, and
    dark pixels that the aliased raster missed (the anti-aliasing fringe,
    one pixel wide, and where two fringes overlap) take a label from their
    3x3 neighbourhood, grown ring by ring (the largest class id where two
    strokes meet; the nearest labelled pixel as a last resort). The support
    of the result is exactly the sketch's stroke pixels."""
    dark = sketch < threshold
    out = np.where(dark, lab, 0).astype(np.uint8)
    missing = dark & (out == 0)
    ring = np.ones((3, 3), np.uint8)
    for _ in range(3):
        if not missing.any():
            return out
        grown = cv2.dilate(out, ring)
        fill = missing & (grown > 0)
        out[fill] = grown[fill]
        missing &= ~fill
    if missing.any() and out.any():
        _, (iy, ix) = ndimage.distance_transform_edt(out == 0, return_indices=True)
        out[missing] = out[iy[missing], ix[missing]]
    return out
