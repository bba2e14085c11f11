"""Speed and memory of the sketch-to-face pass, measured against the machine.

    python scripts/benchmark.py                    # official + tiny, batch 1 and 8
    python scripts/benchmark.py --quick            # tiny, batch 1, few repeats (smoke test)
    python scripts/benchmark.py --configs small --batch 1 --repeats 9 --torch off

Prints Markdown tables on stdout (progress goes to stderr):

* the machine's rate: a large float32 matrix product (NumPy, Jittor and,
  when it is there, PyTorch) measured in the same run; the best of them is
  the rate the *floor* is computed with: floor = FLOPs / rate;
* FLOPs of every network, counted analytically over the module tree
  (2 x multiply-adds of Conv2d, ConvTranspose and Linear layers);
* per configuration and batch size: median latency, GFLOP/s achieved and the
  ratio to the floor for the component encoders, the FM decoders, the
  generator G, all networks chained (encoders -> FM -> paste -> G) and the
  whole sketch-to-face pass (the inference contract, ``DFDInference``: uint8
  sketches in, uint8 photos out, manifold projection included), with the same networks
  written in PyTorch as the peer when ``torch`` can be imported;
* where the time of the pass goes (encode, project, synthesize; the first
  call, which compiles, and the second, which must not);
* one optimisation step of each DeepFaceDrawing training stage (``ae``: the
  five sketch autoencoders; ``combine``: FM decoders + G + appearance
  encoder against the multiscale D, every loss), batch 1, built by the real
  trainers, beside the same step in PyTorch (same networks, weights, losses,
  Adam and batch; timed only once the losses of the first two steps agree);
* peak resident memory of inference and of each training step;
* on a CUDA machine (``--gpu auto|on``) the same latency table on the GPU,
  and float16 where Jittor runs it, with the output difference to float32;
* the sketch embedding (``--sp_configs``: the authors' size and the bundled
  model's by default): its three encoders, mapping network, StyleGAN2
  generator and the whole pass, with their FLOPs, the ratio to the floor and
  the peak memory, beside the PyTorch peer (the authors' networks with their
  pure-PyTorch fallbacks of the CUDA ops, on the same seeded weights, outputs
  checked against ours first); and one step of each of its training stages
  (``--sp_train``: StyleGAN2 with and without R1 and the path length, the
  encoder step) beside the same step in PyTorch, with the peak memory;
* ONNX Runtime beside Jittor (``--onnx``; on the CPU, when onnx and
  onnxruntime are installed): both methods' networks exported by
  ``scripts/export_onnx.py``'s exporter from the same seeded weights, the
  same rows timed through the Jittor-free runtime (``demo.py --backend
  onnx``), their output difference to Jittor's and the ratio of the times.

Weights are random (no checkpoint needed) and the same in Jittor and PyTorch:
every parameter is drawn from NumPy with a seed made from its name, so the
peer's outputs are checked against ours before it is timed.

Every measurement runs in a fresh process, one per configuration and batch
size, so peak memory figures do not mix; PyTorch runs in processes of its own
(its OpenMP/oneDNN runtime never meets Jittor's). ``--torch_python`` (or
``$DFD_TORCH_PYTHON``) names a Python that has torch when this one has not.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from evaluation.benchmark.onnx_workers import onnx_available
from evaluation.benchmark.report import report
from evaluation.benchmark.timing import loadavg, machine_info
from evaluation.benchmark.train_steps import STAGES as TRAIN_STAGES
from evaluation.benchmark.workers import log, run_worker, torch_available, worker_main

DEVICE_ENV = {"cpu": {"DFD_GPU": "off"}, "cuda": {"DFD_GPU": "on"}}
TORCH_ENV = {"cpu": {"CUDA_VISIBLE_DEVICES": ""}, "cuda": {}}


# ================================================================== command line
def build_parser():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--configs", default="official,tiny",
                   help="comma-separated presets (configs/*.json)")
    p.add_argument("--batch", default="1,8", help="comma-separated batch sizes")
    p.add_argument("--repeats", type=int, default=7,
                   help="timed runs per measurement after warm-up (the median is reported)")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs first (they compile)")
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds one measurement may take: fewer repeats (at least 3) for "
                        "slow calls")
    p.add_argument("--bank", type=int, default=2000, help="latents in each random feature bank")
    p.add_argument("--sp_configs", default="official,bundled",
                   help="comma-separated presets of the sketch embedding (configs/sp_embedding/, "
                        "or 'bundled': the bundled model's architecture) to measure at batch 1, "
                        "with the PyTorch peer; '' skips it")
    p.add_argument("--sp_train", default="bundled",
                   help="presets of the sketch embedding whose training steps (StyleGAN2 with "
                        "and without its regularisers, the encoder step) are measured on the "
                        "CPU beside PyTorch's ('official': 1024 px, minutes a step and over "
                        "16 GB at batch 2); '' skips them (so does --train off)")
    p.add_argument("--sp_train_batch", type=int, default=2,
                   help="batch of the sketch embedding's training steps (1-4 or a multiple of "
                        "4: the minibatch standard deviation); at 1024 px batch 2 already "
                        "peaks at 16.5 GB in the lightest step")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: tiny config, batch 1, 3 repeats, 15 s budget")
    p.add_argument("--torch", default="auto", choices=("auto", "off"),
                   help="time the PyTorch peer when torch can be imported")
    p.add_argument("--torch_python", default=os.environ.get("DFD_TORCH_PYTHON", sys.executable),
                   help="the Python that runs the PyTorch peer")
    p.add_argument("--onnx", default="auto", choices=("auto", "off"),
                   help="also time the exported ONNX networks under ONNX Runtime (CPU) when "
                        "onnx and onnxruntime can be imported")
    p.add_argument("--gpu", default="auto", choices=("auto", "on", "off"),
                   help="also measure on a CUDA GPU (auto: when one is usable)")
    p.add_argument("--train", default="on", choices=("on", "off"),
                   help="measure one training step of each stage per configuration")
    p.add_argument("--shadows", default="on", choices=("on", "off"),
                   help="time the pass with shadows (batch 1)")
    p.add_argument("--load", type=int, default=1,
                   help="busy processes started beside one conversion of each bundled model "
                        "(quiet, loaded, quiet again); 0 skips it")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds before one measurement process is given up")
    p.add_argument("--json", default="", help="also write every raw result to this file")
    p.add_argument("--report", default="", metavar="JSON",
                   help="print the tables of a run saved with --json, measuring nothing")
    p.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    # one measurement in this process (the plan runs python -m evaluation.benchmark.workers)
    p.add_argument("--_worker", help=argparse.SUPPRESS)
    p.add_argument("--_job", help=argparse.SUPPRESS)
    return p


def parse_args(argv):
    p = build_parser()
    args = p.parse_args(argv)
    if args.quick:
        args.configs, args.batch, args.repeats, args.budget = "tiny", "1", 3, 15.0
        for name in ("sp_configs", "sp_train"):
            if getattr(args, name) == p.get_default(name):
                setattr(args, name, "tiny")
    try:
        args.config_list = [c.strip() for c in args.configs.split(",") if c.strip()]
        args.batch_list = [int(b) for b in str(args.batch).split(",") if b.strip()]
    except ValueError:
        p.error("--batch must be comma-separated integers")
    from configs import available
    bad = [c for c in args.config_list if c not in available()]
    if bad or not args.config_list:
        p.error(f"unknown config {', '.join(bad) or '(none)'}; "
                f"choose from {', '.join(available())}")
    if not args.batch_list or min(args.batch_list) < 1:
        p.error("batch sizes must be >= 1")
    if args.repeats < 1 or args.warmup < 0:
        p.error("--repeats must be >= 1 and --warmup >= 0")
    if args.load < 0:
        p.error("--load must be >= 0")
    return args


# ================================================================== the plan
def run_all(args):
    """Every measurement of the plan, each in a fresh process: the machine's
    rate, then per device and configuration the batch sizes (Jittor, then
    the PyTorch peer on the same weights) and one training step (CPU), then
    the rate again (the machine may have changed). Returns the results."""
    devices = choose_devices(args)
    torch_version, torch_cuda = peer_torch(args)
    run = Run(args, devices, torch_version)
    for dev in devices:
        log(f"[{dev}] matrix-product rate")
        run.R["peak"][dev] = [run.worker("peak", {"device": dev}, DEVICE_ENV[dev])]
    onnx = args.onnx == "auto" and onnx_available()
    if args.onnx == "auto" and not onnx:
        log("ONNX Runtime: onnx or onnxruntime not importable, skipped")
    for dev in devices:
        for cfg in args.config_list:
            peer = bool(torch_version) and (dev == "cpu" or torch_cuda)
            measure_config(run, dev, cfg, peer)
            if onnx and dev == "cpu":
                measure_onnx(run, "deepfacedrawing", cfg, args.batch_list)
        for cfg in [c.strip() for c in args.sp_configs.split(",") if c.strip()]:
            measure_sp(run, dev, cfg, bool(torch_version) and dev == "cpu")
    if args.train == "on":
        for cfg in [c.strip() for c in args.sp_train.split(",") if c.strip()]:
            measure_sp_train(run, cfg, bool(torch_version))
            if onnx and dev == "cpu":
                measure_onnx(run, "sp_embedding", cfg, [1])
    if args.load:
        log(f"[cpu] one conversion per bundled model, quiet and beside {args.load} busy "
            f"process(es)")
        job = {"busy": args.load, "methods": ["deepfacedrawing", "sp_embedding"],
               "repeats": max(args.repeats, 5), "warmup": max(args.warmup, 2)}
        run.measure("load", "cpu", "load", job, DEVICE_ENV["cpu"])
    for dev in devices:
        run.R["peak"][dev].append(run.worker("peak", {"device": dev}, DEVICE_ENV[dev]))
    run.finish()
    return run.R


def choose_devices(args):
    from util.jittor_env import gpu_usable
    devices = ["cpu"]
    if args.gpu != "off" and gpu_usable():
        devices.append("cuda")
    elif args.gpu == "on":
        raise SystemExit("error: --gpu on, but no usable CUDA GPU (device, nvcc and libcudart)")
    return devices


def peer_torch(args):
    """(torch version, CUDA usable) of the peer's Python; (None, False): no peer."""
    if args.torch != "auto":
        return None, False
    version, cuda = torch_available(args.torch_python)
    log(f"PyTorch peer: {version or 'torch not importable, skipped'}")
    return version, cuda


