"""Export a trained model of either method to ONNX, to run without Jittor:

    python scripts/export_onnx.py --params params/default --out exported/dfd
    python scripts/export_onnx.py --params params/sp_embedding --out exported/sp
    python scripts/export_onnx.py --params Params/ --out exported/authors_dfd    # the authors'
    python scripts/export_onnx.py --params model.pt --out exported/authors_sp     # the authors'
    python demo.py --backend onnx --params exported/dfd                           # no Jittor needed

One .onnx file per network (checked with onnx.checker; weights over
--external_data_mb in a .onnx.data file beside it), the feature banks or
the average latent as .npy, config.json (the options) and manifest.json
(method, sizes, component boxes, every file's SHA-256, and how far each
network's ONNX Runtime output is from its Jittor module's on seeded inputs,
unless --no_verify). The method and the architecture come from the
checkpoint as for demo.py (--method, --preset).

Exit status: 0 written, 2 bad arguments, a missing or damaged checkpoint,
or onnx not installed (pip install -e '.[onnx]').
"""

import os
import sys
import time

from options.base_options import BaseOptions


class ExportOptions(BaseOptions):
    description = __doc__.strip().splitlines()[0]

    def initialize(self, parser):
        parser = super().initialize(parser)
        g = parser.add_argument_group("export")
        g.add_argument("--params", default=None,
                       help="the checkpoint: a folder (ours, or the authors' Params) or the "
                            "sketch embedding's model.pt; by default the method's bundled model")
        g.add_argument("--out", default="", help="folder to write the exported model to "
                                                 "(required)")
        g.add_argument("--external_data_mb", type=float, default=1900.0,
                       help="a network whose weights are larger keeps them in NAME.onnx.data "
                            "beside NAME.onnx (ONNX files stop at 2 GB)")
        g.add_argument("--no_verify", action="store_true",
                       help="skip running each exported network once in ONNX Runtime beside "
                            "its Jittor module on seeded inputs (the difference goes into "
                            "manifest.json)")
        return parser


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    return 2


def main(argv=None):
    opt = ExportOptions().parse(argv)
    from models.files import WHERE_FROM, CheckpointError
    from models.methods import get_method
    if not opt.out:
        return fail("--out FOLDER is required (where the exported model goes)")
    if not os.path.exists(opt.params):
        return fail(f"--params {opt.params}: not found. {WHERE_FROM}")
    if os.path.exists(opt.out) and not os.path.isdir(opt.out):
        return fail(f"--out {opt.out}: exists and is not a folder")
    if os.path.realpath(opt.out) == os.path.realpath(opt.params):
        return fail("--out must differ from --params (the export would mix with the checkpoint)")
    try:
        import onnx  # noqa: F401
    except ImportError:
        return fail("exporting needs the onnx package: pip install -e '.[onnx]' (or pip "
                    "install onnx)")
    from util import jittor_env
    try:
        jittor_env.setup(opt.gpu)
    except jittor_env.JittorSetupError as exc:
        return fail(str(exc))
    from models.onnx_export import export_checkpoint
    module = get_method(opt.method).option_module()
    config = module.config_dict(opt)
    print(f"export_onnx: {opt.method} from {opt.params} (options from {opt.preset_source}) "
          f"-> {opt.out}", file=sys.stderr, flush=True)
    start = time.time()
    try:
        manifest = export_checkpoint(opt, opt.out, config, module.ARCH_KEYS,
                                     int(opt.external_data_mb * 2 ** 20),
                                     say=lambda msg: print(msg, file=sys.stderr, flush=True),
                                     verify=not opt.no_verify)
    except CheckpointError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot write {getattr(exc, 'filename', None) or opt.out} "
                    f"({exc.strerror or exc})")
    total = sum(e["bytes"] for e in manifest["files"].values())
    print(f"exported {len(manifest['networks'])} networks, {len(manifest['files'])} files "
          f"({total / 2 ** 20:.1f} MB) to {opt.out} in {time.time() - start:.1f} s; every graph "
          f"passes onnx.checker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
