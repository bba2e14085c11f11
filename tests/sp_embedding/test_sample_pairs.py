"""The generator's own samples as encoder training pairs: made from a micro
generator and a stand-in parser (which sees a procedural face's parsing map
in every image), written reproducibly, read back by ``--dataset_mode
sp_samples``, and taught to the coarse encoder through the code loss alone."""

import os
import shutil

import numpy as np
import pytest

from tests.conftest import run_script
from tests.sp_embedding.test_training import MICRO, frozen_parts, learns, parse  # noqa: F401

PAIRS = 6


class StandinParser:
    """Logits that say 'a procedural face' whatever the image."""

    def __init__(self):
        from data.synthetic import make_sample
        labels = make_sample(7, 0, 64, labels=True)["labels"]
        self.logits = (np.eye(19, dtype=np.float32)[labels] * 10).transpose(2, 0, 1)[None]

    def __call__(self, images):
        from models.base_model import jt
        return jt.array(np.repeat(self.logits, images.shape[0], axis=0))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory, frozen_parts):  # noqa: F811
    from models.base_model import jt, load_network
    from models.files import write_config
    from models.sp_embedding import checkpoint as sp_ckpt
    from models.sp_embedding.psp import define_generator
    from options.sp_embedding import config_dict
    from training.sp_embedding.sample_pairs import make_pairs
    root = tmp_path_factory.mktemp("pairs")
    sg = str(root / "sg")
    shutil.copytree(frozen_parts["sg"], sg)
    opt = parse(["--stage", "encoder"])
    write_config(sg, config_dict(opt))
    g = load_network(define_generator(opt), sp_ckpt.net_path(sg, "decoder"))
    avg = sp_ckpt.read_latent_avg(sg, (opt.n_latent, opt.style_dim))
    out = str(root / "out")
    with jt.no_grad():
        written, skipped = make_pairs(g, StandinParser(), avg, out, PAIRS, opt.break_layer,
                                      seed=3, batch=4, psi=0.8, mix=0.5)
    return {"sg": sg, "out": out, "g": g, "avg": avg, "opt": opt,
            "written": written, "skipped": skipped}


def test_pairs_hold_codes_faces_and_strokes_and_remake_exactly(pairs, tmp_path):
    from data.sample_pairs import read_pair
    from models.base_model import jt
    from training.sp_embedding.sample_pairs import make_pairs
    p, opt = pairs, pairs["opt"]
    assert (p["written"], p["skipped"]) == (PAIRS, 0)
    assert sorted(os.listdir(p["out"])) == sorted(f"{n}.npz" for n in range(PAIRS))
    b, mixed = opt.break_layer, 0
    for n in range(PAIRS):
        codes, photo, ops = read_pair(os.path.join(p["out"], f"{n}.npz"))
        assert codes.shape == (opt.n_latent, opt.style_dim) and photo.shape == (32, 32, 3)
        assert photo.std() > 0 and len(ops) > 5
        # one code up to the break layer, one from it on (the same one unless mixed)
        np.testing.assert_array_equal(codes[:b], np.repeat(codes[:1], b, 0))
        np.testing.assert_array_equal(codes[b:], np.repeat(codes[b:b + 1], len(codes) - b, 0))
        mixed += not np.array_equal(codes[0], codes[-1])
        # truncated towards latent_avg: psi 0.8 of a mapped w
        assert np.abs(codes - p["avg"][0]).max() > 0
    assert 0 < mixed < PAIRS
    # a run restarted at a whole batch writes the same files
    again = str(tmp_path / "again")
    with jt.no_grad():
        make_pairs(p["g"], StandinParser(), p["avg"], again, PAIRS, opt.break_layer, seed=3,
                   batch=4, psi=0.8, mix=0.5, start=4)
    assert sorted(os.listdir(again)) == ["4.npz", "5.npz"]
    for n in (4, 5):
        a = np.load(os.path.join(again, f"{n}.npz"))
        c = np.load(os.path.join(p["out"], f"{n}.npz"))
        for k in c.files:
            np.testing.assert_array_equal(a[k], c[k])


