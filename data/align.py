"""Face alignment to the canonical layout, from 68 facial landmarks.

The pure geometry lives here (no dlib needed): the eye centres and the mouth
centre of a face, found from its 68 landmarks (iBUG / dlib numbering), are
mapped by a least-squares similarity transform (rotation, uniform scale,
translation) onto the centres of the ``eye1``, ``eye2`` and ``mouth`` boxes
of ``util.components``, and the image is warped to a square of ``size``
pixels. ``scripts/align_faces.py`` finds the landmarks with dlib.

Coordinates are (x, y) in pixel-index units (the centre of the top-left
pixel is (0, 0)), as dlib reports them and cv2.warpAffine uses them.

Note: the canonical boxes are not left-right symmetric (the mouth box centre
sits 19.5 px right of the midpoint between the eye boxes at 512 px), so the
three points of a symmetric face cannot all be hit exactly; the
least-squares fit shares the residual between them (a real frontal face
comes out turned by about 3.5 degrees, each point some 10 px off).
``targets`` lets a caller choose other anchor points.
"""

import cv2
import numpy as np

from util.components import BOXES_512, CANONICAL_SIZE

# Landmark index ranges (68-point iBUG scheme), as half-open (start, stop).
# The subject's right eye appears on the image left: it is ``eye1``.
LANDMARKS_EYE1 = (36, 42)
LANDMARKS_EYE2 = (42, 48)
LANDMARKS_MOUTH = (48, 68)

ANCHOR_PARTS = ("eye1", "eye2", "mouth")
BORDERS = ("white", "replicate")


def canonical_centres(size=CANONICAL_SIZE):
    """(3, 2) float array: centres of the eye1, eye2 and mouth boxes at ``size``."""
    f = size / CANONICAL_SIZE
    pts = []
    for part in ANCHOR_PARTS:
        x, y, s = BOXES_512[part]
        # box centre in continuous coordinates, scaled, back to pixel indices
        pts.append(((x + s / 2) * f - 0.5, (y + s / 2) * f - 0.5))
    return np.array(pts, dtype=np.float64)


def landmark_centres(landmarks68):
    """(3, 2) array: the centres of eye1, eye2 and the mouth from 68 landmarks."""
    pts = np.asarray(landmarks68, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"expected 68 (x, y) landmarks, got an array of shape {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise ValueError("landmarks contain NaN or infinite values")
    return np.array([pts[a:b].mean(axis=0)
                     for a, b in (LANDMARKS_EYE1, LANDMARKS_EYE2, LANDMARKS_MOUTH)])


def similarity_transform(src, dst):
    """2x3 matrix of the similarity (no reflection) that best maps ``src`` onto
    ``dst`` in the least-squares sense; both are (N, 2) with N >= 2.

    The model is x' = a x - b y + tx, y' = b x + a y + ty."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n = len(src)
    rows = np.zeros((2 * n, 4))
    rows[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(n), np.zeros(n)])
    rows[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(n), np.ones(n)])
    (a, b, tx, ty), *_ = np.linalg.lstsq(rows, dst.reshape(-1), rcond=None)
    if a * a + b * b < 1e-12:
        raise ValueError("degenerate landmarks: the eye and mouth centres coincide")
    return np.array([[a, -b, tx], [b, a, ty]])


def alignment_matrix(landmarks68, size=CANONICAL_SIZE, targets=None):
    """2x3 matrix mapping image coordinates to the aligned ``size`` square.

    ``targets`` ((3, 2), at ``size``) replaces the canonical eye1, eye2 and
    mouth centres."""
    dst = canonical_centres(size) if targets is None else np.asarray(targets, np.float64)
    if dst.shape != (3, 2):
        raise ValueError(f"targets must be 3 (x, y) points, got shape {dst.shape}")
    return similarity_transform(landmark_centres(landmarks68), dst)


def apply_matrix(matrix, points):
    """Apply a 2x3 affine matrix to (N, 2) points."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


def align_from_landmarks(image, landmarks68, size=CANONICAL_SIZE, border="white",
                         targets=None):
    """Warp ``image`` so that its face sits in the canonical layout.

    Args:
        image: uint8 (H, W, C) or (H, W) array.
        landmarks68: (68, 2) landmark (x, y) positions in ``image``.
        size: side of the square output.
        border: 'white' fills outside the photo with white, 'replicate'
            repeats the edge pixels.
        targets: optional (3, 2) positions (at ``size``) for the eye1, eye2
            and mouth centres instead of the box centres.

    Returns:
        (size, size[, C]) array of the image's dtype.
    """
    if border not in BORDERS:
        raise ValueError(f"unknown border {border!r}; expected one of {', '.join(BORDERS)}")
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {image.shape}")
    matrix = alignment_matrix(landmarks68, size, targets)
    image, matrix = _prescale(image, matrix)
    if border == "white":
        fill = 255 if image.ndim == 2 else (255,) * image.shape[2]
        kw = dict(borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    else:
        kw = dict(borderMode=cv2.BORDER_REPLICATE)
    return cv2.warpAffine(np.ascontiguousarray(image), matrix, (size, size),
                          flags=cv2.INTER_LINEAR, **kw)


def _prescale(image, matrix):
    """Shrink a large image first (area averaging) when the warp scales it
    down by more than 2x, so that bilinear warping does not alias; returns
    the image and the matrix adjusted to it."""
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if scale >= 0.5:
        return image, matrix
    h, w = image.shape[:2]
    new_w, new_h = max(1, int(round(w * scale * 2))), max(1, int(round(h * scale * 2)))
    small = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    # small pixel i' covers original continuous [i' * r, (i' + 1) * r):
    # original index = (i' + 0.5) * r - 0.5
    rx, ry = w / new_w, h / new_h
    back = np.array([[rx, 0.0, 0.5 * rx - 0.5], [0.0, ry, 0.5 * ry - 0.5], [0.0, 0.0, 1.0]])
    return small, matrix @ back
