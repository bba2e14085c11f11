"""Per-part random samplers and colour palettes used by ``sample_params``.

Each sampler returns a dict of :class:`FaceParams` fields. Positions are in
canonical 512 pixels; the eyes, nose and mouth are placed so that they stay
inside their component boxes (``util.components.BOXES_512``).
"""

import colorsys

import numpy as np

from .curves import box_centre

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

# Metals (gold, silver, rose gold) for earrings and metal glasses frames.
_METAL = np.array([[212, 172, 84], [196, 198, 204], [206, 150, 128]], np.float64)


def jitter_color(rng, base, amount):
    """``base`` with a random brightness change and a little per-channel
    noise (so that dark colours keep their hue)."""
    c = np.asarray(base, np.float64)
    c = c * rng.uniform(1 - amount / 60, 1 + amount / 60) + rng.normal(0.0, amount / 3, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def mix(a, b, t):
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))


def hsv(h, s, v):
    return tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def sample_skin(rng):
    t = rng.beta(1.4, 1.8) * (len(_SKIN) - 1)
    i = min(int(t), len(_SKIN) - 2)
    base = _SKIN[i] * (1 - (t - i)) + _SKIN[i + 1] * (t - i)
    return jitter_color(rng, base, 4.0)


def sample_metal(rng):
    return jitter_color(rng, _METAL[rng.integers(len(_METAL))], 6)


def sample_head(rng, male, shape):
    """Head outline numbers for a face ``shape`` (see ``FACE_SHAPES``)."""
    u = rng.uniform
    fw = u(128, 150) + (6 if male else 0)
    cx = (box_centre("eye1")[0] + box_centre("eye2")[0]) / 2 + rng.normal(0, 2)
    if shape == "round":
        fw += 8
        jaw, jaw_y, chin, chin_y = fw * u(0.86, 0.95), u(360, 385), u(44, 60), u(438, 452)
    elif shape == "square":
        jaw, jaw_y = fw * u(0.90, 0.98), u(392, 412)
        chin, chin_y = (u(50, 66) if male else u(40, 54)), u(444, 462)
    elif shape == "long":
        fw -= 10
        jaw, jaw_y, chin, chin_y = fw * u(0.78, 0.88), u(396, 420), u(30, 46), u(470, 490)
    elif shape == "heart":
        fw += 4
        jaw, jaw_y, chin, chin_y = fw * u(0.62, 0.74), u(365, 390), u(14, 26), u(445, 468)
    else:                                            # oval
        jaw = fw * (u(0.80, 0.94) if male else u(0.68, 0.84))
        jaw_y = u(370, 400)
        chin = u(34, 52) if male else u(22, 38)
        chin_y = u(446, 470) if male else u(438, 462)
    return dict(cx=cx, face_w=fw, jaw_w=jaw, jaw_y=jaw_y, chin_w=chin, chin_y=chin_y,
                skull_top=u(12, 30) if shape == "long" else u(22, 46),
                asym=rng.normal(0, 0.02))


def sample_eyes(rng, male):
    ew = rng.uniform(28, 36)
    eo = ew * rng.uniform(0.36, 0.56)
    e1, e2 = box_centre("eye1"), box_centre("eye2")
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
        iris_color=jitter_color(rng, _IRIS[rng.choice(len(_IRIS), p=_IRIS_P)], 8),
        crease=0.0 if rng.random() < 0.2 else rng.uniform(7, 13),
        lash=rng.uniform(2.5, 3.5) if male else rng.uniform(3.5, 5.0))


def sample_brows(rng, male, shape):
    """Brow numbers; thickness ranges from thin to bushy (per gender)."""
    weight = rng.choice(3, p=(0.25, 0.5, 0.25))            # thin / medium / thick
    lo, hi = ((5, 8), (8, 12), (12, 16))[weight] if male else ((3, 5), (5, 8), (8, 11))[weight]
    arch = {"straight": rng.uniform(0, 2.5), "arched": rng.uniform(7, 14),
            "angled": rng.uniform(6, 12)}[shape]
    return dict(
        brow_shape=shape,
        brow_gap=rng.uniform(12, 22) if male else rng.uniform(16, 28),
        brow_thick=rng.uniform(lo, hi),
        brow_arch=arch,
        brow_len=rng.uniform(2.0, 2.5),
        brow_tail=rng.uniform(-2, 8) if shape != "straight" else rng.uniform(-2, 3))


