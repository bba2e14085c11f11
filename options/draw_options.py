"""Options for the drawing app (draw.py): the inference options plus where
the web server listens and how much it accepts."""

import ipaddress

from options.base_options import OptionError
from options.test_options import TestOptions

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host):
    """True for 127.x.x.x, ::1 and 'localhost' (reachable from this machine only)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class DrawOptions(TestOptions):
    description = ("The DeepFaceDrawing app: a local web page where you draw a face sketch "
                   "and watch it turn into a face as you draw.")

    hidden = ("input", "output", "shadow", "batch_size")   # batch conversion only

    def initialize(self, parser):
        parser = super().initialize(parser)
        g = parser.add_argument_group("drawing app")
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
                       help="skip the blank conversion at start that compiles Jittor's kernels "
                            "(the first stroke then waits for the compilation)")
        return parser

    def finish(self, opt):
        super().finish(opt)
        if not 0 <= opt.port <= 65535:
            raise OptionError(f"--port must be between 0 and 65535, got {opt.port}")
        if not opt.max_upload_mb > 0:
            raise OptionError(f"--max_upload_mb must be positive, got {opt.max_upload_mb}")
        if not opt.host.strip():
            raise OptionError("--host must not be empty (use 0.0.0.0 for every interface)")
        opt.host_is_loopback = is_loopback(opt.host)
        return opt