def test_sp_samples_dataset_batches_codes_and_reports_a_bad_file(pairs, tmp_path, capsys):
    from data.datasets import DatasetError, create_dataset
    from data.loader import BatchLoader
    folder = str(tmp_path / "data")
    shutil.copytree(pairs["out"], folder)
    with open(os.path.join(folder, "3.npz"), "wb") as f:
        f.write(b"not a zip")
    opt = parse(["--stage", "encoder", "--dataset_mode", "sp_samples", "--dataroot", folder,
                 "--sketch_style", "random"])
    opt.semantic = True
    train = create_dataset(opt, "train")
    assert len(train) == PAIRS - 1 and "sp_samples" in train.describe()   # 0 is test
    assert len(create_dataset(opt, "test")) == 1
    batch = next(BatchLoader(train, 4, seed=0).epoch(0))
    assert batch["codes"].shape == (4, 8, 64) and batch["semantic"].shape == (4, 32, 32)
    s = train.size
    assert 0 < batch["semantic"].max() <= 22 and batch["photo"].shape == (4, s, s, 3)
    got = [train.get(i) for i in range(len(train))]        # the bad file is skipped
    assert all(s.codes.shape == (8, 64) for s in got)
    assert "3.npz: unreadable sample pair" in capsys.readouterr().err
    opt.dataroot = str(tmp_path / "none")
    with pytest.raises(DatasetError, match="scripts/make_sample_pairs.py"):
        create_dataset(opt, "train")


@pytest.mark.slow
def test_coarse_encoder_learns_the_codes_without_running_the_generator(pairs, tmp_path):
    from training import create_stage
    from training.base_trainer import StageError
    base = ["--stage", "encoder", "--encoder_step", "coarse", "--stylegan_from", pairs["sg"],
            "--checkpoints_dir", str(tmp_path), "--dataset_mode", "sp_samples",
            "--dataroot", pairs["out"], "--l2_lambda", "0", "--lpips_lambda", "0",
            "--lr", "0.002", "--name", "c"]
    t = create_stage(parse(base + ["--max_iters", "6"]))
    calls, synthesize = [], t.synthesize
    t.synthesize = lambda codes, rng=None: calls.append(rng) or synthesize(codes, rng)
    assert t.run() == 0
    assert all(rng is None for rng in calls)      # only the result page's picture ran G
    assert set(t.history[0]) == {"latent", "total"} and learns(t.history, "latent")
    with pytest.raises(StageError, match="--jitter and --flip"):
        create_stage(parse(base + ["--flip", "--name", "d"]))
    # fine-tuning (e.g. on photos with the image losses) starts from the export
    tuned = create_stage(parse(base[:-2] + ["--name", "t", "--encoders_from",
                                            str(tmp_path / "c")]))
    trained = t.net.encoder_sketch_coarse.state_dict()
    for name, var in tuned.net.encoder_sketch_coarse.state_dict().items():
        np.testing.assert_array_equal(var.numpy(), trained[name].numpy())


def test_pair_script_needs_a_generator_folder(pairs, tmp_path, capsys):
    code = run_script("scripts/make_sample_pairs.py",
                      ["--stylegan_from", str(tmp_path), "--parser_from", str(tmp_path),
                       "--out", str(tmp_path / "o")])
    assert code == 2 and "no config.json of the sketch embedding" in capsys.readouterr().err


def test_pair_script_resumes_after_the_last_whole_batch(tmp_path):
    import importlib.util
    from tests.conftest import ROOT
    spec = importlib.util.spec_from_file_location(
        "make_sample_pairs", os.path.join(ROOT, "scripts", "make_sample_pairs.py"))
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.written_before(str(tmp_path / "none"), 16) == 0
    for n in (0, 1, 2, 17, 33, 35):         # 34 skipped (no face), a run cut in batch 2
        (tmp_path / f"{n}.npz").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    assert script.written_before(str(tmp_path), 16) == 32    # batch 2 is made again
