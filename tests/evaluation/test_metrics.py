"""Tests for util/metrics.py against hand-computed values (numpy only, fast)."""

import math

import numpy as np
import pytest

from evaluation import metrics as M

C1, C2 = 0.01 ** 2, 0.03 ** 2


def textured(shape=(48, 48), seed=0):
    """A smooth gradient plus mild texture, kept well inside [0, 1]."""
    rng = np.random.RandomState(seed)
    h, w = shape[:2]
    base = 0.3 + 0.4 * np.linspace(0, 1, w)[None, :] * np.ones((h, 1))
    base = base + 0.1 * np.sin(np.arange(h) / 3.0)[:, None]
    img = base + 0.05 * rng.randn(h, w)
    if len(shape) == 3:
        img = np.stack([img + 0.02 * c for c in range(shape[2])], axis=-1)
    return np.clip(img, 0, 1)


# ---------------------------------------------------------------- to_float / L1 / PSNR

def test_to_float():
    u = np.array([[0, 255], [51, 102]], np.uint8)
    f = M.to_float(u)
    assert f.dtype == np.float64
    np.testing.assert_allclose(f, [[0, 1], [0.2, 0.4]])
    g = M.to_float(np.array([0.25], np.float32))
    assert g.dtype == np.float64 and g[0] == 0.25


def test_l1_known_offset():
    a = np.full((8, 8, 3), 100, np.uint8)
    b = np.full((8, 8, 3), 110, np.uint8)
    assert M.l1(a, b) == pytest.approx(10 / 255, rel=1e-12)
    assert M.l1(a, a) == 0.0


def test_psnr_constant_offset():
    a = np.full((16, 16), 100, np.uint8)
    b = np.full((16, 16), 110, np.uint8)
    assert M.mse(a, b) == pytest.approx((10 / 255) ** 2, rel=1e-12)
    assert M.psnr(a, b) == pytest.approx(20 * math.log10(255 / 10), rel=1e-12)


def test_psnr_gaussian_noise():
    rng = np.random.RandomState(0)
    sigma = 0.02
    a = np.full((128, 128), 0.5)
    b = a + sigma * rng.randn(*a.shape)  # stays far from 0 and 1, no clipping
    assert abs(M.psnr(a, b) - (-10 * math.log10(sigma ** 2))) < 0.2


def test_psnr_identical_is_inf():
    a = textured()
    assert M.psnr(a, a) == float("inf")


# ---------------------------------------------------------------- SSIM

def test_ssim_identical():
    a = textured()
    assert abs(M.ssim(a, a) - 1.0) < 1e-12
    u = (a * 255).astype(np.uint8)
    assert abs(M.ssim(u, u) - 1.0) < 1e-12


def test_ssim_constant_self():
    c = np.full((20, 20), 0.7)
    assert abs(M.ssim(c, c) - 1.0) < 1e-12


def test_ssim_constant_pair_matches_luminance_term():
    a, b = 0.3, 0.6
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    got = M.ssim(np.full((11, 11), a), np.full((11, 11), b))  # smallest size: 1x1 valid map
    assert got == pytest.approx(expected, abs=1e-9)
    assert expected < 0.85  # the check is not trivially 1


