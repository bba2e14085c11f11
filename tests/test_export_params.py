"""scripts/export_params.py: what a bundled checkpoint folder keeps."""

import json
import os

from scripts.export_params import main


def _touch(path, data=b"x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def test_sketch_embedding_export_keeps_inference_networks_only(tmp_path, capsys):
    src, dst = tmp_path / "sp", tmp_path / "out"
    _touch(str(src / "config.json"), json.dumps({"method": "sp_embedding"}).encode())
    for name in ("latest_net_decoder", "latest_net_sketch_encoder", "latest_latent_avg",
                 "latest_net_labeler", "latest_net_discriminator", "3_net_decoder"):
        _touch(str(src / "SPEmbedding" / f"{name}.pkl"), name.encode())
    _touch(str(src / "loss_log.txt"))
    assert main(["--src", str(src), "--dst", str(dst), "--with_log"]) == 0
    got = sorted(os.listdir(dst / "SPEmbedding"))
    assert got == ["latest_latent_avg.pkl", "latest_net_decoder.pkl", "latest_net_labeler.pkl",
                   "latest_net_sketch_encoder.pkl"]
    assert (dst / "SPEmbedding" / "latest_net_labeler.pkl").read_bytes() == b"latest_net_labeler"
    assert (dst / "loss_log.txt").is_file() and (dst / "config.json").is_file()
    assert "exported 6 files" in capsys.readouterr().out


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
    assert "latest_net_decoder.pkl" in capsys.readouterr().err


def test_an_appearance_model_exports_its_appearance_encoder(tmp_path, capsys):
    from models import checkpoint as ckpt
    from util.components import pipeline_parts
    src = str(tmp_path / "dfd")
    _touch(ckpt.config_path(src), json.dumps({"appearance_dim": 8}).encode())
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
