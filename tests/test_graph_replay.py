"""models.graph_replay: forwards replayed from a traced Jittor graph give
what the plain call gives, on new inputs, with constants made inside the
traced function, and fall back to the plain call where they cannot."""

import os

import numpy as np
import pytest

from util.jittor_env import get_jittor

jt = get_jittor()

from models import graph_replay  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Owner:
    """Anything a Replay can hang on."""


@pytest.fixture(autouse=True)
def trace_however_slow(monkeypatch):
    """Trace on the second call whatever it took: on a fresh kernel cache (CI)
    a second call can compile a kernel (a new scalar is fused into the code)
    and pass REPLAY_BELOW_S; the test of that threshold sets it itself."""
    monkeypatch.setattr(graph_replay, "REPLAY_BELOW_S", float("inf"))


def with_constants(x):
    """Constants made from host arrays while traced: a map, a 1x1x1x1 one and
    a scalar (fused into the kernel by Jittor)."""
    ramp = jt.array(np.linspace(0.5, 2.0, 8, dtype=np.float32).reshape(1, 2, 2, 2))
    half = jt.array(np.full((1, 1, 1, 1), 0.5, np.float32))
    three = jt.array(np.float32([3.0]))
    return ((x + 1) * ramp * half + three, x.sum())


def late_constants(x):
    """Constants made after values that depend on the input: running them
    must not run those too (they would be kept as constants of the graph)."""
    y = (x * 2).exp()
    z = y * jt.array(np.full((1, 2, 2, 2), 0.5, np.float32)) + x
    return z * jt.array(np.full((1, 2, 2, 2), 0.25, np.float32)) + y


def expected(xn):
    ramp = np.linspace(0.5, 2.0, 8, dtype=np.float32).reshape(1, 2, 2, 2)
    return (xn + 1) * ramp * 0.5 + 3.0, xn.sum()


def test_available_here():
    ok, why = graph_replay.available()
    assert ok, why


def test_replay_keeps_constants_made_while_tracing():
    owner = Owner()
    graph_replay.enable(owner)
    rng = np.random.default_rng(0)
    with jt.no_grad():
        for _ in range(4):             # new inputs each call; a freed constant shows from the 2nd
            xn = rng.standard_normal((1, 2, 2, 2)).astype(np.float32)
            out, total = graph_replay.run(owner, "f", with_constants, jt.array(xn))
            want, want_total = expected(xn)
            np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
            np.testing.assert_allclose(total.numpy(), want_total, rtol=1e-5)
    status = owner._graph_replay.status()
    assert status["replayed"] == 1 and status["plain"] == []


def test_constants_do_not_freeze_what_came_before():
    owner = Owner()
    graph_replay.enable(owner)
    rng = np.random.default_rng(1)
    with jt.no_grad():
        for _ in range(3):
            xn = rng.standard_normal((1, 2, 2, 2)).astype(np.float32)
            y = np.exp(2 * xn)
            out = graph_replay.run(owner, "late", late_constants, jt.array(xn))
            np.testing.assert_allclose(out.numpy(), (y * 0.5 + xn) * 0.25 + y, rtol=1e-5)
    assert owner._graph_replay.status()["replayed"] == 1


def test_each_input_shape_gets_its_graph_and_old_ones_go(monkeypatch):
    monkeypatch.setattr(graph_replay, "MAX_GRAPHS", 2)
    owner = Owner()
    replay = graph_replay.enable(owner)
    with jt.no_grad():
        for n in (1, 1, 1, 2, 2, 3, 3, 3):
            xn = np.arange(n * 8, dtype=np.float32).reshape(n, 2, 2, 2)
            out, _ = graph_replay.run(owner, "f", with_constants, jt.array(xn))
            np.testing.assert_allclose(out.numpy(), expected(xn)[0], rtol=1e-6)
    assert [slot[1][0] for slot in replay.graphs] == [(2, 2, 2, 2), (3, 2, 2, 2)]
    assert replay.status()["replayed"] == 2            # batch 1's graph went


def test_slow_calls_are_not_traced(monkeypatch):
    monkeypatch.setattr(graph_replay, "REPLAY_BELOW_S", 0.0)
    owner = Owner()
    replay = graph_replay.enable(owner)
    xn = np.ones((1, 2, 2, 2), np.float32)
    with jt.no_grad():
        for _ in range(3):
            out, _ = graph_replay.run(owner, "f", with_constants, jt.array(xn))
            np.testing.assert_allclose(out.numpy(), expected(xn)[0], rtol=1e-6)
    assert replay.status()["replayed"] == 0 and replay.status()["plain"] == []
    assert "replay would save little" in next(iter(replay.graphs.values()))


def test_a_function_that_syncs_runs_plain():
    owner = Owner()
    graph_replay.enable(owner)

    def reads_back(x):
        scale = float(x.max().numpy().reshape(-1)[0])   # runs the graph while traced
        return x / scale
    with jt.no_grad():
        for k in (1.0, 4.0):
            xn = np.array([1.0, 2.0, k], np.float32)
            out = graph_replay.run(owner, "g", reads_back, jt.array(xn))
            np.testing.assert_allclose(out.numpy(), xn / xn.max())
    status = owner._graph_replay.status()
    assert status["replayed"] == 0
    assert status["plain"] == ["g: the function ran Jittor's graph while it was traced"]


