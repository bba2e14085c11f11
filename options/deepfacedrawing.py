"""DeepFaceDrawing's options: its architecture, its inference knobs
(K, refinement, gender bank, shadows) and its training losses. The option
classes in this folder add them when the method is DeepFaceDrawing."""

from models.deepfacedrawing.checkpoint import ARCH_KEYS, INFERENCE_KEYS
from models.files import arch_dict
from options.base_options import OptionError, check_limits, str2bool
from util.components import BANK_CHOICES, PART_NAMES, PARTS, PIPELINES, part_key, scaled_boxes

STAGES = ("ae", "banks", "combine")
# What an architecture may be, wherever it comes from (flags, a preset, a
# folder's config.json): generous around the authors' 512 model, small
# enough that building it cannot take the memory.
LIMITS = {"image_size": (32, 2048), "latent_dim": (1, 4096), "ae_ngf": (1, 1024),
          "ae_n_down": (0, 8), "fm_nc": (1, 1024), "ngf": (1, 1024),
          "n_downsample_global": (0, 8), "n_blocks_global": (0, 64), "appearance_dim": (0, 1024),
          "k": (1, 10 ** 6)}
FM_CHANNELS_MAX = 4096


def parse_refine(text):
    """'0.7' (all parts) or 'eye1=0.8,mouth=0.5[,all=0.3]' -> {part key: t}.

    Parts not named keep 'all' (default 1.0, the full projection)."""
    values = {}
    default = 1.0
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep:
            name, value = "all", name
        try:
            t = float(value)
        except ValueError:
            raise OptionError(f"--refine: {value!r} is not a number") from None
        if not 0.0 <= t <= 1.0:
            raise OptionError(f"--refine: {t} is outside [0, 1]")
        if name.strip() == "all":
            default = t
        else:
            try:
                values[part_key(name.strip())] = t
            except ValueError as exc:
                raise OptionError(f"--refine: {exc}") from None
    return {p: values.get(p, default) for p in PARTS}


def add_arch_options(a):
    a.add_argument("--image_size", type=int, default=512,
                   help="sketch and photo size in pixels (square); component boxes "
                        "are scaled from their 512 positions")
    a.add_argument("--latent_dim", type=int, default=512,
                   help="size of each component's latent vector")
    a.add_argument("--ae_ngf", type=int, default=32,
                   help="channels after the first conv of the component encoders "
                        "(doubles at every down block)")
    a.add_argument("--ae_n_down", type=int, default=4,
                   help="down blocks in the component encoders after the first conv; "
                        "crops shrink by 2^(ae_n_down+1)")
    a.add_argument("--ae_norm", default="batch", choices=("batch", "instance", "none"),
                   help="norm layer of the autoencoders and FM decoders")
    a.add_argument("--variant", default="official", choices=("official", "fixed"),
                   help="official: the authors' quirks (LeakyReLU slope 1 = identity, "
                        "BatchNorm momentum 0.9 in up/down blocks); fixed: LeakyReLU(0.2), "
                        "momentum 0.1, for new training")
    a.add_argument("--fm_channels", default="512,256,256,128,64,64",
                   help="FM decoder channels: at the deepest grid, then after every up "
                        "block (ae_n_down+2 numbers)")
    a.add_argument("--fm_nc", type=int, default=32,
                   help="channels of the FM feature maps (input of the generator)")
    a.add_argument("--fm_sample_stats", type=str2bool, default=False,
                   help="FM decoders' BatchNorm uses each sketch's own statistics at "
                        "inference, as the authors' release does (on in the official "
                        "preset, needed to reproduce their outputs)")
    a.add_argument("--pipeline", default="components", choices=PIPELINES,
                   help="components: DeepFaceDrawing (five component autoencoders, FM, "
                        "IS); whole_face: one autoencoder on the whole sketch (ablation); "
                        "direct: the sketch straight into the generator, no CE/FM "
                        "(pix2pixHD baseline)")
    a.add_argument("--ngf", type=int, default=56, help="generator filters in the first conv")
    a.add_argument("--n_downsample_global", type=int, default=4,
                   help="generator down/up-sampling steps")
    a.add_argument("--n_blocks_global", type=int, default=9,
                   help="generator residual blocks")
    a.add_argument("--norm", default="instance", choices=("instance", "batch", "none"),
                   help="generator norm layer (instance is affine, as in Jittor)")
    a.add_argument("--upsample", default="transpose", choices=("transpose", "resize"),
                   help="up-sampling in the FM decoders and the generator: transpose (the "
                        "authors' transposed convolutions) or resize (nearest + 3x3 conv: "
                        "no checkerboard)")
    a.add_argument("--appearance_dim", type=int, default=0,
                   help="size of an appearance code that modulates the generator's norm "
                        "layers, learnt from the training photos' colours (0 = none, as in "
                        "the paper); with it, --appearance PHOTO or --appearance_seed N "
                        "choose hair, skin and background colours")


