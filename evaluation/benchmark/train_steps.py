"""What the training-step rows share between Jittor and PyTorch (NumPy only):
the stages measured, their options, the seeds of every network's weights,
the seeded batch, and the check that both frameworks take the same step.

A row is one optimisation step of a DeepFaceDrawing stage as train.py runs
it (``ae``: the five sketch autoencoders; ``combine``: FM decoders + G (+ the
appearance encoder) against the multiscale D, with every loss of
training/deepfacedrawing/combine.py). The Jittor worker builds the real
trainer, gives its networks the seeded weights, records the losses of its
first two steps and returns the options it ran with; the PyTorch worker
(``torch_train``) builds the same networks from those options, takes the
same two steps on the same batch and is timed only when its losses agree.
"""

import numpy as np

from evaluation.benchmark.inputs import random_sketches, training_batch

STAGES = ("ae", "combine")
# the options of the bundled model's runs (params/default/TRAINING.md) that
# change the step; the rest are the defaults (combine: Adam 2e-4, (0.5, 0.999);
# LSGAN, feature matching x10, L1 x10, TV x1; ae: MSE reconstruction)
STAGE_FLAGS = {
    "ae": ["--ae_target", "clean", "--lr", "0.0005", "--beta1", "0.9"],
    "combine": ["--appearance_dim", "8", "--upsample", "resize", "--ndf", "32",
                "--lambda_vgg", "2", "--lambda_kl", "2"],
}
# seeds of the weights, by network (inference's WEIGHT_SEEDS cover encoder/fm/G)
CLEAN_SEED = 3                 # the ae stage's target sketches (--ae_target clean)
TRAIN_SEEDS = {"encoder": 10, "fm": 20, "G": 40, "D": 50, "A": 60, "decoder": 70, "vgg": 80}
# the options the PyTorch step is built from (the Jittor worker sends their values)
TRAIN_KEYS = ("image_size", "latent_dim", "ae_ngf", "ae_n_down", "ae_norm", "variant",
              "fm_channels", "fm_nc", "fm_sample_stats", "ngf", "n_downsample_global",
              "n_blocks_global", "norm", "upsample", "appearance_dim", "pipeline", "ndf",
              "n_layers_D", "num_D", "norm_D", "lambda_gan", "lambda_feat", "lambda_vgg",
              "lambda_tv", "lambda_l1", "lambda_kl", "ae_loss", "lambda_recon", "ae_target",
              "lr", "beta1", "beta2", "eps", "seed")
# the largest relative difference of a loss between frameworks, by step: the
# first is the forward pass alone (measured: 3e-6 to 2e-5); the second follows
# one Adam update, whose first move is lr * sign(gradient) whatever the size of
# the gradient, so rounding noise in near-zero gradients moves it further
# (measured: up to 7e-3, official combine, D_fake), while a wrong learning
# rate or loss weight moves it by tens of per cent
LOSS_TOLERANCE = (1e-3, 2e-2)
CHECKED_STEPS = len(LOSS_TOLERANCE)


def step_batch(opt, batch):
    """The seeded batch both frameworks train on: sketches and photos (the
    combine stage's), and the clean sketches the ae stage reconstructs."""
    out = training_batch(opt, batch)
    out["clean"] = random_sketches(np.random.default_rng(CLEAN_SEED), batch, opt.image_size)
    return out


def loss_differences(got, want):
    """[largest relative difference of a loss] per step between two lists of
    {loss: value} (None when the names or the number of steps differ)."""
    if len(got) != len(want) or any(set(g) != set(w) for g, w in zip(got, want)):
        return None
    return [max(abs(g[k] - w[k]) / max(abs(w[k]), 1e-6) for k in w) for g, w in zip(got, want)]


def same_step(diffs):
    """Whether the per-step differences are within LOSS_TOLERANCE."""
    return diffs is not None and all(d <= tol for d, tol in zip(diffs, LOSS_TOLERANCE))
