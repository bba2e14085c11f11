"""Procedural faces: a photo-like colour face and its line sketch.

Every sample starts from a :class:`FaceParams` (random geometry and
appearance, see :func:`sample_params`). :func:`build_geometry` turns it into
curves and polygons on the canonical 512x512 canvas, laid out so that the
eyes, nose and mouth sit inside their component boxes
(``util.components.BOXES_512``). The same geometry is then

* painted as a photo (flat colour shapes, a soft low-resolution light map
  for shading and a light blur; no noise, so PNGs stay small), and
* drawn as a sketch: black strokes on white, with the shapes filled white in
  the same back-to-front order as the photo so that hidden lines vanish.

:func:`make_rough` redraws the strokes wobbly, broken, doubled, partly
missing and with parts slightly misplaced, like a hand-drawn sketch.
:func:`generate` yields samples whose randomness depends only on
``(seed, index)``.

Coordinates are (x, y) in canonical 512 pixels throughout; drawing scales
them to the requested size, so 64, 128, 256 and 512 all work.
"""

import colorsys
from dataclasses import dataclass, asdict

import cv2
import numpy as np

from util.components import BOXES_512, CANONICAL_SIZE, scaled_boxes

GENDERS = ("male", "female")
HAIR_STYLES = ("short", "buzz", "bald", "fringe", "bob", "long", "bun")

# Hair style probabilities per gender (same order as HAIR_STYLES).
_STYLE_P = {
    "male": (0.40, 0.14, 0.10, 0.20, 0.08, 0.04, 0.04),
    "female": (0.07, 0.01, 0.00, 0.16, 0.22, 0.38, 0.16),
}

# Skin tones from light to dark (RGB); a sample interpolates between them.
_SKIN = np.array([[250, 224, 206], [238, 198, 170], [214, 162, 126],
                  [172, 116, 84], [116, 76, 54]], np.float64)

# Hair colours (RGB) and their probabilities.
_HAIR = np.array([[28, 24, 24], [58, 40, 30], [100, 68, 44], [136, 66, 36],
                  [196, 160, 100], [226, 204, 150], [158, 154, 150]], np.float64)
_HAIR_P = (0.26, 0.26, 0.18, 0.08, 0.11, 0.05, 0.06)

# Iris colours (RGB): dark brown, brown, hazel, green, blue, grey.
_IRIS = np.array([[58, 38, 26], [96, 62, 36], [128, 100, 58], [86, 120, 72],
                  [72, 114, 168], [112, 126, 138]], np.float64)
_IRIS_P = (0.28, 0.24, 0.14, 0.10, 0.16, 0.08)

# Lip pigments mixed into the skin colour.
_LIP_FEMALE = np.array([[200, 78, 92], [176, 58, 70], [214, 112, 124],
                        [160, 72, 84], [190, 96, 90]], np.float64)
_LIP_MALE = np.array([182, 100, 96], np.float64)

_SUBPIX = 4                 # fixed-point bits for cv2 drawing
_FX = float(1 << _SUBPIX)


def _box_centre(key):
    x, y, s = BOXES_512[key]
    return (x + s / 2.0, y + s / 2.0)


# --------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------

@dataclass
class FaceParams:
    """Random geometry and appearance of one face (canonical 512 units)."""
    gender: str
    hair_style: str
    # head shape
    cx: float            # face centre line
    face_w: float        # half width at the cheekbones
    jaw_w: float         # half width at the jaw angle
    jaw_y: float
    chin_w: float        # half width of the chin
    chin_y: float
    skull_top: float
    asym: float          # left/right width difference (fraction)
    # eyes (eye1 = image left, eye2 = image right)
    eye1: tuple
    eye2: tuple
    eye_w: float         # half width
    eye_open: float      # upper lid height above the corner line
    eye_low: float       # lower lid depth below the corner line
    eye_tilt: float      # outer corner raise
    eye_peak: float      # exponent moving the lid peak along the eye
    iris_r: float
    gaze: tuple
    iris_color: tuple
    crease: float        # crease offset above the lid, 0 for none
    lash: float          # upper lid line thickness
    # brows
    brow_gap: float
    brow_thick: float
    brow_arch: float
    brow_len: float
    brow_tail: float
    # nose
    nose_x: float
    nose_y: float        # tip height
    nose_w: float        # half width at the wings
    nose_bridge: int     # -1 / 1 side of the drawn bridge line, 0 none
    # mouth
    mouth_x: float
    mouth_y: float
    mouth_w: float
    lip_up: float
    lip_low: float
    smile: float         # corner lift in pixels
    mouth_open: float    # gap between the lips, 0 closed
    lip_color: tuple
    # ears, neck, body
    ear_w: float
    neck_w: float
    shoulder_y: float
    neckline: float      # depth of the shirt neckline
    shirt_color: tuple
    # hair
    hair_color: tuple
    hair_vol: float      # height of the hair above the skull
    hair_side: float     # thickness of the hair at the sides
    hairline_y: float
    part: float          # horizontal position of the parting (-1..1)
    hair_len: float      # bottom of bob / long hair
    hair_cover: float    # how far side hair covers the cheeks
    # colour and light
    skin: tuple
    bg_top: tuple
    bg_bottom: tuple
    light_x: float       # -1 light from the left .. 1 from the right
    blush: float
    stubble: float
    detail_seed: int     # seeds small random details (strands, lumps)

    def to_dict(self):
        return asdict(self)


def _jitter_color(rng, base, amount):
    """``base`` with a random brightness change and a little per-channel
    noise (so that dark colours keep their hue)."""
    c = np.asarray(base, np.float64)
    c = c * rng.uniform(1 - amount / 60, 1 + amount / 60) + rng.normal(0.0, amount / 3, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def _mix(a, b, t):
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))


def _hsv(h, s, v):
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _sample_skin(rng):
    t = rng.beta(1.4, 1.8) * (len(_SKIN) - 1)
    i = min(int(t), len(_SKIN) - 2)
    base = _SKIN[i] * (1 - (t - i)) + _SKIN[i + 1] * (t - i)
    return _jitter_color(rng, base, 4.0)


def _sample_head(rng, male):
    fw = rng.uniform(128, 150) + (6 if male else 0)
    return dict(
        cx=(_box_centre("eye1")[0] + _box_centre("eye2")[0]) / 2 + rng.normal(0, 2),
        face_w=fw,
        jaw_w=fw * (rng.uniform(0.80, 0.94) if male else rng.uniform(0.68, 0.84)),
        jaw_y=rng.uniform(370, 400),
        chin_w=rng.uniform(34, 52) if male else rng.uniform(22, 38),
        chin_y=rng.uniform(446, 470) if male else rng.uniform(438, 462),
        skull_top=rng.uniform(22, 46),
        asym=rng.normal(0, 0.02))


