"""The options of the semantics-preserving sketch embedding (Yang et al.,
IEEE TMM 2023): three pSp IR-SE encoders over a StyleGAN2 generator.

Architecture defaults are the authors' model (``configs/sp_embedding/
official.json``): a 1024 generator (18 W+ rows), encoders on 256x256 inputs,
22 sketch classes. Smaller presets (``tiny``) make models that train on a
CPU. An authors' ``model.pt`` given as ``--params`` sets them from the file
itself (its saved options and tensor shapes)."""

from models.files import arch_dict
from options.base_options import OptionError, check_limits

# What config.json holds for this method (architecture + inference defaults).
ARCH_KEYS = ("output_size", "style_dim", "n_mlp", "channel_multiplier", "channel_max",
             "label_nc", "encoder_layers", "encoder_width", "encoder_size", "break_layer",
             "w_scale", "wplus_scale")
INFERENCE_KEYS = ()
# What an architecture may be, wherever it comes from (flags, a preset, a
# folder's config.json, a model.pt's shapes): generous around the authors'
# 1024 / 512 model, small enough that building it cannot take the memory.
LIMITS = {"output_size": (8, 2048), "style_dim": (1, 2048), "n_mlp": (1, 16),
          "channel_multiplier": (0.0625, 16), "channel_max": (1, 2048), "label_nc": (1, 255),
          "encoder_width": (0.01, 4), "encoder_size": (32, 1024), "break_layer": (1, 64),
          "w_scale": (1e-6, 1e6), "wplus_scale": (1e-6, 1e6)}

STAGES = ("stylegan", "parser", "labeler", "encoder")
INPUT_KINDS = ("auto", "labels", "lines")
LABELERS = ("auto", "network", "regions")


def add_arch_options(a):
    a.add_argument("--output_size", type=int, default=1024,
                   help="generator output size in pixels (a power of two; the W+ code has "
                        "2*log2(size)-2 rows: 18 at 1024)")
    a.add_argument("--style_dim", type=int, default=512, help="size of W and of each W+ row")
    a.add_argument("--n_mlp", type=int, default=8, help="layers of the mapping network")
    a.add_argument("--channel_multiplier", type=float, default=2,
                   help="StyleGAN2 channel multiplier of the 64..1024 px layers (2 = config-f)")
    a.add_argument("--channel_max", type=int, default=512,
                   help="cap on every generator/discriminator channel count (512 = the "
                        "authors'; smaller for CPU models)")
    a.add_argument("--label_nc", type=int, default=22,
                   help="semantic sketch classes (the authors' 22-class edge scheme); the sketch "
                        "encoders take label_nc channels (the one-hot without background)")
    a.add_argument("--encoder_layers", type=int, default=50, choices=(18, 50, 100, 152),
                   help="IR-SE depth of the three encoders (50 = the authors'; 18 = a compact "
                        "CPU configuration of ours)")
    a.add_argument("--encoder_width", type=float, default=1.0,
                   help="channel width factor of the encoders' bodies (1 = the authors')")
    a.add_argument("--encoder_size", type=int, default=256,
                   help="input size of the encoders (sketches are resized to it; appearance "
                        "photos are loaded at twice it and 2x2-mean pooled)")
    a.add_argument("--break_layer", type=int, default=8,
                   help="W+ rows below it come from the sketch, the rest from the appearance "
                        "(8 of 18 in the authors' model)")
    a.add_argument("--w_scale", type=float, default=60.0,
                   help="output scale of the W encoder (the authors' 60; inert: the mapping "
                        "network normalises it away)")
    a.add_argument("--wplus_scale", type=float, default=6.0,
                   help="output scale of the two W+ encoders (the authors' 0.1 x 60)")


def add_common_options(parser):
    """None beyond the architecture (kept for the option-module contract)."""


