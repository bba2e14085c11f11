"""Options for inference (demo.py, the drawing app, evaluation)."""

import os

from options.base_options import DEFAULT_PARAMS, REPO_ROOT, BaseOptions, OptionError
from util.components import PART_NAMES, PARTS, part_key

GENDERS = ("male", "female", "all")


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


class TestOptions(BaseOptions):
    description = ("Turn face sketches into face photos with DeepFaceDrawing "
                   "(component embedding, manifold projection, feature mapping, synthesis).")

    def initialize(self, parser):
        parser = super().initialize(parser)
        g = parser.add_argument_group("inference")
        g.add_argument("--params", default=DEFAULT_PARAMS,
                       help="checkpoint folder in the authors' layout (AE_whole/, Combine/): "
                            "the bundled model, one you trained, or the authors' Params")
        g.add_argument("--input", nargs="+", default=[os.path.join(REPO_ROOT, "test_input")],
                       help="sketch images or folders of them (PNG/JPEG/...; black lines on white)")
        g.add_argument("--output", default=os.path.join(REPO_ROOT, "test_output"),
                       help="folder for the generated faces")
        g.add_argument("--k", type=int, default=15,
                       help="nearest neighbours used by the manifold projection")
        g.add_argument("--refine", default="1.0",
                       help="refinement weight t in [0,1] (0 = raw sketch encoding, 1 = full "
                            "projection): one value, or per part like 'eye1=0.8,mouth=0.5' "
                            f"(parts: {', '.join(PART_NAMES[p] for p in PARTS)}, all)")
        g.add_argument("--gender", default="all", choices=GENDERS,
                       help="which feature bank to project onto")
        g.add_argument("--shadow", action="store_true",
                       help="also write each sketch's shadow image (blended neighbours)")
        g.add_argument("--batch_size", type=int, default=1,
                       help="sketches converted per forward pass")
        return parser

    def finish(self, opt):
        super().finish(opt)
        opt.refine_by_part = parse_refine(opt.refine)
        if opt.k < 1:
            raise OptionError("--k must be at least 1")
        if opt.batch_size < 1:
            raise OptionError("--batch_size must be at least 1")
        return opt
