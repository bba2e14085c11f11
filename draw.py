"""The drawing app: draw a face sketch in the browser, watch it become a face,
with DeepFaceDrawing and the semantics-preserving sketch embedding side by
side (the page switches between them).

    python draw.py                         # the bundled models, http://127.0.0.1:8000/
    python draw.py --params Params --port 0
    python draw.py --sp_params checkpoints/sp        # or the authors' model.pt

``--params`` is the DeepFaceDrawing checkpoint (default params/default).
``--sp_params`` is the sketch embedding's: a folder of ours whose
config.json names "method": "sp_embedding", or the authors' model.pt; by
default params/sp_embedding when that folder exists, else the page offers
DeepFaceDrawing alone (``--sp_params ''`` leaves it out too). Both methods
take an appearance on the page, a reference photo or a random draw ("new
appearance"), when the model has one: the sketch embedding always, a
DeepFaceDrawing model when it was trained with --appearance_dim.

Prints the address to open. Listens on 127.0.0.1 (this machine only) unless
--host says otherwise. Ctrl+C stops it. Exit status 2: bad arguments,
missing or damaged checkpoints, or the port cannot be opened. Ctrl+C or
SIGTERM: "stopped.", exit 0.
"""

import signal
import sys
import time

from util.entry import require_dependencies

require_dependencies()

from options.draw_options import DrawOptions  # noqa: E402


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    return 2


def say(msg):
    print(msg, file=sys.stderr, flush=True)


class Stop(Exception):
    """Ctrl+C or SIGTERM: stop serving, cleanly."""


def _stop(signum, frame):
    raise Stop()


def main(argv=None):
    opt = DrawOptions().parse(argv)
    from models.methods import prepare_inference
    from util import jittor_env
    from util.cli import UsageError
    sp = opt.sp_opt
    offered = (f"sp_embedding from {opt.sp_params} ({sp.output_size}x{sp.output_size})"
               if sp is not None else f"sp_embedding not offered ({opt.sp_missing})")
    say(f"draw: {opt.method} from {opt.params} ({opt.image_size}x{opt.image_size}); "
        f"{offered}; {jittor_env.describe_plan(opt.gpu)}")
    try:
        prepare_inference(opt, build_model=False)     # the app builds its own model
    except UsageError as exc:
        return fail(str(exc))
    # Jittor installs a SIGINT handler of its own ("Caught SIGINT, quick exit",
    # exit 1): ours stop the server cleanly instead, for SIGTERM too.
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        return serve(opt)
    except (Stop, KeyboardInterrupt):
        say("stopped.")
        return 0


def serve(opt):
    """Load the models, open the port, serve until stopped."""
    from app.server import AppServer
    from app.sketch_app import load_app
    from models.files import CheckpointError
    try:
        app = load_app(opt)
    except CheckpointError as exc:
        return fail(str(exc))
    if not opt.host_is_loopback:
        say(f"warning: listening on {opt.host}: anyone who can reach this machine on port "
            f"{opt.port} can use the app (and its CPU/GPU). Use the default --host 127.0.0.1 "
            f"to keep it to this machine.")
    try:
        server = AppServer(app, opt.host, opt.port)
    except OSError as exc:
        hint = " (is another copy running? --port 0 picks a free port)" if opt.port else ""
        return fail(f"cannot listen on {opt.host}:{opt.port}: {exc.strerror or exc}{hint}")
    try:
        if not opt.no_warmup:
            say("models loaded; warming up (the first run compiles Jittor's kernels)...")
            start = time.time()
            app.warm_up()
            say(f"ready in {time.time() - start:.1f} s")
        for method in app.methods.values():
            say(f"  {method.title}: {method.description}")
        print(f"DeepFaceDrawing app: {server.url}", flush=True)
        if opt.host in ("0.0.0.0", "::"):
            say(f"(listening on every interface, port {server.port})")
        say("Ctrl+C stops the app.")
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
