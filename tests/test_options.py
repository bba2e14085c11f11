"""Option classes and presets."""

import json
import os

import pytest

from models.deepfacedrawing.checkpoint import ARCH_KEYS, INFERENCE_KEYS
from options.deepfacedrawing import config_dict, parse_refine
from options.test_options import TestOptions


def test_presets_set_groups_of_options():
    tiny = TestOptions().parse(["--preset", "tiny"])
    assert tiny.image_size == 128 and tiny.variant == "fixed"
    official = TestOptions().parse(["--preset", "official"])
    assert official.image_size == 512 and official.fm_channels == [512, 256, 256, 128, 64, 64]
    assert official.fm_sample_stats is True and official.k == 15
    flagged = TestOptions().parse(["--preset", "tiny", "--ngf", "8", "--k", "3"])
    assert flagged.ngf == 8 and flagged.k == 3 and flagged.image_size == 128


def test_auto_preset_reads_the_checkpoint_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"image_size": 256, "ae_n_down": 3,
                                                      "fm_channels": "64,32,32,16,16"}))
    opt = TestOptions().parse(["--params", str(tmp_path)])
    assert opt.image_size == 256 and opt.fm_channels == [64, 32, 32, 16, 16]
    assert opt.preset_source.endswith("config.json")
    assert TestOptions().parse(["--params", str(tmp_path / "x")]).preset_source == "preset official"


def test_config_round_trips_and_auto_agrees_with_the_preset(tmp_path):
    opt = TestOptions().parse(["--preset", "tiny"])
    cfg = config_dict(opt)
    assert set(cfg) == set(ARCH_KEYS + INFERENCE_KEYS) | {"method"}
    assert cfg["method"] == "deepfacedrawing" and cfg["k"] == 10
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    again = TestOptions().parse(["--params", str(tmp_path)])
    assert config_dict(again) == cfg
    assert again.k == opt.k == 10 and again.refine_by_part == opt.refine_by_part


def test_help_says_where_architecture_defaults_come_from(capsys):
    with pytest.raises(SystemExit):
        TestOptions().parse(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "under --preset auto the checkpoint folder's config.json sets them" in out


def test_help_explains_every_option(capsys):
    parser = TestOptions().make_parser()
    for action in parser._actions:
        if action.dest != "help":
            assert action.help and len(action.help) > 10, action.dest
    with pytest.raises(SystemExit) as exc:
        TestOptions().parse(["--help"])
    assert exc.value.code == 0
    assert "--refine" in capsys.readouterr().out


def test_parse_refine():
    assert parse_refine("0.5") == {p: 0.5 for p in ("eye1", "eye2", "nose", "mouth", "")}
    r = parse_refine("eye1=0.8,mouth=0.2,remainder=0")
    assert r == {"eye1": 0.8, "eye2": 1.0, "nose": 1.0, "mouth": 0.2, "": 0.0}
    assert parse_refine("all=0.3,nose=1")["eye2"] == 0.3


@pytest.mark.parametrize("args,msg", [
    (["--preset", "tiny", "--fm_channels", "8,8"], "ae_n_down\\+2"),
    (["--preset", "tiny", "--image_size", "96"], "not divisible|whole number"),
    (["--preset", "tiny", "--fm_channels", "a,b,c,d"], "comma-separated"),
])
def test_inconsistent_options_are_refused(args, msg, capsys):
    with pytest.raises(SystemExit):
        TestOptions().parse(args)
    import re
    assert re.search(msg, capsys.readouterr().err)


def test_configs_are_valid_json():
    from configs import DFD_DIR, available
    assert {"official", "tiny", "small"} <= set(available())
    for name in available():
        with open(os.path.join(DFD_DIR, name + ".json")) as f:
            json.load(f)
        TestOptions().parse(["--preset", name])


def test_params_default_to_the_methods_bundled_model():
    from options.base_options import REPO_ROOT
    from options.test_options import TestOptions
    sp = TestOptions().parse(["--method", "sp_embedding", "--preset", "tiny"])
    assert sp.params == os.path.join(REPO_ROOT, "params", "sp_embedding")
    dfd = TestOptions().parse(["--preset", "tiny"])
    assert dfd.method == "deepfacedrawing"
    assert dfd.params == os.path.join(REPO_ROOT, "params", "default")
