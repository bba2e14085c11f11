"""Training options of the semantics-preserving sketch embedding (its four
stages: ``stylegan``, ``parser``, ``labeler``, ``encoder``); added to
train.py's options by ``options.sp_embedding.add_train_options``.

The authors released no training code; the loss options and their defaults
are the ones their release names (reference notes, section 9: L2 1.0, LPIPS
0.8, W-norm 0, semantic feature matching 0), the StyleGAN2 ones are
StyleGAN2's (rosinality's defaults). ``--lr``, ``--beta1`` and ``--beta2``
default per stage (``STAGE_OPTIMISER``). ``finish_training`` completes the
options before the stage starts (its Adam defaults, semantic data, the
sizes of its photos and sketches): a trainer never edits them.
"""

from options.base_options import OptionError

# Adam settings per stage when --lr / --beta1 / --beta2 are not given:
# StyleGAN2's 0.002 with betas (0, 0.99); pSp's 1e-4 for the encoders (it
# used Ranger; we use Adam); 1e-3 for the two small UNets.
STAGE_OPTIMISER = {
    "stylegan": {"lr": 0.002, "beta1": 0.0, "beta2": 0.99},
    "parser": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999},
    "labeler": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999},
    "encoder": {"lr": 0.0001, "beta1": 0.9, "beta2": 0.999},
}
ENCODER_STEPS = ("coarse", "fine")
NOISE_MODES = ("random", "stored")
LPIPS_NOTE = ("LPIPS* (the published LPIPS-VGG linear heads over the project's Caffe "
              "ImageNet VGG16: an LPIPS-like distance, not calibrated LPIPS; "
              "--lpips_backbone gives the real one)")


def _stage_defaults_help(parser):
    """--lr, --beta1, --beta2: defaults per stage (resolved when the stage starts)."""
    per = "; ".join(f"{s} {v['lr']:g} ({v['beta1']:g}, {v['beta2']:g})"
                    for s, v in STAGE_OPTIMISER.items())
    notes = {"lr": f"Adam learning rate (default per stage, with betas: {per})",
             "beta1": "Adam beta1 (default per stage, see --lr)",
             "beta2": "Adam beta2 (default per stage, see --lr)"}
    parser.set_defaults(lr=None, beta1=None, beta2=None)
    for action in parser._actions:
        if action.dest in notes:
            action.help = notes[action.dest]


def resolve_stage_defaults(opt, stage):
    """Fill --lr / --beta1 / --beta2 left unset with the stage's values."""
    for key, value in STAGE_OPTIMISER[stage].items():
        if getattr(opt, key, None) is None:
            setattr(opt, key, value)
    return opt


def loss_resolution(opt):
    """The size output and target are compared at in the encoder stage."""
    return min(int(opt.loss_size), int(opt.output_size))


def parser_size(opt):
    """The size the face parser trains at."""
    return int(opt.parser_size) or loss_resolution(opt)


def data_sizes(opt):
    """(image_size, sketch_size) of stage ``opt.stage``'s data: photos and
    parsing maps at the first, sketches and semantic sketches at the second."""
    if opt.stage == "encoder":
        return max(loss_resolution(opt), 2 * opt.encoder_size), opt.encoder_size
    if opt.stage == "parser":
        from models.sp_embedding.parser import PARSER_DEPTH      # (imports Jittor)
        size, multiple = parser_size(opt), 2 ** PARSER_DEPTH
        if size < multiple or size % multiple or size & (size - 1):
            raise OptionError(f"--parser_size must be a power of two and a multiple of "
                              f"{multiple}, got {size}")
        return size, size
    if opt.stage == "labeler":
        from models.sp_embedding.labelers import LABELER_SIZE
        return LABELER_SIZE, LABELER_SIZE
    return opt.output_size, opt.output_size


def finish_training(opt):
    """The options of stage ``opt.stage``, finished before it starts: Adam
    defaults for the stage, semantic data in every batch (``opt.semantic``,
    see ``data/datasets.py``), the data sizes."""
    resolve_stage_defaults(opt, opt.stage)
    opt.semantic = True
    opt.image_size, opt.sketch_size = data_sizes(opt)
    return opt


