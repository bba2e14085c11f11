"""The default (official) networks have exactly the authors' parameter names
and shapes, file by file, so their Params load without renaming."""

import json
import os

import pytest

from tests.conftest import MANIFEST

from models.deepfacedrawing import checkpoint as ckpt  # noqa: E402
from util.components import PARTS  # noqa: E402


@pytest.fixture(scope="module")
def manifest():
    if not os.path.isfile(MANIFEST):
        pytest.fail(f"reference manifest missing: {MANIFEST}")
    with open(MANIFEST) as f:
        return json.load(f)


def _shapes(net):
    from models.base_model import network_shapes
    return {k: list(v) for k, v in network_shapes(net).items()}


@pytest.mark.slow
def test_every_official_file_matches_the_manifest(manifest, official_opt):
    from models import create_model
    combine = create_model("combine", official_opt)
    ours = {}
    for part in PARTS:
        ae = create_model("ae", official_opt, part=part)
        ours[os.path.relpath(ckpt.encoder_path("", part), "")] = _shapes(ae.encoder)
        ours[os.path.relpath(ckpt.decoder_path("", part), "")] = _shapes(ae.decoder)
        ours[os.path.relpath(ckpt.fm_path("", part), "")] = _shapes(combine.fm[part])
    ours[os.path.relpath(ckpt.generator_path(""), "")] = _shapes(combine.netG)
    assert sorted(ours) == sorted(manifest)
    for name, expected in manifest.items():
        assert list(ours[name]) == list(expected), f"parameter order differs in {name}"
        assert ours[name] == expected, name


@pytest.mark.slow
def test_official_parameter_count(official_opt):
    from models import create_model
    from models.base_model import count_parameters
    combine = create_model("combine", official_opt)
    total = count_parameters(combine.netG)
    assert 139e6 < total < 141e6          # "G alone is 140 M"
    for part in PARTS:
        ae = create_model("ae", official_opt, part=part)
        total += count_parameters(ae.encoder) + count_parameters(ae.decoder)
        total += count_parameters(combine.fm[part])
    assert 560e6 < total < 566e6          # "about 563 M parameters in all"