def _sample_eyes(rng, male):
    ew = rng.uniform(28, 36)
    eo = ew * rng.uniform(0.36, 0.56)
    e1, e2 = _box_centre("eye1"), _box_centre("eye2")
    dy = rng.normal(0, 2.0)
    return dict(
        eye1=(e1[0] + rng.normal(0, 1.5), e1[1] + dy),
        eye2=(e2[0] + rng.normal(0, 1.5), e2[1] + dy),
        eye_w=ew, eye_open=eo,
        eye_low=eo * rng.uniform(0.38, 0.62),
        eye_tilt=rng.uniform(-3, 6),
        eye_peak=rng.uniform(0.75, 1.15),
        iris_r=ew * rng.uniform(0.40, 0.48),
        gaze=(rng.normal(0, 2.5), rng.normal(0, 1.0)),
        iris_color=_jitter_color(rng, _IRIS[rng.choice(len(_IRIS), p=_IRIS_P)], 8),
        crease=0.0 if rng.random() < 0.2 else rng.uniform(7, 13),
        lash=rng.uniform(2.5, 3.5) if male else rng.uniform(3.5, 5.0))


def _sample_brows(rng, male):
    return dict(
        brow_gap=rng.uniform(12, 22) if male else rng.uniform(16, 28),
        brow_thick=rng.uniform(9, 14) if male else rng.uniform(5, 9),
        brow_arch=rng.uniform(2, 8) if male else rng.uniform(5, 13),
        brow_len=rng.uniform(2.0, 2.5),
        brow_tail=rng.uniform(-2, 8))


def _sample_nose_mouth(rng, male, cx, skin):
    nose_y = rng.uniform(302, 332)
    mouth_y = float(np.clip(nose_y + rng.uniform(50, 68), 368, 400))
    if male:
        lip = _mix(skin, _jitter_color(rng, _LIP_MALE, 8), rng.uniform(0.25, 0.45))
        lip = _mix(lip, (0, 0, 0), 0.08)
    else:
        pigment = _LIP_FEMALE[rng.integers(len(_LIP_FEMALE))]
        lip = _mix(skin, _jitter_color(rng, pigment, 8), rng.uniform(0.45, 0.8))
    return dict(
        nose_x=cx + rng.normal(0, 1.5), nose_y=nose_y,
        nose_w=rng.uniform(22, 31) + (3 if male else 0),
        nose_bridge=int(rng.choice([-1, 0, 0, 1])),
        mouth_x=cx + rng.normal(0, 1.5), mouth_y=mouth_y,
        mouth_w=rng.uniform(36, 50),
        lip_up=rng.uniform(6, 10) + (0 if male else 2),
        lip_low=rng.uniform(9, 14) + (0 if male else 3),
        smile=rng.uniform(-2, 9),
        mouth_open=rng.uniform(5, 11) if rng.random() < 0.18 else 0.0,
        lip_color=lip)


def _sample_hair(rng, male, style, head):
    color = _jitter_color(rng, _HAIR[rng.choice(len(_HAIR), p=_HAIR_P)], 8)
    vol = {"short": rng.uniform(12, 34), "buzz": rng.uniform(3, 6),
           "bald": 0.0, "fringe": rng.uniform(14, 34), "bob": rng.uniform(16, 36),
           "long": rng.uniform(14, 38), "bun": rng.uniform(5, 12)}[style]
    side = {"buzz": 2.0, "bald": rng.uniform(4, 8), "bun": rng.uniform(3, 7)
            }.get(style, rng.uniform(6, 16))
    if style == "long":
        length = 560.0
    elif style == "bob":
        length = rng.uniform(head["jaw_y"] - 10, head["chin_y"] + 40)
    else:
        length = 0.0
    return dict(
        hair_color=color, hair_vol=vol, hair_side=side,
        hairline_y=head["skull_top"] + rng.uniform(55, 85) + (6 if male else 0),
        part=rng.uniform(-1, 1) if rng.random() < 0.75 else 0.0,
        hair_len=length,
        hair_cover=rng.uniform(-4, 22) if style in ("bob", "long") else 0.0)


def _sample_colors(rng, male):
    h = rng.random()
    bg_top = _hsv(h, rng.uniform(0.05, 0.45), rng.uniform(0.55, 0.95))
    bg_bottom = _mix(bg_top, _hsv(h + rng.normal(0, 0.05), rng.uniform(0.05, 0.5),
                                   rng.uniform(0.35, 0.8)), 0.7)
    shirt = _hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.2, 0.9))
    return dict(bg_top=bg_top, bg_bottom=bg_bottom, shirt_color=shirt,
                light_x=rng.uniform(-1, 1),
                blush=0.0 if male else rng.uniform(0.0, 0.12),
                stubble=rng.uniform(0.15, 0.4) if male and rng.random() < 0.3 else 0.0)


def sample_params(rng, gender=None):
    """Draw a random :class:`FaceParams` from ``rng`` (a numpy Generator).

    ``gender`` ('male' / 'female', random when None) shifts the
    distributions: hair style and length, jaw and chin width, brow
    thickness and arch, lash thickness, lip colour, stubble and blush.
    """
    if gender is None:
        gender = GENDERS[int(rng.integers(2))]
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
    male = gender == "male"
    style = HAIR_STYLES[rng.choice(len(HAIR_STYLES), p=_STYLE_P[gender])]
    skin = _sample_skin(rng)
    head = _sample_head(rng, male)
    if style == "bun":                 # room above the head for the bun
        head["skull_top"] = rng.uniform(48, 62)
    fields = dict(gender=gender, hair_style=style, skin=skin, **head)
    fields.update(_sample_eyes(rng, male))
    fields.update(_sample_brows(rng, male))
    fields.update(_sample_nose_mouth(rng, male, head["cx"], skin))
    fields.update(_sample_hair(rng, male, style, head))
    fields.update(_sample_colors(rng, male))
    fields.update(
        ear_w=rng.uniform(14, 22),
        neck_w=head["face_w"] * rng.uniform(0.46, 0.56) + (6 if male else 0),
        shoulder_y=head["chin_y"] + rng.uniform(38, 60),
        neckline=rng.uniform(20, 60),
        detail_seed=int(rng.integers(0, 2 ** 31 - 1)))
    return FaceParams(**fields)


# --------------------------------------------------------------------------
# Curve helpers
# --------------------------------------------------------------------------

def _spline(points, n=10, closed=False):
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


def _resample(pts, n):
    """``n`` points evenly spaced along the polyline ``pts``."""
    seg = np.hypot(*np.diff(pts, axis=0).T)
    d = np.concatenate([[0.0], np.cumsum(seg)])
    if d[-1] <= 0:
        return np.repeat(pts[:1], n, axis=0)
    u = np.linspace(0.0, d[-1], n)
    return np.stack([np.interp(u, d, pts[:, 0]), np.interp(u, d, pts[:, 1])], 1)


