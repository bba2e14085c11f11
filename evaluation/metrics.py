"""Evaluation metrics (numpy/scipy/OpenCV): images in [0, 1] units, sketch
stroke masks (bool) with distances in pixels, and FID/KID on feature arrays."""

import warnings

import cv2
import numpy as np
from scipy import linalg, ndimage

SSIM_C1 = 0.01 ** 2
SSIM_C2 = 0.03 ** 2


def to_float(img):
    """uint8 -> float64 / 255; float arrays pass through as float64."""
    img = np.asarray(img)
    if img.dtype == np.uint8:
        return img.astype(np.float64) / 255.0
    if np.issubdtype(img.dtype, np.floating):
        return img.astype(np.float64)
    raise TypeError("expected a uint8 or float image, got %s" % img.dtype)


def _pair(a, b):
    a, b = to_float(a), to_float(b)
    if a.shape != b.shape:
        raise ValueError("shape mismatch: %s vs %s" % (a.shape, b.shape))
    return a, b


def l1(a, b):
    """Mean absolute difference in [0, 1] units."""
    a, b = _pair(a, b)
    return float(np.mean(np.abs(a - b)))


def mse(a, b):
    """Mean squared difference in [0, 1] units."""
    a, b = _pair(a, b)
    return float(np.mean(np.square(a - b)))


def psnr(a, b):
    """Peak signal-to-noise ratio in dB for data range 1; inf when identical."""
    err = mse(a, b)
    return float("inf") if err == 0 else float(10.0 * np.log10(1.0 / err))


def _blur(x):
    """11x11 Gaussian (sigma 1.5) filter, keeping only the 'valid' region."""
    y = cv2.GaussianBlur(x, (11, 11), sigmaX=1.5, sigmaY=1.5, borderType=cv2.BORDER_REFLECT)
    return y[5:-5, 5:-5]


def ssim(a, b):
    """Mean SSIM (Wang et al. 2004); colour images are averaged over channels."""
    a, b = _pair(a, b)
    if a.shape[0] < 11 or a.shape[1] < 11:
        raise ValueError("SSIM needs images of at least 11x11 pixels")
    mu_a, mu_b = _blur(a), _blur(b)
    var_a = _blur(a * a) - mu_a * mu_a
    var_b = _blur(b * b) - mu_b * mu_b
    cov = _blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_a ** 2 + mu_b ** 2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return float(np.mean(num / den))


def fid(feat_a, feat_b, eps=1e-6):
    """Frechet distance between Gaussians fitted to two (N, D) feature sets."""
    feat_a = np.asarray(feat_a, np.float64)
    feat_b = np.asarray(feat_b, np.float64)
    mu_a, mu_b = feat_a.mean(0), feat_b.mean(0)
    cov_a = np.atleast_2d(np.cov(feat_a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(feat_b, rowvar=False))
    with warnings.catch_warnings():     # few samples: singular covariances are expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
        if not np.all(np.isfinite(root)):
            off = eps * np.eye(cov_a.shape[0])
            root = linalg.sqrtm((cov_a + off) @ (cov_b + off))
    root = np.real(root)
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root)
    return float(max(value, 0.0))


def _mmd2_unbiased(x, y):
    """Unbiased MMD^2 with the kernel k(x, y) = (x.y / D + 1)^3."""
    m, d = x.shape

    def kernel(p, q):
        return (p @ q.T / d + 1) ** 3

    k_xx, k_yy = kernel(x, x), kernel(y, y)
    off = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return off - 2.0 * kernel(x, y).mean()


def kid(feat_a, feat_b, subsets=10, subset_size=None, seed=0):
    """Kernel Inception Distance: (mean, std) of MMD^2 over random subsets."""
    feat_a = np.asarray(feat_a, np.float64)
    feat_b = np.asarray(feat_b, np.float64)
    n = min(len(feat_a), len(feat_b), 1000) if subset_size is None else subset_size
    if n < 2 or n > min(len(feat_a), len(feat_b)):
        raise ValueError("subset_size must be in [2, min(len_a, len_b)]")
    rng = np.random.RandomState(seed)
    scores = []
    for _ in range(subsets):
        x = feat_a[rng.choice(len(feat_a), n, replace=False)]
        y = feat_b[rng.choice(len(feat_b), n, replace=False)]
        scores.append(_mmd2_unbiased(x, y))
    return float(np.mean(scores)), float(np.std(scores))


def stroke_mask(sketch, threshold=128):
    """Grey sketch (black strokes on white) -> bool mask of pixels < threshold."""
    return np.asarray(sketch) < threshold


def _dist_to(mask):
    """Euclidean distance from every pixel to the nearest True pixel of mask."""
    return ndimage.distance_transform_edt(~mask)


def chamfer(mask_a, mask_b):
    """Symmetric chamfer distance (pixels) between two bool stroke masks.

    Both empty -> 0.0; exactly one empty -> the image diagonal (a penalty), so
    the result is always finite.
    """
    mask_a, mask_b = np.asarray(mask_a, bool), np.asarray(mask_b, bool)
    has_a, has_b = mask_a.any(), mask_b.any()
    if not has_a and not has_b:
        return 0.0
    if not (has_a and has_b):
        return float(np.hypot(*mask_a.shape[:2]))
    a_to_b = _dist_to(mask_b)[mask_a].mean()
    b_to_a = _dist_to(mask_a)[mask_b].mean()
    return float(0.5 * (a_to_b + b_to_a))


def edge_f1(mask_a, mask_b, tolerance=2):
    """Stroke precision / recall / F1 of mask_b against reference mask_a.

    precision: fraction of b's pixels within ``tolerance`` px of a stroke of a;
    recall: fraction of a's pixels within ``tolerance`` px of b.
    Both empty -> all 1.0; exactly one empty -> all 0.0.
    """
    mask_a, mask_b = np.asarray(mask_a, bool), np.asarray(mask_b, bool)
    has_a, has_b = mask_a.any(), mask_b.any()
    if not has_a and not has_b:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    if not (has_a and has_b):
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision = float(np.mean(_dist_to(mask_a)[mask_b] <= tolerance))
    recall = float(np.mean(_dist_to(mask_b)[mask_a] <= tolerance))
    total = precision + recall
    f1 = 0.0 if total == 0 else 2.0 * precision * recall / total
    return {"precision": precision, "recall": recall, "f1": float(f1)}


def crop_box(img, box):
    """Crop a square box = (x, y, size): img[y:y+size, x:x+size]."""
    x, y, size = box
    return img[y:y + size, x:x + size]
