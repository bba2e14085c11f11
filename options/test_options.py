"""Options for inference (demo.py, the drawing app, evaluation)."""

import os

from data.sketch_io import DEFAULT_MAX_PIXELS
from options.base_options import REPO_ROOT, BaseOptions, OptionError, seed_value

MAX_N_OUTPUTS = 100     # faces per sketch: each is planned and held in memory per batch


class TestOptions(BaseOptions):
    description = ("Turn face sketches into face photos with DeepFaceDrawing "
                   "(component embedding, manifold projection, feature mapping, synthesis).")
    phase = "test"

    def initialize(self, parser):
        parser = super().initialize(parser)
        g = parser.add_argument_group("inference")
        g.add_argument("--params", default=None,       # the method's bundled model
                       help="checkpoint folder: the bundled model (params/default, or "
                            "params/sp_embedding with --method sp_embedding), one you trained "
                            "(checkpoints/NAME), or the authors' published checkpoints")
        g.add_argument("--input", nargs="+", default=[os.path.join(REPO_ROOT, "test_input")],
                       help="sketch images or folders of them (PNG/JPEG/...; black lines on white)")
        g.add_argument("--output", default=os.path.join(REPO_ROOT, "test_output"),
                       help="folder for the generated faces")
        g.add_argument("--batch_size", type=int, default=1,
                       help="sketches converted per forward pass")
        g.add_argument("--max_pixels", type=int, default=DEFAULT_MAX_PIXELS,
                       help="largest image accepted, in pixels of the square it is padded to "
                            "(longer side squared); bigger files are skipped and reported "
                            "before they are decoded")
        a = parser.add_argument_group("appearance (models with an appearance code)")
        a.add_argument("--appearance", default="",
                       help="a reference photo, or a folder of them paired with the sketches in "
                            "sorted order, whose hair, skin and background colours the faces take")
        a.add_argument("--appearance_seed", type=seed_value, default=None,
                       help="draw the appearance at random from this seed instead (with "
                            "--n_outputs, output k uses the draw (seed, k))")
        a.add_argument("--n_outputs", type=int, default=1,
                       help="faces per sketch, each with another random appearance "
                            f"(STEM_0.png, STEM_1.png, ...; at most {MAX_N_OUTPUTS})")
        return parser

    def finish(self, opt):
        super().finish(opt)
        if opt.batch_size < 1:
            raise OptionError("--batch_size must be at least 1")
        if opt.max_pixels < 1:
            raise OptionError("--max_pixels must be at least 1")
        if not 1 <= opt.n_outputs <= MAX_N_OUTPUTS:
            raise OptionError(f"--n_outputs must be between 1 and {MAX_N_OUTPUTS} (run again "
                              f"with other --appearance_seed values for more)")
        if opt.n_outputs > 1 and opt.appearance:
            raise OptionError("--n_outputs draws random appearances; a reference photo "
                              "(--appearance) gives one: use one or the other")
        return opt
