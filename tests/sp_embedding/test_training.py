"""The sketch embedding's training stages at a micro size (32 px generator,
micro encoders): each learns on a fixed tiny batch, resumes exactly after a
cut, and exports files that the inference model and demo.py load; the
semantic data (procedural and the CelebAMask-HQ layout) and the options."""

import os

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, assert_same_history, run_script

MICRO = ["--method", "sp_embedding", "--preset", "tiny", "--output_size", "32",
         "--style_dim", "64", "--encoder_width", "0.125", "--encoder_size", "32",
         "--channel_max", "64", "--n_mlp", "2", "--break_layer", "4"]
# a fixed tiny batch: 4 faces, batch 4 (every step sees the same faces)
DATA = ["--dataset_mode", "synthetic", "--n_samples", "4", "--batch_size", "4",
        "--print_freq", "1", "--save_latest_freq", "1000"]


def parse(argv):
    from options.train_options import TrainOptions
    return TrainOptions().parse(MICRO + DATA + argv)


def train(argv):
    from training import create_stage
    trainer = create_stage(parse(argv))
    assert trainer.run() == 0
    return trainer


def learns(history, key):
    values = [h[key] for h in history]
    assert all(np.isfinite(v) for h in history for v in h.values())
    return np.mean(values[-2:]) < np.mean(values[:2])


# ---------------------------------------------------------------- stage stylegan
@pytest.mark.slow
def test_stylegan_stage_learns_resumes_and_exports(tmp_path):
    from models.base_model import jt, load_network
    from models.sp_embedding import checkpoint as sp_ckpt
    from models.sp_embedding.psp import define_generator
    common = ["--stage", "stylegan", "--checkpoints_dir", str(tmp_path), "--r1", "1",
              "--d_reg_every", "2", "--path_regularize", "2", "--g_reg_every", "2",
              "--mixing", "0.5", "--sample_grid", "2", "--ema_rampup", "0.05"]
    full = train(common + ["--name", "full", "--max_iters", "4", "--export_rosinality"])
    h = full.history
    assert "R1" in h[0] and "path" in h[0] and "R1" not in h[1] and "R1" in h[2]
    assert learns(h, "D")                 # D separates reals from fakes on the fixed batch
    assert full.optim_d.ratio == pytest.approx(2 / 3) and full.optim_d.lr == 0.002
    assert full.optim_d.betas[1] == pytest.approx(0.99 ** (2 / 3))
    assert full.scalars.mean_path_length.numpy()[0] > 0

    train(common + ["--name", "cut", "--max_iters", "2"])
    resumed = train(common + ["--name", "cut", "--max_iters", "4", "--continue_train"])
    assert_same_history(h, resumed.history, 2)

    # export: g_ema as the decoder, latent_avg = its mean W repeated, D, the .pt
    expr = str(tmp_path / "full")
    opt = full.opt
    g = load_network(define_generator(opt), sp_ckpt.net_path(expr, "decoder"))
    avg = sp_ckpt.read_latent_avg(expr, (opt.n_latent, opt.style_dim))
    np.testing.assert_allclose(avg, avg[:1].repeat(opt.n_latent, 0))
    z = np.random.default_rng(1).standard_normal((4096, opt.style_dim)).astype(np.float32)
    with jt.no_grad():
        w = g.style(jt.array(z)).numpy().mean(axis=0)
    assert np.abs(w - avg[0]).max() < 0.1 * np.abs(avg[0]).max()
    for name, var in full.g_ema.state_dict().items():
        np.testing.assert_array_equal(g.state_dict()[name].numpy(), var.numpy())
    assert not np.array_equal(full.g.state_dict()["conv1.conv.weight"].numpy(),
                              full.g_ema.state_dict()["conv1.conv.weight"].numpy())
    assert os.path.isfile(sp_ckpt.net_path(expr, "discriminator"))
    g2 = define_generator(opt)
    pt_avg = sp_ckpt.load_stylegan2(os.path.join(expr, "stylegan2_latest.pt"), g2)
    np.testing.assert_allclose(pt_avg, avg[0], rtol=1e-6)
    page = open(os.path.join(expr, "web", "stylegan", "index.html")).read()
    assert "g_ema_samples" in page and "(epoch: 1, iters: 1," in open(
        os.path.join(expr, "loss_log.txt")).read()


