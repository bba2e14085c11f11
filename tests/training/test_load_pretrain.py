"""--load_pretrain: a stage starts from a trained model folder (an export
such as params/default, without a discriminator), the architecture read
from its config.json; a resumed run reads its own state instead; bad
folders are one line."""

import shutil

import numpy as np
import pytest

from tests.conftest import assert_same_history, run_script

DATA = ["--dataset_mode", "synthetic", "--n_samples", "8", "--batch_size", "4",
        "--print_freq", "1", "--save_latest_freq", "1000"]
TINY = ["--preset", "tiny"] + DATA


def parse(argv):
    from options.train_options import TrainOptions
    return TrainOptions().parse(argv)


def train(argv):
    from training import create_stage
    trainer = create_stage(parse(argv))
    assert trainer.run() == 0
    return trainer


def weights(net):
    return {k: v.numpy().copy() for k, v in net.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def dfd_export(tmp_path_factory):
    """A trained DeepFaceDrawing folder and its export (no discriminator),
    tiny architecture with a wider generator than the preset's."""
    root = tmp_path_factory.mktemp("pretrain")
    common = TINY + ["--checkpoints_dir", str(root), "--lambda_vgg", "0"]
    train(common + ["--stage", "ae", "--name", "src", "--max_iters", "2"])
    train(common + ["--stage", "banks", "--name", "src"])
    train(common + ["--stage", "combine", "--name", "src", "--max_iters", "2", "--num_D", "1",
                    "--ndf", "8", "--ngf", "8"])
    pack = root / "pack"
    assert run_script("scripts/export_params.py", ["--src", str(root / "src"),
                                                   "--dst", str(pack)]) == 0
    assert not (pack / "Combine" / "latest_net_D.pkl").exists()
    return root, pack


def test_combine_starts_from_an_export_with_its_architecture(dfd_export, capsys):
    from models.files import read_params
    root, pack = dfd_export
    # no --preset and no --ngf: 'auto' reads the export's config.json (ngf 8, not tiny's 16)
    argv = DATA + ["--checkpoints_dir", str(root), "--stage", "combine", "--name", "ft",
                   "--ae_from", str(pack), "--load_pretrain", str(pack), "--lambda_vgg", "0",
                   "--num_D", "1", "--ndf", "8", "--max_iters", "1"]
    opt = parse(argv)
    assert opt.ngf == 8 and opt.image_size == 128 and str(pack) in opt.preset_source
    from training import create_stage
    fresh = weights(create_stage(opt).model.netD)
    trainer = create_stage(opt)
    loaded = trainer.load_pretrained(opt.load_pretrain)
    nets = trainer.networks()
    assert set(loaded) == set(nets) - {"D"}
    files = trainer.network_files(str(pack))
    for name in loaded:
        stored = read_params(files[name])
        assert all(np.array_equal(stored[k], v) for k, v in weights(nets[name]).items()), name
    assert same(weights(nets["D"]), fresh)          # D as a fresh run initialises it
    capsys.readouterr()
    assert trainer.run() == 0
    out = capsys.readouterr().out
    assert f"from {pack}; fresh: D" in out


def test_a_resumed_run_reads_its_own_state(dfd_export):
    """The command that started from the folder, resumed: the state's
    weights, not the folder's (else the cut run would start over)."""
    root, pack = dfd_export
    argv = DATA + ["--checkpoints_dir", str(root), "--stage", "combine", "--ae_from", str(pack),
                   "--load_pretrain", str(pack), "--lambda_vgg", "0", "--num_D", "1",
                   "--ndf", "8", "--lr", "0.001"]
    full = train(argv + ["--name", "whole", "--max_iters", "3"])
    train(argv + ["--name", "cut", "--max_iters", "1"])
    resumed = train(argv + ["--name", "cut", "--max_iters", "3", "--continue_train"])
    assert_same_history(full.history, resumed.history, 1)


def test_ae_stage_loads_every_encoder_and_decoder(dfd_export):
    from models.files import read_params
    root, pack = dfd_export
    from training import create_stage
    trainer = create_stage(parse(DATA + ["--checkpoints_dir", str(root), "--stage", "ae",
                                         "--name", "ae_ft", "--load_pretrain", str(pack)]))
    assert sorted(trainer.load_pretrained(str(pack))) == sorted(trainer.networks())
    files = trainer.network_files(str(pack))
    stored = read_params(files["decoder_mouth"])
    assert all(np.array_equal(stored[k], v)
               for k, v in weights(trainer.networks()["decoder_mouth"]).items())


def test_bad_folders_are_one_line(dfd_export, tmp_path):
    from models.files import CheckpointError
    from training import create_stage
    from training.base_trainer import StageError
    root, pack = dfd_export
    base = DATA + ["--checkpoints_dir", str(root), "--stage", "combine", "--ae_from", str(pack),
                   "--lambda_vgg", "0", "--num_D", "1", "--ndf", "8", "--max_iters", "1"]
    with pytest.raises(SystemExit) as exc:
        parse(base + ["--name", "m", "--load_pretrain", str(tmp_path / "nowhere")])
    assert exc.value.code == 2

    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(pack / "config.json", empty / "config.json")
    with pytest.raises(StageError, match=r"holds none of stage combine's networks \(no "
                                         r"Combine/latest_net_DE_eye1.pkl\)"):
        train(base + ["--name", "e", "--load_pretrain", str(empty)])

    with pytest.raises(CheckpointError, match=r"latest_net_G.pkl.*--load_pretrain needs the "
                                              r"folder's architecture"):
        train(base + ["--name", "w", "--load_pretrain", str(pack), "--ngf", "16"])

    with pytest.raises(StageError, match="--load_pretrain: stage banks trains no network"):
        train(TINY + ["--checkpoints_dir", str(root), "--stage", "banks", "--name", "src",
                      "--load_pretrain", str(pack)])


def test_stylegan_starts_g_and_g_ema_from_the_exported_decoder(tmp_path, capsys):
    from models.files import read_params
    from models.sp_embedding import checkpoint as sp_ckpt
    micro = ["--method", "sp_embedding", "--preset", "tiny", "--output_size", "32",
             "--style_dim", "64", "--channel_max", "64", "--n_mlp", "2", "--break_layer", "4",
             "--checkpoints_dir", str(tmp_path), "--stage", "stylegan", "--r1", "1",
             "--sample_grid", "2"] + DATA
    train(micro + ["--name", "src", "--max_iters", "2"])
    pack = tmp_path / "pack" / sp_ckpt.FOLDER
    pack.mkdir(parents=True)
    for name in ("latest_net_decoder.pkl", "latest_latent_avg.pkl"):
        shutil.copy(tmp_path / "src" / sp_ckpt.FOLDER / name, pack / name)
    shutil.copy(tmp_path / "src" / "config.json", tmp_path / "pack" / "config.json")
    ft = train(micro + ["--name", "ft", "--max_iters", "1", "--lr", "0",
                        "--load_pretrain", str(tmp_path / "pack")])
    assert f"g, g_ema from {tmp_path / 'pack'}; fresh: d, scalars" in capsys.readouterr().out
    stored = read_params(str(pack / "latest_net_decoder.pkl"))
    trained = {k for k, v in ft.g.state_dict().items() if not v.is_stop_grad()}
    # lr 0: the step moved nothing, so g is still the file's decoder
    assert all(np.array_equal(stored[k], v) for k, v in weights(ft.g).items() if k in trained)


def test_the_readme_fine_tunes_the_bundled_model(tmp_path, capsys):
    """The README's command on the bundled DeepFaceDrawing model (one step
    on generated faces): every network it ships is loaded, D starts fresh,
    and the architecture is the bundled one's."""
    import json
    import os
    from tests.conftest import ROOT
    bundled = os.path.join(ROOT, "params", "default")
    argv = ["--stage", "combine", "--name", "mine", "--checkpoints_dir", str(tmp_path),
            "--load_pretrain", bundled, "--ae_from", bundled, "--dataset_mode", "synthetic",
            "--n_samples", "2", "--batch_size", "1", "--max_iters", "1", "--lambda_vgg", "0",
            "--lr", "0.0001", "--niter", "1", "--niter_decay", "0"]
    assert run_script("train.py", argv) == 0
    out = capsys.readouterr().out
    assert f"DE_eye1, DE_eye2, DE_nose, DE_mouth, DE_remainder, G, A from {bundled}; fresh: D" in out
    config = json.loads((tmp_path / "mine" / "config.json").read_text())
    bundled_config = json.loads(open(os.path.join(bundled, "config.json")).read())
    assert config == bundled_config
