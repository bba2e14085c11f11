"""Sketch normalisation at inference (DeepFaceDrawing): strokes brought to
the width the model was trained on, and a face drawn too small or away from
the component layout moved onto it. NumPy and OpenCV only.

    from data.sketch_norm import normalise_sketch
    sketch, notes = normalise_sketch(sketch, model_size=128)

Each change gives a one-line note; a sketch within the bounds of the
training sketches comes back unchanged (the very same array), with no note.

The reference facts below are measured on the procedural "clean" sketches
the models are trained on (``data/synthetic``: ``make_sample(..., style=
"clean")``); ``tests/test_sketch_norm.py`` measures them again from the
generator, so they cannot drift from it unnoticed.
"""

import math

import cv2
import numpy as np

from data.sketch_tone import DARK, lines_of_shaded  # DARK: a pixel darker is stroke

# --- reference facts (measured; fractions of the image size unless said otherwise) ---
# Stroke width (``stroke_width``, pixels) of the clean sketches at the
# sizes models are trained at. Not one fraction of the size: the generator
# rounds its line thickness to whole pixels (2.4 px at 512 -> 2 px, but
# 1.2 px at 256 and 0.6 px at 128 -> 1 px).
TRAIN_STROKE_WIDTH_PX = {128: 1.32, 256: 1.29, 512: 3.48}
# Where the face's strokes lie (``face_extent``): ranges over the clean
# sketches as drawn and with their hair, their neck and shoulders, or both
# left out, since a hand drawing may lack them (the neck and shoulders run
# off the bottom edge in every training sketch: a head drawn alone is
# smaller and higher without being misplaced). ``size`` is the geometric
# mean of the width and height of the strokes' bounding box.
PROCEDURAL_CENTRE_X = (0.465, 0.500)
PROCEDURAL_CENTRE_Y = (0.430, 0.560)
PROCEDURAL_SIZE = (0.690, 0.980)
# The same for the real faces' training sketches (data/photo_sketch.py;
# CelebAMask-HQ train ids, every 9th of 0..4499, drawn whole and without
# hair, neck and shoulders, or both; 5th to 95th percentile): real faces
# turn and fill the frame, so they spread wider (their eyes, aligned onto
# the layout, do not: a face without its hair is both smaller and lower). The bundled models were
# trained on them. Measured on 2026-12-06; the data is not in the
# repository, so the tests check only that these ranges hold the
# procedural ones.
REAL_CENTRE_X = (0.367, 0.625)
REAL_CENTRE_Y = (0.469, 0.672)
REAL_SIZE = (0.555, 1.000)
# What a sketch may span without being moved: both kinds of training sketch.
FACE_CENTRE_X = (min(PROCEDURAL_CENTRE_X[0], REAL_CENTRE_X[0]),
                 max(PROCEDURAL_CENTRE_X[1], REAL_CENTRE_X[1]))
FACE_CENTRE_Y = (min(PROCEDURAL_CENTRE_Y[0], REAL_CENTRE_Y[0]),
                 max(PROCEDURAL_CENTRE_Y[1], REAL_CENTRE_Y[1]))
FACE_SIZE = (min(PROCEDURAL_SIZE[0], REAL_SIZE[0]), max(PROCEDURAL_SIZE[1], REAL_SIZE[1]))

# --- when to act ---
# stroke width
WIDTH_FACTOR = 2.0                  # strokes wider/narrower than this factor are changed
                                    # (every training style, overdrawn and sketchy ones too,
                                    # lies within it)...
WIDTH_CLOSE = 1.2                   # ...until within this factor of the training width,
WIDTH_ROUNDS = 3                    # in at most this many rounds
UPSAMPLE = 4                        # widths change in steps of 2/UPSAMPLE px
MIN_STROKE_LENGTH = 0.5             # less skeleton than this x image side: width not judged
MAX_INK = 0.5                       # a line drawing has at most this share of dark pixels
MAX_STROKE = 0.06                   # and strokes at most this x image side wide
# fitting onto the component layout
CENTRE_TOLERANCE = 0.04             # a centre this far (x image size) outside its range moves
SCALE_TOLERANCE = 1.12              # a size this factor outside its range is scaled
SCALE_LIMITS = (0.5, 2.0)           # the most a fit scales a sketch by
MIN_FIT_SIZE = 0.3                  # smaller drawings are partial ones: left where they are
SPECK_PIXELS = 6                    # strokes with fewer pixels (at 128 px) are specks
PAPER_MARGIN = 64                   # strokes this much darker than the paper count in the extent


