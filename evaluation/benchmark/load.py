"""One conversion on a quiet machine and with other busy processes on it
(``worker_load``): the bundled models of both methods through their
inference contracts (a sketch file read and prepared, the face made, as
demo.py converts), timed quiet; then while ``busy`` processes spin (``python -c
'while True: pass'``, started after the model has warmed up, as load
arrives while the app runs), once with the thread count adapted to the free
cores (``util/threads.py``, what the contracts do) and once with every core
(OpenMP's own choice); then quiet again."""

import os
import signal
import subprocess
import sys
import time

from evaluation.benchmark.timing import timed

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKETCH = os.path.join(ROOT, "test_input", "face1.png")
BUSY_CODE = "while True: pass"


def start_busy(n):
    """``n`` processes that keep one core busy each."""
    return [subprocess.Popen([sys.executable, "-c", BUSY_CODE]) for _ in range(n)]


def stop_busy(procs):
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def conversion(method):
    """(one conversion with the bundled model of ``method`` as a call, its label)."""
    from models.inference import Appearance
    from models.methods import prepare_inference
    from options.test_options import TestOptions
    params = os.path.join(ROOT, "params", "default" if method == "deepfacedrawing"
                          else "sp_embedding")
    opt = TestOptions().parse(["--method", method, "--params", params])
    face = prepare_inference(opt)
    look = Appearance.random(0) if method == "sp_embedding" else Appearance.mean()

    def call():                  # read and prepare (normalise or label), then convert
        inputs, _ = face.read(SKETCH)
        return face([inputs], look)
    return call, f"{method}, bundled model ({face.size} px)"


def worker_load(job):
    """Quiet, loaded (adaptive and all cores) and quiet-again medians of one
    conversion per method (seconds)."""
    from util import jittor_env, threads
    jittor_env.setup("off")
    # Jittor quits on SIGCHLD ("maybe out of memory"): the busy processes are our children
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    out = {"busy": job["busy"], "cores": threads.usable_cores(), "rows": {}}
    rep, settle = job["repeats"], job.get("settle_s", 1.0)
    for method in job["methods"]:
        call, label = conversion(method)
        row = {"label": label, "quiet": timed(call, rep, job["warmup"])}
        row["threads_quiet"] = threads.note()
        procs = start_busy(job["busy"])
        try:
            time.sleep(settle)
            row["loaded"] = timed(call, rep, 1)
            row["threads_loaded"] = threads.note()
            threads.set_adaptive(False)
            row["loaded_all_cores"] = timed(call, rep, 1)
        finally:
            threads.set_adaptive(True)
            stop_busy(procs)
        time.sleep(settle)
        row["quiet_after"] = timed(call, rep, 1)
        out["rows"][method] = row
    return out