def add_common_options(parser):
    g = parser.add_argument_group("inference defaults (saved with a trained model in its "
                                  "config.json)")
    g.add_argument("--k", type=int, default=15,
                   help="nearest neighbours used by the manifold projection")
    g.add_argument("--refine", default="1.0",
                   help="refinement weight t in [0,1] (0 = raw sketch encoding, 1 = full "
                        "projection): one value, or per part like 'eye1=0.8,mouth=0.5' "
                        f"(parts: {', '.join(PART_NAMES[p] for p in PARTS)}, all)")


def add_test_options(parser):
    g = parser.add_argument_group("DeepFaceDrawing inference")
    g.add_argument("--gender", default="all", choices=BANK_CHOICES,
                   help="which feature bank to project onto")
    g.add_argument("--shadow", action="store_true",
                   help="also write each sketch's shadow image (blended neighbours)")
    g.add_argument("--no_sketch_norm", action="store_true",
                   help="keep the sketch as drawn: no line-width normalisation and no "
                        "fitting onto the component layout")


def add_train_options(parser):
    g = parser.add_argument_group("stage ae: losses")
    g.add_argument("--ae_loss", default="mse", choices=("mse", "l1"),
                   help="reconstruction loss of the sketch autoencoders")
    g.add_argument("--lambda_recon", type=float, default=1.0,
                   help="weight of the reconstruction loss")
    g.add_argument("--ae_target", default="input", choices=("input", "clean"),
                   help="what the autoencoders reconstruct: their input (the paper), or the "
                        "clean version of a hand-drawn sketch when the data has one (a "
                        "denoising autoencoder: messy strokes map near clean ones)")
    g.add_argument("--ae_from", default="",
                   help="combine/banks stages: folder with the trained encoders "
                        "(default: this experiment's own folder)")

    c = parser.add_argument_group("stage combine: losses and discriminator")
    c.add_argument("--lambda_gan", type=float, default=1.0,
                   help="weight of the LSGAN loss (0 turns the discriminator off)")
    c.add_argument("--lambda_feat", type=float, default=10.0,
                   help="weight of the GAN feature-matching loss (0 = off)")
    c.add_argument("--lambda_vgg", type=float, default=10.0,
                   help="weight of the VGG perceptual loss (0 = off)")
    c.add_argument("--lambda_tv", type=float, default=1.0,
                   help="weight of the smoothness (total variation) constraint (0 = off)")
    c.add_argument("--lambda_l1", type=float, default=10.0,
                   help="weight of the L1 distance to the photo (0 = off)")
    c.add_argument("--lambda_kl", type=float, default=0.05,
                   help="weight of the appearance codes' KL divergence to N(0, I) (models "
                        "with --appearance_dim)")
    c.add_argument("--lambda_gan_random", type=float, default=0.0,
                   help="weight of the LSGAN loss on faces made with a random appearance code "
                        "drawn from N(0, I) (BicycleGAN's cLR-GAN branch: the looks a user gets "
                        "from a seed are trained to look real too; models with "
                        "--appearance_dim; 0 = off)")
    c.add_argument("--lambda_z", type=float, default=0.0,
                   help="weight of the L1 between a random appearance code and the appearance "
                        "encoder's mean on the face made with it (BicycleGAN's latent "
                        "regression: different seeds give different looks; 0 = off)")
    c.add_argument("--vgg", default="auto", choices=("auto", "vgg16", "vgg19", "random"),
                   help="perceptual network: vgg16 (ImageNet weights, made by "
                        "`python scripts/get_vgg16.py`), vgg19 (a torchvision .pth given with "
                        "--vgg_path), random (random-init features: not a real perceptual "
                        "loss); auto = vgg19 when --vgg_path is given, else vgg16")
    c.add_argument("--vgg_path", default="", help="torchvision VGG19 .pth for --vgg vgg19")
    c.add_argument("--diffaug", default="",
                   help="differentiable augmentation of every (sketch, photo) pair the "
                        "discriminator sees, real or generated (DiffAugment, for a few "
                        "thousand photos): comma separated, of color, translation, cutout; "
                        "'' = off")
    c.add_argument("--ndf", type=int, default=64, help="discriminator filters in the first conv")
    c.add_argument("--n_layers_D", type=int, default=3, help="layers of each PatchGAN")
    c.add_argument("--num_D", type=int, default=2, help="discriminators (scales)")
    c.add_argument("--norm_D", default="instance", choices=("instance", "none"),
                   help="discriminator norm layer")


