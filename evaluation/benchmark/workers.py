"""One measurement, one fresh process: the protocol between the plan and
the workers.

``run_worker(kind, job)`` starts ``python -m evaluation.benchmark.workers
KIND JOB`` (JOB a JSON dict) and returns the result dict the worker printed
on its last ``BENCHMARK-RESULT`` line, or ``{'error': ...}``. Workers are
found by kind in ``WORKERS`` (``"module:function"``, imported in the worker
process only, so the PyTorch process never imports Jittor); a new
measurement is a function ``worker(job) -> dict`` registered there.
"""

import importlib
import json
import os
import subprocess
import sys
import time

from evaluation.benchmark.timing import loadavg, rss_mb

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULT_TAG = "BENCHMARK-RESULT "
WORKER_MODULE = "evaluation.benchmark.workers"      # run with -m in a fresh process

WORKERS = {
    "peak": "evaluation.benchmark.jittor_workers:worker_peak",
    "infer": "evaluation.benchmark.jittor_workers:worker_infer",
    "train": "evaluation.benchmark.jittor_workers:worker_train",
    "torch": "evaluation.benchmark.torch_worker:worker_torch",
    "torch_train": "evaluation.benchmark.torch_train:worker_torch_train",
    "sp": "evaluation.benchmark.sp:worker_sp",
    "torch_sp": "evaluation.benchmark.sp_peer:worker_torch_sp",
    "sp_train": "evaluation.benchmark.sp_train:worker_sp_train",
    "torch_sp_train": "evaluation.benchmark.sp_train_peer:worker_torch_sp_train",
    "load": "evaluation.benchmark.load:worker_load",
    "onnx_export": "evaluation.benchmark.onnx_workers:worker_export",
    "onnx": "evaluation.benchmark.onnx_workers:worker_onnx",
}


def log(msg):
    """Progress, on stderr (the tables go to stdout)."""
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- in the worker
def worker_main(kind, job_json):
    """Run the worker ``kind`` on the JSON job and print its result line."""
    module, _, name = WORKERS[kind].partition(":")
    result = getattr(importlib.import_module(module), name)(json.loads(job_json))
    result["rss_peak_mb"] = max(result.get("rss_peak_mb", 0.0), rss_mb())
    sys.stdout.flush()
    print(RESULT_TAG + json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------- in the plan
def run_worker(kind, job, python=None, env_extra=None, timeout=None, verbose=False):
    """Run one measurement in a fresh process; its result dict, or {'error': ...}."""
    cmd = [python or sys.executable, "-m", WORKER_MODULE, kind, json.dumps(job)]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(env_extra or {})
    t, load_before = time.time(), loadavg()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if verbose and proc.stderr.strip():
        log(proc.stderr.rstrip())
    res = _result_of(proc.stdout)
    if res is None:
        return {"error": _failure(proc)}
    res.update(wall_s=time.time() - t, load_before=load_before, load_after=loadavg())
    return res


def _result_of(stdout):
    for line in stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    return None


def _failure(proc):
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
    how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else \
        f"exit status {proc.returncode}"
    return f"{how}: {' | '.join(tail)[-400:]}"


def torch_available(python):
    """(version, CUDA usable) of torch in ``python``, or (None, False)."""
    code = "import torch, numpy; print(torch.__version__, torch.cuda.is_available())"
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None, False
    if proc.returncode != 0 or not proc.stdout.strip():
        return None, False
    version, cuda = proc.stdout.split()[-2:]
    return version, cuda == "True"


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1], sys.argv[2]))
