"""Manifold projection against brute-force solutions on random banks."""

import numpy as np
import pytest

from models.deepfacedrawing.manifold import LatentBank, project, projection_weights, shadow_weights


def brute_knn(z, bank, k):
    d = [float(np.sum((z.astype(np.float64) - row) ** 2)) for row in bank.astype(np.float64)]
    return sorted(range(len(bank)), key=lambda i: (d[i], i))[:k]


def brute_weights(z, nb, penalty=10.0):
    """Solve the release's least squares for one latent with lstsq."""
    v0 = nb[0]
    A = np.vstack([(nb[1:] - v0).T, penalty * np.ones((1, len(nb) - 1))])
    b = np.concatenate([z - v0, [0.0]])
    x = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.concatenate([[1 - x.sum()], x])


@pytest.mark.parametrize("n,d,k", [(200, 16, 5), (50, 8, 15), (30, 64, 10), (12, 4, 1)])
def test_knn_and_weights_match_brute_force(n, d, k):
    rng = np.random.default_rng(n + d + k)
    bank = LatentBank(rng.standard_normal((n, d)).astype(np.float32))
    z = rng.standard_normal((7, d)).astype(np.float32)
    idx, dist = bank.nearest(z, k)
    for b in range(len(z)):
        assert list(idx[b]) == brute_knn(z[b], bank.latents, k)
        assert np.all(np.diff(dist[b]) >= 0)
    w = projection_weights(z, bank.latents[idx])
    for b in range(len(z)):
        np.testing.assert_allclose(w[b], brute_weights(z[b].astype(np.float64),
                                                       bank.latents[idx[b]].astype(np.float64)),
                                   rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)


def test_weights_minimise_the_objective():
    """Perturbing the solution never lowers the penalised residual."""
    rng = np.random.default_rng(0)
    nb = rng.standard_normal((1, 6, 10))
    z = rng.standard_normal((1, 10))
    w = projection_weights(z, nb)[0]

    def cost(w):
        x = w[1:]
        r = (z[0] - nb[0, 0]) - (nb[0, 1:] - nb[0, 0]).T @ x
        return r @ r + (10 * x.sum()) ** 2

    base = cost(w)
    for _ in range(50):
        dx = rng.standard_normal(5) * 1e-3
        assert cost(np.concatenate([[1 - (w[1:] + dx).sum()], w[1:] + dx])) >= base - 1e-12


def test_refinement_blend_endpoints():
    rng = np.random.default_rng(1)
    bank = LatentBank(rng.standard_normal((100, 12)).astype(np.float32))
    z = rng.standard_normal((4, 12)).astype(np.float32)
    raw, _, _ = project(z, bank, 10, t=0.0)
    np.testing.assert_array_equal(raw, z)                       # t = 0: the raw encoding
    full, idx, w = project(z, bank, 10, t=1.0)
    expected = np.einsum("bk,bkd->bd", w, bank.latents[idx].astype(np.float64))
    np.testing.assert_allclose(full, expected, rtol=1e-6)       # t = 1: the projection
    half, _, _ = project(z, bank, 10, t=0.5)
    np.testing.assert_allclose(half, 0.5 * full + 0.5 * z, rtol=1e-5, atol=1e-6)
    per_latent, _, _ = project(z, bank, 10, t=np.array([0, 1, 0, 1]))
    np.testing.assert_array_equal(per_latent[0], z[0])
    np.testing.assert_allclose(per_latent[1], full[1], rtol=1e-6)


def test_k1_gives_the_nearest_neighbour_and_bank_points_are_fixed():
    rng = np.random.default_rng(2)
    bank = LatentBank(rng.standard_normal((60, 8)).astype(np.float32))
    z = rng.standard_normal((3, 8)).astype(np.float32)
    out, idx, _ = project(z, bank, 1)
    np.testing.assert_array_equal(out, bank.latents[idx[:, 0]])
    on_bank, _, _ = project(bank.latents[:5], bank, 8)
    np.testing.assert_allclose(on_bank, bank.latents[:5], atol=1e-5)


def test_bad_arguments():
    bank = LatentBank(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="K must be"):
        bank.nearest(np.zeros((1, 3)), 6)
    with pytest.raises(ValueError, match="latent size"):
        bank.nearest(np.zeros((1, 4)), 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        project(np.zeros((1, 3)), bank, 2, t=1.5)
    with pytest.raises(ValueError, match="non-empty"):
        LatentBank(np.zeros((0, 3)))


def test_release_sized_bank():
    rng = np.random.default_rng(3)
    bank = LatentBank(rng.standard_normal((11456, 512)).astype(np.float32))
    z = rng.standard_normal((8, 512)).astype(np.float32)
    out, idx, w = project(z, bank, 15)
    assert out.shape == (8, 512) and idx.shape == (8, 15) and w.shape == (8, 15)
    assert list(idx[3]) == brute_knn(z[3], bank.latents, 15)


def test_shadow_weights_cap_and_skip_negatives():
    w = np.array([[0.9, 0.3, -0.2], [-1.0, -0.5, 2.5]])
    s = shadow_weights(w)
    np.testing.assert_allclose(s[0], [0.5 / 0.8, 0.3 / 0.8, 0.0])
    np.testing.assert_allclose(s[1], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