def wanted(opt):
    """Whether inference normalises each sketch: DeepFaceDrawing (the
    sketch embedding's strokes are labelled, not fitted) without
    --no_sketch_norm. One reading of the flag for demo, app and evaluation."""
    return (getattr(opt, "method", "deepfacedrawing") == "deepfacedrawing"
            and not getattr(opt, "no_sketch_norm", False))


def train_stroke_width(size):
    """Stroke width (``stroke_width``, pixels) of the training sketches at
    ``size``: TRAIN_STROKE_WIDTH_PX, or for another size that of the
    nearest size listed, scaled (never under the thinnest listed)."""
    if size in TRAIN_STROKE_WIDTH_PX:
        return TRAIN_STROKE_WIDTH_PX[size]
    near = min(TRAIN_STROKE_WIDTH_PX, key=lambda s: abs(math.log(size / s)))
    return max(min(TRAIN_STROKE_WIDTH_PX.values()), TRAIN_STROKE_WIDTH_PX[near] * size / near)


def _skeleton(mask):
    from data.sketch_extract import zhang_suen_thinning
    return zhang_suen_thinning(mask)


def stroke_width(sketch):
    """Typical stroke width of a sketch in pixels, or None when there is too
    little drawn to tell (a skeleton shorter than MIN_STROKE_LENGTH times
    the image side).

    Width = stroke area / stroke length, measured locally and robustly:
    the strokes' one-pixel skeleton (Zhang-Suen thinning of the dark
    pixels) is their length; around each skeleton pixel, the dark pixels in
    a window divided by the skeleton pixels in it is the local width (a
    stroke of width w crossing the window has w dark pixels for every
    skeleton pixel). The sketch's width is the median over the skeleton, so
    a filled region (much area, a short skeleton), crossings and a few
    overdrawn strokes do not decide it. The window is sized from the
    distance transform on the skeleton (the strokes' half width, at most
    MAX_STROKE of the side), so that it spans a stroke's whole
    cross-section."""
    mask = np.asarray(sketch) < DARK
    skeleton = _skeleton(mask)
    if skeleton.sum() < MIN_STROKE_LENGTH * mask.shape[0]:
        return None
    half = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    half_width = min(float(np.median(half[skeleton])), MAX_STROKE * mask.shape[0])
    k = 4 * int(round(half_width)) + 5
    area = cv2.boxFilter(mask.astype(np.float32), -1, (k, k), normalize=False,
                         borderType=cv2.BORDER_CONSTANT)
    length = cv2.boxFilter(skeleton.astype(np.float32), -1, (k, k), normalize=False,
                           borderType=cv2.BORDER_CONSTANT)
    return float(np.median(area[skeleton] / length[skeleton]))


class WidthChanger:
    """Strokes of one sketch made wider or narrower by any amount: grey-level
    morphology with a disc (a min filter spreads the dark, a max filter the
    white) on the sketch upsampled (UPSAMPLE times for changes of up to
    4 px, less for bigger ones), then downsampled, so the change is
    isotropic, fine to a fraction of a pixel, and the edges stay
    antialiased. Every change starts from the sketch itself (no blur
    builds up); thickening only darkens pixels, thinning only lightens
    them, and keeps the strokes' skeleton as it was: no stroke disappears."""

    def __init__(self, sketch):
        self.sketch = sketch
        self.skeleton = _skeleton(sketch < DARK)
        self._big = {}

    def upsampled(self, factor):
        if factor not in self._big:
            self._big[factor] = cv2.resize(self.sketch, None, fx=factor, fy=factor,
                                           interpolation=cv2.INTER_LINEAR)
        return self._big[factor]

    def __call__(self, pixels):
        """The sketch with strokes ``pixels`` wider (> 0) or narrower (< 0)."""
        factor = UPSAMPLE if abs(pixels) <= 4 else max(1, int(16 / abs(pixels)))
        radius = int(round(abs(pixels) * factor / 2))
        if radius == 0:
            return self.sketch.copy()
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        big = self.upsampled(factor)
        big = cv2.erode(big, disc) if pixels > 0 else cv2.dilate(big, disc)
        out = cv2.resize(big, self.sketch.shape[::-1], interpolation=cv2.INTER_AREA)
        if pixels > 0:                      # resampling must not lighten a pixel...
            return np.minimum(out, self.sketch)
        out = np.maximum(out, self.sketch)  # ...nor darken one
        keep = self.skeleton
        out[keep] = self.sketch[keep]
        return out


