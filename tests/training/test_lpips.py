"""LPIPS (training/lpips.py): the heads file (stand-in in the published
layout, and the real wheel), a torchvision VGG16 backbone file, the distance
against its formula, and the one-line failure when the heads cannot be had."""

import os

import numpy as np
import pytest

from tests.conftest import ROOT, run_script

CHANNELS = (64, 128, 256, 512, 512)
VGG16_CONVS = ((64, 3), (64, 64), (128, 64), (128, 128), (256, 128), (256, 256), (256, 256),
               (512, 256), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512))
VGG16_INDEX = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)    # torchvision features.N


def standin_heads(seed=0):
    rng = np.random.default_rng(seed)
    return {f"lin{k}.model.1.weight": rng.uniform(0, 1, (1, c, 1, 1)).astype(np.float32)
            for k, c in enumerate(CHANNELS)}


def write_standin_heads(pth, npz, seed=0):
    """A heads .pth in the published layout, converted to our .npz (no pins)."""
    from models.torch_file import write_torch_file
    from training.lpips import convert_heads
    write_torch_file(pth, standin_heads(seed))
    convert_heads(pth, npz, expected_pth_sha256=None, expected_heads_sha256=None)
    return npz


def write_standin_vgg16(path, seed=0):
    """A torchvision VGG16 state dict (features.N, classifier too) of random
    fan-in scaled weights; returns {features index: (weight, bias)}."""
    from models.torch_file import write_torch_file
    rng = np.random.default_rng(seed)
    state, convs = {}, {}
    for idx, (cout, cin) in zip(VGG16_INDEX, VGG16_CONVS):
        w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))).astype(np.float32)
        b = (0.01 * rng.standard_normal(cout)).astype(np.float32)
        state[f"features.{idx}.weight"], state[f"features.{idx}.bias"] = w, b
        convs[idx] = (w, b)
    state["classifier.0.weight"] = np.zeros((4, 8), np.float32)
    write_torch_file(path, state)
    return convs


@pytest.fixture(scope="module")
def lpips_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("lpips")
    heads = write_standin_heads(str(root / "vgg.pth"), str(root / "heads.npz"))
    vgg = str(root / "vgg16-397923af.pth")
    convs = write_standin_vgg16(vgg)
    return heads, vgg, convs


def test_heads_file_round_trip_and_checks(tmp_path, lpips_files):
    from models.torch_file import write_torch_file
    from training.lpips import LPIPSWeightsError, convert_heads, read_heads
    heads = read_heads(lpips_files[0], expected_sha256=None)
    want = standin_heads(0)
    for k in range(5):
        np.testing.assert_array_equal(heads[f"lin{k}"], want[f"lin{k}.model.1.weight"])
    with pytest.raises(LPIPSWeightsError, match="not the published"):
        read_heads(lpips_files[0])                      # a stand-in is not the pinned heads
    write_torch_file(str(tmp_path / "x.pth"), standin_heads(1))
    with pytest.raises(LPIPSWeightsError, match="SHA-256"):       # not the pinned file
        convert_heads(str(tmp_path / "x.pth"), str(tmp_path / "x.npz"))
    bad = dict(standin_heads(), **{"lin2.model.1.weight": np.zeros((1, 3, 1, 1), np.float32)})
    write_torch_file(str(tmp_path / "bad.pth"), bad)
    with pytest.raises(LPIPSWeightsError, match=r"lin2.model.1.weight has shape \[1, 3, 1, 1\]"):
        convert_heads(str(tmp_path / "bad.pth"), str(tmp_path / "bad.npz"), None, None)
    raw = bytearray(open(lpips_files[0], "rb").read())
    at = raw.find(want["lin3.model.1.weight"].tobytes())
    raw[at + 10] ^= 0xFF                                         # damage one weight
    (tmp_path / "damaged.npz").write_bytes(bytes(raw))
    with pytest.raises(LPIPSWeightsError):
        read_heads(str(tmp_path / "damaged.npz"), expected_sha256=None)


