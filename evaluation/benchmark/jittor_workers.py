"""The measurements in Jittor, each run in a fresh process by
``evaluation.benchmark.workers``: the matrix-product rate (``worker_peak``),
the latency and memory of inference (``worker_infer``) and one training
step of the ae or combine stage (``worker_train``; its PyTorch peer is
``torch_train``).

The networks timed one by one are the rows of ``Inference.network_calls``
(name -> call); a network family adds its rows there, with its FLOPs under
the same names in ``flops``."""

import math
import os
import shutil
import tempfile
import time

import numpy as np

from evaluation.benchmark.flops import model_flops, training_flops
from evaluation.benchmark.inputs import (BANK_SEED, WEIGHT_SEEDS, bench_inputs, crops_of,
                                         preset_options, ref_name, rel_diff, seeded_weights)
from evaluation.benchmark.timing import (MATMUL_SIZES, matmul_rate, matmul_rates_numpy, rss_mb,
                                         timed, with_replay_alternated)
from util.components import PARTS


def _jittor(device, work="convert"):
    """Jittor set up as the measured entry point sets it up (``work``: a
    conversion, or "train" as train.py does)."""
    from util import jittor_env
    jt = jittor_env.setup("on" if device == "cuda" else "off", work)
    return jt, jittor_env


def _sync(jt, device, outs=None):
    if outs is not None:
        jt.sync(outs if isinstance(outs, list) else [outs])
    if device == "cuda":
        jt.sync_all(True)


def set_jittor_weights(jt, net, seed):
    """Give ``net`` the seeded weights (as ``load_network`` gives a checkpoint's)."""
    state = net.state_dict()
    weights = seeded_weights({k: v.shape for k, v in state.items()}, seed)
    for name, var in state.items():
        var.update(jt.array(weights.pop(name)))
    jt.sync(list(state.values()))


# ---------------------------------------------------------------- the machine's rate
def worker_peak(job):
    """The rate of a large float32 matrix product: NumPy and Jittor (and on
    CUDA Jittor in float32 and float16)."""
    device = job["device"]
    out = {"numpy": matmul_rates_numpy()} if device == "cpu" else {}
    jt, env = _jittor(device)
    out["describe"] = env.describe()
    sizes = MATMUL_SIZES if device == "cpu" else (8192,)
    dtypes = ("float32",) if device == "cpu" else ("float32", "float16")
    for dtype in dtypes:
        out[f"jittor_{dtype}"] = {n: _jittor_matmul_rate(jt, device, n, dtype) for n in sizes}
    return out


def _jittor_matmul_rate(jt, device, n, dtype):
    a = jt.randn(n, n).cast(dtype)
    b = jt.randn(n, n).cast(dtype)
    _sync(jt, device, [a, b])

    def run():
        c = jt.matmul(a, b)
        _sync(jt, device, c)
    run()                                   # compiles
    return matmul_rate(n, run, 5 if device == "cpu" else 20)


# ---------------------------------------------------------------- inference
def worker_infer(job):
    """Latency of the networks and of the whole pass for one configuration and
    batch size, on one device; peak memory of this inference process."""
    jt, env = _jittor(job["device"])
    from models import graph_replay
    opt = preset_options(job["config"])
    res = {"describe": f"{env.describe()}; {graph_replay.describe()}",
           "flops": model_flops(opt, job["batch"])}
    jt.set_global_seed(0)
    rss0 = rss_mb()
    t = time.perf_counter()
    model = build_model(jt, opt, job["bank"])
    res.update(build_s=time.perf_counter() - t, rss_import_mb=rss0, rss_model_mb=rss_mb())

    bench = Inference(jt, job, opt, model)
    times = bench.time_pass()           # first: its peak memory is the inference figure
    res["rss_pass_mb"] = rss_mb()
    calls = bench.network_calls()
    times.update({name: bench.timed(call) for name, call in calls.items()})
    times.update(bench.time_stages())
    if job.get("shadows"):
        times["pass_shadow"] = bench.time_shadows()
    res["times"] = times
    if job.get("ref_out"):              # what the PyTorch peer must reproduce
        bench.write_reference(job["ref_out"])
    if job["device"] == "cuda" and job.get("fp16"):
        res["fp16"] = bench.float16(calls)
    res["rss_peak_mb"] = rss_mb()
    shutil.rmtree(model.root, ignore_errors=True)
    return res


