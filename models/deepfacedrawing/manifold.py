"""Manifold projection of component latents (the method's key idea).

For a latent z and a bank of training latents, take the K nearest bank rows
v_0..v_{K-1} (v_0 the nearest), write the weights as
w = (1 - sum(x), x_1, ..., x_{K-1}) so that they sum to one, and solve

    min_x || (z - v_0) - sum_i x_i (v_i - v_0) ||^2 + (PENALTY * sum_i x_i)^2

(the release appends the penalty as one extra row, which pulls the answer
towards the nearest neighbour). The projection is sum_i w_i v_i, and the
refinement weight t in [0, 1] blends: z' = t * projection + (1 - t) * z.

Everything is batched over latents; nothing loops over bank rows.
"""

import numpy as np

PENALTY = 10.0


class LatentBank:
    """A bank of latents (N, D) with cached squared norms for fast search."""

    def __init__(self, latents):
        self.latents = np.ascontiguousarray(latents, dtype=np.float32)
        if self.latents.ndim != 2 or len(self.latents) == 0:
            raise ValueError(f"a latent bank must be a non-empty (N, D) array, "
                             f"got shape {list(self.latents.shape)}")
        self.sq_norms = np.einsum("nd,nd->n", self.latents, self.latents)

    def __len__(self):
        return len(self.latents)

    @property
    def dim(self):
        return self.latents.shape[1]

    def nearest(self, z, k):
        """Indices (B, k) of the k nearest rows, nearest first, and the
        squared distances (B, k)."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        if z.shape[1] != self.dim:
            raise ValueError(f"latent size {z.shape[1]} does not match the bank's {self.dim}")
        k = int(k)
        if not 1 <= k <= len(self):
            raise ValueError(f"K must be between 1 and the bank size {len(self)}, got {k}")
        # ||z - v||^2 = ||z||^2 - 2 z.v + ||v||^2, in float64 for the ranking
        d2 = (np.einsum("bd,bd->b", z, z)[:, None].astype(np.float64)
              - 2.0 * (z @ self.latents.T).astype(np.float64) + self.sq_norms[None, :])
        np.maximum(d2, 0.0, out=d2)
        if k < len(self):
            part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(len(self)), d2.shape).copy()
        part_d = np.take_along_axis(d2, part, axis=1)
        order = np.lexsort((part, part_d), axis=1)  # by distance, then index: deterministic
        idx = np.take_along_axis(part, order, axis=1)
        return idx, np.take_along_axis(d2, idx, axis=1)


def load_bank(root, part, gender, dim):
    """The LatentBank of ``part`` for ``gender`` ('male', 'female', 'all')
    from the bank files of a checkpoint folder (the authors' layout, .bin or
    .npy; both gender banks together for 'all'); prints a note when it falls
    back to another bank."""
    from models.deepfacedrawing import checkpoint as ckpt
    files, note = ckpt.find_bank_files(root, part, gender)
    if note:
        print(f"note: {note}")
    arrays = [ckpt.read_bank(f, dim) for f in files]
    return LatentBank(np.concatenate(arrays) if len(arrays) > 1 else arrays[0])


def projection_weights(z, neighbours, penalty=PENALTY):
    """Sum-to-one weights (B, K) of ``neighbours`` (B, K, D) for latents z (B, D)."""
    z = np.asarray(z, dtype=np.float64)
    nb = np.asarray(neighbours, dtype=np.float64)
    B, K, D = nb.shape
    if K == 1:
        return np.ones((B, 1))
    v0 = nb[:, 0, :]
    A = np.empty((B, D + 1, K - 1))
    A[:, :D, :] = np.transpose(nb[:, 1:, :] - v0[:, None, :], (0, 2, 1))
    A[:, D, :] = penalty
    rhs = np.zeros((B, D + 1, 1))
    rhs[:, :D, 0] = z - v0
    x = (np.linalg.pinv(A) @ rhs)[:, :, 0]          # least squares, batched
    return np.concatenate([1.0 - x.sum(axis=1, keepdims=True), x], axis=1)


def project(z, bank, k, t=1.0, penalty=PENALTY):
    """Project latents onto the bank's manifold and blend by ``t``.

    Returns ``(z_blended (B, D) float32, idx (B, K), weights (B, K))``.
    ``t`` may be a scalar or one value per latent.
    """
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    t = np.asarray(t, dtype=np.float64).reshape(-1, 1) if np.ndim(t) else float(t)
    if np.any(np.asarray(t) < 0) or np.any(np.asarray(t) > 1):
        raise ValueError(f"refinement weight t must lie in [0, 1], got {t}")
    idx, _ = bank.nearest(z, k)
    nb = bank.latents[idx]                                    # (B, K, D)
    w = projection_weights(z, nb, penalty)
    projected = np.einsum("bk,bkd->bd", w, nb.astype(np.float64))
    blended = t * projected + (1.0 - t) * z.astype(np.float64)
    return blended.astype(np.float32), idx, w


def shadow_weights(w, cap=0.5):
    """The release's shadow blend: each weight capped at ``cap``, negatives
    dropped, then normalised to sum to one (all-zero rows keep the nearest)."""
    s = np.clip(np.asarray(w, dtype=np.float64), 0.0, cap)
    total = s.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    s[empty, 0] = 1.0
    total[empty] = 1.0
    return s / total
