"""One optimisation step of the sketch embedding's training stages, in
Jittor (``worker_sp_train``: the project's own trainers) and what the
PyTorch peer (``sp_train_peer.py``) needs to repeat it: the options, the
seeded batch, the draws.

Steps (``SP_STEPS``), each on the benchmark's seeded weights:

* ``stylegan``: StyleGAN2's step without its regularisers (--r1 0,
  --path_regularize 0): D (non-saturating logistic), G, the EMA update;
* ``stylegan_reg``: the same step with both regularisers, as on the steps
  where they run: lazy R1 (--r1 10) and the path-length penalty
  (--path_regularize 2, rosinality's value; on B / 2 samples);
* ``encoder``: the encoder stage's fine step (E_s and E_a trained, E_c and
  G frozen, fresh noise maps): L2 + 0.8 LPIPS (VGG16 trunk and heads with
  seeded weights: a weight file is not needed to time it), Adam.

Every timed call is step 1 of a fresh count (the trainer's step counter is
reset), so the regularised step regularises every time and all calls draw
the same latents and noise; the first call's losses are what the peer must
reproduce; the second's are compared and reported.
"""

import math
import shutil
import tempfile

import numpy as np

from evaluation.benchmark.timing import rss_mb, timed

SP_STEPS = {"stylegan": "StyleGAN2 step (D + G + EMA, no regularisers)",
            "stylegan_reg": "StyleGAN2 step with R1 and path length",
            "encoder": "encoder step (E_s + E_a through frozen G; L2 + LPIPS)"}
STEP_ARGS = {"stylegan": ["--stage", "stylegan", "--r1", "0", "--path_regularize", "0"],
             "stylegan_reg": ["--stage", "stylegan", "--r1", "10", "--path_regularize", "2",
                              "--d_reg_every", "16", "--g_reg_every", "4"],
             "encoder": ["--stage", "encoder", "--encoder_step", "fine",
                         "--stylegan_from", "(the benchmark's seeded weights)",
                         "--l2_lambda", "1", "--lpips_lambda", "0", "--w_norm_lambda", "0",
                         "--mask_feat_lambda", "0", "--encoder_noise", "random"]}
# what the peer reads from the options
PEER_KEYS = ("batch_size", "lr", "beta1", "beta2", "eps", "r1", "d_reg_every", "path_regularize",
             "g_reg_every", "path_batch_shrink", "mixing", "ema_kimg", "seed", "image_size",
             "loss_size", "l2_lambda", "lpips_lambda")
VGG_SEED, HEADS_SEED = 57, 58
LPIPS_LAMBDA = 0.8                     # the release's default weight of LPIPS
VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
# The peer's first-step losses against Jittor's, relative: float32 rounding
# of the two frameworks stays near 1e-6 (2e-4 for the path length, a sum of
# random-signed terms). The second step's losses are reported, not gated:
# Adam's first updates are about lr * sign(gradient) whatever the gradient's
# size, so components at rounding level move whole steps, which after the
# regularisers' extra updates shifts small losses by up to ~5% on tiny
# (the penalties' parameter gradients themselves agree to 1e-5: checked).
# The path length is the norm of a gradient through the whole generator (a
# double backward): on a 2-core Xeon with AVX-512 (oneDNN's kernels there)
# it differed by 5.5e-4 and its squared penalty by 1.1e-3 while every other
# loss of the step agreed to 1e-6, so those two have a tolerance of their own.
LOSS_TOLERANCE = 1e-3
PATH_TOLERANCE = 1e-2
TOLERANCES = {"path": PATH_TOLERANCE, "path_length": PATH_TOLERANCE}


def within_tolerance(diffs):
    """True when every loss of a step ({loss: relative difference}) is
    within its tolerance (``TOLERANCES``, else ``LOSS_TOLERANCE``)."""
    return all(d <= TOLERANCES.get(k, LOSS_TOLERANCE) for k, d in diffs.items())


def train_options(step, config, batch, root):
    """The stage's options (``STEP_ARGS``) at ``config`` and ``batch``."""
    from evaluation.benchmark.sp_config import sp_preset
    from options.train_options import TrainOptions
    return TrainOptions().parse(["--method", "sp_embedding", "--preset", sp_preset(config),
                                 "--name", "bench", "--checkpoints_dir", root,
                                 "--batch_size", str(batch)] + STEP_ARGS[step])


