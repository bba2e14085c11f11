"""Face parameters: :class:`FaceParams`, the categorical attributes and
:func:`sample_params`.

The per-part samplers and the colour palettes live in ``sampling.py``; this
module holds the attribute vocabularies, their probabilities per gender and
the order in which a face is drawn from a random generator.
"""

from dataclasses import dataclass

from util.components import GENDERS  # noqa: F401  (re-exported: part of this package's API)

from . import sampling as S

HAIR_STYLES = ("short", "buzz", "bald", "fringe", "bob", "long", "bun",
               "wavy", "curly", "ponytail", "parted")
FACIAL_HAIR = ("none", "stubble", "moustache", "goatee", "beard")
GLASSES = ("none", "round", "rect")
EXPRESSIONS = ("neutral", "smile", "open")
BROW_SHAPES = ("straight", "arched", "angled")
FACE_SHAPES = ("oval", "round", "square", "long", "heart")
EARRINGS = ("none", "stud", "hoop")

# Probabilities per gender, in the order of the vocabularies above.
_P = {
    "hair_style": {
        #          short buzz bald fringe bob long bun wavy curly pony parted
        "male": (0.24, 0.12, 0.08, 0.12, 0.03, 0.03, 0.02, 0.02, 0.12, 0.02, 0.20),
        "female": (0.05, 0.01, 0.00, 0.10, 0.15, 0.20, 0.10, 0.12, 0.10, 0.10, 0.07)},
    "facial_hair": {"male": (0.45, 0.20, 0.08, 0.10, 0.17),
                    "female": (1.0, 0.0, 0.0, 0.0, 0.0)},
    "glasses": {"male": (0.68, 0.12, 0.20), "female": (0.72, 0.14, 0.14)},
    "expression": {"male": (0.45, 0.35, 0.20), "female": (0.40, 0.38, 0.22)},
    "brow_shape": {"male": (0.45, 0.20, 0.35), "female": (0.20, 0.50, 0.30)},
    "face_shape": {"male": (0.28, 0.18, 0.26, 0.16, 0.12),
                   "female": (0.32, 0.20, 0.12, 0.16, 0.20)},
    "earrings": {"male": (0.93, 0.07, 0.0), "female": (0.58, 0.20, 0.22)},
}
_VOCAB = {"hair_style": HAIR_STYLES, "facial_hair": FACIAL_HAIR, "glasses": GLASSES,
          "expression": EXPRESSIONS, "brow_shape": BROW_SHAPES,
          "face_shape": FACE_SHAPES, "earrings": EARRINGS}
# What a face is labelled with (the categorical draws; train.py --balance)
ATTRIBUTES = ("gender",) + tuple(_VOCAB)


@dataclass
class FaceParams:
    """Random geometry and appearance of one face (canonical 512 units)."""
    gender: str
    hair_style: str
    face_shape: str
    expression: str
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
    brow_shape: str
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
    cheek_lines: bool    # smile folds from the nose wings to the mouth corners
    lip_color: tuple
    # ears, neck, body
    ear_w: float
    neck_w: float
    shoulder_y: float
    neckline: float      # depth of the shirt neckline
    shirt_color: tuple
    earrings: str
    earring_color: tuple
    # hair
    hair_color: tuple
    hair_vol: float      # height of the hair above the skull
    hair_side: float     # thickness of the hair at the sides
    hairline_y: float
    part: float          # horizontal position of the parting (-1..1)
    hair_len: float      # bottom of bob / long / curly hair
    hair_cover: float    # how far side hair covers the cheeks
    curl: float          # curl radius of curly hair (0 otherwise)
    # facial hair
    facial_hair: str
    beard_len: float     # how far a beard reaches below the jaw line
    moustache_h: float   # moustache thickness above the upper lip
    stubble: float       # strength of the shaved-beard tint
    # glasses
    glasses: str
    glasses_w: float     # lens half width
    glasses_h: float     # lens half height
    glasses_color: tuple
    glasses_thick: float
    # colour and light
    skin: tuple
    bg_top: tuple
    bg_bottom: tuple
    light_x: float       # -1 light from the left .. 1 from the right
    blush: float
    detail_seed: int     # seeds small random details (strands, lumps, styles)


def _choice(rng, key, gender):
    p = _P[key][gender]
    return _VOCAB[key][int(rng.choice(len(p), p=p))]


def sample_params(rng, gender=None, **force):
    """Draw a random :class:`FaceParams` from ``rng`` (a numpy Generator).

    ``gender`` ('male' / 'female', random when None) shifts the
    distributions: hair style, facial hair, face shape, brows, lashes, lip
    colour, earrings and blush. ``force`` fixes categorical attributes
    (``hair_style``, ``facial_hair``, ``glasses``, ``expression``,
    ``brow_shape``, ``face_shape``, ``earrings``) while the rest is drawn as
    usual: the random stream is consumed identically either way.
    """
    if gender is None:
        gender = GENDERS[int(rng.integers(2))]
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")
    for key, value in force.items():
        if key not in _VOCAB:
            raise TypeError(f"unknown attribute {key!r}; forcible: {', '.join(_VOCAB)}")
        if value not in _VOCAB[key]:
            raise ValueError(f"{key} must be one of {_VOCAB[key]}, got {value!r}")
    male = gender == "male"
    cat = {key: _choice(rng, key, gender) for key in _VOCAB}
    cat.update(force)
    skin = S.sample_skin(rng)
    head = S.sample_head(rng, male, cat["face_shape"])
    bun_top = rng.uniform(48, 62)
    if cat["hair_style"] == "bun":              # room above the head for the bun
        head["skull_top"] = bun_top
    fields = dict(gender=gender, skin=skin, **cat, **head)
    fields.update(S.sample_eyes(rng, male))
    fields.update(S.sample_brows(rng, male, cat["brow_shape"]))
    fields.update(S.sample_nose_mouth(rng, male, head["cx"], skin, cat["expression"]))
    fields.update(S.sample_hair(rng, male, cat["hair_style"], head))
    fields.update(S.sample_facial_hair(rng, cat["facial_hair"]))
    fields.update(S.sample_glasses(rng, fields["eye_w"], cat["glasses"]))
    fields.update(S.sample_colors(rng, male))
    fields.update(
        ear_w=rng.uniform(14, 22),
        neck_w=head["face_w"] * rng.uniform(0.46, 0.56) + (6 if male else 0),
        neckline=rng.uniform(20, 60),
        earring_color=S.sample_metal(rng),
        detail_seed=int(rng.integers(0, 2 ** 31 - 1)))
    # the chin stays clear of the (possibly open) mouth
    low_lip = fields["mouth_y"] + fields["lip_low"] + fields["mouth_open"]
    fields["chin_y"] = max(fields["chin_y"], low_lip + 30.0)
    fields["shoulder_y"] = fields["chin_y"] + rng.uniform(38, 60)
    return FaceParams(**fields)
