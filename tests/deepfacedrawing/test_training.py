"""Training stages on tiny generated data: losses go down, resumption is
exact, banks round-trip, bad files are skipped."""

import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import assert_same_history, run_script

TINY = ["--preset", "tiny", "--dataset_mode", "synthetic", "--n_samples", "16",
        "--batch_size", "4", "--print_freq", "1", "--save_latest_freq", "1000"]


def train(argv):
    from options.train_options import TrainOptions
    from training import create_stage
    opt = TrainOptions().parse(argv)
    trainer = create_stage(opt)
    assert trainer.run() == 0
    return trainer


@pytest.mark.slow
def test_ae_stage_learns_and_resumes_exactly(tmp_path):
    common = TINY + ["--stage", "ae", "--checkpoints_dir", str(tmp_path), "--niter", "3", "--save_epoch_freq", "1",
                     "--niter_decay", "0", "--lr", "0.001"]
    full = train(common + ["--name", "full", "--max_iters", "10"])
    totals = [sum(step.values()) for step in full.history]
    assert len(totals) == 10
    assert np.mean(totals[-3:]) < 0.8 * np.mean(totals[:3])        # it learns

    train(common + ["--name", "cut", "--max_iters", "5"])
    resumed = train(common + ["--name", "cut", "--max_iters", "10", "--continue_train"])
    assert_same_history(full.history, resumed.history, 5, rel=1e-5, abs_tol=1e-7)

    expr = tmp_path / "full"
    log = (expr / "loss_log.txt").read_text()
    assert "(epoch: 3, iters: 2," in log and "rec_remainder" in log
    assert (expr / "web" / "ae" / "index.html").is_file()
    assert (expr / "AE_whole" / "latest_net_encoder_.pkl").is_file()
    assert (expr / "AE_whole" / "1_net_encoder_eye1.pkl").is_file()        # per-epoch copy
    assert '"image_size": 128' in (expr / "config.json").read_text()


def test_resuming_a_finished_run_trains_nothing(tmp_path):
    common = TINY + ["--stage", "ae", "--checkpoints_dir", str(tmp_path), "--name", "done",
                     "--max_iters", "3"]
    train(common)
    state = (tmp_path / "done" / "train_state" / "ae.pkl").read_bytes()
    again = train(common + ["--continue_train"])
    assert again.history == []
    assert (tmp_path / "done" / "train_state" / "ae.pkl").read_bytes() == state