def add_sp_train_options(parser):
    _stage_defaults_help(parser)

    s = parser.add_argument_group("stage stylegan: StyleGAN2 (non-saturating logistic loss, "
                                  "lazy R1, style mixing, EMA generator)")
    s.add_argument("--r1", type=float, default=10.0,
                   help="weight of the R1 penalty on real images (gamma)")
    s.add_argument("--d_reg_every", type=int, default=16,
                   help="R1 every this many steps (lazy regularisation; Adam's lr and betas of "
                        "D corrected by k / (k + 1)); 0 = no R1")
    s.add_argument("--path_regularize", type=float, default=0.0,
                   help="weight of the path-length regulariser (StyleGAN2 used 2; 0 = off)")
    s.add_argument("--path_batch_shrink", type=int, default=2,
                   help="the path-length step uses batch_size / this")
    s.add_argument("--g_reg_every", type=int, default=4,
                   help="path-length regulariser every this many steps (lazy; G's Adam "
                        "corrected like D's)")
    s.add_argument("--mixing", type=float, default=0.9,
                   help="probability of style mixing (two z's, a random crossover row)")
    s.add_argument("--ema_kimg", type=float, default=10.0,
                   help="half-life of the generator's moving average (g_ema, what is "
                        "exported) in thousands of images")
    s.add_argument("--ema_rampup", type=float, default=0.0,
                   help="shorten the half-life to at most this fraction of the images seen "
                        "(StyleGAN2-ADA's 0.05 helps short runs; 0 = off)")
    s.add_argument("--diffaug", default="",
                   help="differentiable augmentation of every image the discriminator sees, "
                        "real or generated (DiffAugment, for small datasets: a few thousand "
                        "photos): comma separated, of color, translation, cutout; "
                        "'' = off")
    s.add_argument("--export_rosinality", action="store_true",
                   help="also write EXPR/stylegan2_{latest,N}.pt in rosinality's format "
                        "(g_ema, d, latent_avg)")
    s.add_argument("--sample_grid", type=int, default=4,
                   help="the result page shows a grid of this many x this many g_ema samples "
                        "(fixed z's)")

    p = parser.add_argument_group("stage parser: the face parser (19 CelebAMask-HQ classes)")
    p.add_argument("--parser_size", type=int, default=0,
                   help="size the parser trains at (0 = the encoder stage's loss size, "
                        "min(--loss_size, --output_size)); a multiple of 16")

    e = parser.add_argument_group("stage encoder: the three encoders over a frozen generator")
    e.add_argument("--encoder_step", default="coarse", choices=ENCODER_STEPS,
                   help="coarse: the W encoder E_c alone (codes = repeat(M(E_c(x))) + "
                        "latent_avg); fine: the sketch and appearance W+ encoders with E_c "
                        "frozen (from --coarse_from)")
    e.add_argument("--stylegan_from", default="",
                   help="the frozen generator: a folder written by --stage stylegan (its "
                        "decoder and latent_avg) or a rosinality StyleGAN2 .pt (g_ema)")
    e.add_argument("--coarse_from", default="",
                   help="fine step: the folder with the trained E_c (default: this experiment)")
    e.add_argument("--encoders_from", default="",
                   help="start the encoders this step trains from the ones of this folder "
                        "(an encoder-stage export), e.g. to fine-tune on photos with the image "
                        "losses after training on the generator's samples (sp_samples); "
                        "default: coarse from scratch, fine offsets from zero")
    e.add_argument("--parser_from", default="",
                   help="a folder written by --stage parser (needed for --mask_feat_lambda)")
    e.add_argument("--labeler_from", default="",
                   help="a folder written by --stage labeler: its stroke labeller is copied "
                        "into the export (demo.py then labels plain sketches with it)")
    e.add_argument("--l2_lambda", type=float, default=1.0, help="weight of the pixel L2 loss")
    e.add_argument("--lpips_lambda", type=float, default=0.8,
                   help=f"weight of the perceptual loss: {LPIPS_NOTE}")
    e.add_argument("--lpips_backbone", default="",
                   help="a torchvision VGG16 .pth (features.N layout): the real LPIPS-VGG "
                        "(torchvision's input normalisation) instead of LPIPS*")
    e.add_argument("--lpips_heads", default="",
                   help="the LPIPS-VGG v0.1 linear heads .npz (default "
                        "params/lpips_vgg_v0.1.npz; `python scripts/get_lpips.py` makes it)")
    e.add_argument("--mask_feat_lambda", type=float, default=0.0,
                   help="weight of the semantic feature matching: mean squared difference of "
                        "the parser's decoder features of output and target")
    e.add_argument("--mask_feat_layer", type=int, default=4,
                   help="how many of the parser's decoder features are compared (deepest "
                        "first; 4 = all)")
    e.add_argument("--latent_lambda", type=float, default=1.0,
                   help="--dataset_mode sp_samples: weight of the code loss, the mean squared "
                        "difference of the encoded W+ and the code that made the sample, over "
                        "the rows the step learns (coarse: those before --break_layer), in "
                        "units of the mapping network's per-dimension variance")
    e.add_argument("--w_norm_lambda", type=float, default=0.0,
                   help="weight of the W-norm loss: mean over the batch of ||W - latent_avg||")
    e.add_argument("--loss_size", type=int, default=256,
                   help="output and target are mean-pooled to min(this, output_size) for the "
                        "losses (pSp compares at 256)")
    e.add_argument("--encoder_noise", default="random", choices=NOISE_MODES,
                   help="generator noise while training the encoders: random (fresh maps, "
                        "seeded per step, as pSp trains) or stored (the maps inference uses)")
