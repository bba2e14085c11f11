"""Line sketches from face photos: black strokes (0) on white (255).

    from data.sketch_extract import extract_sketch
    sketch = extract_sketch(photo_rgb)                  # XDoG, the default
    sketch = extract_sketch(photo_rgb, method="canny")  # Canny edges

Both methods work on the luminance of an aligned face photo and find
one-pixel-wide lines (Canny's edges are thin already; XDoG's are thinned by
Zhang-Suen thinning). Then the same clean-up: 8-connected strokes of fewer
than ``min_pixels`` pixels (about their length in pixels) are dropped
(specks, skin and hair texture, noise) and the rest are widened to
``stroke`` pixels. The result is binary (only 0 and 255) and deterministic:
the same image and parameters give the same sketch on every run.

Sizes (``sigma``, ``min_pixels``, ``stroke``) are given for a 512x512 face
and scale with the image: a 256x256 image gets half of each. The evaluation
code extracts edges from generated faces with this same function, so its
signature is kept stable.
"""

import cv2
import numpy as np

METHODS = ("xdog", "canny")
REFERENCE_SIZE = 512

# Defaults for a 512x512 face; every method accepts the common ones.
COMMON_DEFAULTS = dict(min_pixels=30, stroke=2)
XDOG_DEFAULTS = dict(sigma=1.5, k=1.6, tau=0.99, eps=0.0, thin=True)
CANNY_DEFAULTS = dict(sigma=1.4, spread=0.33, gain=0.25, low=None, high=None)


def extract_sketch(photo, method="xdog", **params):
    """Turn a face photo into a binary line sketch.

    Args:
        photo: uint8 array, (H, W, 3) RGB, or (H, W) gray.
        method: 'xdog' or 'canny'.
        **params: any of, per method (sizes at 512 px, scaled to the image):

          common:
            min_pixels (30): strokes (8-connected pieces of the one-pixel
                lines) with fewer pixels are removed; 0 keeps everything.
                (With xdog's thin=False the count is taken on the unthinned
                lines, so it acts as an area.)
            stroke (2): width of the output strokes in pixels (at least 1
                after scaling).
          'xdog' (eXtended Difference of Gaussians, thresholded form):
            sigma (1.5): inner Gaussian sigma (larger: fewer, smoother lines).
            k (1.6): ratio of the outer to the inner sigma.
            tau (0.99): weight of the outer Gaussian. A pixel is a line where
                G_sigma - tau * G_{k sigma} < eps (intensities in [0, 1]),
                i.e. where the pixel's neighbourhood is more than about
                (1 - tau) darker, relative to its surround: lower tau gives
                fewer, stronger lines. This is XDoG's soft threshold
                1 + tanh(phi * (D - eps)) in its binary limit (phi -> inf).
            eps (0.0): the threshold above.
            thin (True): thin the lines to one pixel (Zhang-Suen) before
                widening them to ``stroke``.
          'canny':
            sigma (1.4): Gaussian blur before Canny.
            spread (0.33), gain (0.25): automatic hysteresis thresholds
                are (1 -/+ spread) * gain * the median of the blurred gray
                image (the classic median rule, scaled down by ``gain``
                because soft facial edges give weak Sobel gradients; about
                25/50 for a typical face). Lower gain: more edges.
            low, high (None): explicit hysteresis thresholds (0..255);
                given, they replace the automatic ones.

    Returns:
        uint8 (H, W) array, 0 on strokes and 255 elsewhere.

    Raises:
        ValueError for an unknown method or an unusable image, TypeError for
        an unknown parameter.
    """
    if method not in METHODS:
        raise ValueError(f"unknown sketch method {method!r}; expected one of {', '.join(METHODS)}")
    gray = to_gray(photo)
    defaults = XDOG_DEFAULTS if method == "xdog" else CANNY_DEFAULTS
    opts = _merge_params(method, params, {**COMMON_DEFAULTS, **defaults})
    scale = image_scale(gray.shape)

    if method == "xdog":
        lines = xdog_lines(gray, opts["sigma"] * scale, opts["k"], opts["tau"], opts["eps"])
    else:
        lines = canny_lines(gray, opts["sigma"] * scale, opts["spread"], opts["gain"],
                            opts["low"], opts["high"])

    if opts.get("thin", False):
        lines = thin(lines)
    lines = remove_specks(lines, opts["min_pixels"] * scale)
    lines = widen(lines, opts["stroke"] * scale)
    return np.where(lines, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ helpers
def _merge_params(method, params, defaults):
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise TypeError(f"unknown parameter(s) for method {method!r}: {', '.join(unknown)}; "
                        f"accepted: {', '.join(sorted(defaults))}")
    return {**defaults, **params}


def to_gray(photo):
    """uint8 (H, W) luminance of an RGB (H, W, 3), RGBA or gray image."""
    arr = np.asarray(photo)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        gray = arr
    elif arr.ndim == 3 and arr.shape[2] == 3:
        gray = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2GRAY)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        gray = cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGBA2GRAY)
    else:
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {arr.shape}")
    if min(gray.shape) < 8:
        raise ValueError(f"image too small for sketch extraction: {gray.shape[1]}x{gray.shape[0]}")
    return np.ascontiguousarray(gray)