def measure_config(run, dev, cfg, peer):
    """One configuration on one device: every batch size, then a training step."""
    args = run.args
    for i, b in enumerate(args.batch_list):
        key = f"{dev}/{cfg}/{b}"
        ref = os.path.join(run.tmp, f"ref_{dev}_{cfg}.npz") if i == 0 and peer else ""
        job = infer_job(args, dev, cfg, b, ref)
        log(f"[{key}] Jittor: networks and pass")
        res = run.measure("infer", key, "infer", job, DEVICE_ENV[dev])
        if peer and "error" not in res:
            log(f"[{key}] PyTorch peer")
            tjob = dict(job, ref_in=ref if i == 0 else "", arch=run.twin_options(cfg))
            run.measure("torch_runs", key, "torch", tjob, TORCH_ENV[dev], args.torch_python)
    if args.train == "on" and dev == "cpu":
        for stage in TRAIN_STAGES:
            measure_train_step(run, dev, cfg, stage, peer)


def measure_train_step(run, dev, cfg, stage, peer):
    """One optimisation step of a DeepFaceDrawing stage: the real trainer in
    Jittor, then (``peer``) the same step in PyTorch, which must reproduce
    the losses of Jittor's first steps before it is timed."""
    args, key = run.args, f"{dev}/{cfg}/1/{stage}"
    log(f"[{key}] one training step: Jittor")
    job = {"device": dev, "config": cfg, "batch": 1, "stage": stage,
           "repeats": max(2, min(args.repeats, 3)), "budget": args.budget}
    res = run.measure("train", key, "train", job, DEVICE_ENV[dev])
    if peer and "error" not in res:
        log(f"[{key}] one training step: PyTorch")
        tjob = dict(job, options=res["options"], vgg=res["vgg"], ref_losses=res["losses"])
        run.measure("torch_train", key, "torch_train", tjob, TORCH_ENV[dev], args.torch_python)


