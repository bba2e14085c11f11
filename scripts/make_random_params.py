"""Write a checkpoint folder in the authors' layout with random weights.

For smoke tests and for checking a set-up before training:

    python scripts/make_random_params.py --preset tiny --out checkpoints/random
    python demo.py --params checkpoints/random
"""

import sys

from options.base_options import BaseOptions


class RandomParamsOptions(BaseOptions):
    description = __doc__.strip().splitlines()[0]

    def initialize(self, parser):
        parser = super().initialize(parser)
        g = parser.add_argument_group("output")
        g.add_argument("--out", required=True, help="checkpoint folder to write")
        g.add_argument("--bank_size", type=int, default=64, help="latents per gender bank")
        g.add_argument("--single_bank", action="store_true",
                       help="write one bank per part ({part}_feature.bin) instead of man_/female_")
        g.add_argument("--bank_format", choices=("bin", "npy"), default="bin")
        g.add_argument("--no_config", action="store_true",
                       help="do not write config.json (like the authors' Params folder)")
        return parser


def main(argv=None):
    opt = RandomParamsOptions().parse(argv)
    from util import jittor_env
    jittor_env.setup(opt.gpu)
    import numpy as np

    from models import checkpoint as ckpt
    from models import create_model
    from util.components import GENDERS, pipeline_parts

    jt = jittor_env.get_jittor()
    jt.set_global_seed(opt.seed)
    rng = np.random.default_rng(opt.seed)
    for part in pipeline_parts(opt.pipeline):
        create_model("ae", opt, part=part).save(opt.out)
        genders = ("all",) if opt.single_bank else GENDERS
        for g in genders:
            bank = rng.standard_normal((opt.bank_size, opt.latent_dim)).astype(np.float32)
            ckpt.write_bank(ckpt.bank_path(opt.out, part, g, "." + opt.bank_format), bank)
    create_model("combine", opt).save(opt.out)
    if not opt.no_config:
        from models.methods import get_method
        ckpt.write_config(opt.out, get_method(opt.method).option_module().config_dict(opt))
    print(f"wrote random {opt.image_size}px checkpoints to {opt.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
