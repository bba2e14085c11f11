"""Where a network's time goes, kernel by kernel: Jittor's profiler over a
few calls of one network (or the whole pass), summed by kind of kernel.

    python scripts/profile_pass.py --method deepfacedrawing --config bundled --what pass
    python scripts/profile_pass.py --method deepfacedrawing --config official --what G
    python scripts/profile_pass.py --method sp_embedding --config official --what G --calls 2
    python scripts/profile_pass.py --method sp_embedding --config bundled --what pass

``--config bundled`` loads the bundled model (params/default, or
params/sp_embedding) with its real weights; any other name is a preset with
the benchmark's seeded random weights. ``--what``: deepfacedrawing
``pass`` (the inference contract: uint8 in, uint8 out), ``networks``,
``encoders``, ``fm``, ``G``, and one training step ``train_ae``,
``train_combine`` (the benchmark's: the real trainer, the bundled model's
flags, seeded weights; ``--batch`` its batch); sp_embedding ``pass`` (label map and photo
in), ``E_c``, ``E_s``, ``E_a``, ``G``, ``labeler``.

Prints, per call: the wall time (unprofiled, and under the profiler, which
slows kernels down: shares are of the profiled call), the time inside Jittor's kernels by kind
(oneDNN convolutions, transposed convolutions, matrix products, hand-written
kernels (code ops), reductions, index/copy kernels such as padding,
other elementwise kernels) and what is left (Python, graph building and
scheduling), then the most expensive kernels. Times are per call: the
profiler's totals over ``--calls`` calls divided by their number, after
``--warmup`` untimed calls that compile.
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

KINDS = (("mkl_conv_backward_x", "oneDNN transposed conv / conv backward-data"),
         ("mkl_conv_backward_w", "oneDNN conv backward-weights"),
         ("mkl_conv", "oneDNN convolution"),
         ("mkl_matmul", "oneDNN matrix product"))


def kind_of(name):
    """The kind of one kernel from its profiler name."""
    for prefix, label in KINDS:
        if name.startswith(prefix + "\u00ab"):
            return label
    if "opkey0:code" in name or name.startswith("code\u00ab"):
        return "hand-written kernels (code ops)"
    if ":reduce\u00ab" in name:
        return "reductions (norm statistics, sums)"
    if ":reindex\u00ab" in name or ":reindex_reduce" in name or ":getitem" in name \
            or ":setitem" in name:
        return "index / copy (padding, resampling, slices)"
    return "other elementwise"


def summarise(report, calls):
    """({kind: seconds per call}, [(seconds per call, kind, short name)])."""
    header, rows = report[0], report[1:]
    i_name, i_total = header.index("Name"), header.index("TotalTime")
    kinds, kernels = {}, []
    for row in rows:
        total = float(row[i_total]) / 1e9 / calls
        if total <= 0:
            continue                               # relayed ops: timed under their relay
        kind = kind_of(row[i_name])
        kinds[kind] = kinds.get(kind, 0.0) + total
        kernels.append((total, kind, row[i_name][:110]))
    return kinds, sorted(kernels, reverse=True)


# ---------------------------------------------------------------- what to run
PARTS_OF = {"deepfacedrawing": ("pass", "networks", "encoders", "fm", "G", "train_ae",
                                 "train_combine"),
            "sp_embedding": ("pass", "E_c", "E_s", "E_a", "G", "labeler")}


def dfd_train_call(jt, config, stage, batch):
    """One optimisation step of a DeepFaceDrawing stage, built as the
    benchmark builds it (the real trainer, the bundled model's flags, seeded
    weights and batch); ``config`` a preset ('bundled': tiny)."""
    import tempfile
    from evaluation.benchmark.jittor_workers import ae_trainer, combine_trainer, seed_trainer
    from evaluation.benchmark.train_steps import STAGE_FLAGS, step_batch
    from models.vgg16_weights import DEFAULT_VGG16_PATH
    from options.train_options import TrainOptions
    preset = "tiny" if config == "bundled" else config
    opt = TrainOptions().parse(["--stage", stage, "--preset", preset, "--name", "profile",
                                "--checkpoints_dir", tempfile.mkdtemp(prefix="dfd_profile_"),
                                "--batch_size", str(batch), "--vgg", "random"]
                               + STAGE_FLAGS[stage])
    jt.set_global_seed(0)
    trainer = ae_trainer(opt) if stage == "ae" else combine_trainer(opt)
    seed_trainer(jt, trainer, DEFAULT_VGG16_PATH)
    data = step_batch(opt, batch)
    return lambda: trainer.step(data)


def dfd_call(jt, config, what, batch):
    import numpy as np
    if what.startswith("train_"):
        return dfd_train_call(jt, config, what[len("train_"):], batch)
    from evaluation.benchmark.inputs import bench_inputs, crops_of, preset_options
    from models.deepfacedrawing.inference import DFDInference
    from util.components import PARTS
    if config == "bundled":
        from models.methods import prepare_inference
        from options.test_options import TestOptions
        opt = TestOptions().parse(["--params", os.path.join(ROOT, "params", "default")])
        face = prepare_inference(opt)
        model = face.model
    else:
        from evaluation.benchmark.jittor_workers import build_model
        opt = preset_options(config)
        model = build_model(jt, opt, 2000)
        face = DFDInference(model, opt)
    sketches, latents, fmap = bench_inputs(opt, batch)
    if what == "pass":
        inputs = [face.prepare(s, normalise=False)[0] for s in sketches]
        refine = {p: 1.0 for p in PARTS}
        return lambda: face(inputs, k=opt.k, refine=refine, gender="all")
    crops = {p: jt.array(c) for p, c in crops_of(sketches, opt).items()}
    lat = {p: jt.array(v) for p, v in latents.items()}
    fm = jt.array(fmap)
    m = model
    nets = {"encoders": lambda: [m.parts[p].encoder(crops[p]) for p in PARTS],
            "fm": lambda: [m.combine.fm[p](lat[p]) for p in PARTS],
            "G": lambda: [m.combine.netG(fm)],
            "networks": lambda: [m.combine.generate(
                {p: m.parts[p].encoder(crops[p]) for p in PARTS})]}
    forward = nets[what]

    def call():
        with jt.no_grad():
            jt.sync(forward())
    del np
    return call


def sp_call(jt, config, what, batch):
    import numpy as np
    from models.inference import Appearance
    from models.sp_embedding.inputs import one_hot
    if config == "bundled":
        from models.methods import prepare_inference
        from options.test_options import TestOptions
        opt = TestOptions().parse(["--method", "sp_embedding",
                                   "--params", os.path.join(ROOT, "params", "sp_embedding")])
        face = prepare_inference(opt)
        model = face.model
    else:
        from evaluation.benchmark.sp_config import sp_options
        from models import create_model
        from models.sp_embedding.inference import SPInference
        opt = sp_options(config)
        model = create_model("sp_embedding", opt)
        face = SPInference(model, opt)
    net = model.net
    rng = np.random.default_rng(1)
    s = opt.encoder_size
    labels = rng.integers(0, opt.label_nc + 1, (batch, s, s)).astype(np.uint8)
    labels[rng.random(labels.shape) < 0.9] = 0
    x = jt.array(one_hot(labels, opt.label_nc))
    y = jt.array(rng.uniform(-1, 1, (batch, 3, s, s)).astype(np.float32))
    codes = jt.array(rng.standard_normal((batch, opt.n_latent, opt.style_dim)).astype(np.float32))
    if what == "pass":
        inputs = [{"labels": lab} for lab in labels]
        look = Appearance.of_photos(list(y.numpy()))
        return lambda: face(inputs, look)
    if what == "labeler":
        if model.labeler is None:
            raise SystemExit("this model has no stroke labeller")
        from evaluation.benchmark.inputs import random_sketches
        sketch = random_sketches(rng, 1, 512)[0]
        return lambda: face.prepare(sketch)
    nets = {"E_c": lambda: net.encoder_sketch_coarse(x),
            "E_s": lambda: net.sketch_offsets(x), "E_a": lambda: net.appearance_offsets(y),
            "G": lambda: net.synthesize(codes)}
    forward = nets[what]

    def call():
        with jt.no_grad():
            forward().sync()
    return call


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--method", default="deepfacedrawing",
                   choices=("deepfacedrawing", "sp_embedding"))
    p.add_argument("--config", default="bundled", help="'bundled' or a preset name")
    p.add_argument("--what", default="pass")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--calls", type=int, default=5, help="profiled calls")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    p.add_argument("--top", type=int, default=12, help="kernels listed")
    args = p.parse_args(argv)
    parts = PARTS_OF[args.method]
    if args.what not in parts:
        p.error(f"--what {args.what}: {args.method} has {', '.join(parts)}")
    if min(args.batch, args.calls) < 1 or args.warmup < 0:
        p.error("--batch and --calls must be >= 1, --warmup >= 0")
    from util import jittor_env, threads
    jt = jittor_env.setup("off")
    make = dfd_call if args.method == "deepfacedrawing" else sp_call
    call = make(jt, args.config, args.what, args.batch)
    for _ in range(args.warmup):
        call()
    t = time.perf_counter()
    for _ in range(args.calls):
        call()
    wall = (time.perf_counter() - t) / args.calls
    with jt.profile_scope() as report:
        t = time.perf_counter()
        for _ in range(args.calls):
            call()
        profiled = (time.perf_counter() - t) / args.calls
    kinds, kernels = summarise(report, args.calls)
    inside = sum(kinds.values())
    print(f"# {args.method} {args.config} {args.what}, batch {args.batch}: "
          f"{wall * 1e3:.1f} ms a call (unprofiled, mean of {args.calls}; "
          f"{profiled * 1e3:.1f} ms profiled); {jittor_env.describe()}; {threads.note()}")
    print()
    print("| kernels | ms per call (profiled) | share of the profiled call |")
    print("|---|---|---|")
    for kind, sec in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"| {kind} | {sec * 1e3:.2f} | {100 * sec / profiled:.0f} % |")
    rest = max(0.0, profiled - inside)
    print(f"| outside the kernels (Python, graph, scheduling) | {rest * 1e3:.2f} | "
          f"{100 * rest / profiled:.0f} % |")
    print()
    print(f"The {args.top} most expensive kernels (ms per call):")
    print()
    for sec, kind, name in kernels[:args.top]:
        print(f"* {sec * 1e3:.2f} ms, {kind}: `{name}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