def add_test_options(parser):
    g = parser.add_argument_group("sketch embedding inference")
    g.add_argument("--sketch_kind", default="auto", choices=INPUT_KINDS,
                   help="labels: the authors' semantic sketches (8-bit PNGs whose pixel values "
                        "are stroke classes, 0 = background); lines: black-on-white sketches, "
                        "labelled automatically first; auto: decided per file")
    g.add_argument("--labeler", default="auto", choices=LABELERS,
                   help="how plain sketches get their stroke labels: network (the stroke "
                        "labeller saved with the model), regions (by face-part regions of the "
                        "component layout), auto = network when the model has one")
    g.add_argument("--save_labels", action="store_true",
                   help="also write the labelled sketch (coloured) to OUTPUT/labels/")
    g.add_argument("--random_appearance", action="store_true",
                   help="appearance rows from a random W (M(z)) instead of a photo")
    g.add_argument("--latent_mask", default="",
                   help="style mixing: comma-separated W+ rows (e.g. 8,9,10) replaced by a random "
                        "W (or blended with it by --mix_alpha)")
    g.add_argument("--mix_alpha", type=float, default=None,
                   help="style mixing weight: rows = alpha * random + (1 - alpha) * own")
    g.add_argument("--couple_outputs", action="store_true",
                   help="also write sketch | result | reference side by side to OUTPUT/coupled/")
    g.add_argument("--resize_outputs", action="store_true",
                   help="write results at 256 px (2x2 / 4x4 mean pooled) instead of the "
                        "generator's size")
    g.add_argument("--save_latents", action="store_true",
                   help="also write each W+ code (rows x style_dim float32) to OUTPUT/latents/")


def add_train_options(parser):
    from options.sp_embedding_train import add_sp_train_options
    add_sp_train_options(parser)


def parse_rows(text, n_latent):
    """'8,9,10' -> [8, 9, 10] (every row in 0..n_latent-1)."""
    rows = []
    for item in str(text).split(","):
        item = item.strip()
        if not item:
            continue
        try:
            row = int(item)
        except ValueError:
            raise OptionError(f"--latent_mask: {item!r} is not a row number") from None
        if not 0 <= row < n_latent:
            raise OptionError(f"--latent_mask: row {row} is outside 0..{n_latent - 1}")
        rows.append(row)
    return sorted(set(rows))


def preset_from_file(path):
    """Architecture options of an authors' model.pt, read from the file."""
    from models.sp_embedding.checkpoint import read_authors_opts
    return read_authors_opts(path)


def n_latent(output_size):
    return 2 * (int(output_size).bit_length() - 1) - 2


def config_dict(opt):
    return arch_dict(opt, ARCH_KEYS + INFERENCE_KEYS, "sp_embedding")


def finish(opt, phase):
    check_limits(opt, LIMITS)
    size = opt.output_size
    if size < 8 or size & (size - 1):
        raise OptionError(f"--output_size must be a power of two >= 8, got {size}")
    opt.n_latent = n_latent(size)
    if not 1 <= opt.break_layer < opt.n_latent:
        raise OptionError(f"--break_layer must be between 1 and {opt.n_latent - 1} for a "
                          f"{size} generator, got {opt.break_layer}")
    if opt.encoder_size < 32 or opt.encoder_size & (opt.encoder_size - 1):
        raise OptionError(f"--encoder_size must be a power of two >= 32, got {opt.encoder_size}")
    if opt.label_nc < 1:
        raise OptionError("--label_nc must be at least 1")
    if phase == "test":
        opt.latent_rows = parse_rows(opt.latent_mask, opt.n_latent)
        if opt.mix_alpha is not None and not 0.0 <= opt.mix_alpha <= 1.0:
            raise OptionError(f"--mix_alpha must lie in [0, 1], got {opt.mix_alpha}")
        if opt.mix_alpha is not None and not opt.latent_rows:
            raise OptionError("--mix_alpha needs --latent_mask (the rows to blend)")
    if phase == "train":
        from options.sp_embedding_train import finish_training
        finish_training(opt)
    return opt
