"""Options for the drawing app (draw.py): the inference options of the
DeepFaceDrawing model (``--params``), where the sketch embedding's
checkpoint is (``--sp_params``), where the web server listens and how much
it accepts."""

import ipaddress
import os

from models.files import CheckpointError
from models.methods import DEFAULT_METHOD, method_of_checkpoint
from options.base_options import OptionError, bundled_params
from options.test_options import TestOptions

LOOPBACK_NAMES = ("localhost",)
SP_METHOD = "sp_embedding"
DEFAULT_SP_PARAMS = bundled_params(SP_METHOD)


def is_loopback(host):
    """True for 127.x.x.x, ::1 and 'localhost' (reachable from this machine only)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def sp_options(path, opt):
    """The sketch embedding's inference options for the checkpoint at
    ``path``, as ``models.methods.prepare_inference`` takes them: its
    architecture from the folder's config.json or the model.pt itself
    (``--preset auto``); device, seed and verbosity from ``opt``."""
    argv = ["--method", SP_METHOD, "--params", path, "--gpu", opt.gpu, "--seed", str(opt.seed)]
    return TestOptions().parse(argv + (["--verbose"] if opt.verbose else []))


class DrawOptions(TestOptions):
    description = ("The drawing app: a local web page where you draw a face sketch and "
                   "watch it turn into a face as you draw, with DeepFaceDrawing (--params) "
                   "and, when its checkpoint is there, the sketch embedding (--sp_params).")

    # batch conversion only (the page picks the appearance)
    hidden = ("input", "output", "shadow", "batch_size", "appearance", "appearance_seed",
              "n_outputs")

    def initialize(self, parser):
        parser = super().initialize(parser)
        g = parser.add_argument_group("drawing app")
        g.add_argument("--sp_params", default=None,
                       help="the sketch embedding's checkpoint: a folder of ours (its "
                            "config.json names \"method\": \"sp_embedding\") or the authors' "
                            "model.pt. Default: params/sp_embedding when that folder exists, "
                            "else the method is not offered; '' leaves it out")
        g.add_argument("--host", default="127.0.0.1",
                       help="address to listen on; the default serves this machine only. "
                            "Anything else (0.0.0.0 for every interface) lets other machines "
                            "use the app and is announced with a warning")
        g.add_argument("--port", type=int, default=8000,
                       help="TCP port (0 picks any free port; the address is printed)")
        g.add_argument("--max_upload_mb", type=float, default=10.0,
                       help="largest request body accepted, in MB (bigger ones get HTTP 413)")
        parser.set_defaults(max_pixels=4096 * 4096)   # a 512 canvas needs far less
        g.add_argument("--no_warmup", action="store_true",
                       help="skip the blank conversions at start that compile Jittor's kernels "
                            "(the first stroke then waits for the compilation)")
        return parser

    def finish(self, opt):
        super().finish(opt)
        if opt.method != DEFAULT_METHOD:
            raise OptionError(f"--params is the DeepFaceDrawing checkpoint, but {opt.params} "
                              f"holds (or --method names) {opt.method}: give a sketch-embedding "
                              f"checkpoint with --sp_params")
        if not 0 <= opt.port <= 65535:
            raise OptionError(f"--port must be between 0 and 65535, got {opt.port}")
        if not opt.max_upload_mb > 0:
            raise OptionError(f"--max_upload_mb must be positive, got {opt.max_upload_mb}")
        if not opt.host.strip():
            raise OptionError("--host must not be empty (use 0.0.0.0 for every interface)")
        opt.host_is_loopback = is_loopback(opt.host)
        self.finish_sp(opt)
        return opt

    @staticmethod
    def finish_sp(opt):
        """``opt.sp_params`` resolved ('' = not offered), ``opt.sp_opt`` (the
        sketch embedding's options, or None) and ``opt.sp_missing`` (why it
        is not offered, or None)."""
        opt.sp_opt, opt.sp_missing = None, None
        path = opt.sp_params
        if path is None:
            path = DEFAULT_SP_PARAMS if os.path.isdir(DEFAULT_SP_PARAMS) else ""
            if not path:
                opt.sp_missing = ("no checkpoint: params/sp_embedding does not exist; "
                                  "draw.py --sp_params PATH offers one")
        elif not path:
            opt.sp_missing = "left out (draw.py --sp_params '')"
        opt.sp_params = path
        if not path:
            return
        if not os.path.exists(path):
            raise OptionError(f"--sp_params {path}: not found (a folder of ours with "
                              f"config.json, or the authors' model.pt; --sp_params '' leaves "
                              f"the sketch embedding out)")
        try:
            method = method_of_checkpoint(path)
        except CheckpointError as exc:
            raise OptionError(f"--sp_params: {exc}") from None
        if method != SP_METHOD:
            holds = f"holds a {method} checkpoint" if method else "has no config.json"
            raise OptionError(f"--sp_params {path} {holds}: give a sketch-embedding folder "
                              f"(config.json naming \"method\": \"sp_embedding\") or the "
                              f"authors' model.pt (--sp_params '' leaves the method out)")
        opt.sp_opt = sp_options(path, opt)
