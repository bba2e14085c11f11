"""Options for stage-by-stage training (train.py): the experiment, the data,
the optimiser and logging; each method adds its stages' losses."""

import os

from models.files import config_path
from models.methods import DEFAULT_METHOD, get_method
from options.base_options import (BaseOptions, OptionError, add_dataroot, add_experiment_options,
                                  seed_value)

DATASET_MODES = ("paired", "celeba", "synthetic", "sp_samples")


class TrainOptions(BaseOptions):
    description = "Train a method stage by stage (python train.py --stage STAGE ...)."
    phase = "train"
    # what each method's stages do, for --help
    STAGE_HELP = {
        "deepfacedrawing": "ae (the five component autoencoders on sketches), banks (encode "
                           "the training sketches into the feature banks), combine (FM "
                           "decoders + generator as a conditional GAN, encoders frozen)",
        "sp_embedding": "stylegan (StyleGAN2 on the training photos), parser (the face "
                        "parser), labeler (the stroke labeller of plain sketches), encoder "
                        "(the three encoders over the frozen generator: --encoder_step "
                        "coarse, then fine)",
    }

    def initialize(self, parser):
        parser = super().initialize(parser)
        g = parser.add_argument_group("experiment")
        g.add_argument("--stage", default="",
                       help="which stage to train (required; the stages are listed above)")
        add_experiment_options(g, "experiment name: checkpoints go to CHECKPOINTS_DIR/NAME "
                                  "(usable as demo.py --params)")
        g.add_argument("--continue_train", action="store_true",
                       help="resume this stage from its last saved state (weights, optimizer, "
                            "epoch, iteration)")
        g.add_argument("--overwrite", action="store_true",
                       help="train a stage again from the start in a folder where it was "
                            "trained already, replacing its checkpoints (without it, and "
                            "without --continue_train, such a run is refused)")
        g.add_argument("--load_pretrain", default="",
                       help="start this stage's networks from a trained model folder (a "
                            "bundled model such as params/default, or an experiment's "
                            "checkpoints): each network the folder holds is loaded, the others "
                            "(a discriminator a bundled model leaves out) start fresh, and so "
                            "do the optimiser, the epoch count and the schedule; the "
                            "architecture options must match the folder's. A resumed run "
                            "(--continue_train) reads its own state instead")

        d = parser.add_argument_group("data")
        d.add_argument("--dataset_mode", default="synthetic", choices=DATASET_MODES,
                       help="paired: DATAROOT/sketch + DATAROOT/photo; celeba: the "
                            "CelebAMask-HQ layout; synthetic: procedural faces made on the fly; "
                            "sp_samples (sketch embedding, --stage encoder): the generator's "
                            "own samples with their codes, from scripts/make_sample_pairs.py")
        add_dataroot(d)
        d.add_argument("--n_samples", type=int, default=2000,
                       help="synthetic: number of procedural faces in the training set")
        d.add_argument("--data_seed", type=seed_value, default=1234,
                       help="synthetic: seed of the procedural faces")
        d.add_argument("--sketch_style", default="clean",
                       help="synthetic: how the sketches are drawn: clean (single-pass lines), "
                            "random (clean or one of the hand-drawn training styles, per face), "
                            "or one style by name (data/synthetic/styles.py); the held-out "
                            "style is kept for evaluation")
        d.add_argument("--max_dataset_size", type=int, default=0,
                       help="use at most this many samples (0 = all)")
        d.add_argument("--cache", type=lambda v: v.lower() in ("1", "true", "yes"),
                       default=True, help="keep decoded samples in memory after first use")
        d.add_argument("--jitter", type=int, default=0,
                       help="random translation of sketch and photo by up to this many pixels")
        d.add_argument("--flip", action="store_true",
                       help="random horizontal flips (mirrors the face, so the left eye's "
                            "strokes move into the right eye's box; off by default)")
        d.add_argument("--serial_batches", action="store_true",
                       help="take samples in order instead of shuffling")
        d.add_argument("--balance", default="",
                       help="attributes to even out when drawing batches, comma separated: "
                            "synthetic: hair_style, facial_hair, glasses, expression, gender, "
                            "...; celeba (from the label maps): glasses, open_mouth, bald, "
                            "long_hair, hat. Rare ones (a bald head, glasses) are drawn more "
                            "often")
        d.add_argument("--balance_power", type=float, default=0.5,
                       help="with --balance: a sample's weight is its label's share to the "
                            "power minus this (1: every label equally often; 0.5 halfway)")

        o = parser.add_argument_group("optimisation")
        o.add_argument("--batch_size", type=int, default=8, help="samples per step (per process)")
        o.add_argument("--niter", type=int, default=50, help="epochs at the starting learning rate")
        o.add_argument("--niter_decay", type=int, default=50,
                       help="epochs of linear decay of the learning rate to zero")
        o.add_argument("--max_iters", type=int, default=0,
                       help="stop after this many steps in all (0 = run every epoch); "
                            "for quick runs")
        o.add_argument("--lr", type=float, default=0.0002, help="Adam learning rate")
        o.add_argument("--beta1", type=float, default=0.5, help="Adam beta1")
        o.add_argument("--beta2", type=float, default=0.999, help="Adam beta2")
        o.add_argument("--eps", type=float, default=1e-8, help="Adam epsilon (PyTorch's convention)")

        l = parser.add_argument_group("logging and saving")
        l.add_argument("--print_freq", type=int, default=50,
                       help="steps between loss log lines")
        l.add_argument("--display_freq", type=int, default=0,
                       help="steps between result-page image rows (0 = once an epoch)")
        l.add_argument("--save_latest_freq", type=int, default=500,
                       help="steps between saves of the 'latest' checkpoint")
        l.add_argument("--save_epoch_freq", type=int, default=10,
                       help="epochs between per-epoch checkpoint copies")
        return parser

    def make_parser(self, method=DEFAULT_METHOD, add_help=True):
        """The parser of ``method``; its --help lists the method's stages."""
        parser = super().make_parser(method, add_help)
        stages = self.STAGE_HELP.get(method, ", ".join(get_method(method).stages))
        parser.description = (f"{self.description} The stages of {get_method(method).title}: "
                              f"{stages}.")
        return parser

    def preset_folder(self, opt):
        """'auto' reads the experiment's own config.json; a new experiment
        started from a model folder (--load_pretrain) reads that folder's."""
        own = os.path.join(opt.checkpoints_dir, opt.name or "experiment")
        start = getattr(opt, "load_pretrain", "")
        if start and os.path.isdir(start) and not os.path.isfile(config_path(own)):
            return start
        return own

    def finish(self, opt):
        opt.name = opt.name or "experiment"
        opt.expr_dir = os.path.join(opt.checkpoints_dir, opt.name)
        stages = get_method(opt.method).stages
        if not opt.stage:
            raise OptionError(f"--stage is required: the stages of {opt.method} are "
                              f"{', '.join(stages)}")
        if opt.stage not in stages:
            raise OptionError(f"--stage {opt.stage!r}: the stages of {opt.method} are "
                              f"{', '.join(stages)}")
        super().finish(opt)
        from data.synthetic.styles import HELD_OUT_STYLE, TRAIN_STYLES
        if opt.sketch_style not in ("clean", "random") + tuple(TRAIN_STYLES):
            held = " (kept out of training for evaluation)" if opt.sketch_style in (
                HELD_OUT_STYLE, "held_out") else ""
            raise OptionError(f"--sketch_style {opt.sketch_style!r}{held}: choose clean, random "
                              f"or one of {', '.join(TRAIN_STYLES)}")
        opt.balance = ",".join(k.strip() for k in opt.balance.split(",") if k.strip())
        if opt.balance and opt.dataset_mode not in ("synthetic", "celeba"):
            raise OptionError("--balance needs --dataset_mode synthetic or celeba (the labelled "
                              "faces)")
        if opt.dataset_mode == "celeba":
            from data.parsing_attributes import ATTRIBUTES
        else:
            from data.synthetic import ATTRIBUTES
        unknown = [k for k in opt.balance.split(",") if k and k not in ATTRIBUTES]
        if unknown:
            raise OptionError(f"--balance {unknown[0]!r}: choose from {', '.join(ATTRIBUTES)} "
                              f"(--dataset_mode {opt.dataset_mode})")
        if opt.balance and opt.serial_batches:
            raise OptionError("--balance draws batches at random; drop --serial_batches")
        if not 0 <= opt.balance_power <= 1:
            raise OptionError(f"--balance_power must be in [0, 1], got {opt.balance_power}")
        if opt.dataset_mode in ("paired", "celeba") and not opt.dataroot:
            raise OptionError(f"--dataset_mode {opt.dataset_mode} needs --dataroot")
        if opt.batch_size < 1 or opt.niter < 0 or opt.niter_decay < 0:
            raise OptionError("--batch_size must be >= 1 and epochs >= 0")
        if opt.niter + opt.niter_decay < 1:
            raise OptionError("train for at least one epoch (--niter + --niter_decay >= 1)")
        for key in ("print_freq", "save_latest_freq", "save_epoch_freq"):
            if getattr(opt, key) < 1:
                raise OptionError(f"--{key} must be at least 1, got {getattr(opt, key)}")
        if opt.display_freq < 0 or opt.max_iters < 0 or opt.max_dataset_size < 0:
            raise OptionError("--display_freq, --max_iters and --max_dataset_size must be >= 0")
        if opt.load_pretrain and not os.path.isdir(opt.load_pretrain):
            raise OptionError(f"--load_pretrain {opt.load_pretrain}: no such folder")
        if opt.continue_train and opt.overwrite:
            raise OptionError("--continue_train resumes the stage, --overwrite starts it again: "
                              "give one")
        return opt