def image_scale(shape):
    """Size of an image relative to the 512x512 reference (geometric mean)."""
    h, w = shape[:2]
    return float(np.sqrt(h * w)) / REFERENCE_SIZE


def _blur(img, sigma):
    """Gaussian blur with a kernel of +-3 sigma and replicated borders."""
    if sigma <= 0:
        return img
    ksize = 2 * int(np.ceil(3 * sigma)) + 1
    return cv2.GaussianBlur(img, (ksize, ksize), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REPLICATE)


# -------------------------------------------------------------- line finders
def xdog_lines(gray, sigma, k=1.6, tau=0.99, eps=0.0):
    """Boolean line mask: G_sigma - tau * G_{k sigma} < eps on [0, 1] gray."""
    img = gray.astype(np.float32) / 255.0
    inner = _blur(img, sigma)
    outer = _blur(img, sigma * k)
    return (inner - tau * outer) < eps


def canny_lines(gray, sigma, spread=0.33, gain=0.25, low=None, high=None):
    """Boolean edge mask from Canny (L2 gradient) with median-based thresholds."""
    blurred = _blur(gray, sigma)
    median = float(np.median(blurred))
    if low is None:
        low = max(1.0, (1.0 - spread) * gain * median)
    if high is None:
        high = max(2.0, (1.0 + spread) * gain * median)
    if high <= low:
        high = low + 1.0
    return cv2.Canny(blurred, low, high, L2gradient=True) > 0


# ------------------------------------------------------------------ clean-up
def remove_specks(mask, min_pixels):
    """Drop 8-connected components of ``mask`` with fewer than ``min_pixels`` pixels."""
    if min_pixels <= 1 or not mask.any():
        return mask
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    keep[0] = False                      # label 0 is the background
    return keep[labels]


def thin(mask):
    """One-pixel-wide skeleton of a boolean mask (Zhang-Suen thinning).

    Uses OpenCV's contrib implementation (cv2.ximgproc, faster) when it is
    installed, otherwise the numpy version below; both give the same result."""
    if not mask.any():
        return mask
    ximgproc = getattr(cv2, "ximgproc", None)
    if ximgproc is not None and hasattr(ximgproc, "thinning"):
        out = ximgproc.thinning(mask.astype(np.uint8) * 255,
                                thinningType=ximgproc.THINNING_ZHANGSUEN)
        return out > 0
    return zhang_suen_thinning(mask)


def zhang_suen_thinning(mask):
    """Zhang-Suen thinning, vectorised over the image (numpy only).

    Each pass removes, in two sub-steps, the boundary pixels whose removal
    keeps the shape connected; it stops when a pass removes nothing. As in
    OpenCV's ``ximgproc.thinning`` (which gives identical results), pixels
    on the image border are never removed."""
    img = np.pad(mask.astype(bool), 1)
    interior = np.zeros(mask.shape, bool)
    interior[1:-1, 1:-1] = True
    while True:
        changed = False
        for step in (0, 1):
            remove = _ZS_REMOVABLE[step][_neighbour_codes(img)] & img[1:-1, 1:-1] & interior
            if remove.any():
                img[1:-1, 1:-1] &= ~remove
                changed = True
        if not changed:
            return img[1:-1, 1:-1].copy()


# Neighbours P2..P9 of the Zhang-Suen paper, clockwise from north, as (dy, dx).
_ZS_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _neighbour_codes(img):
    """8-bit code of each interior pixel's neighbours (bit i = P(i+2)) in the
    padded boolean ``img``."""
    h, w = img.shape[0] - 2, img.shape[1] - 2
    code = np.zeros((h, w), np.uint8)
    for bit, (dy, dx) in enumerate(_ZS_NEIGHBOURS):
        code |= img[1 + dy:1 + dy + h, 1 + dx:1 + dx + w].view(np.uint8) << bit
    return code


def _zhang_suen_tables():
    """For each sub-step, a 256-entry table: may a foreground pixel with this
    neighbour code be removed?"""
    tables = np.zeros((2, 256), bool)
    for code in range(256):
        p = [(code >> i) & 1 for i in range(8)]          # P2..P9
        count = sum(p)
        transitions = sum(1 for i in range(8) if p[i] == 0 and p[(i + 1) % 8] == 1)
        p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
        if 2 <= count <= 6 and transitions == 1:
            tables[0, code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
            tables[1, code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return tables


_ZS_REMOVABLE = _zhang_suen_tables()


def widen(mask, width):
    """Dilate one-pixel lines to about ``width`` pixels (no change below 1.5)."""
    size = int(round(width))
    if size <= 1 or not mask.any():
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


# ------------------------------------------------------------------- reading