def test_outputs_other_than_vars_run_plain():
    owner = Owner()
    graph_replay.enable(owner)
    with jt.no_grad():
        for _ in range(3):
            x = jt.array(np.ones(2, np.float32))
            out = graph_replay.run(owner, "d", lambda x: {"y": x * 2}, x)
            np.testing.assert_allclose(out["y"].numpy(), [2.0, 2.0])
    assert owner._graph_replay.status()["plain"] == [
        "d: outputs must be Vars or a tuple of Vars, not dict"]


def test_switched_off_and_outside_no_grad_run_plain(monkeypatch):
    owner = Owner()
    replay = graph_replay.enable(owner)
    x = jt.array(np.ones((1, 2, 2, 2), np.float32))
    out, _ = graph_replay.run(owner, "f", with_constants, x)       # gradients wanted: plain
    np.testing.assert_allclose(out.numpy(), expected(np.ones((1, 2, 2, 2), np.float32))[0])
    monkeypatch.setenv(graph_replay.ENV, "0")
    with jt.no_grad():
        graph_replay.run(owner, "f", with_constants, x)
    assert not replay.graphs
    assert replay.status()["available"] is False and replay.status()["why"] == "DFD_GRAPH_REPLAY=0"


def test_reset_forgets_graphs_of_old_weights():
    layer = jt.nn.Linear(3, 2)
    graph_replay.enable(layer)
    x = jt.array(np.array([[1.0, 2.0, 3.0]], np.float32))
    with jt.no_grad():
        before = [graph_replay.run(layer, "fc", layer, x).numpy() for _ in range(3)][-1]
        assert layer._graph_replay.status()["replayed"] == 1
        layer.weight.update(layer.weight * 2)
        graph_replay.reset(layer)
        after = [graph_replay.run(layer, "fc", layer, x).numpy() for _ in range(3)][-1]
        assert layer._graph_replay.status()["replayed"] == 1
    bias = layer.bias.numpy()
    np.testing.assert_allclose(after - bias, 2 * (before - bias), rtol=1e-5)


@pytest.mark.parametrize("method,params", [("deepfacedrawing", "default"),
                                           ("sp_embedding", "sp_embedding")])
def test_bundled_models_give_the_same_faces_replayed(method, params, monkeypatch):
    """The bundled models through the inference path: replayed faces are the
    plain call's, to the bit, and the networks were replayed."""
    from models.inference import Appearance
    from models.methods import prepare_inference
    from options.test_options import TestOptions
    from tests.conftest import face_sketch
    opt = TestOptions().parse(["--method", method,
                               "--params", os.path.join(ROOT, "params", params)])
    face = prepare_inference(opt)
    sketches = [face.prepare(np.asarray(face_sketch(512)))[0]] * 2
    photo = (np.random.default_rng(0).random((256, 256, 3)) * 255).astype(np.uint8)
    for look in (Appearance.random(seed=1), Appearance.of_photos([face.photo_input(photo)] * 2)):
        monkeypatch.delenv(graph_replay.ENV, raising=False)
        replayed = [face(sketches, look)["faces"] for _ in range(4)]     # traced on the 2nd
        monkeypatch.setenv(graph_replay.ENV, "0")
        plain = face(sketches, look)["faces"]
        assert all((faces == plain).all() for faces in replayed)
    owners = [face.model] + list(getattr(face.model, "parts", {}).values())
    assert sum(o._graph_replay.status()["replayed"] for o in owners) >= 3
    assert all(o._graph_replay.status()["plain"] == [] for o in owners)


def test_bundled_stroke_labeller_replayed(monkeypatch):
    """The sketch embedding's stroke labeller (a plain sketch's labels, each
    stroke of the app's preview) replayed: the same labels."""
    from models.methods import prepare_inference
    from options.test_options import TestOptions
    from tests.conftest import face_sketch
    opt = TestOptions().parse(["--method", "sp_embedding",
                               "--params", os.path.join(ROOT, "params", "sp_embedding")])
    face = prepare_inference(opt)
    labeler = face.model.labeler
    assert hasattr(labeler, "_graph_replay"), "the bundled model has a network labeller"
    sketch = np.asarray(face_sketch(512))
    replayed = [face.prepare(sketch)[0]["labels"] for _ in range(3)]
    monkeypatch.setenv(graph_replay.ENV, "0")
    plain = face.prepare(sketch)[0]["labels"]
    assert all((labels == plain).all() for labels in replayed)
    assert labeler._graph_replay.status()["replayed"] == 1


def test_the_replay_check_sees_nan_and_infinity():
    """The check a traced graph must pass: a NaN or infinity in the replay
    where the plain call has a number (or the other way round) is an
    infinite gap, not the no-gap a NaN comparison gives; the same NaN or
    infinity on both sides is no gap."""
    gap = graph_replay._largest_gap
    assert gap([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert gap([1.0, 2.0], [1.0, 2.1]) == pytest.approx(0.1 / 3)
    assert gap([1.0, 2.0], [1.0, np.nan]) == float("inf")
    assert gap([1.0, np.nan], [1.0, 2.0]) == float("inf")
    assert gap([np.inf, 1.0], [1.0, 1.0]) == float("inf")
    assert gap([np.nan, np.inf, 3.0], [np.nan, np.inf, 3.0]) == 0.0
    assert gap([], []) == 0.0
    assert not gap([1.0], [np.nan]) <= graph_replay.TOLERANCE
