"""Options shared by every entry point (pix2pixHD-style option classes).

Defaults come in three layers, later wins: the values below, then a preset
(``--preset``: a name in ``configs/`` or a JSON file; ``auto`` takes the
``config.json`` saved in the checkpoint folder, or ``official`` when there is
none, as in the authors' Params), then what is given on the command line.
"""

import argparse
import os
import sys

from configs import available, load_preset
from models.checkpoint import CheckpointError, read_config
from util.components import PIPELINES

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PARAMS = os.path.join(REPO_ROOT, "params", "default")

# The options that define the networks: saved with every checkpoint folder we
# write (config.json) so that loading it needs no flags.
ARCH_KEYS = ("image_size", "latent_dim", "ae_ngf", "ae_n_down", "ae_norm", "variant",
             "fm_channels", "fm_nc", "fm_sample_stats", "ngf", "n_downsample_global",
             "n_blocks_global", "norm", "pipeline")


def str2bool(v):
    if isinstance(v, bool):
        return v
    if v.lower() in ("1", "true", "yes", "on"):
        return True
    if v.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {v!r}")


class OptionError(ValueError):
    """Options that do not fit together."""


class BaseOptions:
    description = "DeepFaceDrawing"

    def initialize(self, parser):
        g = parser.add_argument_group("run")
        g.add_argument("--preset", default="auto",
                       help=f"option preset: one of {', '.join(available())}, a JSON file, or "
                            f"'auto' (the checkpoint folder's config.json, else 'official')")
        g.add_argument("--gpu", default=os.environ.get("DFD_GPU", "auto"),
                       choices=("auto", "on", "off"),
                       help="use a CUDA GPU: auto uses one when it is usable")
        g.add_argument("--seed", type=int, default=0, help="random seed (weight init, data order, sampling): same seed, same result")
        g.add_argument("--verbose", action="store_true", help="print the device in use, where the options came from, and more detail")

        a = parser.add_argument_group("architecture (set by --preset; flags override)")
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
        return parser

    # ------------------------------------------------------------------
    def preset_folder(self, opt):
        """The checkpoint folder whose config.json 'auto' reads (or None)."""
        return getattr(opt, "params", None)

    def make_parser(self):
        parser = argparse.ArgumentParser(
            description=self.description,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        return self.initialize(parser)

    def parse(self, args=None):
        """Parse ``args`` (default: sys.argv); exits with status 2 on bad input."""
        parser = self.make_parser()
        args = sys.argv[1:] if args is None else list(args)
        first, _ = parser.parse_known_args(args)
        try:
            defaults, source = self.resolve_preset(first)
        except (ValueError, CheckpointError) as exc:
            parser.error(str(exc))
        known = {a.dest for a in parser._actions}
        parser.set_defaults(**{k: v for k, v in defaults.items() if k in known})
        opt = parser.parse_args(args)
        opt.preset_source = source
        try:
            self.finish(opt)
        except OptionError as exc:
            parser.error(str(exc))
        return opt

    def resolve_preset(self, first):
        if first.preset != "auto":
            return load_preset(first.preset), f"preset {first.preset}"
        folder = self.preset_folder(first)
        cfg = read_config(folder) if folder else None
        if cfg is not None:
            return cfg, f"{os.path.join(folder, 'config.json')}"
        return load_preset("official"), "preset official"

    def finish(self, opt):
        """Derived values and cross-option checks."""
        try:
            opt.fm_channels = [int(c) for c in str(opt.fm_channels).split(",")]
        except ValueError:
            raise OptionError(f"--fm_channels must be comma-separated integers, "
                              f"got {opt.fm_channels!r}") from None
        if len(opt.fm_channels) != opt.ae_n_down + 2:
            raise OptionError(f"--fm_channels needs ae_n_down+2 = {opt.ae_n_down + 2} "
                              f"numbers, got {len(opt.fm_channels)}")
        from util.components import scaled_boxes
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
        return opt


def arch_dict(opt):
    """The architecture options, JSON-ready (what config.json holds)."""
    out = {k: getattr(opt, k) for k in ARCH_KEYS}
    out["fm_channels"] = ",".join(str(c) for c in out["fm_channels"])
    return out
