"""The face components and where they sit: the single source of these facts.

Boxes are (x, y, size) on the canonical 512x512 sketch, as in the authors'
release. Every other resolution scales them (see ``scaled_boxes``).
"""

CANONICAL_SIZE = 512

# Official keys: the remainder (whole face) is the empty string in the
# authors' file names (``latest_net_encoder_.pkl``).
PARTS = ("eye1", "eye2", "nose", "mouth", "")

# Human readable names, used in logs, option help and file names we write.
PART_NAMES = {"eye1": "eye1", "eye2": "eye2", "nose": "nose",
              "mouth": "mouth", "": "remainder"}

BOXES_512 = {
    "eye1": (108, 156, 128),   # left eye (image left)
    "eye2": (255, 156, 128),   # right eye
    "nose": (182, 232, 160),
    "mouth": (169, 301, 192),
    "": (0, 0, 512),           # remainder: the whole face
}

# The FM feature maps are pasted onto the remainder's map in this order;
# later pastes win.
PASTE_ORDER = ("mouth", "nose", "eye1", "eye2")

# Only the top 124 of the nose's 160 rows are pasted (its last 36 are dropped).
NOSE_PASTE_ROWS_512 = 124


# Feature banks may be split by gender (the authors' man_/female_ files);
# inference can project onto one of them or onto both ("all").
GENDERS = ("male", "female")
BANK_CHOICES = GENDERS + ("all",)


# The pipelines a checkpoint folder can hold (option --pipeline):
#   components  DeepFaceDrawing: five component autoencoders, FM, IS
#   whole_face  ablation: one autoencoder on the whole sketch, its FM map, IS
#   direct      ablation, pix2pixHD baseline: the sketch itself into IS (no CE, no FM)
PIPELINES = ("components", "whole_face", "direct")


def pipeline_parts(pipeline):
    """The parts with an autoencoder and an FM decoder in ``pipeline``."""
    if pipeline == "components":
        return PARTS
    if pipeline == "whole_face":
        return ("",)
    if pipeline == "direct":
        return ()
    raise ValueError(f"unknown pipeline {pipeline!r}; expected one of {', '.join(PIPELINES)}")


def part_key(name):
    """Map a user-facing part name ('remainder', 'eye1', ...) to its key."""
    if name in PARTS:
        return name
    for key, label in PART_NAMES.items():
        if label == name:
            return key
    raise ValueError(f"unknown face part {name!r}; expected one of "
                     + ", ".join(PART_NAMES[p] for p in PARTS))


def scaled_boxes(image_size, boxes=None):
    """Boxes for a square image of ``image_size`` pixels.

    Positions are rounded to the nearest pixel; sizes must scale to whole
    pixels, so ``image_size`` has to divide the box sizes cleanly
    (any power of two from 64 to 512, or 1024, works for the defaults).
    """
    boxes = boxes or BOXES_512
    out = {}
    for key, (x, y, s) in boxes.items():
        size = s * image_size / CANONICAL_SIZE
        if abs(size - round(size)) > 1e-9:
            raise ValueError(f"component box {PART_NAMES[key]!r} of size {s} "
                             f"does not scale to a whole number of pixels "
                             f"at image size {image_size}")
        out[key] = (int(round(x * image_size / CANONICAL_SIZE)),
                    int(round(y * image_size / CANONICAL_SIZE)), int(round(size)))
    return out


def nose_paste_rows(image_size):
    return int(round(NOSE_PASTE_ROWS_512 * image_size / CANONICAL_SIZE))


# Where the face's features sit on the canonical 512x512 canvas (pixel-index
# (x, y)): the centroids of the image-left eye, the image-right eye and the
# upper lip (stable when the mouth opens), measured on the procedural faces
# the component boxes were laid out for. Real photos are aligned onto these
# points (data/celeba.py).
FACE_ANCHORS_512 = ((172.0, 221.0), (320.0, 221.0), (247.0, 372.0))