def test_banks_stage_round_trips(tmp_path):
    from options.train_options import TrainOptions
    from training import create_stage
    from models.deepfacedrawing import checkpoint as ckpt
    from models.deepfacedrawing.autoencoder import AEModel
    from util.arrays import sketch_to_array
    from data.datasets import create_dataset
    train(TINY + ["--stage", "ae", "--checkpoints_dir", str(tmp_path), "--name", "b",
                  "--max_iters", "1"])
    opt = TrainOptions().parse(TINY + ["--stage", "banks", "--checkpoints_dir", str(tmp_path),
                                       "--name", "b"])
    assert create_stage(opt).run() == 0
    ds = create_dataset(opt)
    genders = np.array(ds.genders())
    ae = AEModel(opt, "mouth").load(opt.expr_dir).eval()
    sketches = np.stack([ds.load(i)[0] for i in range(len(ds))])
    expected = ae.encode(ae.crop(sketch_to_array(sketches)))
    for gender in ("male", "female"):
        bank = ckpt.read_bank(ckpt.bank_path(opt.expr_dir, "mouth", gender), opt.latent_dim)
        np.testing.assert_allclose(bank, expected[genders == gender], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_combine_stage_learns_and_resumes_exactly(tmp_path):
    common = TINY + ["--checkpoints_dir", str(tmp_path), "--niter", "4", "--niter_decay", "0",
                     "--lambda_vgg", "0", "--lr", "0.001"]
    train(common + ["--stage", "ae", "--name", "ae", "--max_iters", "1"])
    ae_dir = str(tmp_path / "ae")
    c = common + ["--stage", "combine", "--ae_from", ae_dir, "--num_D", "1", "--ndf", "8"]
    full = train(c + ["--name", "full", "--max_iters", "8"])
    l1 = [s["G_L1"] for s in full.history]
    assert np.mean(l1[-3:]) < np.mean(l1[:3])
    assert {"G_GAN", "G_GAN_Feat", "G_TV", "G_L1", "D_fake", "D_real"} <= set(full.history[0])
    train(c + ["--name", "cut", "--max_iters", "5"])
    resumed = train(c + ["--name", "cut", "--max_iters", "8", "--continue_train"])
    assert_same_history(full.history, resumed.history, 5)
    expr = tmp_path / "full"
    assert (expr / "Combine" / "latest_net_G.pkl").is_file()
    assert (expr / "AE_whole" / "latest_net_encoder_nose.pkl").is_file()   # a complete folder
    page = (expr / "web" / "combine" / "index.html").read_text()
    assert "output" in page and "target" in page


def test_combine_diffaug_resumes_exactly_and_moves_d(tmp_path):
    """--diffaug: the discriminator's pairs augmented by (seed, step) draws,
    so a resumed run repeats the uninterrupted one; the losses differ from
    a plain run's; a bad policy is one line."""
    common = TINY + ["--checkpoints_dir", str(tmp_path), "--niter", "4", "--niter_decay", "0",
                     "--lambda_vgg", "0", "--lr", "0.001"]
    train(common + ["--stage", "ae", "--name", "ae", "--max_iters", "1"])
    c = common + ["--stage", "combine", "--ae_from", str(tmp_path / "ae"), "--num_D", "1",
                  "--ndf", "8"]
    aug = c + ["--diffaug", "color,translation,cutout"]
    full = train(aug + ["--name", "full", "--max_iters", "4"])
    train(aug + ["--name", "cut", "--max_iters", "2"])
    resumed = train(aug + ["--name", "cut", "--max_iters", "4", "--continue_train"])
    assert_same_history(full.history, resumed.history, 2)
    plain = train(c + ["--name", "plain", "--max_iters", "1"])
    assert plain.history[0]["G_L1"] == pytest.approx(full.history[0]["G_L1"], rel=1e-5)
    assert plain.history[0]["D_real"] != pytest.approx(full.history[0]["D_real"], rel=1e-3)
    from options.train_options import TrainOptions
    from training import create_stage
    from training.base_trainer import StageError
    with pytest.raises(StageError, match="--diffaug: unknown augmentation 'zoom'"):
        create_stage(TrainOptions().parse(c + ["--name", "z", "--diffaug", "zoom"]))


def test_augment_pair_keeps_the_sketch_aligned_and_uncoloured():
    from models.base_model import jt
    from training.diffaug import augment_pair, draw
    rng = np.random.default_rng(0)
    cond = np.zeros((3, 1, 16, 16), np.float32)
    cond[:, :, 4:8, 4:8] = 1.0                       # a square in the sketch...
    photo = np.repeat(cond, 3, axis=1) * 0.5          # ...and the same square in the photo
    p = draw(("color", "translation", "cutout"), rng, 3, 16, 16)
    out = augment_pair(jt.array(cond), jt.array(photo), p, jt).numpy()
    again = augment_pair(jt.array(cond), jt.array(photo), p, jt).numpy()
    np.testing.assert_array_equal(out, again)          # the same draws, the same pairs
    for i in range(3):
        sketch = out[i, 0]
        assert set(np.unique(sketch)) <= {0.0, 1.0}    # no colour transform on the sketch
        # where the sketch's square went, the photo's went too (colour moves its values)
        inside, outside = out[i, 1:, sketch == 1], out[i, 1:, sketch == 0]
        if inside.size:
            assert np.ptp(inside, axis=1).max() < 1e-5
    spatial_only = draw(("translation",), np.random.default_rng(1), 3, 16, 16)
    moved = augment_pair(jt.array(cond), jt.array(photo), spatial_only, jt).numpy()
    np.testing.assert_allclose(moved[:, 1:], np.repeat(moved[:, :1], 3, axis=1) * 0.5)
    assert not np.array_equal(moved[:, :1], cond)


@pytest.mark.slow
def test_combine_random_looks_branch(tmp_path):
    """--lambda_gan_random / --lambda_z (BicycleGAN's cLR-GAN branch): faces
    made with codes drawn from N(0, I) go to D as fakes and back through the
    appearance encoder, whose mean is pulled to the drawn code; the draws
    come from their own (seed, step) stream, so the photo branch's first
    step is the plain run's, and a resumed run repeats the uninterrupted one."""
    from util.jittor_env import get_jittor
    jt = get_jittor()
    common = TINY + ["--checkpoints_dir", str(tmp_path), "--niter", "4", "--niter_decay", "0",
                     "--lambda_vgg", "0", "--lr", "0.002"]
    train(common + ["--stage", "ae", "--name", "ae", "--max_iters", "1"])
    c = common + ["--stage", "combine", "--ae_from", str(tmp_path / "ae"), "--num_D", "1",
                  "--ndf", "8", "--appearance_dim", "4"]
    bicycle = c + ["--lambda_gan_random", "1", "--lambda_z", "10"]
    full = train(bicycle + ["--name", "full", "--max_iters", "6"])
    assert {"G_GAN_random", "z_L1", "D_random", "D_fake", "KL"} <= set(full.history[0])
    plain = train(c + ["--name", "plain", "--max_iters", "1"])
    assert "z_L1" not in plain.history[0] and "D_random" not in plain.history[0]
    for k in ("G_L1", "KL", "D_real", "D_fake"):
        assert plain.history[0][k] == pytest.approx(full.history[0][k], rel=1e-5), k
    train(bicycle + ["--name", "cut", "--max_iters", "3"])
    resumed = train(bicycle + ["--name", "cut", "--max_iters", "6", "--continue_train"])
    assert_same_history(full.history, resumed.history, 3)

    # the branch's terms, recomputed from the trained networks at step 7
    full.global_step = 7
    batch = next(iter(full.loader.epoch(1, 0)))
    cond, latents, real = full._inputs(batch)
    losses = {}
    faces, _, _ = full.random_look(latents, real, lambda photo: jt.concat([cond, photo], 1),
                                   losses, 0.0)
    z = np.random.default_rng([full.opt.seed, 9, 7]).standard_normal((len(batch["photo"]), 4))
    want_faces = full.model.generate(latents, jt.array(z.astype(np.float32)))
    np.testing.assert_allclose(faces.numpy(), want_faces.numpy(), rtol=1e-5, atol=1e-6)
    mu, _ = full.model.netA(want_faces)
    got = float(losses["z_L1"].numpy().reshape(-1)[0])
    assert got == pytest.approx(float(np.abs(mu.numpy() - z).mean()), rel=1e-5)


def test_random_look_losses_need_an_appearance_code(capsys):
    from options.train_options import TrainOptions
    base = TINY + ["--stage", "combine", "--name", "x"]
    for extra, message in (
            (["--lambda_gan_random", "1"], "--lambda_gan_random trains random appearance codes"),
            (["--lambda_z", "1"], "--lambda_z trains random appearance codes"),
            (["--appearance_dim", "4", "--lambda_z", "-1"], "--lambda_z must be >= 0"),
            (["--appearance_dim", "4", "--lambda_gan_random", "1", "--lambda_gan", "0",
              "--lambda_feat", "0"], "--lambda_gan_random needs the discriminator")):
        with pytest.raises(SystemExit):
            TrainOptions().parse(base + extra)
        assert message in capsys.readouterr().err
    opt = TrainOptions().parse(base + ["--appearance_dim", "4", "--lambda_z", "0.5"])
    assert (opt.lambda_z, opt.lambda_gan_random) == (0.5, 0.0)


def test_losses_can_be_turned_off(tmp_path):
    train(TINY + ["--stage", "ae", "--checkpoints_dir", str(tmp_path), "--name", "ae",
                  "--max_iters", "1"])
    t = train(TINY + ["--stage", "combine", "--checkpoints_dir", str(tmp_path), "--name", "c",
                      "--ae_from", str(tmp_path / "ae"), "--max_iters", "1", "--lambda_vgg", "0",
                      "--lambda_gan", "0", "--lambda_feat", "0", "--lambda_tv", "0"])
    assert set(t.history[0]) == {"G_L1"}
    assert not (tmp_path / "c" / "Combine" / "latest_net_D.pkl").exists()


def test_interrupted_state_write_keeps_the_previous_state(tmp_path, monkeypatch):
    trainer = train(TINY + ["--stage", "ae", "--checkpoints_dir", str(tmp_path), "--name", "k",
                            "--max_iters", "2"])
    before = open(trainer.state_file, "rb").read()
    import util.fileio as fio
    from models.files import read_state

    def killed(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(fio.os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        trainer.save_state(9, 9, 99)
    assert open(trainer.state_file, "rb").read() == before
    assert read_state(trainer.state_file)["steps"] == 2


def test_paired_dataset_skips_a_corrupt_file(tmp_path, capsys):
    from data.datasets import DatasetError, create_dataset
    from options.train_options import TrainOptions
    from data.synthetic import make_sample
    root = tmp_path / "pairs"
    (root / "sketch").mkdir(parents=True)
    (root / "photo").mkdir()
    for i in range(3):
        s = make_sample(0, i, 128)
        Image.fromarray(s["sketch"]).save(root / "sketch" / f"{i}.png")
        Image.fromarray(s["photo"]).save(root / "photo" / f"{i}.jpg")
    (root / "photo" / "1.jpg").write_bytes(b"garbage")
    (root / "gender.txt").write_text("0.png male\n1.png female\n2.png female\n")
    opt = TrainOptions().parse(["--stage", "ae", "--preset", "tiny", "--dataset_mode", "paired",
                                "--dataroot", str(root)])
    ds = create_dataset(opt)
    assert len(ds) == 3 and ds.genders() == ["male", "female", "female"]
    sketch, photo, gender, _ = ds.get(1)       # the corrupt pair is replaced by the next one
    assert gender == "female" and photo.shape == (128, 128, 3)
    ds.get(1)
    err = capsys.readouterr().err
    assert err.count("skipped") == 1 and "1.jpg: not an image" in err   # reported once
    empty = tmp_path / "empty"
    (empty / "sketch").mkdir(parents=True)
    (empty / "photo").mkdir()
    opt.dataroot = str(empty)
    with pytest.raises(DatasetError, match="no sketch/photo pairs"):
        create_dataset(opt)


def test_train_py_reports_bad_setups(tmp_path, capsys):
    rc = run_script("train.py", ["--stage", "combine", "--preset", "tiny", "--checkpoints_dir",
                                 str(tmp_path), "--name", "x", "--n_samples", "8",
                                 "--batch_size", "4", "--lambda_vgg", "0"])
    assert rc == 2
    assert "latest_net_encoder_eye1.pkl: checkpoint file not found" in capsys.readouterr().err
    rc = run_script("train.py", ["--stage", "ae", "--preset", "tiny", "--checkpoints_dir",
                                 str(tmp_path), "--name", "y", "--dataset_mode", "paired",
                                 "--dataroot", str(tmp_path / "missing")])
    assert rc == 2
    assert "missing/sketch: folder not found" in capsys.readouterr().err


def test_lr_schedule():
    from types import SimpleNamespace
    from training.optim import lr_at
    opt = SimpleNamespace(lr=1.0, niter=2, niter_decay=3)
    assert [round(lr_at(e, opt), 3) for e in range(1, 6)] == [1.0, 1.0, 0.75, 0.5, 0.25]


def test_celebamask_hq_layout_with_split_and_genders(tmp_path):
    """A small stand-in of the CelebAMask-HQ layout: official split and the
    Male attribute are used when their files are there."""
    from data.datasets import create_dataset
    from data.synthetic import make_sample
    from options.train_options import TrainOptions
    root = tmp_path / "CelebAMask-HQ"
    (root / "CelebA-HQ-img").mkdir(parents=True)
    (root / "sketch").mkdir()
    for i in range(4):
        s = make_sample(5, i, 256)                    # resized to the configured 128
        Image.fromarray(s["photo"]).save(root / "CelebA-HQ-img" / f"{i}.jpg")
        Image.fromarray(s["sketch"]).save(root / "sketch" / f"{i}.png")
    (root / "CelebA-HQ-to-CelebA-mapping.txt").write_text(
        "idx orig_idx orig_file\n0 10 000011.jpg\n1 20 000021.jpg\n2 30 000031.jpg\n3 40 000041.jpg\n")
    (root / "list_eval_partition.txt").write_text(
        "000011.jpg 0\n000021.jpg 0\n000031.jpg 2\n000041.jpg 0\n")
    (root / "CelebAMask-HQ-attribute-anno.txt").write_text(
        "4\nBangs Male Smiling\n0.jpg -1 1 1\n1.jpg 1 -1 -1\n2.jpg -1 1 -1\n3.jpg 1 -1 1\n")
    opt = TrainOptions().parse(["--stage", "ae", "--preset", "tiny", "--dataset_mode", "celeba",
                                "--dataroot", str(root)])
    train_set = create_dataset(opt, "train")
    assert [os.path.basename(p) for p, _, _ in train_set.items] == ["0.png", "1.png", "3.png"]
    assert train_set.genders() == ["male", "female", "female"]
    sketch, photo = train_set.get(0)[:2]
    assert sketch.shape == (128, 128) and photo.shape == (128, 128, 3)
    test_set = create_dataset(opt, "test")
    assert [os.path.basename(p) for p, _, _ in test_set.items] == ["2.png"]


def test_balance_weights_even_out_rare_labels():
    from data.loader import balance_weights, label_shares
    labels = [("short",)] * 90 + [("bald",)] * 10
    assert np.allclose(balance_weights(labels, 0.0), 1 / 100)           # as the data comes
    even = label_shares(labels, balance_weights(labels, 1.0))
    assert even["bald"] == pytest.approx(0.5) and even["short"] == pytest.approx(0.5)
    half = label_shares(labels, balance_weights(labels, 0.5))           # sqrt: 1:3 -> 0.25
    assert half["bald"] == pytest.approx(10 / 0.1 ** 0.5 / (10 / 0.1 ** 0.5 + 90 / 0.9 ** 0.5))
    assert 0.1 < half["bald"] < 0.5
    # two attributes, each evened out on its own: glasses are rare among the bald too
    two = [("short", "none")] * 80 + [("short", "round")] * 10 + [("bald", "none")] * 9 + \
        [("bald", "round")]
    w = balance_weights(two, 1.0)
    assert label_shares(two, w, 0)["bald"] > 0.4 and label_shares(two, w, 1)["round"] > 0.4
    assert w[-1] == pytest.approx(w[0] * (0.9 / 0.1) * (0.89 / 0.11))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        balance_weights(labels, 2.0)


def test_balanced_batches_are_deterministic_and_show_rare_faces_more(tmp_path):
    """--balance hair_style: the loader draws rare hair styles more often,
    the same draws for the same (seed, epoch) (so resumption stays exact),
    and the trainer says what it changes."""
    from data.loader import BatchLoader
    from options.train_options import TrainOptions
    from training import create_stage
    argv = TINY + ["--stage", "ae", "--checkpoints_dir", str(tmp_path), "--name", "b",
                   "--n_samples", "400", "--balance", "hair_style", "--balance_power", "1"]
    opt = TrainOptions().parse(argv)
    trainer = create_stage(opt)
    styles = [s for (s,) in trainer.loader.ds.attributes(("hair_style",))]
    from data.synthetic import make_sample
    assert styles[:5] == [make_sample(opt.data_seed, i, 32)["params"].hair_style
                          for i in range(5)]
    a, b = trainer.loader.order(3), trainer.loader.order(3)
    assert np.array_equal(a, b) and not np.array_equal(a, trainer.loader.order(4))
    drawn = [styles[i] for e in range(20) for i in trainer.loader.order(e)]
    plain = BatchLoader(trainer.loader.ds, 4, opt.seed)
    assert sorted(plain.order(0)) == list(range(400))                  # a permutation
    rarest = min(set(styles), key=styles.count)
    assert drawn.count(rarest) / len(drawn) > 1.4 * styles.count(rarest) / len(styles)
    counts = [drawn.count(s) for s in set(styles)]
    assert max(counts) < 1.3 * min(counts) and max(styles.count(s) for s in styles) > 2 * min(
        styles.count(s) for s in styles)                                 # power 1: about even


def test_balance_options_are_checked(capsys):
    from options.train_options import TrainOptions
    base = TINY + ["--stage", "ae", "--name", "x"]
    for extra, message in (
            (["--balance", "hair"], "--balance 'hair': choose from gender, hair_style"),
            (["--balance", "glasses", "--dataset_mode", "paired", "--dataroot", "x"],
             "--balance needs --dataset_mode synthetic or celeba"),
            (["--balance", "glasses", "--balance_power", "1.5"], "--balance_power must be in")):
        with pytest.raises(SystemExit):
            TrainOptions().parse(base + extra)
        assert message in capsys.readouterr().err
    assert TrainOptions().parse(base + ["--balance", " hair_style, glasses"]).balance == \
        "hair_style,glasses"