def _arc(centre, radii, a0, a1, n=24, rot=0.0):
    """Points of an (optionally rotated) ellipse arc, angles in degrees."""
    a = np.radians(np.linspace(a0, a1, n))
    x, y = radii[0] * np.cos(a), radii[1] * np.sin(a)
    r = np.radians(rot)
    return np.stack([centre[0] + x * np.cos(r) - y * np.sin(r),
                     centre[1] + x * np.sin(r) + y * np.cos(r)], 1)


def _bump(t, power):
    """A lid-like profile on t in [0, 1]: 0 at both ends, 1 at the peak."""
    return np.sin(np.pi * np.clip(t, 0, 1) ** power)


def _lerp_curve(a, b, t):
    """Point at fractional position ``t`` (0..1) along the resampled curve."""
    idx = t * (len(a) - 1)
    i = np.clip(np.floor(idx).astype(int), 0, len(a) - 2)
    f = (idx - i)[:, None]
    return a[i] * (1 - f) + a[i + 1] * f, b[i] * (1 - f) + b[i + 1] * f


# --------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------

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
    pts = _spline(ctrl, n=8)
    pts[:, 1] = np.maximum.accumulate(pts[:, 1])   # keep y monotone
    return pts


def _side_x(side, y):
    """x of a head half at height y."""
    return np.interp(y, side[:, 1], side[:, 0])


def _eye_geometry(p, centre, sign):
    """Lids, crease and iris of one eye. ``sign`` +1: outer corner at +x."""
    cx, cy = centre
    ew = p.eye_w
    mid = cy + (p.eye_open - p.eye_low) / 2
    inner = np.array([cx - sign * ew, mid + p.eye_tilt / 2])
    outer = np.array([cx + sign * ew, mid - p.eye_tilt / 2])
    t = np.linspace(0, 1, 24)[:, None]
    base = inner * (1 - t) + outer * t
    upper = base - [0, 1] * (p.eye_open * _bump(t, p.eye_peak))
    lower = base + [0, 1] * (p.eye_low * _bump(t, 1.25))
    crease = None
    if p.crease > 0:
        tc = np.linspace(0.12, 1.0, 18)[:, None]
        bc = inner * (1 - tc) + outer * tc
        crease = bc - [0, 1] * ((p.eye_open + p.crease) * _bump(tc, p.eye_peak * 0.9))
        crease[:, 0] += sign * 3
    iris_c = (cx + p.gaze[0], mid - p.eye_open * 0.18 + p.gaze[1])
    xs = upper[:, 0] if sign > 0 else upper[::-1, 0]
    up_y = upper[:, 1] if sign > 0 else upper[::-1, 1]
    lo_y = lower[:, 1] if sign > 0 else lower[::-1, 1]
    return dict(upper=upper, lower=lower, crease=crease, iris_c=iris_c,
                outline=np.vstack([upper, lower[::-1]]),
                clip=(xs, up_y, lo_y), sign=sign, outer=outer, inner=inner)


def _clip_to_eye(eye, pts):
    """Clamp points into the eye opening (used for iris, pupil, glints)."""
    xs, up_y, lo_y = eye["clip"]
    x = np.clip(pts[:, 0], xs[0], xs[-1])
    y = np.clip(pts[:, 1], np.interp(x, xs, up_y), np.interp(x, xs, lo_y))
    return np.stack([x, y], 1)


def _brow_geometry(p, eye, sign):
    """Brow polygon: a tapered arched band above the eye."""
    cx = (eye["inner"][0] + eye["outer"][0]) / 2
    top = min(eye["upper"][:, 1]) - p.brow_gap
    half = p.eye_w * p.brow_len / 2
    t = np.linspace(0, 1, 20)
    x = cx - sign * half * 0.9 + sign * 2 * half * t
    y = top + 3 - p.brow_arch * _bump(t, 0.75) + p.brow_tail * t ** 2
    centre = np.stack([x, y], 1)
    thick = p.brow_thick * (1.0 - 0.6 * t ** 1.5)
    d = np.gradient(centre, axis=0)
    nrm = np.stack([-d[:, 1], d[:, 0]], 1) / np.hypot(d[:, 0], d[:, 1])[:, None]
    a = centre + nrm * thick[:, None] / 2
    b = centre - nrm * thick[:, None] / 2
    return dict(poly=np.vstack([a, b[::-1]]), centre=centre, thick=thick)


