"""The drawing app: draw a face sketch in the browser, watch it become a face.

    python draw.py                         # the bundled model, http://127.0.0.1:8000/
    python draw.py --params Params --port 0

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
    say(f"draw: {opt.method} from {opt.params} ({opt.image_size}x{opt.image_size}; "
        f"{jittor_env.describe_plan(opt.gpu)})")
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
    """Load the model, open the port, serve until stopped."""
    from app.server import AppServer, load_app
    from models.checkpoint import CheckpointError
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
            say("model loaded; warming up (the first run compiles Jittor's kernels)...")
            start = time.time()
            app.warm_up()
            say(f"ready in {time.time() - start:.1f} s ({app.description})")
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
