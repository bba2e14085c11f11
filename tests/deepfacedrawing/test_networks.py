"""Forward behaviour of the networks and models at the tiny size."""

import numpy as np
import pytest

from util.components import PARTS, PASTE_ORDER, nose_paste_rows, scaled_boxes
from util.jittor_env import get_jittor

jt = get_jittor()


def test_shapes_through_every_network(tiny_opt):
    from models import create_model
    n = tiny_opt.image_size
    x = np.random.default_rng(0).uniform(-1, 1, (2, 1, n, n)).astype(np.float32)
    latents = {}
    for part in PARTS:
        ae = create_model("ae", tiny_opt, part=part).eval()
        s = scaled_boxes(n)[part][2]
        crop = ae.crop(x)
        assert crop.shape == (2, 1, s, s)
        z = ae.encode(crop)
        assert z.shape == (2, tiny_opt.latent_dim)
        assert ae.decode(z).shape == (2, 1, s, s)
        latents[part] = jt.array(z)
    combine = create_model("combine", tiny_opt).eval()
    with jt.no_grad():
        fmap = combine.feature_map(latents)
        img = combine.netG(fmap).numpy()
    assert fmap.shape == (2, tiny_opt.fm_nc, n, n)
    assert img.shape == (2, 3, n, n) and np.abs(img).max() <= 1.0


def test_remainder_crop_paints_the_parts_white(tiny_opt):
    from util.arrays import crop_part
    n = tiny_opt.image_size
    x = -np.ones((1, 1, n, n), np.float32)
    rem = crop_part(x, "", n)
    for part in PARTS[:-1]:
        bx, by, s = scaled_boxes(n)[part]
        assert np.all(rem[0, 0, by:by + s, bx:bx + s] == 1.0)
    assert rem[0, 0, 0, 0] == -1.0 and np.all(x == -1.0)     # the input is untouched


def test_paste_order_and_nose_rows(tiny_opt):
    """Each part's map lands in its box; later pastes win; only the nose's top rows."""
    from models import create_model
    combine = create_model("combine", tiny_opt).eval()
    value = {"": 0.0, "mouth": 1.0, "nose": 2.0, "eye1": 3.0, "eye2": 4.0}
    for part, dec in combine.fm.items():
        s = scaled_boxes(tiny_opt.image_size)[part][2]
        dec.execute = (lambda v, s: lambda z: jt.full((z.shape[0], tiny_opt.fm_nc, s, s), v))(value[part], s)
    z = {p: jt.zeros((1, tiny_opt.latent_dim)) for p in PARTS}
    fmap = combine.feature_map(z).numpy()[0, 0]
    expected = np.zeros_like(fmap)
    boxes = scaled_boxes(tiny_opt.image_size)
    for part in PASTE_ORDER:
        x, y, s = boxes[part]
        rows = nose_paste_rows(tiny_opt.image_size) if part == "nose" else s
        expected[y:y + rows, x:x + s] = value[part]
    np.testing.assert_array_equal(fmap, expected)
    x, y, s = boxes["nose"]
    below_nose = fmap[y + nose_paste_rows(tiny_opt.image_size) + 1, x + s // 2]
    assert below_nose in (0.0, 1.0)       # remainder or mouth, never the nose


def test_official_quirks_slope_one_and_momentum():
    from jittor import nn
    from models.layers import BatchNorm2d
    from models.deepfacedrawing.networks import ComponentEncoder, DownBlock
    enc = ComponentEncoder(128, variant="official")
    down = [m for m in enc.modules() if isinstance(m, DownBlock)]
    assert all(isinstance(d.relu, nn.Identity) for d in down)            # LeakyReLU(1)
    assert all(d.bn.momentum == 0.9 for d in down)
    res_bn = [m for m in enc.conv[1].modules() if isinstance(m, BatchNorm2d)]
    assert res_bn and all(m.momentum == 0.1 for m in res_bn)
    fixed = ComponentEncoder(128, variant="fixed")
    d = [m for m in fixed.modules() if isinstance(m, DownBlock)][0]
    assert isinstance(d.relu, nn.LeakyReLU) and d.bn.momentum == 0.1


def test_batchnorm_modes_match_numpy():
    from models.layers import BatchNorm2d
    rng = np.random.default_rng(0)
    bn = BatchNorm2d(3)
    bn.weight.update(jt.array(np.array([1.0, 2.0, 0.5], np.float32)))
    bn.bias.update(jt.array(np.array([0.0, 1.0, -1.0], np.float32)))
    bn.running_mean.update(jt.array(np.array([0.1, 0.2, 0.3], np.float32)))
    bn.running_var.update(jt.array(np.array([1.5, 0.5, 2.0], np.float32)))
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32) * 3 + 10
    w, b = np.array([1, 2, 0.5]).reshape(1, 3, 1, 1), np.array([0, 1, -1]).reshape(1, 3, 1, 1)
    bn.eval()
    rm, rv = np.array([0.1, 0.2, 0.3]).reshape(1, 3, 1, 1), np.array([1.5, 0.5, 2.0]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(bn(jt.array(x)).numpy(), (x - rm) / np.sqrt(rv + 1e-5) * w + b,
                               rtol=1e-5, atol=1e-5)
    bn.sample_stats = True           # the release's FM quirk: each sample's own statistics
    m, v = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(bn(jt.array(x)).numpy(), (x - m) / np.sqrt(v + 1e-5) * w + b,
                               rtol=1e-4, atol=1e-4)
    out_single = bn(jt.array(x[1:])).numpy()
    np.testing.assert_allclose(bn(jt.array(x)).numpy()[1:], out_single, rtol=1e-5, atol=1e-5)


def test_fm_sample_stats_follows_the_option(tiny_opt, official_opt):
    from models import create_model
    from models.layers import BatchNorm2d

    def flags(model):
        return {m.sample_stats for dec in model.fm.values() for m in dec.modules()
                if isinstance(m, BatchNorm2d)}
    assert flags(create_model("combine", official_opt).eval()) == {True}
    assert flags(create_model("combine", tiny_opt).eval()) == {False}
    assert flags(create_model("combine", official_opt).eval().train()) == {False}


def test_discriminator_outputs_every_scale_and_stage(tmp_path):
    from models.deepfacedrawing.networks import MultiscaleDiscriminator
    d = MultiscaleDiscriminator(4, ndf=8, n_layers=3, num_D=2)
    outs = d(jt.zeros((1, 4, 64, 64)))
    assert len(outs) == 2 and all(len(o) == 5 for o in outs)
    assert outs[0][-1].shape[1] == 1
    assert outs[1][0].shape[2] < outs[0][0].shape[2]


@pytest.mark.parametrize("size,n_down", [(256, 3), (128, 2), (512, 4)])
def test_component_grid_is_whole_for_matching_sizes(size, n_down):
    from models.deepfacedrawing.networks import latent_grid
    for part in PARTS:
        assert latent_grid(scaled_boxes(size)[part][2], n_down) in (4, 5, 6, 16)