def test_stylegan_stage_checks_its_options(tmp_path):
    from training import create_stage
    from training.base_trainer import StageError
    with pytest.raises(StageError, match="groups of 4"):
        create_stage(parse(["--stage", "stylegan", "--checkpoints_dir", str(tmp_path),
                            "--name", "b", "--batch_size", "6", "--n_samples", "6"]))


# ---------------------------------------------------------------- parser and labeller
@pytest.mark.slow
def test_parser_and_labeler_learn_resume_and_export(tmp_path):
    from models.sp_embedding.labelers import NetworkLabeler, make_labeler, strokes
    from models.sp_embedding.parser import load_parser, parser_path
    base = ["--checkpoints_dir", str(tmp_path), "--lr", "0.003"]
    par = base + ["--stage", "parser"]
    full = train(par + ["--name", "p", "--max_iters", "6"])
    assert learns(full.history, "CE") and full.history[-1]["acc"] > full.history[0]["acc"]
    assert full.opt.image_size == 32                 # the loss size of a 32 px generator
    train(par + ["--name", "pc", "--max_iters", "3"])
    assert_same_history(full.history, train(par + ["--name", "pc", "--max_iters", "6",
                                                   "--continue_train"]).history, 3)
    assert parser_path(str(tmp_path / "p")).endswith("SPEmbedding/latest_net_parser.pkl")
    parser = load_parser(str(tmp_path / "p"))
    assert parser.head.weight.shape[0] == 19

    lab = base + ["--stage", "labeler", "--sketch_style", "random"]
    full = train(lab + ["--name", "l", "--max_iters", "4"])
    assert learns(full.history, "CE")
    assert full.opt.image_size == 128                # LABELER_SIZE
    train(lab + ["--name", "lc", "--max_iters", "2"])
    assert_same_history(full.history, train(lab + ["--name", "lc", "--max_iters", "4",
                                                   "--continue_train"]).history, 2)
    opt = parse(["--stage", "labeler"])
    opt.labeler = "auto"
    labeler = make_labeler(opt, str(tmp_path / "l"))
    assert isinstance(labeler, NetworkLabeler)
    from tests.conftest import face_sketch
    gray = np.asarray(face_sketch())
    labels = labeler(gray)
    assert labels.shape == (512, 512) and (labels[~strokes(gray)] == 0).all()
    assert labels[strokes(gray)].min() >= 1


# ---------------------------------------------------------------- encoders
@pytest.fixture(scope="module")
def frozen_parts(tmp_path_factory):
    """A random micro generator (our folder and a rosinality .pt), a random
    parser and a random stroke labeller, and stand-in LPIPS files."""
    from models.base_model import save_network
    from models.sp_embedding import checkpoint as sp_ckpt
    from models.sp_embedding.labelers import define_labeler, labeler_path
    from models.sp_embedding.psp import define_generator
    from models.sp_embedding.parser import define_parser, parser_path
    from tests.training.test_lpips import write_standin_heads
    root = tmp_path_factory.mktemp("frozen")
    opt = parse(["--stage", "encoder"])
    g = define_generator(opt)
    rng = np.random.default_rng(0)
    for name, var in g.state_dict().items():   # noise weights and biases take part too
        if "noise.weight" in name or name.endswith("activate.bias"):
            var.update(np.float32(0.1) * rng.standard_normal(var.shape).astype(np.float32))
    avg = (0.1 * rng.standard_normal(opt.style_dim)).astype(np.float32)
    sg = str(root / "sg")
    save_network(g, sp_ckpt.net_path(sg, "decoder"))
    sp_ckpt.write_latent_avg(sg, np.repeat(avg[None], opt.n_latent, 0))
    pt = str(root / "g.pt")
    sp_ckpt.write_stylegan2(pt, g, avg)
    save_network(define_parser(), parser_path(str(root / "par")))
    save_network(define_labeler(opt.label_nc), labeler_path(str(root / "lab")))
    heads = str(root / "heads.npz")
    write_standin_heads(str(root / "heads.pth"), heads)
    return {"sg": sg, "pt": pt, "par": str(root / "par"), "lab": str(root / "lab"),
            "heads": heads, "avg": avg}