def measure_sp(run, dev, cfg, peer):
    """The sketch embedding at one configuration, batch 1: Jittor, then (on
    the CPU) the PyTorch peer on the same weights, checked against Jittor's
    outputs before it is timed."""
    args, key = run.args, f"{dev}/{cfg}/1"
    ref = os.path.join(run.tmp, f"sp_ref_{dev}_{cfg}.npz") if peer else ""
    log(f"[{key}] sketch embedding")
    job = {"device": dev, "config": cfg, "batch": 1, "repeats": args.repeats,
           "warmup": args.warmup, "budget": args.budget, "ref_out": ref}
    res = run.measure("sp", key, "sp", job, DEVICE_ENV[dev])
    if peer and "error" not in res:
        from evaluation.benchmark.sp_peer import sp_twin_options
        log(f"[{key}] sketch embedding: PyTorch peer")
        tjob = dict(job, ref_in=ref, ref_out="", arch=sp_twin_options(cfg))
        run.measure("sp_torch", key, "torch_sp", tjob, TORCH_ENV[dev], args.torch_python)


def measure_sp_train(run, cfg, peer):
    """One step of each of the sketch embedding's training stages
    (``sp_train.SP_STEPS``) on the CPU: Jittor's trainers, then the same step
    in PyTorch, its losses checked against Jittor's before it is timed."""
    from evaluation.benchmark.sp_train import SP_STEPS
    args = run.args
    for step in SP_STEPS:
        key = f"cpu/{cfg}/{step}"
        log(f"[{key}] sketch embedding: one training step")
        job = {"device": "cpu", "config": cfg, "batch": args.sp_train_batch, "step": step,
               "repeats": max(2, min(args.repeats, 3)), "budget": args.budget}
        res = run.measure("sp_train", key, "sp_train", job, DEVICE_ENV["cpu"])
        if peer and "error" not in res:
            from evaluation.benchmark.sp_peer import sp_twin_options
            log(f"[{key}] sketch embedding: the same step in PyTorch")
            tjob = dict(job, arch=sp_twin_options(cfg), options=res["options"],
                        ref_losses=res["losses"])
            run.measure("sp_train_torch", key, "torch_sp_train", tjob, TORCH_ENV["cpu"],
                        args.torch_python)


