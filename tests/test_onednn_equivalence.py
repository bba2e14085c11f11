"""The fast CPU path computes what Jittor's slow path computes (issue 6).

Jittor runs convolutions, transposed convolutions and matrix products through
oneDNN when util/jittor_env.py finds it, and through its own generic kernels
(reindex + reduce) otherwise. The choice is made when Jittor is imported, so
the slow side runs in a subprocess started with ``use_mkl=0`` (which
util/jittor_env respects). Both sides get the same weights and inputs through
.npz files; every network's outputs must agree to a relative difference
(max |fast - slow| / max |slow|) below 1e-4.

Each side also checks from Jittor's profiler that it really ran the path it
stands for: oneDNN ops (``mkl_conv``, ``mkl_conv_backward_x`` for transposed
convolutions, ``mkl_matmul``) on the fast side, none on the slow side.

The slow path compiles its kernels on first use (cached by Jittor
afterwards), so the very first run takes longer than the later ones.
"""

import json
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

from tests.conftest import ROOT
from util import jittor_env

REL_TOL = 1e-4
NETWORKS = ("component_encoder", "sketch_decoder", "fm_decoder", "global_generator",
            "discriminator")
SLOW_DESCRIPTION = "Jittor on CPU, slow path (no oneDNN)"


# ---------------------------------------------------------------- shared by both sides
def build(name):
    """The tiny preset's network ``name`` and an input shape for it (batch 2)."""
    from configs import load_preset
    from models.deepfacedrawing import networks as N
    from util.components import scaled_boxes
    c = load_preset("tiny")
    n = c["image_size"]
    crop = scaled_boxes(n)["mouth"][2]
    ae = dict(latent_dim=c["latent_dim"], ngf=c["ae_ngf"], n_down=c["ae_n_down"],
              norm=c["ae_norm"], variant=c["variant"])
    if name == "component_encoder":
        return N.ComponentEncoder(crop, **ae), (2, 1, crop, crop)
    if name == "sketch_decoder":
        return N.SketchDecoder(crop, **ae), (2, c["latent_dim"])
    if name == "fm_decoder":
        channels = [int(x) for x in c["fm_channels"].split(",")]
        return N.FeatureDecoder(crop, channels, c["fm_nc"], c["latent_dim"], c["ae_norm"],
                                c["variant"]), (2, c["latent_dim"])
    if name == "global_generator":
        return N.GlobalGenerator(c["fm_nc"], 3, c["ngf"], c["n_downsample_global"],
                                 c["n_blocks_global"], c["norm"]), (2, c["fm_nc"], n, n)
    if name == "discriminator":      # pix2pixHD's defaults (options/train_options.py)
        return N.MultiscaleDiscriminator(1 + 3, 64, 3, 2, "instance"), (2, 4, n, n)
    raise ValueError(name)


def flat_outputs(out):
    """Every output array of a network (the discriminator returns nested lists)."""
    if isinstance(out, (list, tuple)):
        return [a for o in out for a in flat_outputs(o)]
    return [out.numpy()]


def run_network(jt, name, weights, x):
    """Build ``name``, load ``weights``, run ``x`` in eval mode on the CPU.
    Returns (outputs, names of the ops Jittor ran)."""
    net, _ = build(name)
    for key, var in net.state_dict().items():
        var.update(jt.array(weights[key]))
    net.eval()
    with jt.flag_scope(use_cuda=0), jt.no_grad():
        xv = jt.array(x)
        jt.sync_all()
        with jt.profile_scope(warmup=0, rerun=0) as report:
            out = net(xv)
            arrays = flat_outputs(out)
    ops = [row[0] for row in report[1:]]
    return arrays, ops


def slow_side(folder):
    """Entry point of the subprocess: the slow path on every network."""
    jt = jittor_env.get_jittor()
    info = {"describe": jittor_env.describe(), "mkl_ops": []}
    for name in NETWORKS:
        data = np.load(os.path.join(folder, f"{name}.npz"))
        weights = {k[2:]: data[k] for k in data.files if k.startswith("w:")}
        outs, ops = run_network(jt, name, weights, data["x"])
        info["mkl_ops"] += sorted({op.split("«")[0] for op in ops if op.startswith("mkl_")})
        np.savez(os.path.join(folder, f"{name}_slow.npz"), *outs)
    with open(os.path.join(folder, "slow_info.json"), "w") as f:
        json.dump(info, f)


# ---------------------------------------------------------------- the test
def seeded(shape, key, scale):
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def make_weights(name):
    """Seeded weights with sensible scales (and non-trivial BatchNorm statistics)."""
    net, shape = build(name)
    w = {}
    for key, var in net.state_dict().items():
        shp = tuple(var.shape)
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "running_var":
            w[key] = 0.5 + np.abs(seeded(shp, key, 1.0))
        elif len(shp) >= 2:
            w[key] = seeded(shp, key, 1.0 / np.sqrt(np.prod(shp[1:])))
        elif leaf == "weight":
            w[key] = 1.0 + seeded(shp, key, 0.1)
        else:
            w[key] = seeded(shp, key, 0.1)
    return w, shape



@pytest.fixture(scope="module")
def both_paths(tmp_path_factory):
    jt = jittor_env.get_jittor()
    if not jittor_env._state["onednn"]:
        pytest.skip("no oneDNN here: there is no fast CPU path to compare")
    folder = tmp_path_factory.mktemp("onednn_equivalence")
    fast, fast_ops = {}, {}
    for name in NETWORKS:
        weights, shape = make_weights(name)
        x = seeded(shape, name + "/input", 1.0)
        fast[name], ops = run_network(jt, name, weights, x)
        fast_ops[name] = {op.split("«")[0] for op in ops if op.startswith("mkl_")}
        np.savez(os.path.join(folder, f"{name}.npz"), x=x,
                 **{f"w:{k}": v for k, v in weights.items()})
    env = dict(os.environ, use_mkl="0", DFD_GPU="off", PYTHONPATH=ROOT)
    code = f"from tests.test_onednn_equivalence import slow_side; slow_side({str(folder)!r})"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    with open(os.path.join(folder, "slow_info.json")) as f:
        info = json.load(f)
    slow = {}
    for name in NETWORKS:
        data = np.load(os.path.join(folder, f"{name}_slow.npz"))
        slow[name] = [data[f"arr_{i}"] for i in range(len(data.files))]
    return fast, fast_ops, slow, info


def test_each_side_runs_the_path_it_stands_for(both_paths):
    _, fast_ops, _, info = both_paths
    assert info["describe"] == SLOW_DESCRIPTION
    assert info["mkl_ops"] == []                      # no oneDNN op on the slow side
    assert "mkl_conv" in fast_ops["global_generator"]
    assert "mkl_conv_backward_x" in fast_ops["global_generator"]   # transposed convs
    assert "mkl_matmul" in fast_ops["component_encoder"]           # the latent layer


@pytest.mark.parametrize("name", NETWORKS)
def test_fast_path_matches_slow_path(both_paths, name):
    fast, _, slow, _ = both_paths
    assert len(fast[name]) == len(slow[name])
    for i, (a, b) in enumerate(zip(fast[name], slow[name])):
        assert a.shape == b.shape
        assert np.isfinite(a).all() and np.isfinite(b).all()
        rel = float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-12))
        assert rel < REL_TOL, f"{name} output {i}: relative difference {rel:.2e}"