def is_line_drawing(sketch, width):
    """Whether strokes of ``width`` px make a line drawing that widths can
    be judged on: at most MAX_INK of the pixels dark and strokes at most
    MAX_STROKE of the image side wide (else: blots, a photo, noise)."""
    return (np.asarray(sketch) < DARK).mean() <= MAX_INK and width <= MAX_STROKE * len(sketch)


def normalise_width(sketch, model_size=None):
    """(sketch, [note]): strokes more than WIDTH_FACTOR off the training
    width (at ``model_size``, scaled to the sketch's size; default: the
    sketch's own size) thinned or thickened to it. The width is changed by
    the difference measured, then corrected by what is left, up to
    WIDTH_ROUNDS times, until it is within WIDTH_CLOSE of the target
    (where strokes had merged into blots, the first change leaves the
    measured width above the target); the closest result is kept. Left
    alone: too little drawn to measure, or no line drawing
    (``is_line_drawing``)."""
    size = sketch.shape[0]
    target = train_stroke_width(model_size or size) * size / (model_size or size)
    width = stroke_width(sketch)
    if (width is None or target / WIDTH_FACTOR <= width <= target * WIDTH_FACTOR
            or not is_line_drawing(sketch, width)):
        return sketch, []
    change = WidthChanger(sketch)
    best, best_width, pixels, now = sketch, width, 0.0, width
    for _ in range(WIDTH_ROUNDS):
        pixels += target - now
        out = change(pixels)
        now = stroke_width(out)
        if now is None:
            break
        if abs(math.log(now / target)) < abs(math.log(best_width / target)):
            best, best_width = out, now
        if target / WIDTH_CLOSE <= now <= target * WIDTH_CLOSE:
            break
    if best is sketch:
        return sketch, []
    verb = "thinned" if width > target else "thickened"
    return best, [f"strokes {verb} from {width:.1f} px to {best_width:.1f} px (the training "
                  f"width is {target:.1f} px)"]


def visible_strokes(sketch):
    """Every visible stroke, light pencil too: pixels more than PAPER_MARGIN
    levels darker than the paper (the median level), and all darker than
    DARK."""
    sketch = np.asarray(sketch)
    return sketch < max(DARK, float(np.median(sketch)) - PAPER_MARGIN)


def stroke_extent(sketch):
    """Bounding box ``(x0, y0, x1, y1)`` (pixels, end exclusive) of the
    visible strokes without specks (8-connected pieces of fewer than
    SPECK_PIXELS pixels at 128 px, scaled with the area), or None when
    nothing is left."""
    mask = visible_strokes(sketch).astype(np.uint8)
    size = mask.shape[0]
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    big = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= SPECK_PIXELS * (size / 128) ** 2) + 1
    if not len(big):
        return None
    s = stats[big]
    x0, y0 = s[:, cv2.CC_STAT_LEFT].min(), s[:, cv2.CC_STAT_TOP].min()
    x1 = (s[:, cv2.CC_STAT_LEFT] + s[:, cv2.CC_STAT_WIDTH]).max()
    y1 = (s[:, cv2.CC_STAT_TOP] + s[:, cv2.CC_STAT_HEIGHT]).max()
    return int(x0), int(y0), int(x1), int(y1)


def face_extent(sketch):
    """(centre x, centre y, size) of the strokes' bounding box as fractions
    of the image (size: the geometric mean of its width and height), or
    None without strokes."""
    box = stroke_extent(sketch)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    h, w = sketch.shape
    return (x0 + x1) / 2 / w, (y0 + y1) / 2 / h, math.sqrt((x1 - x0) * (y1 - y0) / (w * h))