def training_batch(opt, batch):
    """Seeded photos (B, N, N, 3) uint8 at the stage's data size and label
    maps (B, S, S) at the encoders' size."""
    rng = np.random.default_rng(3)
    s = opt.encoder_size
    labels = rng.integers(0, opt.label_nc + 1, (batch, s, s))
    labels[rng.random(labels.shape) < 0.9] = 0
    return {"photo": rng.integers(0, 256, (batch, opt.image_size, opt.image_size, 3),
                                  dtype=np.uint8),
            "semantic": labels.astype(np.uint8)}


def vgg_shapes():
    """{name: shape} of the LPIPS VGG16 trunk, conv1_1 .. conv5_3 (models/vgg.py's
    names; ``set_weights`` refuses any other)."""
    out, cin = {}, 3
    for b, block in enumerate(VGG16_BLOCKS, 1):
        for i, cout in enumerate(block, 1):
            out[f"conv{b}_{i}.weight"], out[f"conv{b}_{i}.bias"] = (cout, cin, 3, 3), (cout,)
            cin = cout
    return out


def lpips_weights():
    """(VGG16 trunk {name: array}, heads [5 arrays (C,)]): seeded; the heads
    non-negative, as the published ones."""
    from evaluation.benchmark.inputs import seeded_weights
    trunk = seeded_weights(vgg_shapes(), VGG_SEED)
    trunk = {k: v * np.float32(math.sqrt(2.0)) if v.ndim == 4 else v for k, v in trunk.items()}
    rng = np.random.default_rng(HEADS_SEED)
    heads = [np.abs(rng.standard_normal(c)).astype(np.float32) / c
             for c in (64, 128, 256, 512, 512)]
    return trunk, heads


# ---------------------------------------------------------------- Jittor
def worker_sp_train(job):
    """One training step (``job['step']``) of the sketch embedding in Jittor:
    latency, peak memory, the first two steps' losses."""
    from evaluation.benchmark.jittor_workers import _jittor
    jt, env = _jittor(job["device"], "train")
    root = tempfile.mkdtemp(prefix="dfd_bench_sp_train_")
    try:
        opt = train_options(job["step"], job["config"], job["batch"], root)
        jt.set_global_seed(0)
        rss0 = rss_mb()
        trainer = build_trainer(jt, job["step"], opt)
        rss_model = rss_mb()
        batch = training_batch(opt, job["batch"])
        losses = []

        def step():
            trainer.global_step = 0                  # step 1 every time: see the docstring
            losses.append(trainer.step(batch))
        t = timed(step, job["repeats"], 1, job["budget"], min_repeats=2)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {"describe": env.describe(), "times": {"step": t}, "rss_import_mb": rss0,
            "rss_model_mb": rss_model, "rss_peak_mb": rss_mb(), "losses": losses[:2],
            "options": {k: getattr(opt, k) for k in PEER_KEYS}}


def build_trainer(jt, step, opt):
    """The stage's trainer on the benchmark's seeded weights."""
    from evaluation.benchmark.sp import load_seeded, set_seeded_weights
    from evaluation.benchmark.sp_peer import latent_avg
    if step.startswith("stylegan"):
        from training.sp_embedding.stylegan import StyleGANTrainer, copy_weights
        trainer = StyleGANTrainer(opt)
        load_seeded(jt, trainer.g, "decoder")
        load_seeded(jt, trainer.d, "discriminator")
        copy_weights(trainer.g_ema, trainer.g)
        return trainer
    import training.sp_embedding.encoder as stage
    # the generator's and E_c's files are replaced by the seeded weights set below
    saved = stage.load_stylegan, stage.load_network
    stage.load_stylegan = lambda source, generator, n_latent, seed=0: latent_avg(opt)
    stage.load_network = lambda net, path: net
    try:
        trainer = stage.EncoderTrainer(opt)
    finally:
        stage.load_stylegan, stage.load_network = saved
    set_seeded_weights(jt, trainer.net, opt)
    for name in trainer.trained:
        getattr(trainer.net, name).train()
    trainer.lpips = make_lpips(jt)     # built without one (--lpips_lambda 0): no VGG file
    opt.lpips_lambda = LPIPS_LAMBDA
    return trainer


def make_lpips(jt):
    """The encoder stage's LPIPS (training/lpips.py) over a VGG16 trunk and
    heads with the seeded weights (torchvision's input normalisation)."""
    from models.vgg import VGGFeatures
    from training.lpips import HEAD_NAMES, LPIPS
    trunk, heads = lpips_weights()
    vgg = VGGFeatures("vgg16", input_norm="torchvision")
    vgg.set_weights(trunk, "the benchmark's seeded VGG16")
    return LPIPS(dict(zip(HEAD_NAMES, heads)), vgg, label="LPIPS")