def sample_nose_mouth(rng, male, cx, skin, expression):
    nose_y = rng.uniform(302, 332)
    mouth_y = float(np.clip(nose_y + rng.uniform(50, 68), 368, 400))
    if male:
        lip = mix(skin, jitter_color(rng, _LIP_MALE, 8), rng.uniform(0.25, 0.45))
        lip = mix(lip, (0, 0, 0), 0.08)
    else:
        pigment = _LIP_FEMALE[rng.integers(len(_LIP_FEMALE))]
        lip = mix(skin, jitter_color(rng, pigment, 8), rng.uniform(0.45, 0.8))
    smile = {"neutral": rng.uniform(-2, 3), "smile": rng.uniform(6, 13),
             "open": rng.uniform(2, 11)}[expression]
    width = rng.uniform(36, 50) * (1.06 if expression == "smile" else 1.0)
    return dict(
        nose_x=cx + rng.normal(0, 1.5), nose_y=nose_y,
        nose_w=rng.uniform(22, 31) + (3 if male else 0),
        nose_bridge=int(rng.choice([-1, 0, 0, 1])),
        mouth_x=cx + rng.normal(0, 1.5), mouth_y=mouth_y,
        mouth_w=width,
        lip_up=rng.uniform(6, 10) + (0 if male else 2),
        lip_low=rng.uniform(9, 14) + (0 if male else 3),
        smile=smile,
        mouth_open=rng.uniform(10, 18) * (expression == "open"),
        cheek_lines=bool(rng.random() < 0.7 and expression != "neutral"),
        lip_color=lip)


def sample_hair(rng, male, style, head):
    """Hair numbers. Every draw is made whatever the style, so that forcing
    another style leaves the rest of the face unchanged."""
    u = rng.uniform
    color = jitter_color(rng, _HAIR[rng.choice(len(_HAIR), p=_HAIR_P)], 8)
    vol = {"short": u(12, 34), "buzz": u(3, 6), "bald": 0.0, "fringe": u(14, 34),
           "bob": u(16, 36), "long": u(14, 38), "bun": u(5, 12), "wavy": u(18, 40),
           "curly": u(34, 58), "ponytail": u(4, 9), "parted": u(18, 36)}[style]
    side = {"buzz": 2.0, "bald": u(4, 8), "bun": u(3, 7), "ponytail": u(3, 6),
            "curly": u(20, 34), "other": u(6, 16)}
    side = side.get(style, side["other"])
    lengths = {"long": 560.0, "wavy": 560.0,
               "bob": u(head["jaw_y"] - 10, head["chin_y"] + 40),
               "curly": u(head["jaw_y"] - 20, head["chin_y"] + (10 if male else 70)),
               "ponytail": head["chin_y"] + u(40, 100)}     # tip of the tail
    if rng.random() < (0.7 if male else 0.0):               # short curly hair
        lengths["curly"] = 0.0
    length = lengths.get(style, 0.0)
    part = u(-1, 1) * float(rng.random() < 0.75)
    side_part = float(rng.choice([-1, 1, 0], p=(0.4, 0.4, 0.2))) * u(0.65, 0.95)
    if style == "parted":                            # a clear left / right / centre part
        part = side_part
    elif style == "ponytail":
        part = 0.0
    cover = {"bob": u(-4, 22), "long": u(-4, 22), "wavy": u(-4, 22), "curly": u(0, 12)}
    return dict(
        hair_color=color, hair_vol=vol, hair_side=side,
        hairline_y=head["skull_top"] + u(55, 85) + (6 if male else 0),
        part=part, hair_len=length,
        hair_cover=cover.get(style, 0.0) if length > 0 else 0.0,
        curl=u(5, 9) * (style == "curly"))


def sample_facial_hair(rng, kind):
    length, height, stubble = rng.uniform(4, 26), rng.uniform(18, 30), rng.uniform(0.2, 0.45)
    return dict(beard_len=length if kind in ("beard", "goatee") else 0.0,
                moustache_h=height if kind in ("moustache", "goatee", "beard") else 0.0,
                stubble=stubble if kind != "none" else 0.0)


def sample_glasses(rng, eye_w, kind):
    w = eye_w * rng.uniform(1.28, 1.5)
    h = w * (rng.uniform(0.86, 1.0) if kind == "round" else rng.uniform(0.62, 0.8))
    r = rng.random()
    if r < 0.45:
        color = jitter_color(rng, (22, 20, 20), 6)                  # black
    elif r < 0.7:
        color = jitter_color(rng, (92, 56, 32), 8)                  # tortoise brown
    elif r < 0.88:
        color = sample_metal(rng)
    else:
        color = hsv(rng.random(), rng.uniform(0.4, 0.8), rng.uniform(0.35, 0.75))
    metal = r >= 0.7 and r < 0.88
    return dict(glasses_w=w, glasses_h=h, glasses_color=color,
                glasses_thick=rng.uniform(1.6, 2.6) if metal else rng.uniform(3.0, 5.5))


def sample_colors(rng, male):
    h = rng.random()
    bg_top = hsv(h, rng.uniform(0.05, 0.45), rng.uniform(0.55, 0.95))
    bg_bottom = mix(bg_top, hsv(h + rng.normal(0, 0.05), rng.uniform(0.05, 0.5),
                                rng.uniform(0.35, 0.8)), 0.7)
    shirt = hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.2, 0.9))
    return dict(bg_top=bg_top, bg_bottom=bg_bottom, shirt_color=shirt,
                light_x=rng.uniform(-1, 1),
                blush=0.0 if male else rng.uniform(0.0, 0.12))
