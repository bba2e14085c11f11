"""Adam: the fused CPU update is the textbook formula (PyTorch's epsilon),
step after step, and its saved moments are the formula's."""

import numpy as np

SHAPES = [(3, 4, 3, 3), (7,), (5, 5), (1,), (300, 250)]   # the last over the threads


def reference(params, grads, t, lr=0.01, betas=(0.5, 0.999), eps=1e-8, state=None):
    """Adam in numpy (float64): the parameters after step ``t``."""
    b1, b2 = betas
    out = []
    for k, (p, g) in enumerate(zip(params, grads)):
        m, v = state.setdefault(k, (np.zeros_like(p), np.zeros_like(p)))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        state[k] = (m, v)
        out.append(p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps))
    return out


def test_fused_adam_follows_the_formula_and_saves_its_state():
    from training.base_trainer import jt
    from training.optim import Adam
    rng = np.random.default_rng(0)
    start = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    goal = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    params = [jt.array(p) for p in start]
    opt = Adam(params, 0.01, (0.5, 0.999), 1e-8)
    want, state = [p.astype(np.float64) for p in start], {}
    for t in range(1, 6):
        loss = sum(((p - jt.array(q)) ** 2).sum() for p, q in zip(params, goal))
        grads = [2 * (w - q) for w, q in zip(want, goal)]
        opt.step(loss)
        want = reference(want, grads, t, state=state)
        for got, w in zip(params, want):
            np.testing.assert_allclose(got.numpy(), w, rtol=1e-5, atol=3e-6)
    saved = opt.state_dict()
    assert saved["t"] == 5
    for k in range(len(SHAPES)):
        np.testing.assert_allclose(saved["m"][k], state[k][0], rtol=1e-4, atol=2e-6)
        np.testing.assert_allclose(saved["v"][k], state[k][1], rtol=1e-4, atol=1e-9)