def test_ssim_11x11_matches_direct_gaussian_window():
    # an 11x11 image has a single 'valid' window: weight it by hand
    rng = np.random.RandomState(6)
    a = rng.uniform(0.2, 0.8, (11, 11))
    b = np.clip(a + 0.1 * rng.randn(11, 11), 0, 1)
    g = np.exp(-np.arange(-5, 6) ** 2 / (2 * 1.5 ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    mu_a, mu_b = (w * a).sum(), (w * b).sum()
    var_a = (w * (a - mu_a) ** 2).sum()
    var_b = (w * (b - mu_b) ** 2).sum()
    cov = (w * (a - mu_a) * (b - mu_b)).sum()
    expected = ((2 * mu_a * mu_b + C1) * (2 * cov + C2)
                / ((mu_a ** 2 + mu_b ** 2 + C1) * (var_a + var_b + C2)))
    assert M.ssim(a, b) == pytest.approx(expected, abs=1e-9)


def test_ssim_decreases_with_noise():
    rng = np.random.RandomState(1)
    a = textured()
    scores = [M.ssim(a, a + s * rng.randn(*a.shape)) for s in (0.02, 0.05, 0.15)]
    assert 1.0 > scores[0] > scores[1] > scores[2]


def test_ssim_negative_image():
    rng = np.random.RandomState(2)
    a = np.clip(0.5 + 0.2 * rng.randn(32, 32), 0, 1)
    assert M.ssim(a, 1.0 - a) < 0.0


def test_ssim_colour():
    a = textured((32, 32, 3))
    assert abs(M.ssim(a, a) - 1.0) < 1e-12
    b = a.copy()
    b[..., 0] = textured((32, 32), seed=5)  # change one channel only
    per_channel = [M.ssim(a[..., c], b[..., c]) for c in range(3)]
    assert M.ssim(a, b) == pytest.approx(np.mean(per_channel), rel=1e-12)
    assert M.ssim(a, b) < 0.99


def test_ssim_too_small():
    with pytest.raises(ValueError):
        M.ssim(np.zeros((10, 10)), np.zeros((10, 10)))


# ---------------------------------------------------------------- FID / KID

def features(n=200, d=8, seed=0):
    rng = np.random.RandomState(seed)
    mix = rng.randn(d, d) * 0.5 + np.eye(d)  # correlated but well-conditioned
    return rng.randn(n, d) @ mix


def test_fid_identical():
    f = features()
    assert abs(M.fid(f, f)) < 1e-6


def test_fid_shift_is_squared_norm():
    f = features()
    v = np.arange(1, 9, dtype=np.float64) * 0.5
    assert M.fid(f, f + v) == pytest.approx(float(v @ v), rel=1e-6)


def test_fid_symmetric_and_positive():
    a, b = features(seed=0), features(seed=1) * 1.5
    fab, fba = M.fid(a, b), M.fid(b, a)
    assert fab > 0.1
    assert fab == pytest.approx(fba, rel=1e-6)


def test_kid_same_vs_shifted():
    f = np.random.RandomState(3).randn(300, 16)  # unit-scale features
    same, _ = M.kid(f, f, subsets=10, subset_size=100)
    shifted, _ = M.kid(f, f + 1.0, subsets=10, subset_size=100)
    assert shifted > 1.0
    assert abs(same) < 0.01 * shifted


def test_kid_full_subset_matches_hand_formula():
    # subset_size == N without replacement: every subset is the whole set
    x = np.random.RandomState(8).randn(20, 5)
    k = (x @ x.T / 5 + 1) ** 3
    m = len(x)
    off = k.sum() - np.trace(k)
    expected = 2 * off / (m * (m - 1)) - 2 * k.mean()
    mean, std = M.kid(x, x, subsets=4, subset_size=m)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std < 1e-10


def test_kid_deterministic_and_default_size():
    a, b = features(n=60, d=4, seed=4), features(n=50, d=4, seed=5) + 0.3
    r1, r2 = M.kid(a, b, seed=7), M.kid(a, b, seed=7)
    assert r1 == r2
    assert isinstance(r1[0], float) and isinstance(r1[1], float)
    assert r1[1] >= 0.0


# ---------------------------------------------------------------- sketch metrics

def line_mask(row, shape=(32, 32)):
    m = np.zeros(shape, bool)
    m[row, :] = True
    return m


def test_stroke_mask():
    s = np.array([[0, 127, 128, 255]], np.uint8)
    np.testing.assert_array_equal(M.stroke_mask(s), [[True, True, False, False]])
    np.testing.assert_array_equal(M.stroke_mask(s, threshold=200), [[True, True, True, False]])


def test_chamfer():
    a, b = line_mask(10), line_mask(13)
    assert M.chamfer(a, b) == 3.0
    assert M.chamfer(a, a) == 0.0
    empty = np.zeros_like(a)
    assert M.chamfer(empty, empty) == 0.0
    assert M.chamfer(a, empty) == pytest.approx(math.hypot(32, 32))
    assert M.chamfer(empty, a) == pytest.approx(math.hypot(32, 32))


def test_chamfer_symmetric():
    a = line_mask(5)
    b = np.zeros_like(a)
    b[20:25, 3:9] = True
    assert M.chamfer(a, b) == pytest.approx(M.chamfer(b, a), rel=1e-12)
    assert M.chamfer(a, b) > 10


def test_edge_f1():
    a = line_mask(10)
    assert M.edge_f1(a, a) == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert M.edge_f1(a, line_mask(11), tolerance=2)["f1"] == 1.0
    assert M.edge_f1(a, line_mask(12), tolerance=2)["f1"] == 1.0  # tolerance is inclusive
    assert M.edge_f1(a, line_mask(13), tolerance=2)["f1"] == 0.0
    assert M.edge_f1(a, line_mask(15), tolerance=2)["f1"] == 0.0
    empty = np.zeros_like(a)
    assert M.edge_f1(empty, empty)["f1"] == 1.0
    assert M.edge_f1(a, empty) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_edge_f1_precision_recall_split():
    a = line_mask(10)
    b = line_mask(11) | line_mask(25)  # half of b's pixels are far from a
    r = M.edge_f1(a, b, tolerance=2)
    assert r["precision"] == pytest.approx(0.5)
    assert r["recall"] == 1.0
    assert r["f1"] == pytest.approx(2 * 0.5 / 1.5)


# ---------------------------------------------------------------- crop_box

def test_crop_box():
    g = np.arange(100).reshape(10, 10)
    c = M.crop_box(g, (2, 3, 4))
    assert c.shape == (4, 4)
    assert c[0, 0] == 32 and c[-1, -1] == 65  # row 3 col 2 .. row 6 col 5
    rgb = np.arange(300).reshape(10, 10, 3)
    c3 = M.crop_box(rgb, (1, 6, 3))
    assert c3.shape == (3, 3, 3)
    np.testing.assert_array_equal(c3, rgb[6:9, 1:4])


def test_feature_net_lpips_matches_training_lpips():
    """The evaluation's LPIPS* (NumPy over the VGG taps) equals the training
    loss's LPIPS module over the same VGG and heads; 0 for identical images,
    growing with the difference; None without heads."""
    from evaluation.scores import FeatureNet
    from models.base_model import jt
    from models.vgg import load_vgg
    from training.lpips import HEAD_NAMES, LPIPS
    rng = np.random.default_rng(3)
    heads = {n: rng.uniform(0, 1, (1, c, 1, 1)).astype(np.float32)
             for n, c in zip(HEAD_NAMES, (64, 128, 256, 512, 512))}
    vgg = load_vgg("random", quiet=True)
    net = FeatureNet(vgg, heads=[heads[n] for n in HEAD_NAMES])
    a = rng.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    c = np.clip(a.astype(int) + rng.integers(-120, 121, a.shape), 0, 255).astype(np.uint8)
    _, ta = net.pooled_and_taps(a)
    _, tb = net.pooled_and_taps(b)
    _, tc = net.pooled_and_taps(c)
    ours = np.array(net.lpips(ta, tb))
    to_jt = lambda x: jt.array(x.astype(np.float32).transpose(0, 3, 1, 2) / 127.5 - 1.0)  # noqa: E731
    with jt.no_grad():
        ref = LPIPS(heads, vgg)(to_jt(a), to_jt(b)).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-7)
    assert np.allclose(net.lpips(ta, ta), 0.0)
    assert (np.array(net.lpips(ta, tc)) > ours).all() and (ours > 0).all()
    assert FeatureNet(vgg).lpips(ta, tb) is None