@pytest.mark.slow
def test_encoder_stage_coarse_then_fine(tmp_path, frozen_parts, capsys):
    from models import create_model
    from models.sp_embedding.inputs import one_hot
    from options.base_options import BaseOptions
    f = frozen_parts
    common = ["--stage", "encoder", "--checkpoints_dir", str(tmp_path), "--lr", "0.002",
              "--lpips_lambda", "0", "--lpips_heads", str(tmp_path / "absent.npz")]
    coarse = common + ["--encoder_step", "coarse", "--stylegan_from", f["pt"],
                       "--w_norm_lambda", "0.001"]
    full = train(coarse + ["--name", "c", "--max_iters", "5"])
    assert learns(full.history, "total") and {"L2", "w_norm", "total"} == set(full.history[0])
    train(coarse + ["--name", "cut", "--max_iters", "3"])
    resumed = train(coarse + ["--name", "cut", "--max_iters", "5", "--continue_train"])
    assert_same_history(full.history, resumed.history, 3)
    assert (tmp_path / "cut" / "train_state" / "encoder_coarse.pkl").is_file()

    # the coarse export is a complete model whose fine offsets are zero
    opt = BaseOptions().parse(MICRO)
    model = create_model("sp_embedding", opt).load(str(tmp_path / "c"))
    np.testing.assert_allclose(model.net.latent_avg, np.repeat(f["avg"][None], 8, 0))
    sem = full.loader.epoch(1).__next__()["semantic"]
    photo = np.zeros((4, 3, 32, 32), np.float32)
    from models.base_model import jt
    with jt.no_grad():
        base = model.net.coarse(jt.array(one_hot(sem, 22))).numpy()
    np.testing.assert_allclose(model.encode(sem, photo), base, rtol=1e-5, atol=1e-5)

    # fine: E_c from the coarse folder, frozen; parser features, LPIPS (stand-ins)
    from tests.training.test_lpips import write_standin_vgg16
    vgg = str(tmp_path / "vgg16.pth")
    write_standin_vgg16(vgg)
    fine = common[:-4] + ["--encoder_step", "fine", "--stylegan_from", f["sg"],
                          "--coarse_from", str(tmp_path / "c"), "--parser_from", f["par"],
                          "--mask_feat_lambda", "1", "--labeler_from", f["lab"],
                          "--lpips_lambda", "0.8", "--lpips_heads", f["heads"],
                          "--lpips_backbone", vgg, "--encoder_noise", "stored"]
    t = train(fine + ["--name", "f", "--max_iters", "4"])
    assert {"L2", "LPIPS", "mask_feat", "total"} == set(t.history[0])
    assert learns(t.history, "total")
    assert "perceptual loss LPIPS (torchvision VGG16" in capsys.readouterr().out
    e_c = t.net.encoder_sketch_coarse.state_dict()
    for name, var in model.net.encoder_sketch_coarse.state_dict().items():
        np.testing.assert_array_equal(e_c[name].numpy(), var.numpy())   # frozen

    folder = str(tmp_path / "f")
    again = create_model("sp_embedding", opt).load(folder)
    x = one_hot(sem, 22)
    app = np.random.default_rng(2).uniform(-1, 1, (4, 3, 32, 32)).astype(np.float32)
    for net in (t.net.encoder_sketch_fine, t.net.encoder_face_fine):
        net.eval()
    with jt.no_grad():
        want = t.net.codes(jt.array(x), jt.array(app)).numpy()
    np.testing.assert_allclose(again.encode(sem, app), want, rtol=1e-4, atol=1e-4)
    assert os.path.isfile(os.path.join(folder, "SPEmbedding", "latest_net_labeler.pkl"))
    assert '"method": "sp_embedding"' in open(os.path.join(folder, "config.json")).read()
    out = tmp_path / "demo"
    assert run_script("demo.py", ["--params", folder, "--input",
                                  os.path.join(ROOT, "test_input", "face1.png"),
                                  "--appearance", os.path.join(ROOT, "test_input", "face2.png"),
                                  "--output", str(out)]) == 0
    assert "stroke-labelling network" in capsys.readouterr().err
    face = np.asarray(Image.open(out / "face1.png"))
    assert face.shape == (32, 32, 3) and face.std() > 0