def _nose_geometry(p, eyes):
    """Nose wings (C-shaped arcs), nostrils, tip and an optional side line."""
    x, y, w = p.nose_x, p.nose_y, p.nose_w
    wings, nostrils = [], []
    for s in (-1, 1):
        a0, a1 = (-80, -262) if s < 0 else (-100, 82)
        wings.append(_arc((x + s * w * 0.68, y - 3), (w * 0.36, w * 0.46), a0, a1, 18))
        nostrils.append(_arc((x + s * w * 0.36, y + 4), (w * 0.21, w * 0.09), 0, 360,
                             16, rot=s * 18))
    tip = _spline([(x - w * 0.42, y + 2), (x, y + 6), (x + w * 0.42, y + 2)], 6)
    bridge = None
    if p.nose_bridge:
        s = p.nose_bridge
        e = eyes[1] if s > 0 else eyes[0]
        top = (x + s * w * 0.3, e["inner"][1] + 24)
        bridge = _spline([top, (x + s * w * 0.36, (top[1] + y) / 2 + 4),
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
    top = _spline([left, (x - 0.62 * w, y - up * 0.7 - sm * 0.45),
                   (x - 0.27 * w, y - up - 1), (x, y - up * 0.7),
                   (x + 0.27 * w, y - up - 1), (x + 0.62 * w, y - up * 0.7 - sm * 0.45),
                   right], 6)
    bottom = _spline([left, (x - 0.58 * w, y + lo * 0.7 - sm * 0.3 + p.mouth_open * 0.6),
                      (x, y + lo + p.mouth_open),
                      (x + 0.58 * w, y + lo * 0.7 - sm * 0.3 + p.mouth_open * 0.6),
                      right], 6)
    out = dict(line=line, top=top, bottom=bottom,
               upper_lip=np.vstack([top, line[::-1]]),
               lower_lip=np.vstack([lower_in, bottom[::-1]]), gap=None)
    if p.mouth_open > 0:
        out["gap"] = np.vstack([line, lower_in[::-1]])
        out["teeth"] = np.vstack([line, ((line + lower_in) / 2)[::-1]])
    return out


def _ear_geometry(p, sides, sign):
    """Ear ellipse (mostly hidden behind the face) and its inner fold."""
    y0, y1 = (p.eye1[1] - 12), p.nose_y + 2
    cy, h = (y0 + y1) / 2, (y1 - y0) / 2
    x = _side_x(sides[sign > 0], cy) + sign * p.ear_w * 0.25
    outer = _arc((x, cy), (p.ear_w, h), 0, 360, 28)
    inner = _arc((x + sign * 1.0, cy + 2), (p.ear_w * 0.5, h * 0.62),
                 -70 if sign > 0 else -110, 60 if sign > 0 else -240, 12)
    return dict(outer=outer, inner=inner)


def _neck_body(p):
    """Neck with the shirt neckline, and the shoulders (body)."""
    cx, nw = p.cx, p.neck_w
    ytop = p.jaw_y - 40
    base = p.shoulder_y - 18
    neck = np.vstack([
        [[cx - nw, ytop], [cx - nw * 0.98, base - 8]],
        _spline([(cx - nw * 1.0, base - 8), (cx - nw * 1.35, base + 8),
                 (cx - nw * 0.8, base + p.neckline * 0.6), (cx, base + p.neckline),
                 (cx + nw * 0.8, base + p.neckline * 0.6), (cx + nw * 1.35, base + 8),
                 (cx + nw * 1.0, base - 8)], 6),
        [[cx + nw, ytop]]])
    shoulders = _spline([(-40, p.shoulder_y + 60), (cx - nw * 2.6, p.shoulder_y + 18),
                         (cx - nw * 1.3, base + 2), (cx, base),
                         (cx + nw * 1.3, base + 2), (cx + nw * 2.6, p.shoulder_y + 18),
                         (552, p.shoulder_y + 60)], 8)
    body = np.vstack([shoulders, [[552, 600], [-40, 600]]])
    side_l = np.array([[cx - nw, p.jaw_y - 10], [cx - nw * 0.98, base - 8]])
    side_r = side_l * [-1, 1] + [2 * cx, 0]
    neckline = neck[2:-1]
    return dict(neck=neck, body=body, shoulders=shoulders,
                neck_lines=[side_l, side_r], neckline=neckline)


def _hair_geometry(p, sides):
    """Hair as outer/inner boundary curves (left to right) plus extras."""
    rng = np.random.default_rng(p.detail_seed)
    style = p.hair_style
    ey = (p.eye1[1] + p.eye2[1]) / 2
    out = dict(front=[], back=None, bun=None, strands=[], tint=1.0, part_line=None)
    if style == "bald":
        if rng.random() < 0.6:
            out["front"] = [_side_patch(p, sides, s, ey) for s in (-1, 1)]
        return out
    y_sb = ey + (8 if style in ("short", "fringe") else -6)
    if style in ("bob", "long"):
        y_sb = ey - 40
    outer = _hair_outer(p, sides, y_sb, ey, rng)
    inner = _hair_inner(p, sides, y_sb, ey, rng)
    if style in ("bob", "long"):
        wave = (rng.uniform(2, 9) if rng.random() < 0.5 else 0.0,
                rng.uniform(70, 130), rng.uniform(0, 2 * np.pi))
        legs_o = [_hair_leg(p, sides, s, ey, y_sb, True, wave) for s in (-1, 1)]
        legs_i = [_hair_leg(p, sides, s, ey, y_sb, False, wave) for s in (-1, 1)]
        outer = np.vstack([legs_o[0][::-1], outer, legs_o[1]])
        inner = np.vstack([legs_i[0][::-1], inner, legs_i[1]])
        out["back"] = np.vstack([outer, [[p.cx, p.hair_len]]])
    n = 240
    o, i = _resample(outer, n), _resample(inner, n)
    out["front"] = [np.vstack([o, i[::-1]])]
    out["outer"], out["inner"] = o, i
    part_t = 0.5
    if style in ("bob", "long", "bun") and abs(p.part) > 0.3:
        out["part_line"], part_t = _part_line(p, o, i)
    elif p.part != 0:
        part_t = 0.5 + 0.25 * p.part
    out["strands"] = _strands(o, i, part_t, rng)
    if style == "bun":
        r = rng.uniform(34, 50)
        cy = max(p.skull_top - p.hair_vol - r * 0.3, r * 0.55)
        out["bun"] = dict(c=(p.cx + rng.uniform(-18, 18), cy), r=r)
    if style == "buzz":
        out["tint"] = 0.55
    return out


def _hair_outer(p, sides, y_sb, ey, rng):
    """Head outline above ``y_sb`` pushed outwards by the hair volume."""
    left, right = sides
    pts = np.vstack([left[left[:, 1] <= y_sb][::-1], right[right[:, 1] <= y_sb][1:]])
    centre = np.array([p.cx, ey])
    d = pts - centre
    d /= np.hypot(d[:, 0], d[:, 1])[:, None]
    w = np.clip((y_sb - pts[:, 1]) / max(y_sb - p.skull_top, 1.0), 0, 1) ** 0.7
    lift = 1.0 + 0.25 * p.part * (pts[:, 0] - p.cx) / p.face_w   # fuller on one side
    vol = p.hair_side + (p.hair_vol - p.hair_side) * w * lift
    knots = rng.normal(0, 0.12 * p.hair_vol + 0.5, 7)
    vol = vol + np.interp(np.linspace(0, 6, len(pts)), np.arange(7), knots) * w
    if p.hair_style in ("short", "fringe") and rng.random() < 0.4:    # messy tufts
        k = int(rng.integers(10, 22))
        tufts = np.abs(np.sin(np.linspace(0, k * np.pi, len(pts)))) ** 3
        vol = vol + rng.uniform(3, 9) * tufts * w
    return pts + d * np.maximum(vol, 1.0)[:, None]


def _hair_inner(p, sides, y_sb, ey, rng):
    """Hairline (left to right): sideburns, temples and forehead edge."""
    left, right = sides
    male = p.gender == "male"
    hl = p.hairline_y
    yt = hl + (y_sb - hl) * (0.35 if male else 0.45)
    if p.hair_style == "fringe":
        return _fringe_line(p, sides, y_sb, yt, rng)
    sb = 10.0 if p.hair_style not in ("bob", "long") else 6.0
    part_x = p.cx + p.part * p.face_w * 0.4
    recede = rng.uniform(4, 16) if male else 0.0
    pts = [(_side_x(left, y_sb) + sb, y_sb),
           (_side_x(left, yt) + sb + 4, yt - recede),
           (p.cx - p.face_w * 0.55, hl + 10 - recede * 0.3),
           (part_x, hl - 2),
           (p.cx + p.face_w * 0.55, hl + 10 - recede * 0.3),
           (_side_x(right, yt) - sb - 4, yt - recede),
           (_side_x(right, y_sb) - sb, y_sb)]
    return _spline(pts, 8)


def _fringe_line(p, sides, y_sb, yt, rng):
    """Jagged fringe edge hanging over the forehead."""
    left, right = sides
    brow_top = min(p.eye1[1], p.eye2[1]) - p.eye_open - p.brow_gap - p.brow_thick
    y_edge = brow_top - rng.uniform(4, 26)
    xl, xr = _side_x(left, yt) + 12, _side_x(right, yt) - 12
    k = int(rng.integers(4, 9))
    notches = np.linspace(xl, xr, k + 1)
    notches[1:-1] += rng.normal(0, 0.12 * (xr - xl) / k, k - 1)
    sweep = rng.uniform(-0.3, 0.3) * (xr - xl) / k
    tips = (notches[:-1] + notches[1:]) / 2 + sweep
    arc = lambda x: ((x - p.cx) / (xr - xl) * 2) ** 2 * 26
    tip_y = y_edge + arc(tips) + rng.normal(0, 3, k)
    notch_y = y_edge + arc(notches) - rng.uniform(10, 26, k + 1)
    zig = np.empty((2 * k + 1, 2))
    zig[0::2] = np.stack([notches, notch_y], 1)
    zig[1::2] = np.stack([tips, tip_y], 1)
    left_side = _spline([(_side_x(left, y_sb) + 10, y_sb), (xl - 4, yt + 8), zig[0]], 8)
    right_side = _spline([zig[-1], (xr + 4, yt + 8), (_side_x(right, y_sb) - 10, y_sb)], 8)
    return np.vstack([left_side[:-1], zig, right_side[1:]])


def _part_line(p, outer, inner):
    """The parting: from the hairline straight back to the top outline.
    Returns the line and its position along the inner curve (0..1)."""
    x = p.cx + p.part * p.face_w * 0.4
    top_i = inner[:, 1] < p.hairline_y + 25
    j = int(np.argmin(np.where(top_i, np.abs(inner[:, 0] - x), np.inf)))
    top_o = outer[:, 1] < p.skull_top + 40
    k = int(np.argmin(np.where(top_o, np.abs(outer[:, 0] - x - p.part * 8), np.inf)))
    a, b = inner[j], outer[k]
    mid = (a + b) / 2 + [p.part * 4, 0]
    return _spline([a + [0, -2], mid, b + [0, 3]], 6), j / (len(inner) - 1)


def _hair_leg(p, sides, sign, ey, y_sb, outer_edge, wave):
    """Side part of bob / long hair going down from ``y_sb``, top to bottom.
    ``wave`` = (amplitude, period, phase) of wavy hair."""
    side = sides[sign > 0]
    bottom = p.hair_len
    if outer_edge:
        x0 = _side_x(side, y_sb) + sign * (p.hair_side + 6)
        flare = p.hair_side * 1.6 + (10 if p.hair_style == "long" else 4)
        pts = [(x0, y_sb), (x0 + sign * flare * 0.5, ey + 30),
               (_side_x(side, min(p.jaw_y, bottom)) + sign * (flare + 10),
                min(p.jaw_y, bottom - 10)),
               (_side_x(side, min(p.jaw_y, bottom)) + sign * (flare + 14), bottom)]
        return _waved(_spline(pts, 10)[1:], sign, y_sb, wave, 1.0)
    cover = p.hair_cover
    low = min(bottom, p.chin_y - 20)
    if p.hair_style == "long":
        x_end = p.cx + sign * (p.neck_w + 6 + max(cover, 0))
    else:
        x_end = _side_x(side, low) - sign * cover * 0.5
    pts = [(_side_x(side, y_sb) - sign * 6, y_sb),
           (_side_x(side, ey + 30) - sign * cover, ey + 30),
           (_side_x(side, low) - sign * cover * 0.7, low),
           (x_end, bottom)]
    return _waved(_spline(pts, 10)[1:], sign, y_sb, wave, 0.4)


def _waved(pts, sign, y0, wave, gain):
    """Add a sideways wave that grows below ``y0``."""
    amp, period, phase = wave
    if amp <= 0:
        return pts
    y = pts[:, 1]
    ramp = np.clip((y - y0) / 120.0, 0, 1)
    out = pts.copy()
    out[:, 0] += sign * gain * amp * ramp * np.sin(2 * np.pi * (y - y0) / period + phase)
    return out


def _side_patch(p, sides, sign, ey):
    """Short hair at the sides of a bald head."""
    side = sides[sign > 0]
    ys = np.linspace(ey - 78, ey + 12, 14)
    xs = _side_x(side, ys)
    taper = np.sin(np.linspace(0.15, np.pi - 0.15, len(ys)))
    out = np.stack([xs + sign * (p.hair_side * taper + 1), ys], 1)
    inn = np.stack([xs - sign * 11 * taper, ys], 1)
    return np.vstack([out, inn[::-1]])


def _strands(outer, inner, part_t, rng):
    """Hair strands between the outer and inner boundaries, sweeping away
    from the parting at ``part_t`` (0..1 along the curves)."""
    strands = []
    for _ in range(int(rng.integers(70, 110))):
        t0 = rng.uniform(0.02, 0.98)
        direction = -1.0 if t0 < part_t else 1.0
        t1 = np.clip(t0 + direction * rng.uniform(0.05, 0.16), 0.0, 1.0)
        t = np.linspace(t0, t1, 10)
        b = np.linspace(rng.uniform(0.02, 0.3), rng.uniform(0.65, 0.97), 10)
        o, i = _lerp_curve(outer, inner, t)
        strands.append(o * (1 - b[:, None]) + i * b[:, None])
    return strands


def build_geometry(p):
    """All curves and polygons of the face, in canonical 512 coordinates."""
    sides = (_head_side(p, -1), _head_side(p, 1))
    face = np.vstack([sides[1], sides[0][::-1][1:-1]])
    eyes = [_eye_geometry(p, p.eye1, -1), _eye_geometry(p, p.eye2, 1)]
    return dict(
        sides=sides, face=face, eyes=eyes,
        brows=[_brow_geometry(p, eyes[0], -1), _brow_geometry(p, eyes[1], 1)],
        nose=_nose_geometry(p, eyes), mouth=_mouth_geometry(p),
        ears=[_ear_geometry(p, sides, -1), _ear_geometry(p, sides, 1)],
        body=_neck_body(p), hair=_hair_geometry(p, sides))


# --------------------------------------------------------------------------
# Sketch: a list of drawing operations shared by clean and rough sketches
# --------------------------------------------------------------------------

# An op is (kind, group, points, thickness, closed):
#   kind 'fill' paints the polygon white (hides what is behind it),
#   'ink' fills it black (pupils, nostrils), 'line' strokes the polyline.

def _sketch_ops(g, p):
    """Sketch ops back to front, in the photo's painting order."""
    ops = []
    hair, body = g["hair"], g["body"]
    if hair["back"] is not None:
        ops += [("fill", "hair", hair["back"], 0, True),
                ("line", "hair", hair["back"][:-1], 2.2, False)]
    ops += [("fill", "body", body["body"], 0, True),
            ("line", "body", body["shoulders"], 2.2, False),
            ("fill", "neck", body["neck"], 0, True),
            ("line", "neck", body["neckline"], 2.0, False)]
    ops += [("line", "neck", ln, 2.2, False) for ln in body["neck_lines"]]
    for ear in g["ears"]:
        ops += [("fill", "face", ear["outer"], 0, True),
                ("line", "face", ear["outer"], 2.2, True),
                ("line", "face", ear["inner"], 1.6, False)]
    ops += [("fill", "face", g["face"], 0, True),
            ("line", "face", g["face"], 2.4, True)]
    ops += _feature_ops(g, p)
    if hair["bun"] is not None:
        b = hair["bun"]
        circle = _arc(b["c"], (b["r"], b["r"] * 0.9), 0, 360, 32)
        ops += [("fill", "hair", circle, 0, True), ("line", "hair", circle, 2.2, True),
                ("line", "hair", _arc(b["c"], (b["r"] * 0.6, b["r"] * 0.5), 200, 340, 12),
                 1.4, False)]
    for poly in hair["front"]:
        ops += [("fill", "hair", poly, 0, True), ("line", "hair", poly, 2.2, True)]
    n_lines = 0 if p.hair_style == "buzz" else 6
    ops += [("line", "hair", s, 1.4, False) for s in hair["strands"][:n_lines]]
    if hair["part_line"] is not None:
        ops.append(("line", "hair", hair["part_line"], 1.6, False))
    return ops


def _feature_ops(g, p):
    """Sketch ops of brows, eyes, nose and mouth."""
    ops = []
    for k, (eye, brow) in enumerate(zip(g["eyes"], g["brows"])):
        eg, bg = f"eye{k + 1}", f"brow{k + 1}"
        r = p.iris_r
        iris = _clip_to_eye(eye, _arc(eye["iris_c"], (r, r), 0, 360, 40))
        pupil = _clip_to_eye(eye, _arc(eye["iris_c"], (r * 0.42, r * 0.42), 0, 360, 20))
        ops += [("fill", bg, brow["poly"], 0, True),
                ("line", bg, brow["poly"], 2.0, True),
                ("fill", eg, eye["outline"], 0, True),
                ("line", eg, eye["upper"], 3.0, False),
                ("line", eg, eye["lower"], 2.0, False),
                ("line", eg, iris, 2.0, True),
                ("ink", eg, pupil, 0, True)]
        if eye["crease"] is not None:
            ops.append(("line", eg, eye["crease"], 1.4, False))
    nose = g["nose"]
    ops += [("line", "nose", w, 2.0, False) for w in nose["wings"]]
    ops += [("ink", "nose", n, 0, True) for n in nose["nostrils"]]
    ops.append(("line", "nose", nose["tip"], 1.4, False))
    if nose["bridge"] is not None:
        ops.append(("line", "nose", nose["bridge"], 1.4, False))
    m = g["mouth"]
    ops += [("fill", "mouth", m["upper_lip"], 0, True),
            ("fill", "mouth", m["lower_lip"], 0, True),
            ("line", "mouth", m["top"], 2.0, False),
            ("line", "mouth", m["line"], 3.0, False),
            ("line", "mouth", m["bottom"][4:-4], 2.0, False)]
    if m["gap"] is not None:
        ops += [("line", "mouth", m["gap"], 2.0, True),
                ("line", "mouth", m["teeth"][len(m["line"]):], 1.4, False)]
    return ops


def _fx(pts, s):
    return np.round(np.asarray(pts) * (s * _FX)).astype(np.int32)


def _thickness(t, s):
    return max(1, int(round(t * s)))


def _draw_ops(ops, size):
    """Rasterise sketch ops: black strokes on a white canvas."""
    img = np.full((size, size), 255, np.uint8)
    s = size / CANONICAL_SIZE
    for kind, _, pts, thick, closed in ops:
        if len(pts) < 2:
            continue
        if kind == "fill":
            cv2.fillPoly(img, [_fx(pts, s)], 255, cv2.LINE_AA, _SUBPIX)
        elif kind == "ink":
            cv2.fillPoly(img, [_fx(pts, s)], 0, cv2.LINE_AA, _SUBPIX)
        else:
            cv2.polylines(img, [_fx(pts, s)], closed, 0, _thickness(thick, s),
                          cv2.LINE_AA, _SUBPIX)
    return img


# --------------------------------------------------------------------------
# Photo
# --------------------------------------------------------------------------

class _Canvas:
    """A colour canvas plus a foreground mask, drawn in canonical units."""

    def __init__(self, size, background):
        self.s = size / CANONICAL_SIZE
        self.img = background
        self.fg = np.zeros((size, size), np.uint8)

    def fill(self, pts, color):
        pts = [_fx(pts, self.s)]
        cv2.fillPoly(self.img, pts, color, cv2.LINE_AA, _SUBPIX)
        cv2.fillPoly(self.fg, pts, 255, cv2.LINE_AA, _SUBPIX)

    def line(self, pts, color, thick, closed=False):
        cv2.polylines(self.img, [_fx(pts, self.s)], closed, color,
                      _thickness(thick, self.s), cv2.LINE_AA, _SUBPIX)


def _shade(color, k):
    return tuple(int(min(255, round(c * k))) for c in color)


def _background(p, size):
    top, bottom = np.array(p.bg_top, np.float32), np.array(p.bg_bottom, np.float32)
    t = np.linspace(0, 1, size, dtype=np.float32)[:, None]
    col = top * (1 - t) + bottom * t
    return np.ascontiguousarray(np.broadcast_to(col[:, None, :], (size, size, 3))
                                .astype(np.uint8))


def _paint_eye(c, p, eye, brow):
    skin, hair = p.skin, p.hair_color
    brow_col = _mix(_mix(hair, (20, 16, 14), 0.25), skin, 0.25)
    c.fill(brow["poly"], brow_col)
    rng = np.random.default_rng([p.detail_seed, 2 + eye["sign"]])
    cen, th = brow["centre"], brow["thick"]
    for _ in range(14):
        j = int(rng.integers(2, len(cen) - 3))
        off = rng.uniform(-0.35, 0.35) * th[j]
        a = cen[j] + [0, off]
        b = cen[j + 3] + [0, off * 0.6 + rng.normal(0, 1)]
        c.line(np.array([a, b]), _shade(brow_col, rng.uniform(0.55, 0.85)), 1.2)
    c.fill(eye["outline"], _mix((236, 232, 228), skin, 0.12))
    r, ic = p.iris_r, eye["iris_c"]
    c.fill(_clip_to_eye(eye, _arc(ic, (r, r), 0, 360, 40)), _shade(p.iris_color, 0.7))
    c.fill(_clip_to_eye(eye, _arc(ic, (r * 0.8, r * 0.8), 0, 360, 32)), p.iris_color)
    c.fill(_clip_to_eye(eye, _arc(ic, (r * 0.42, r * 0.42), 0, 360, 20)), (16, 12, 12))
    glint = (ic[0] + r * 0.35 * p.light_x - r * 0.1, ic[1] - r * 0.3)
    xs, up_y, _ = eye["clip"]
    if glint[1] - r * 0.15 > np.interp(glint[0], xs, up_y):
        c.fill(_arc(glint, (r * 0.16, r * 0.16), 0, 360, 10), (245, 245, 245))
    lash = _mix((24, 18, 18), hair, 0.2)
    c.line(eye["upper"], lash, p.lash)
    if p.gender == "female":                  # winged lashes at the outer corner
        o, d, up = eye["outer"], eye["sign"], eye["upper"]
        c.fill(np.array([up[-7] + [0, -p.lash * 0.4], o + [d * 10, -7], o + [0, 1.5]]), lash)
    c.line(eye["lower"], _shade(skin, 0.62), 1.6)
    if eye["crease"] is not None:
        c.line(eye["crease"], _shade(skin, 0.72), 1.6)


def _paint_nose_mouth(c, p, g):
    skin, nose, m = p.skin, g["nose"], g["mouth"]
    for w in nose["wings"]:
        c.line(w, _shade(skin, 0.74), 2.0)
    for n in nose["nostrils"]:
        c.fill(n, _shade(skin, 0.38))
    c.line(nose["tip"], _shade(skin, 0.84), 1.5)
    lip = p.lip_color
    c.fill(m["upper_lip"], _shade(lip, 0.82))
    c.fill(m["lower_lip"], lip)
    if m["gap"] is not None:
        c.fill(m["gap"], (58, 22, 28))
        c.fill(m["teeth"], (236, 232, 222))
    c.line(m["line"], _shade(lip, 0.45), 2.0)


def _paint_hair(c, p, g, layer):
    hair, col = g["hair"], p.hair_color
    if layer == "back":
        if hair["back"] is not None:
            c.fill(hair["back"], _shade(col, 0.62))
        return
    if hair["bun"] is not None:
        b = hair["bun"]
        c.fill(_arc(b["c"], (b["r"], b["r"] * 0.9), 0, 360, 32), _shade(col, 0.9))
    front_col = _mix(p.skin, col, hair["tint"]) if hair["tint"] < 1 else col
    for poly in hair["front"]:
        c.fill(poly, front_col)
    if hair["tint"] < 1 or not hair["strands"]:
        return
    rng = np.random.default_rng([p.detail_seed, 4])
    lo, hi = (0.6, 1.5) if max(col) < 80 else (0.72, 1.22)
    for st in hair["strands"]:
        c.line(st, _shade(col, rng.uniform(lo, hi)), rng.uniform(0.8, 1.6))
    if hair["part_line"] is not None:
        c.line(hair["part_line"], _shade(col, 0.5), 2.5)


def _paint_flat(p, g, size):
    """Flat-coloured shapes in back-to-front order."""
    c = _Canvas(size, _background(p, size))
    skin, body = p.skin, g["body"]
    c.fill(body["body"], p.shirt_color)
    _paint_hair(c, p, g, "back")
    c.fill(body["neck"], _shade(skin, 0.97))
    for ear in g["ears"]:
        c.fill(ear["outer"], _shade(skin, 0.96))
        c.line(ear["inner"], _shade(skin, 0.72), 2.0)
    c.fill(g["face"], skin)
    for eye, brow in zip(g["eyes"], g["brows"]):
        _paint_eye(c, p, eye, brow)
    _paint_nose_mouth(c, p, g)
    _paint_hair(c, p, g, "front")
    return c


def _mask(shape, polys, s, value=255, img=None):
    img = np.zeros(shape, np.uint8) if img is None else img
    for poly in polys:
        cv2.fillPoly(img, [_fx(poly, s)], value, cv2.LINE_AA, _SUBPIX)
    return img


def _light_map(p, g, size):
    """Multiplicative RGB lighting at quarter resolution (smooth shading)."""
    n = max(16, size // 4)
    s = n / CANONICAL_SIZE
    shp = (n, n)
    hair = g["hair"]
    hair_polys = list(hair["front"])
    if hair["back"] is not None:
        hair_polys.append(hair["back"])
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
        cv2.polylines(m, [_fx(top + [shift, 0], s)], False, 255, _thickness(14, s),
                      cv2.LINE_AA, _SUBPIX)
    return m


def _shadow_shapes(p, g, shp, s):
    """Soft shadows: eye sockets, nose side, under nose / lip, under the jaw."""
    m = np.zeros(shp, np.uint8)
    jaw = g["face"] + [0, 22]
    cv2.fillPoly(m, [_fx(jaw, s)], 130, cv2.LINE_AA, _SUBPIX)
    cv2.fillPoly(m, [_fx(g["face"], s)], 0, cv2.LINE_AA, _SUBPIX)
    for eye in g["eyes"]:
        c = (eye["inner"] + eye["outer"]) / 2
        cv2.fillPoly(m, [_fx(_arc(c - [0, p.eye_open * 0.7], (p.eye_w * 1.05, p.eye_open * 1.1),
                                  0, 360, 20), s)], 60, cv2.LINE_AA, _SUBPIX)
        cv2.polylines(m, [_fx(eye["upper"] + [0, 2], s)], False, 110,
                      _thickness(5, s), cv2.LINE_AA, _SUBPIX)
    side = 1 if p.light_x < 0 else -1
    e = g["eyes"][1 if side > 0 else 0]
    bridge = np.array([e["inner"] + [-side * 8, 6],
                       (p.nose_x + side * p.nose_w * 0.45, p.nose_y - 18)])
    cv2.polylines(m, [_fx(bridge, s)], False, 45, _thickness(7, s), cv2.LINE_AA, _SUBPIX)
    for w in g["nose"]["wings"]:
        cv2.polylines(m, [_fx(w, s)], False, 80, _thickness(5, s), cv2.LINE_AA, _SUBPIX)
    y = p.nose_y + 10
    cv2.fillPoly(m, [_fx(_arc((p.nose_x, y), (p.nose_w * 0.8, 6), 0, 360, 16), s)],
                 70, cv2.LINE_AA, _SUBPIX)
    cv2.fillPoly(m, [_fx(_arc((p.mouth_x, p.mouth_y + p.lip_low + 8 + p.mouth_open),
                              (p.mouth_w * 0.5, 6), 0, 360, 16), s)], 80, cv2.LINE_AA, _SUBPIX)
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
        cv2.fillPoly(m, [_fx(_arc(c, r, 0, 360, 16), s)], v, cv2.LINE_AA, _SUBPIX)
    return m


def _tints(p, g, rgb, shp, s, skin_f):
    """Colour tints in place: cheek blush and beard stubble."""
    ey = (p.eye1[1] + p.eye2[1]) / 2
    if p.blush > 0:
        m = np.zeros(shp, np.uint8)
        for sx in (-1, 1):
            cv2.fillPoly(m, [_fx(_arc((p.cx + sx * p.face_w * 0.6, ey + 62), (28, 18),
                                      0, 360, 16), s)], 255, cv2.LINE_AA, _SUBPIX)
        b = cv2.GaussianBlur(m.astype(np.float32) / 255, (0, 0), 10 * s) * p.blush
        rgb[:, :, 1] *= 1 - b
        rgb[:, :, 2] *= 1 - 0.8 * b
    if p.stubble > 0:
        m = _mask(shp, [g["face"]], s)
        cv2.fillPoly(m, [_fx(g["mouth"]["upper_lip"], s), _fx(g["mouth"]["lower_lip"], s)],
                     0, cv2.LINE_AA, _SUBPIX)
        ys = np.arange(shp[0], dtype=np.float32) / s
        ramp = np.clip((ys - p.nose_y - 8) / 60.0, 0, 1)[:, None]
        b = cv2.GaussianBlur(m.astype(np.float32) / 255 * ramp, (0, 0), 4 * s) * skin_f
        ratio = np.array(p.hair_color, np.float32) / np.maximum(p.skin, 1)
        rgb *= 1 - b[:, :, None] * p.stubble * (1 - np.minimum(ratio, 1.2))[None, None, :]


def _paint_photo(p, g, size):
    """Flat shapes times the light map (foreground only), softly blurred."""
    c = _paint_flat(p, g, size)
    light = _light_map(p, g, size)
    fg = c.fg.astype(np.float32) * (1.0 / 255)
    img = c.img.astype(np.float32) * (1.0 + (light - 1.0) * fg[:, :, None])
    img = cv2.GaussianBlur(img, (0, 0), max(0.4, 0.9 * c.s))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def render_face(params, size=512):
    """Render ``params`` to ``(photo RGB uint8 HxWx3, sketch uint8 HxW)``.

    Both are drawn from the same geometry; the sketch has black lines on
    white (255). ``size`` is any square size whose component boxes scale
    to whole pixels (64, 128, 256, 512, ...).
    """
    scaled_boxes(size)                       # validates the size
    g = build_geometry(params)
    return _paint_photo(params, g, size), _draw_ops(_sketch_ops(g, params), size)


# --------------------------------------------------------------------------
# Rough sketches
# --------------------------------------------------------------------------

_PART_GROUPS = ("eye1", "eye2", "brow1", "brow2", "nose", "mouth")


def _wobble(pts, rng, amp):
    """Resample a stroke and add smooth low-frequency wobble plus tremor."""
    length = np.hypot(*np.diff(pts, axis=0).T).sum()
    n = int(np.clip(length / 3.0, 4, 400))
    q = _resample(pts, n)
    knots = max(2, int(length / 40) + 2)
    kx, ky = rng.normal(0, amp, (2, knots))
    u = np.linspace(0, knots - 1, n)
    q[:, 0] += np.interp(u, np.arange(knots), kx) + rng.normal(0, amp * 0.15, n)
    q[:, 1] += np.interp(u, np.arange(knots), ky) + rng.normal(0, amp * 0.15, n)
    return q


def _break(q, rng, strength):
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


def _rough_ops(ops, rng, strength):
    """Perturbed copies of sketch ops (see :func:`make_rough`)."""
    shift = {grp: rng.normal(0, 3.0 * strength, 2).clip(-8, 8) for grp in _PART_GROUPS}
    out = []
    for kind, grp, pts, thick, closed in ops:
        pts = np.asarray(pts, np.float64) + shift.get(grp, 0.0)
        if kind != "line":
            out.append((kind, grp, pts, thick, closed))
            continue
        if closed:
            pts = np.vstack([pts, pts[:1]])
        short = np.hypot(*np.diff(pts, axis=0).T).sum() < 160
        if short and rng.random() < 0.08 * strength:
            continue                                   # missing stroke
        t = max(1.0, thick * rng.uniform(0.75, 1.3))
        q = _wobble(pts, rng, 1.6 * strength)
        out += [("line", grp, piece, t, False) for piece in _break(q, rng, strength)]
        if rng.random() < 0.22 * strength:              # doubled stroke
            q2 = _wobble(pts, rng, 1.6 * strength) + rng.normal(0, 2.5 * strength, 2)
            m = len(q2)
            a = int(rng.integers(0, max(1, m - 4)))
            b = min(m, a + int(rng.integers(4, max(5, min(m, 60)))))
            out.append(("line", grp, q2[a:b], max(1.0, t * 0.7), False))
    return out


def _rough_raster(sketch, rng, strength):
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
        return _rough_raster(sketch, rng, strength)
    ops = _sketch_ops(build_geometry(params), params)
    return _draw_ops(_rough_ops(ops, rng, strength), sketch.shape[0])


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------

def make_sample(seed, index, size=512, rough=False, gender=None):
    """Sample ``index`` of the stream ``seed``: depends on nothing else.

    Same output as ``render_face`` / ``make_rough(..., params=params)`` on
    ``sample_params(np.random.default_rng([seed, index]), gender)``, with
    the geometry built once. Forcing ``gender`` changes the sample.
    """
    scaled_boxes(size)
    rng = np.random.default_rng([seed, index])
    params = sample_params(rng, gender)
    g = build_geometry(params)
    ops = _sketch_ops(g, params)
    out = dict(photo=_paint_photo(params, g, size), sketch=_draw_ops(ops, size),
               gender=params.gender, params=params)
    if rough:
        out["sketch_rough"] = _draw_ops(_rough_ops(ops, rng, 1.0), size)
    return out


def generate(n, seed, size=512, rough=False, start=0):
    """Yield samples ``start .. start+n-1`` of the stream ``seed``.

    Each is a dict with ``photo`` (RGB), ``sketch``, ``gender``, ``params``
    and, when ``rough``, ``sketch_rough``.
    """
    for i in range(start, start + n):
        yield make_sample(seed, i, size, rough)