def config_dict(opt):
    """What a DeepFaceDrawing checkpoint folder's config.json holds."""
    return arch_dict(opt, ARCH_KEYS + INFERENCE_KEYS, "deepfacedrawing")


def finish(opt, phase):
    """Derived values and cross-option checks."""
    check_limits(opt, LIMITS)
    try:
        opt.fm_channels = [int(c) for c in str(opt.fm_channels).split(",")]
    except ValueError:
        raise OptionError(f"--fm_channels must be comma-separated integers, "
                          f"got {opt.fm_channels!r}") from None
    if not all(1 <= c <= FM_CHANNELS_MAX for c in opt.fm_channels):
        raise OptionError(f"--fm_channels {opt.fm_channels}: each must be in "
                          f"1..{FM_CHANNELS_MAX}")
    if len(opt.fm_channels) != opt.ae_n_down + 2:
        raise OptionError(f"--fm_channels needs ae_n_down+2 = {opt.ae_n_down + 2} "
                          f"numbers, got {len(opt.fm_channels)}")
    try:
        boxes = scaled_boxes(opt.image_size)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    factor = 2 ** (opt.ae_n_down + 1)
    for key, (_, _, size) in boxes.items():
        if size % factor:
            raise OptionError(f"--image_size {opt.image_size} with --ae_n_down "
                              f"{opt.ae_n_down}: the {key or 'remainder'} crop ({size} px) "
                              f"is not divisible by {factor}")
    if opt.image_size % (2 ** opt.n_downsample_global):
        raise OptionError("--image_size must be divisible by 2^n_downsample_global")
    opt.refine_by_part = parse_refine(opt.refine)
    if opt.k < 1:
        raise OptionError("--k must be at least 1")
    if phase == "train":
        opt.ae_from = opt.ae_from or opt.expr_dir
    if opt.appearance_dim < 0:
        raise OptionError("--appearance_dim must be >= 0")
    if phase == "train":
        for name in ("lambda_gan_random", "lambda_z"):
            if getattr(opt, name) < 0:
                raise OptionError(f"--{name} must be >= 0")
            if getattr(opt, name) > 0 and not opt.appearance_dim:
                raise OptionError(f"--{name} trains random appearance codes: it needs "
                                  f"--appearance_dim")
        if opt.lambda_gan_random > 0 and opt.lambda_gan <= 0 and opt.lambda_feat <= 0:
            raise OptionError("--lambda_gan_random needs the discriminator (--lambda_gan or "
                              "--lambda_feat above 0)")
    if phase == "test" and not opt.appearance_dim and (
            opt.appearance or opt.appearance_seed is not None or opt.n_outputs > 1):
        raise OptionError("--appearance, --appearance_seed and --n_outputs need a model with "
                          "an appearance code (this DeepFaceDrawing model has none)")
    return opt