def _outside(value, bounds, margin):
    return value < bounds[0] - margin or value > bounds[1] + margin


def layout_fit(sketch):
    """(scale, dx, dy) that moves the face onto the component layout, or
    None when it is on it already. The centre and size of the strokes' box
    (``face_extent``) are compared with their ranges (FACE_CENTRE_X,
    FACE_CENTRE_Y, FACE_SIZE). A size more than SCALE_TOLERANCE outside its
    range is scaled to the middle of the range (within SCALE_LIMITS) and
    the box centred on the middle of both centre ranges; otherwise a centre
    coordinate more than CENTRE_TOLERANCE outside its range is moved to
    the middle of its range and the other is kept. dx, dy: the shift of the
    box centre in pixels. Drawings smaller than MIN_FIT_SIZE are left alone
    (a face begun, not a small face).

    A face drawn too large cannot be told from the extent: the training
    sketches already reach the edges of the image."""
    extent = face_extent(sketch)
    if extent is None or extent[2] < MIN_FIT_SIZE:
        return None
    cx, cy, size = extent
    scale_off = (size * SCALE_TOLERANCE < FACE_SIZE[0]
                 or size > FACE_SIZE[1] * SCALE_TOLERANCE)
    x_off = scale_off or _outside(cx, FACE_CENTRE_X, CENTRE_TOLERANCE)
    y_off = scale_off or _outside(cy, FACE_CENTRE_Y, CENTRE_TOLERANCE)
    if not (x_off or y_off):
        return None
    scale = 1.0
    if scale_off:
        scale = float(np.clip(math.sqrt(FACE_SIZE[0] * FACE_SIZE[1]) / size, *SCALE_LIMITS))
    h, w = sketch.shape
    dx = (sum(FACE_CENTRE_X) / 2 - cx) * w if x_off else 0.0
    dy = (sum(FACE_CENTRE_Y) / 2 - cy) * h if y_off else 0.0
    return scale, dx, dy


def move_sketch(sketch, scale, dx, dy):
    """The sketch scaled by ``scale`` about its strokes' box centre, then
    shifted by (dx, dy) pixels; white comes in at the edges."""
    h, w = sketch.shape
    x0, y0, x1, y1 = stroke_extent(sketch)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # pixel centres: x_new + 0.5 = scale * (x + 0.5 - cx) + cx + dx
    m = np.array([[scale, 0.0, (1 - scale) * (cx - 0.5) + dx],
                  [0.0, scale, (1 - scale) * (cy - 0.5) + dy]])
    return cv2.warpAffine(sketch, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=255)


def fit_layout(sketch):
    """(sketch, [note]): the face moved onto the component layout when it
    is clearly off it (see ``layout_fit``)."""
    fit = layout_fit(sketch)
    if fit is None:
        return sketch, []
    scale, dx, dy = fit
    how = (f"scaled {scale:.2f}x, " if scale != 1.0 else "") + \
        f"shifted {dx:+.0f},{dy:+.0f} px"
    return move_sketch(sketch, scale, dx, dy), [
        f"the face was moved onto the component layout ({how})"]


def normalise_sketch(sketch, model_size=None):
    """(uint8 sketch, [notes]): a shaded drawing's lines extracted
    (``data.sketch_tone``), then ``fit_layout`` and ``normalise_width``
    (the width is judged at the face's final size). ``model_size``: the
    size of the model's sketches, when the sketch is at another size (the
    training width is taken there). Unchanged (the same array, no notes)
    when the sketch is within the training sketches' bounds."""
    sketch = np.asarray(sketch, dtype=np.uint8)
    if sketch.ndim != 2 or sketch.shape[0] != sketch.shape[1]:
        raise ValueError(f"a square gray sketch is expected, got shape {sketch.shape}")
    out, notes = lines_of_shaded(sketch)
    out, fit_notes = fit_layout(out)
    out, width_notes = normalise_width(out, model_size)
    return out, notes + fit_notes + width_notes