def test_torchvision_backbone_and_the_distance_formula(lpips_files):
    from models.base_model import jt
    from training.lpips import LPIPS, load_backbone, read_heads
    heads_path, vgg_path, convs = lpips_files
    vgg, label = load_backbone(vgg_path)
    assert label == "LPIPS" and vgg.input_norm == "torchvision"
    np.testing.assert_array_equal(vgg.conv2_1.weight.numpy(), convs[5][0])
    np.testing.assert_array_equal(vgg.conv5_3.bias.numpy(), convs[28][1])
    heads = read_heads(heads_path, expected_sha256=None)
    net = LPIPS(heads, vgg, label)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    y = np.clip(x + 0.3 * rng.standard_normal(x.shape), -1, 1).astype(np.float32)
    d = net(jt.array(x), jt.array(y)).numpy()
    fx = [f.numpy() for f in vgg(jt.array(x))]
    fy = [f.numpy() for f in vgg(jt.array(y))]
    want = np.zeros(2)
    for k, (a, b) in enumerate(zip(fx, fy)):
        a = a / (np.sqrt((a ** 2).sum(axis=1, keepdims=True)) + 1e-10)
        b = b / (np.sqrt((b ** 2).sum(axis=1, keepdims=True)) + 1e-10)
        w = heads[f"lin{k}"].reshape(1, -1, 1, 1)
        want += ((a - b) ** 2 * w).sum(axis=1).mean(axis=(1, 2))
    np.testing.assert_allclose(d, want, rtol=1e-4)
    assert d.shape == (2,) and (d > 0).all()
    np.testing.assert_allclose(net(jt.array(x), jt.array(x)).numpy(), 0, atol=1e-6)
    np.testing.assert_allclose(net(jt.array(y), jt.array(x)).numpy(), d, rtol=1e-4)
    xv = jt.array(x)
    grad, = jt.grad(net(xv, jt.array(y)).sum(), [xv])
    assert np.abs(grad.numpy()).max() > 0


def test_missing_heads_fail_in_one_line_with_the_command(tmp_path, monkeypatch):
    from training import lpips
    monkeypatch.setattr(lpips, "DEFAULT_HEADS_PATH", str(tmp_path / "lpips.npz"))
    monkeypatch.setattr(lpips, "find_installed_pth", lambda: None)

    def offline(workdir, python=None):
        raise lpips.LPIPSWeightsError("pip download lpips==0.1.4 failed: no network")
    monkeypatch.setattr(lpips, "fetch_heads_pth", offline)
    with pytest.raises(lpips.LPIPSWeightsError) as err:
        lpips.load_heads("")
    msg = str(err.value)
    assert "\n" not in msg and "python scripts/get_lpips.py" in msg and "no network" in msg
    assert "--lpips_lambda 0" in msg
    with pytest.raises(lpips.LPIPSWeightsError, match="get_lpips.py"):
        lpips.load_heads(str(tmp_path / "elsewhere.npz"))


def test_get_lpips_fetches_the_published_heads(tmp_path):
    """Downloads the lpips==0.1.4 wheel (54 KB) from PyPI and checks every pin."""
    from training.lpips import HEADS_SHA256, read_heads
    out = str(tmp_path / "heads.npz")
    assert run_script("scripts/get_lpips.py", ["--out", out]) == 0
    heads = read_heads(out)                                   # the pinned digest
    assert [heads[f"lin{k}"].shape[1] for k in range(5)] == list(CHANNELS)
    assert all((h >= 0).all() for h in heads.values())        # LPIPS heads are non-negative
    again = str(tmp_path / "again.npz")
    assert run_script("scripts/get_lpips.py", ["--out", again]) == 0
    assert open(out, "rb").read() == open(again, "rb").read()  # reproducible bytes
    assert len(HEADS_SHA256) == 64 and os.path.getsize(out) < 20000
    assert os.path.isfile(os.path.join(ROOT, "scripts", "get_lpips.py"))