def measure_onnx(run, method, cfg, batches):
    """One configuration exported to ONNX (a Jittor process: the same seeded
    weights as the Jittor measurement) and timed under ONNX Runtime (a
    process without Jittor), batch by batch, on the CPU."""
    args = run.args
    folder = os.path.join(run.tmp, f"onnx_{method}_{cfg}")
    ref = folder + "_ref.npz"
    log(f"[cpu/{cfg}] {method}: export to ONNX")
    job = {"method": method, "config": cfg, "dir": folder, "ref": ref, "bank": args.bank}
    res = run.measure("onnx_export", f"{method}/{cfg}", "onnx_export", job, DEVICE_ENV["cpu"])
    if "error" in res:
        return
    for b in batches:
        log(f"[cpu/{cfg}/{b}] {method}: ONNX Runtime")
        job = {"method": method, "config": cfg, "dir": folder, "ref": ref, "batch": b,
               "repeats": args.repeats, "warmup": args.warmup, "budget": args.budget}
        run.measure("onnx", f"{method}/{cfg}/{b}", "onnx", job, DEVICE_ENV["cpu"])
    shutil.rmtree(folder, ignore_errors=True)


def infer_job(args, dev, cfg, batch, ref):
    """The inference measurement of one configuration and batch size; it
    writes the peer's reference outputs to ``ref`` (when not '')."""
    cuda = dev == "cuda"
    return {"device": dev, "config": cfg, "batch": batch,
            "repeats": max(args.repeats, 20) if cuda else args.repeats,
            "warmup": args.warmup + (2 if cuda else 0), "budget": args.budget,
            "bank": args.bank, "ref_out": ref, "shadows": args.shadows == "on" and batch == 1,
            "fp16": cuda}


class Run:
    """The results of one run (``R``, what --json saves), kept on disk after
    every measurement: an interrupted run keeps what it had."""

    def __init__(self, args, devices, torch_version):
        self.args = args
        self.R = {"machine": machine_info(), "start": utc_now(), "load_start": loadavg(),
                  "devices": devices, "torch": torch_version, "peak": {}, "infer": {},
                  "torch_runs": {}, "train": {}, "torch_train": {}, "sp": {}, "sp_torch": {},
                  "sp_train": {}, "sp_train_torch": {}, "onnx_export": {}, "onnx": {},
                  "load": {},
                  "args": {k: v for k, v in vars(args).items() if not k.startswith("_")}}
        self.tmp = tempfile.mkdtemp(prefix="dfd_bench_")     # the peer's reference outputs
        self._twin = {}

    def worker(self, kind, job, env_extra, python=None):
        return run_worker(kind, job, python=python, env_extra=env_extra,
                          timeout=self.args.timeout, verbose=self.args.verbose)

    def measure(self, group, key, kind, job, env_extra, python=None):
        self.R[group][key] = res = self.worker(kind, job, env_extra, python)
        self.save()
        return res

    def twin_options(self, cfg):
        """The sizes the peer builds its networks from (its Python needs only torch)."""
        if cfg not in self._twin:
            from evaluation.benchmark.torch_twin import twin_options
            self._twin[cfg] = twin_options(cfg)
        return self._twin[cfg]

    def save(self):
        if self.args.json:
            with open(self.args.json, "w") as f:
                json.dump(self.R, f, indent=1, default=str)

    def finish(self):
        self.R["end"] = utc_now()
        self.R["load_end"] = loadavg()
        self.save()
        shutil.rmtree(self.tmp, ignore_errors=True)


def utc_now():
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args._worker:
        return worker_main(args._worker, args._job)
    if args.report:
        with open(args.report) as f:
            sys.stdout.write(report(json.load(f)))
        return 0
    R = run_all(args)
    sys.stdout.write(report(R))
    failed = [k for group in ("infer", "train", "torch_train", "torch_runs", "sp", "sp_torch",
                              "sp_train", "sp_train_torch", "onnx_export", "onnx", "load")
              for k, v in R.get(group, {}).items() if "error" in v or v.get("failed")]
    if failed:
        log(f"failed measurements: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