def test_encoder_stage_needs_its_inputs(tmp_path, frozen_parts):
    from training import create_stage
    from training.lpips import LPIPSWeightsError
    from training.base_trainer import StageError
    base = ["--stage", "encoder", "--checkpoints_dir", str(tmp_path), "--name", "e"]
    with pytest.raises(StageError, match="--stylegan_from"):
        create_stage(parse(base + ["--lpips_lambda", "0"]))
    with pytest.raises(StageError, match="--parser_from"):
        create_stage(parse(base + ["--lpips_lambda", "0", "--stylegan_from", frozen_parts["sg"],
                                   "--mask_feat_lambda", "1"]))
    with pytest.raises(LPIPSWeightsError, match="scripts/get_lpips.py"):
        create_stage(parse(base + ["--stylegan_from", frozen_parts["sg"],
                                   "--lpips_heads", str(tmp_path / "none.npz")]))


# ---------------------------------------------------------------- data
def _standin_celebamask(root, n=3, size=64):
    """CelebAMask-HQ's layout in small: photos and per-class binary masks."""
    from data.celeba import SIDE_SWAP
    from data.synthetic import make_sample
    from data.synthetic.labels import PARSING_CLASSES
    (root / "CelebA-HQ-img").mkdir(parents=True)
    truth = []
    for i in range(n):
        s = make_sample(9, i, size, labels=True)
        Image.fromarray(s["photo"]).save(root / "CelebA-HQ-img" / f"{i}.jpg")
        folder = root / "CelebAMask-HQ-mask-anno" / str(i // 2000)
        folder.mkdir(parents=True, exist_ok=True)
        raw = SIDE_SWAP[s["labels"]]          # CelebAMask-HQ's naming: l_ = image right
        for c, name in enumerate(PARSING_CLASSES[1:], 1):
            if (raw == c).any():
                Image.fromarray(np.where(raw == c, 255, 0).astype(np.uint8)).save(
                    folder / f"{i:05d}_{name}.png")
        truth.append(s["labels"])
    return truth


def test_celeba_masks_become_semantic_sketches_and_a_dataset(tmp_path):
    from data.photo_sketch import semantic_from_parsing
    root = tmp_path / "CelebAMask-HQ"
    truth = _standin_celebamask(root)
    assert run_script("scripts/make_celeba_semantic_sketches.py",
                      ["--dataroot", str(root), "--size", "64"]) == 0
    parsing = np.asarray(Image.open(root / "parsing" / "1.png"))
    np.testing.assert_array_equal(parsing, truth[1])        # disjoint masks: the same map
    sem = np.asarray(Image.open(root / "semantic_sketch" / "1.png"))
    # boundary pixels carry the class of their boundary, interiors stay empty
    lab = truth[1]
    skin_bg = (lab == 1) & np.pad(lab == 0, 1)[1:-1, 2:]     # skin with background on the right
    assert skin_bg.any() and (sem[skin_bg] == 10).mean() > 0.8   # else a higher-ranked edge
    eye = (lab == 4) & np.pad(lab == 1, 1)[2:, 1:-1]          # l_eye above skin
    assert eye.any() and (sem[eye] == 2).all()                # the eye outranks everything
    inner = (lab == 1) & (semantic_from_parsing(lab) == 0)
    assert inner.any() and (sem[inner] == 0).all()
    assert set(np.unique(sem)) <= {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 14, 15, 16, 17, 18, 19}

    # hand-made boundary cases
    p = np.zeros((8, 8), np.uint8)
    p[:, 4:] = 1            # skin right, background left
    p[:2, 4:] = 13          # hair on top of the skin
    s = semantic_from_parsing(p)
    assert s[5, 3] == 10 and s[5, 4] == 10 and s[1, 6] == 17 and s[2, 6] == 17
    assert s[0, 3] == 15 and s[5, 6] == 0

    # the dataset reads them (semantic mode), a flip swaps left and right classes
    from data.datasets import create_dataset
    from data.loader import BatchLoader
    opt = parse(["--stage", "encoder", "--dataset_mode", "celeba", "--dataroot", str(root)])
    opt.semantic, opt.image_size, opt.sketch_size = True, 64, 32
    ds = create_dataset(opt)
    assert len(ds) == 3
    sample = ds.get(1)
    assert sample.semantic.shape == (32, 32) and sample.parsing.shape == (64, 64)
    assert ((sample.sketch == 0) == (sample.semantic > 0)).all()
    assert (sample.semantic > 0).sum() >= 0.4 * (sem > 0).sum() / 2
    batch = next(BatchLoader(ds, 3, seed=0, flip=True).epoch(1))
    assert batch["semantic"].shape == (3, 32, 32) and batch["parsing"].shape == (3, 64, 64)
    for k, i in enumerate(batch["index"]):
        if not np.array_equal(batch["parsing"][k], ds.get(int(i)).parsing):
            mirrored = ds.get(int(i)).parsing[:, ::-1]
            swap = {4: 5, 5: 4, 6: 7, 7: 6, 8: 9, 9: 8}
            np.testing.assert_array_equal(batch["parsing"][k],
                                          np.vectorize(lambda v: swap.get(v, v))(mirrored))
    # --balance reads what each face shows from its parsing map
    from data.parsing_attributes import present
    ids = [int(os.path.splitext(ds.name(i))[0]) for i in range(len(ds))]
    assert ds.attributes(("glasses", "hat")) == [
        (present(truth[i])["glasses"], present(truth[i])["hat"]) for i in ids]


def test_synthetic_semantic_samples_and_label_resizing():
    from data.datasets import Sample, create_dataset, resize_label_map
    opt = parse(["--stage", "encoder", "--sketch_style", "random"])
    opt.semantic, opt.image_size, opt.sketch_size = True, 64, 32
    ds = create_dataset(opt)
    s = ds.get(0)
    sketch, photo, gender, clean = s                        # still a 4-tuple
    assert photo.shape == (64, 64, 3) and s.parsing.shape == (64, 64)
    assert sketch.shape == s.semantic.shape == (32, 32)
    assert ((s.semantic > 0) <= (sketch < 255)).all() and s.semantic.max() <= 22
    assert Sample(1, 2, 3).semantic is None
    thin = np.zeros((64, 64), np.uint8)
    thin[10, 5:60] = 6                                     # a 1-pixel stroke on an even row
    assert (resize_label_map(thin, 32, strokes=True) == 6).sum() >= 25
    assert (resize_label_map(thin, 32) == 6).sum() == 0     # PIL nearest loses it


def test_stage_optimiser_defaults_and_help(capsys):
    """The options come finished (the stage's Adam defaults, semantic data,
    its data sizes): no trainer edits them."""
    from options.sp_embedding_train import STAGE_OPTIMISER
    opt = parse(["--stage", "stylegan"])
    assert (opt.lr, opt.beta1, opt.beta2) == (0.002, 0.0, 0.99)
    assert opt.semantic and (opt.image_size, opt.sketch_size) == (opt.output_size,) * 2
    opt = parse(["--stage", "encoder", "--lr", "0.01"])
    assert (opt.lr, opt.beta1) == (0.01, STAGE_OPTIMISER["encoder"]["beta1"])
    assert opt.sketch_size == opt.encoder_size
    assert parse(["--stage", "labeler"]).image_size == 128
    with pytest.raises(SystemExit):
        parse(["--stage", "parser", "--parser_size", "24"])
    with pytest.raises(SystemExit):
        parse(["--stage", "encoder", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--r1", "--d_reg_every", "--mixing", "--path_regularize", "--g_reg_every",
                 "--encoder_step", "--stylegan_from", "--l2_lambda", "--lpips_lambda",
                 "--mask_feat_lambda", "--w_norm_lambda", "--lpips_backbone"):
        assert flag in text
    assert "LPIPS*" in text and "default per stage" in text


# ---------------------------------------------------------------- differentiable augmentation
def test_diffaug_transforms_are_differentiable_seeded_and_checked(tmp_path):
    from models.base_model import jt
    from training.diffaug import augment, parse_policy
    assert parse_policy("cutout, color") == ("color", "cutout")
    with pytest.raises(ValueError, match="unknown augmentation 'flip'"):
        parse_policy("color,flip")
    x = np.zeros((4, 3, 16, 16), np.float32)
    x[:, :, 6:10, 6:10] = 1.0
    xs = jt.array(x)
    # translation: the square moves by at most 2 px (1/8 of 16), its area kept
    t = augment(xs, ("translation",), np.random.default_rng(0), jt).numpy()
    for i in range(4):
        ys, xx = np.nonzero(t[i, 0] > 0.5)
        assert len(ys) == 16 and abs(ys.min() - 6) <= 2 and abs(xx.min() - 6) <= 2
    # cutout: a zeroed 8x8 square somewhere in each image
    ones = jt.ones((4, 1, 16, 16))
    c = augment(ones, ("cutout",), np.random.default_rng(1), jt).numpy()
    assert all(0 < (c[i] == 0).sum() <= 64 for i in range(4))
    # color changes values; the same generator gives the same draws
    a = augment(xs, ("color", "translation", "cutout"), np.random.default_rng(5), jt).numpy()
    b = augment(xs, ("color", "translation", "cutout"), np.random.default_rng(5), jt).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, x)
    # gradients reach the input through every transform
    v = jt.array(np.random.default_rng(2).standard_normal((2, 3, 16, 16)).astype(np.float32))
    g, = jt.grad(augment(v, ("color", "translation", "cutout"), np.random.default_rng(3),
                         jt).sum(), [v])
    assert np.abs(g.numpy()).sum() > 0

    common = ["--stage", "stylegan", "--checkpoints_dir", str(tmp_path), "--r1", "1",
              "--d_reg_every", "2", "--diffaug", "color,translation,cutout"]
    full = train(common + ["--name", "full", "--max_iters", "3"])
    train(common + ["--name", "cut", "--max_iters", "1"])
    resumed = train(common + ["--name", "cut", "--max_iters", "3", "--continue_train"])
    assert_same_history(full.history, resumed.history, 1)
    plain = train(["--stage", "stylegan", "--checkpoints_dir", str(tmp_path), "--r1", "1",
                   "--d_reg_every", "2", "--name", "plain", "--max_iters", "1"])
    assert plain.history[0]["D"] != pytest.approx(full.history[0]["D"])
    from training import create_stage
    from training.base_trainer import StageError
    with pytest.raises(StageError, match="--diffaug: unknown augmentation 'zoom'"):
        create_stage(parse(["--stage", "stylegan", "--checkpoints_dir", str(tmp_path),
                            "--name", "z", "--diffaug", "zoom"]))
