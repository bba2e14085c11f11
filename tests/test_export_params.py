"""scripts/export_params.py: what a bundled checkpoint folder keeps."""

import json
import os

import pytest

from scripts.export_params import main

SP_NETWORKS = ("latest_net_encoder_sketch_coarse", "latest_net_encoder_sketch_fine",
               "latest_net_encoder_face_fine", "latest_net_decoder", "latest_latent_avg")


def _touch(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def test_sketch_embedding_export_keeps_inference_networks_only(tmp_path, capsys):
    src, dst = tmp_path / "sp", tmp_path / "out"
    _touch(str(src / "config.json"), json.dumps({"method": "sp_embedding"}).encode())
    for name in SP_NETWORKS + ("latest_net_labeler", "latest_net_discriminator",
                               "3_net_decoder"):
        _touch(str(src / "SPEmbedding" / f"{name}.pkl"), name.encode())
    _touch(str(src / "loss_log.txt"))
    assert main(["--src", str(src), "--dst", str(dst), "--with_log"]) == 0
    got = sorted(os.listdir(dst / "SPEmbedding"))
    assert got == sorted(f"{n}.pkl" for n in SP_NETWORKS + ("latest_net_labeler",))
    assert (dst / "SPEmbedding" / "latest_net_labeler.pkl").read_bytes() == b"latest_net_labeler"
    assert (dst / "loss_log.txt").is_file() and (dst / "config.json").is_file()
    assert "exported 8 files" in capsys.readouterr().out


def test_a_folder_with_only_the_stylegan_stage_says_what_is_missing(tmp_path, capsys):
    """Item 10 of issue 24: it reported success, though the export had no encoders."""
    src = tmp_path / "sp"
    _touch(str(src / "config.json"), json.dumps({"method": "sp_embedding"}).encode())
    for name in ("latest_net_decoder", "latest_latent_avg", "latest_net_discriminator"):
        _touch(str(src / "SPEmbedding" / f"{name}.pkl"))
    assert main(["--src", str(src), "--dst", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "latest_net_encoder_sketch_coarse.pkl: not found" in err[0]
    assert "--stage encoder --encoder_step coarse" in err[0] and "fine" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("config", [b"{not json", b'{"appearance_dim": "x"}',
                                    b'{"pipeline": 5}'])
def test_a_bad_config_is_one_line(tmp_path, capsys, config):
    src = tmp_path / "dfd"
    _touch(str(src / "config.json"), config)
    assert main(["--src", str(src), "--dst", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {src / 'config.json'}: ")


@pytest.mark.parametrize("kind", ["file", "proc"])
def test_an_unwritable_destination_is_one_line(tmp_path, capsys, kind):
    src = tmp_path / "sp"
    _touch(str(src / "config.json"), json.dumps({"method": "sp_embedding"}).encode())
    for name in SP_NETWORKS:
        _touch(str(src / "SPEmbedding" / f"{name}.pkl"))
    dst = tmp_path / "dst.txt" if kind == "file" else "/proc/deepfacedrawing-export"
    if kind == "file":
        dst.write_text("a file")
    assert main(["--src", str(src), "--dst", str(dst)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --dst {dst}: ")


def test_export_of_an_unfinished_folder_names_the_missing_file(tmp_path, capsys):
    src = tmp_path / "dfd"
    _touch(str(src / "config.json"), json.dumps({"image_size": 128}).encode())
    assert main(["--src", str(src), "--dst", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not found" in err
    assert not (tmp_path / "out").exists()
    src2 = tmp_path / "sp_empty"
    _touch(str(src2 / "config.json"), json.dumps({"method": "sp_embedding"}).encode())
    assert main(["--src", str(src2), "--dst", str(tmp_path / "out2")]) == 2
    assert "latest_net_encoder_sketch_coarse.pkl" in capsys.readouterr().err


def test_an_appearance_model_exports_its_appearance_encoder(tmp_path, capsys):
    from models import files
    from models.deepfacedrawing import checkpoint as ckpt
    from util.components import pipeline_parts
    src = str(tmp_path / "dfd")
    _touch(files.config_path(src), json.dumps({"appearance_dim": 8}).encode())
    needed = [ckpt.generator_path(src), ckpt.appearance_path(src)]
    for part in pipeline_parts("components"):
        needed += [ckpt.encoder_path(src, part), ckpt.decoder_path(src, part),
                   ckpt.fm_path(src, part)]
    for path in needed + [ckpt.discriminator_path(src)]:
        _touch(path)
    assert main(["--src", src, "--dst", str(tmp_path / "out")]) == 0
    out = str(tmp_path / "out")
    assert os.path.isfile(ckpt.appearance_path(out))
    assert not os.path.exists(ckpt.discriminator_path(out))
    os.remove(ckpt.appearance_path(src))
    assert main(["--src", src, "--dst", str(tmp_path / "out2")]) == 2
    assert "latest_net_A.pkl" in capsys.readouterr().err
