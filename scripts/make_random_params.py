"""Write a checkpoint with random weights, for smoke tests and for checking a
set-up before training:

    python scripts/make_random_params.py --preset tiny --out checkpoints/random
    python demo.py --params checkpoints/random
    # the sketch embedding: our folder, or the authors' model.pt format
    python scripts/make_random_params.py --method sp_embedding --preset tiny --out checkpoints/sp
    python scripts/make_random_params.py --method sp_embedding --preset tiny --out model.pt

DeepFaceDrawing checkpoints are written in the authors' layout (AE_whole/,
Combine/); the sketch embedding's as our folder, or, when --out ends in .pt,
in the authors' model.pt format (state_dict, latent_avg, opts).
"""

import sys

from options.base_options import BaseOptions


class RandomParamsOptions(BaseOptions):
    description = __doc__.strip().splitlines()[0]

    def initialize(self, parser):
        parser = super().initialize(parser)
        g = parser.add_argument_group("output")
        g.add_argument("--out", required=True,
                       help="checkpoint folder to write (sketch embedding: a .pt file name "
                            "writes the authors' format)")
        g.add_argument("--bank_size", type=int, default=64, help="latents per gender bank")
        g.add_argument("--single_bank", action="store_true",
                       help="write one bank per part ({part}_feature.bin) instead of man_/female_")
        g.add_argument("--bank_format", choices=("bin", "npy"), default="bin")
        g.add_argument("--no_config", action="store_true",
                       help="do not write config.json (like the authors' Params folder)")
        return parser


def write_sp(opt):
    """Random sketch-embedding networks and latent_avg, in our folder or the
    authors' model.pt."""
    import numpy as np

    from models import create_model, files
    from models.methods import get_method
    from models.sp_embedding import checkpoint as sp_ckpt
    model = create_model("sp_embedding", opt)
    avg = np.random.default_rng(opt.seed).standard_normal((opt.n_latent, opt.style_dim))
    model.net.latent_avg = (0.1 * avg).astype(np.float32)
    config = get_method(opt.method).option_module().config_dict(opt)
    if opt.out.endswith(".pt"):
        sp_ckpt.write_authors_checkpoint(opt.out, model.networks(), model.net.latent_avg,
                                         dict(config, input_nc=opt.label_nc, device="cpu",
                                              n_styles=opt.n_latent,
                                              start_from_latent_avg=True))
    else:
        model.save(opt.out)
        if not opt.no_config:
            files.write_config(opt.out, config)
    print(f"wrote random {opt.output_size}px sketch-embedding checkpoints to {opt.out}")
    return 0


def main(argv=None):
    opt = RandomParamsOptions().parse(argv)
    from util import jittor_env
    jittor_env.setup(opt.gpu)
    jittor_env.get_jittor().set_global_seed(opt.seed)
    if opt.method == "sp_embedding":
        return write_sp(opt)
    import numpy as np

    from models import create_model, files
    from models.deepfacedrawing import checkpoint as ckpt
    from util.components import GENDERS, pipeline_parts

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
        files.write_config(opt.out, get_method(opt.method).option_module().config_dict(opt))
    print(f"wrote random {opt.image_size}px checkpoints to {opt.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
