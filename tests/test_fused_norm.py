"""models.fused_norm: the one-kernel BatchNorm / instance norm against the
graph formula (``DFD_FUSED_NORM=0``), forward, gradients and running
averages, and the layers that use it."""

import numpy as np
import pytest

from util.jittor_env import get_jittor

jt = get_jittor()

from models import fused_norm  # noqa: E402
from models.layers import BatchNorm2d, InstanceNorm2d  # noqa: E402


def graph_formula(x, w, b, stats, eps=1e-5):
    dims = (2, 3) if stats == "instance" else (0, 2, 3)
    mean = x.mean(dims=dims, keepdims=True)
    var = ((x - mean) ** 2).mean(dims=dims, keepdims=True)
    return (x - mean) * (w.reshape(1, -1, 1, 1) / jt.sqrt(var + eps)) + b.reshape(1, -1, 1, 1)


def forward_and_grads(fn, xn, wn, bn, up):
    x, w, b = jt.array(xn), jt.array(wn), jt.array(bn)
    y = fn(x, w, b)
    gx, gw, gb = jt.grad((y * jt.array(up)).sum(), [x, w, b])
    return [a.numpy().astype(np.float64) for a in (y, gx, gw, gb)]


@pytest.mark.parametrize("stats", fused_norm.STATS)
@pytest.mark.parametrize("shape", [(3, 5, 7, 6), (1, 4, 9, 9), (2, 3, 16, 16)])
def test_equals_the_graph_formula(stats, shape):
    rng = np.random.default_rng(sum(shape))
    # a mean large against the spread: where E[x^2] - E[x]^2 would lose digits
    xn = (rng.standard_normal(shape) * 3 + 100).astype(np.float32)
    wn, bn = (rng.standard_normal(shape[1]).astype(np.float32) for _ in range(2))
    up = rng.standard_normal(shape).astype(np.float32)
    fused = forward_and_grads(lambda x, w, b: fused_norm.normalize(x, w, b, stats)[0],
                              xn, wn, bn, up)
    graph = forward_and_grads(lambda x, w, b: graph_formula(x, w, b, stats), xn, wn, bn, up)
    for name, a, r in zip(("y", "dx", "dweight", "dbias"), fused, graph):
        np.testing.assert_allclose(a, r, rtol=0, atol=2e-5 * np.abs(r).max(), err_msg=name)
    # and against float64 numpy: the fused kernel is at least as exact
    dims = (2, 3) if stats == "instance" else (0, 2, 3)
    x64 = xn.astype(np.float64)
    mean, var = x64.mean(dims, keepdims=True), x64.var(dims, keepdims=True)
    y64 = (x64 - mean) / np.sqrt(var + 1e-5) * wn.reshape(1, -1, 1, 1) + bn.reshape(1, -1, 1, 1)
    assert np.abs(fused[0] - y64).max() <= np.abs(graph[0] - y64).max() + 1e-6


@pytest.mark.parametrize("stats", fused_norm.STATS)
def test_statistics_returned(stats):
    rng = np.random.default_rng(3)
    xn = rng.standard_normal((2, 3, 5, 4)).astype(np.float32) * 2 + 1
    _, mean, var = fused_norm.normalize(jt.array(xn), jt.ones(3), jt.zeros(3), stats)
    dims = (2, 3) if stats == "instance" else (0, 2, 3)
    np.testing.assert_allclose(mean.numpy(), xn.mean(dims).reshape(-1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var.numpy(), xn.astype(np.float64).var(dims).reshape(-1),
                               rtol=1e-5)
    assert mean.is_stop_grad() and var.is_stop_grad()


def test_unknown_statistics_named():
    with pytest.raises(ValueError, match="unknown statistics 'group'"):
        fused_norm.normalize(jt.ones((1, 2, 3, 3)), jt.ones(2), jt.zeros(2), "group")


def layer_run(make, xn, up, monkeypatch, fused, train=True):
    monkeypatch.setenv("DFD_FUSED_NORM", "1" if fused else "0")
    jt.set_global_seed(0)
    layer = make()
    layer.train() if train else layer.eval()
    layer.weight.update(jt.array(np.linspace(0.5, 1.5, xn.shape[1]).astype(np.float32)))
    layer.bias.update(jt.array(np.linspace(-1, 1, xn.shape[1]).astype(np.float32)))
    x = jt.array(xn)
    y = layer(x)
    gx, gw = jt.grad((y * jt.array(up)).sum(), [x, layer.weight])
    extra = [layer.running_mean.numpy(), layer.running_var.numpy()] \
        if hasattr(layer, "running_mean") else []
    return [y.numpy(), gx.numpy(), gw.numpy()] + extra


@pytest.mark.parametrize("make,train", [
    (lambda: BatchNorm2d(4), True),              # batch statistics, running averages moved
    (lambda: BatchNorm2d(4), False),             # given statistics: the graph formula both ways
    (lambda: InstanceNorm2d(4), True),
], ids=["batch-train", "batch-eval", "instance"])
def test_layers_same_with_and_without(make, train, monkeypatch):
    rng = np.random.default_rng(7)
    xn = (rng.standard_normal((3, 4, 6, 5)) * 2 + 5).astype(np.float32)
    up = rng.standard_normal(xn.shape).astype(np.float32)
    fused = layer_run(make, xn, up, monkeypatch, True, train)
    graph = layer_run(make, xn, up, monkeypatch, False, train)
    for a, r in zip(fused, graph):
        np.testing.assert_allclose(a, r, rtol=2e-5, atol=2e-5)
    if train and len(fused) == 5:                 # the running averages did move
        assert np.abs(fused[3]).max() > 0.1


def test_sample_stats_is_instance_statistics(monkeypatch):
    """BatchNorm2d.sample_stats (the release's FM decoders at inference):
    each sample by its own statistics, BatchNorm's weights, averages untouched."""
    rng = np.random.default_rng(8)
    xn = rng.standard_normal((2, 3, 4, 4)).astype(np.float32) * 3 + 2
    layer = BatchNorm2d(3)
    layer.sample_stats = True
    layer.eval()
    y = layer(jt.array(xn)).numpy()
    mean = xn.mean((2, 3), keepdims=True)
    expect = (xn - mean) / np.sqrt(xn.var((2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(y, expect, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(layer.running_mean.numpy(), np.zeros(3, np.float32))


def test_switch_and_dtypes(monkeypatch):
    monkeypatch.setenv("DFD_FUSED_NORM", "0")
    assert not fused_norm.usable(jt.ones((1, 2, 3, 3)))
    monkeypatch.setenv("DFD_FUSED_NORM", "1")
    assert fused_norm.usable(jt.ones((1, 2, 3, 3)))
    assert not fused_norm.usable(jt.ones((1, 2, 3, 3)).float64())
    assert not fused_norm.usable(jt.ones((2, 3)))
