"""The FID Inception-v3: layout, loading a PyTorch state dict by name, pooling."""

import numpy as np
import pytest

from tests.torch_files import write_pth as _write_pth


@pytest.fixture(scope="module")
def inception_pth(tmp_path_factory):
    from models.inception import FIDInceptionV3
    rng = np.random.default_rng(0)
    state = {}
    for k, v in FIDInceptionV3().state_dict().items():
        shape = tuple(v.shape)
        if k.endswith("conv.weight"):           # He init keeps a signal through 90 layers
            fan_in = int(np.prod(shape[1:]))
            state[k] = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        elif k.endswith(("running_var", "bn.weight")):
            state[k] = rng.uniform(0.8, 1.2, shape)
        else:
            state[k] = rng.standard_normal(shape) * 0.05
        state[k] = state[k].astype(np.float32)
    # what the pytorch-fid file also holds, to be ignored
    state["fc.weight"] = np.zeros((1008, 2048), np.float32)
    state["fc.bias"] = np.zeros((1008,), np.float32)
    path = tmp_path_factory.mktemp("inception") / "pt_inception.pth"
    _write_pth(str(path), state)
    return str(path), state


def test_layout_matches_torchvision_names_and_size():
    from models.inception import FIDInceptionV3
    sd = FIDInceptionV3().state_dict()
    learnable = sum(int(np.prod(v.shape)) for k, v in sd.items() if not k.endswith(
        ("running_mean", "running_var")))
    # torchvision's Inception3 has 27,161,264 parameters, of which the
    # 1000-way fc has 2,049,000 and AuxLogits 3,326,696
    assert learnable == 27161264 - 2049000 - 3326696
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in sd
    assert tuple(sd["Mixed_6b.branch7x7_2.conv.weight"].shape) == (128, 128, 1, 7)


def test_loads_by_name_and_gives_2048_features(inception_pth):
    from models.base_model import jt
    from models.inception import load_fid_inception
    path, state = inception_pth
    net = load_fid_inception(path)
    got = net.state_dict()["Mixed_5b.branch5x5_2.conv.weight"].numpy()
    np.testing.assert_array_equal(got, state["Mixed_5b.branch5x5_2.conv.weight"])
    x = jt.array(np.random.default_rng(1).uniform(-1, 1, (2, 3, 64, 64)).astype(np.float32))
    with jt.no_grad():
        y = net(x).numpy()
    assert y.shape == (2, 2048) and np.isfinite(y).all() and (y >= 0).all()   # after ReLU
    assert not np.allclose(y[0], y[1])


def test_refuses_a_foreign_state_dict(inception_pth, tmp_path):
    from models.inception import load_fid_inception
    from models.files import CheckpointError as VGGWeightsError
    _, state = inception_pth
    bad = dict(state)
    bad["Conv2d_1a_3x3.conv.weight"] = np.zeros((32, 3, 5, 5), np.float32)
    _write_pth(str(tmp_path / "shape.pth"), bad)
    with pytest.raises(VGGWeightsError, match=r"shape.pth: parameter 'Conv2d_1a_3x3.conv.weight'"):
        load_fid_inception(str(tmp_path / "shape.pth"))
    missing = {k: v for k, v in state.items() if not k.startswith("Mixed_7c")}
    _write_pth(str(tmp_path / "missing.pth"), missing)
    with pytest.raises(VGGWeightsError, match="no parameter 'Mixed_7c"):
        load_fid_inception(str(tmp_path / "missing.pth"))


def test_fid_average_pool_excludes_padding():
    from models.base_model import jt
    from models.inception import _avg3
    out = _avg3(jt.ones((1, 1, 5, 5))).numpy()
    np.testing.assert_allclose(out, 1.0, rtol=1e-6)      # corners too: padding not counted


def test_resize_is_half_pixel_bilinear_like_torch():
    """The FID input resize (bilinear, align_corners=False) against OpenCV's
    INTER_LINEAR, which uses the same half-pixel sampling."""
    import cv2
    from models.base_model import jt
    img = np.random.default_rng(2).uniform(-1, 1, (37, 53)).astype(np.float32)
    ours = jt.nn.interpolate(jt.array(img[None, None]), size=(299, 299), mode="bilinear",
                             align_corners=False).numpy()[0, 0]
    np.testing.assert_allclose(ours, cv2.resize(img, (299, 299), interpolation=cv2.INTER_LINEAR),
                               atol=1e-5)


@pytest.mark.slow
def test_evaluate_uses_inception_when_given(inception_pth, tiny_params, tmp_path):
    import json
    from tests.conftest import run_script
    path, _ = inception_pth
    out = tmp_path / "ev"
    assert run_script("scripts/evaluate.py", ["--params", tiny_params, "--n_test", "3",
                                              "--inception_path", path, "--no_images",
                                              "--results_dir", str(out)]) == 0
    res = json.loads((out / "metrics.json").read_text())
    assert "Inception-v3" in res["feature_note"]
    assert np.isfinite(res["sets"]["clean"]["fid"]) and np.isfinite(res["sets"]["clean"]["vgg"])