def build_model(jt, opt, bank_size):
    """The sketch-to-face model with seeded weights and random feature banks
    of ``bank_size`` latents (files in a temporary folder, read as files)."""
    from models.deepfacedrawing import checkpoint as ckpt
    from models import create_model
    model = create_model("deepfacedrawing", opt)
    model.root = tempfile.mkdtemp(prefix="dfd_bench_banks_")
    for p in PARTS:
        set_jittor_weights(jt, model.parts[p].encoder, WEIGHT_SEEDS["encoder"])
        set_jittor_weights(jt, model.combine.fm[p], WEIGHT_SEEDS["fm"])
        rng = np.random.default_rng(BANK_SEED + PARTS.index(p))
        ckpt.write_bank(ckpt.bank_path(model.root, p, "all"),
                        rng.standard_normal((bank_size, opt.latent_dim)).astype(np.float32))
    set_jittor_weights(jt, model.combine.netG, WEIGHT_SEEDS["G"])
    model.eval()
    model.check_banks("all")
    return model.enable_replay()


class Inference:
    """The timings of one model on one batch of seeded inputs."""

    def __init__(self, jt, job, opt, model):
        from models.deepfacedrawing.inference import DFDInference
        self.jt, self.job, self.opt, self.model = jt, job, opt, model
        self.face = DFDInference(model, opt)        # the inference contract demo.py runs
        self.device = job["device"]
        self.sketches, self.latents, self.fmap = bench_inputs(opt, job["batch"])
        self.crops = crops_of(self.sketches, opt)
        self.refine = {p: 1.0 for p in PARTS}
        self.other = None              # sketches of other content, same size
        self.inputs = None             # Jittor variables of crops, latents, feature map

    def timed(self, fn, repeats=None):
        job = self.job
        return timed(fn, job["repeats"] if repeats is None else repeats, job["warmup"],
                     job["budget"])

    def prepared(self, sketches):
        """The sketches as the contract's inputs (not normalised: the pass alone is timed)."""
        return [self.face.prepare(s, normalise=False)[0] for s in sketches]

    def convert(self, inputs, shadow=False):
        return self.face(inputs, k=self.opt.k, refine=self.refine, gender="all", shadow=shadow)

    def time_pass(self):
        """The whole pass (uint8 in, uint8 out), then once on new content."""
        inputs = self.prepared(self.sketches)
        times = {"pass": self.timed(lambda: self.convert(inputs))}
        job = self.job
        with_replay_alternated(times, "pass", lambda: self.convert(inputs), job["repeats"],
                               job["budget"])
        self.other = bench_inputs(self.opt, self.job["batch"], seed=7)[0]
        other = self.prepared(self.other)
        times["pass_new_content"] = timed(lambda: self.convert(other), 1, 0)
        return times

    def network_calls(self):
        """{row: call} of the networks alone, on Jittor inputs made once."""
        jt, m = self.jt, self.model
        enc = {p: jt.array(self.crops[p]) for p in PARTS}
        lat = {p: jt.array(self.latents[p]) for p in PARTS}
        fmap = jt.array(self.fmap)
        _sync(jt, self.device, list(enc.values()) + list(lat.values()) + [fmap])
        self.inputs = {"encoders": enc, "fm": lat, "G": fmap}
        crops, codes = [enc[p] for p in PARTS], [lat[p] for p in PARTS]
        return {"encoders": self._synced("encoders", lambda *xs: [
                    m.parts[p].encoder(x) for p, x in zip(PARTS, xs)], *crops),
                "fm": self._synced("fm", lambda *zs: [
                    m.combine.fm[p](z) for p, z in zip(PARTS, zs)], *codes),
                "G": self._synced("G", m.combine.netG, fmap),
                "networks": self._synced("networks", lambda *xs: m.combine.generate(
                    {p: m.parts[p].encoder(x) for p, x in zip(PARTS, xs)}), *crops)}

    def _synced(self, row, forward, *inputs):
        """The row's call as the pass runs networks: replayed (``models/graph_replay.py``)."""
        from models import graph_replay

        def call():
            with self.jt.no_grad():
                out = graph_replay.run(self.model, ("bench", row), forward, *inputs)
                _sync(self.jt, self.device, out)
            return out
        return call

    def time_stages(self):
        """Where the pass spends its time: encode, project, synthesize."""
        m, state = self.model, {}
        return {
            "stage_encode": self.timed(lambda: state.update(z=m.encode(self.sketches))),
            "stage_project": self.timed(lambda: state.update(
                pz=m.project(state["z"], self.opt.k, self.refine, "all"))),
            "stage_synthesize": self.timed(lambda: m.synthesize(state["pz"][0]))}

    def time_shadows(self):
        """The pass with shadows: two sketches in turn, so nothing carries over."""
        turn = [self.prepared(self.sketches), self.prepared(self.other)]

        def with_shadows():
            turn.reverse()
            return self.convert(turn[0], True)
        return self.timed(with_shadows, max(1, self.job["repeats"] // 2))

    def write_reference(self, path):
        """The first sample's inputs and outputs of every network (.npz)."""
        jt, m = self.jt, self.model
        one = {p: self.crops[p][:1] for p in PARTS}
        lat = {p: self.latents[p][:1] for p in PARTS}
        with jt.no_grad():
            z = {p: m.parts[p].encoder(jt.array(one[p])) for p in PARTS}
            ref = {f"crop_{ref_name(p)}": one[p] for p in PARTS}
            ref.update({f"enc_{ref_name(p)}": z[p].numpy() for p in PARTS})
            ref.update({f"lat_{ref_name(p)}": lat[p] for p in PARTS})
            ref.update({f"fm_{ref_name(p)}": m.combine.fm[p](jt.array(lat[p])).numpy()
                        for p in PARTS})
            ref["fmap"] = self.fmap[:1]
            ref["G"] = m.combine.netG(jt.array(self.fmap[:1])).numpy()
            ref["networks"] = m.combine.generate(z).numpy()
        np.savez(path, **ref)

    # -------------------------------------------------------------- float16
    def float16(self, calls):
        """float16 copies of the networks: latency and output difference to float32."""
        want = {"G": [calls["G"]().numpy()], "fm": [o.numpy() for o in calls["fm"]()],
                "encoders": [o.numpy() for o in calls["encoders"]()]}
        out = {}
        try:
            run = self._float16_calls()
            for kind in ("encoders", "fm", "G"):
                t = self.timed(lambda: run(kind))
                got = [o.float32().numpy() for o in run(kind)]
                out[kind] = {"median": t["median"],
                             "rel_diff": max(rel_diff(g, w, np.float32)
                                             for g, w in zip(got, want[kind])),
                             "nonfinite": bool(any(not np.isfinite(g).all() for g in got))}
        except Exception as exc:                      # noqa: BLE001 - reported, not fatal
            out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return out

    def _float16_calls(self):
        """The networks and their inputs cast to float16: ``run(kind)``."""
        m = self.model
        for p in PARTS:
            m.parts[p].encoder.float16()
            m.combine.fm[p].float16()
        m.combine.netG.float16()
        enc = {p: v.float16() for p, v in self.inputs["encoders"].items()}
        lat = {p: v.float16() for p, v in self.inputs["fm"].items()}
        fmap = self.inputs["G"].float16()
        forward = {"G": lambda: [m.combine.netG(fmap)],
                   "fm": lambda: [m.combine.fm[p](lat[p]) for p in PARTS],
                   "encoders": lambda: [m.parts[p].encoder(enc[p]) for p in PARTS]}
        return lambda kind: self._synced(forward[kind])()


# ---------------------------------------------------------------- training
def worker_train(job):
    """One optimisation step of a DeepFaceDrawing stage (``job['stage']``:
    ``ae``, or ``combine`` by default: FM + G (+ appearance encoder) + multiscale D,
    LSGAN + feature matching + VGG + TV + L1 (+ KL), Adam on both), built by the
    real trainer with seeded weights: the losses of its first steps (the PyTorch
    peer must reproduce them), latency and peak memory."""
    from options.train_options import TrainOptions
    from evaluation.benchmark.train_steps import CHECKED_STEPS, STAGE_FLAGS, TRAIN_KEYS, step_batch
    jt, env = _jittor(job["device"], "train")
    stage = job.get("stage", "combine")
    tmp = tempfile.mkdtemp(prefix="dfd_bench_train_")
    opt = TrainOptions().parse(["--stage", stage, "--preset", job["config"], "--name", "bench",
                                "--checkpoints_dir", tmp, "--batch_size", str(job["batch"]),
                                "--vgg", "random"] + STAGE_FLAGS[stage])
    jt.set_global_seed(0)
    rss0 = rss_mb()
    trainer = ae_trainer(opt) if stage == "ae" else combine_trainer(opt)
    from models.vgg16_weights import DEFAULT_VGG16_PATH
    vgg = seed_trainer(jt, trainer, job.get("vgg_path", DEFAULT_VGG16_PATH))
    rss_model = rss_mb()
    batch = step_batch(opt, job["batch"])
    first = time.perf_counter()
    steps = [trainer.step(batch)]                     # compiles
    first = time.perf_counter() - first
    steps += [trainer.step(batch) for _ in range(CHECKED_STEPS - 1)]
    losses = {}
    t = timed(lambda: losses.update(trainer.step(batch)), job["repeats"], 0, job["budget"],
              min_repeats=2)
    t["first"] = first
    # FLOPs without the appearance code (its small linear layers are not counted)
    flops = training_flops(type(opt)(**dict(vars(opt), appearance_dim=0)), job["batch"]) \
        if stage == "combine" else {}
    shutil.rmtree(tmp, ignore_errors=True)
    return {"describe": env.describe(), "stage": stage, "times": {"step": t},
            "rss_import_mb": rss0, "rss_model_mb": rss_model, "rss_peak_mb": rss_mb(),
            "losses": steps, "losses_finite": bool(all(math.isfinite(v) for s in steps + [losses]
                                                       for v in s.values())),
            "vgg": vgg, "flops": flops,
            "options": {k: getattr(opt, k) for k in TRAIN_KEYS}}


def ae_trainer(opt):
    """The ae stage's trainer, built by its own constructor without data or files."""
    from training.deepfacedrawing.autoencoders import AETrainer
    return AETrainer(opt)


def combine_trainer(opt):
    """The combine stage's trainer, built by its own constructor without
    data or files: random encoders in place of --ae_from's, the VGG loss of
    ``opt.vgg`` (random here), FM + G (+ D, + the appearance encoder), Adam."""
    from models import create_model
    from training.deepfacedrawing.combine import CombineTrainer
    encoders = {p: create_model("ae", opt, part=p).eval() for p in PARTS}
    return CombineTrainer(opt, encoders)


def seed_trainer(jt, trainer, vgg_path):
    """Seeded weights in every network of ``trainer`` (TRAIN_SEEDS by kind), and
    in its VGG loss: the ImageNet VGG16 of ``vgg_path`` when that file exists,
    else seeded. Returns what the PyTorch peer needs to build the same VGG."""
    from evaluation.benchmark.train_steps import TRAIN_SEEDS
    nets = dict(trainer.networks())
    for p, ae in getattr(trainer, "encoders", {}).items():
        nets[f"encoder_{ref_name(p)}"] = ae.encoder
    for name, net in nets.items():
        kind = name.split("_")[0]
        kind = {"DE": "fm"}.get(kind, kind)
        set_jittor_weights(jt, net, TRAIN_SEEDS[kind])
    if getattr(trainer, "vgg", None) is None:
        return None
    from models.vgg import INPUT_NORMS, VGGFeatures, load_vgg
    if vgg_path and os.path.isfile(vgg_path):
        net = load_vgg("vgg16", vgg_path, quiet=True)
        source = vgg_path
    else:
        net = VGGFeatures("vgg16", input_norm="torchvision")
        net.set_weights(seeded_weights(net.expected_shapes(), TRAIN_SEEDS["vgg"]), "seeded")
        source = "seeded"
    trainer.vgg.vgg = net
    return {"source": source, "input": INPUT_NORMS[net.input_norm],
            "plan": net._plan, "shapes": net.expected_shapes(),
            "weights": list(trainer.vgg.layer_weights)}
