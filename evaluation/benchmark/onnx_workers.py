"""The exported ONNX networks in the benchmark, beside Jittor on the same
machine and the same weights, each step in a fresh process:

* ``worker_export`` (a Jittor process): the configuration's networks with
  the benchmark's seeded weights (DeepFaceDrawing: ``build_model`` of the
  Jittor worker, random banks included; the sketch embedding: its seeded
  initialisation), saved as a checkpoint folder, exported by
  ``models.onnx_export`` (what ``scripts/export_onnx.py`` does), and the
  Jittor outputs on the benchmark's inputs (the reference);
* ``worker_onnx`` (no Jittor: only ONNX Runtime and NumPy): the same rows
  as the Jittor measurement (DeepFaceDrawing: the encoders, the FM
  decoders, G, all networks, the whole pass uint8 to uint8 with the
  projection; the sketch embedding: E_c, E_s, E_a, M, G, the pass) timed
  through ``models.onnx_runtime``, and their difference to the reference.
"""

import os
import shutil
import tempfile
import time

import numpy as np

from evaluation.benchmark.inputs import bench_inputs, crops_of, preset_options, rel_diff
from evaluation.benchmark.timing import rss_mb, timed
from util.components import PART_NAMES, PARTS

DFD_ROWS = ("encoders", "fm", "G", "networks", "pass")
SP_ROWS = ("E_c", "E_s", "E_a", "M", "G", "pass")


def onnx_available():
    """Both the exporter's onnx and the runtime's onnxruntime can be imported."""
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))


# ---------------------------------------------------------------- the export (Jittor)
def worker_export(job):
    from evaluation.benchmark.jittor_workers import _jittor
    jt, env = _jittor("cpu")
    t = time.perf_counter()
    ref = _export_sp(jt, job) if job["method"] == "sp_embedding" else _export_dfd(jt, job)
    np.savez(job["ref"], **ref)
    files = [os.path.join(job["dir"], f) for f in os.listdir(job["dir"])]
    return {"describe": env.describe(), "export_s": time.perf_counter() - t,
            "mb": sum(os.path.getsize(f) for f in files if os.path.isfile(f)) / 2 ** 20}


def _export(opt, root, out, method):
    from models import files
    from models.methods import get_method
    from models.onnx_export import export_checkpoint
    module = get_method(method).option_module()
    config = module.config_dict(opt)
    files.write_config(root, config)
    opt.params, opt.preset_source = root, "the benchmark's seeded weights"
    export_checkpoint(opt, out, config, module.ARCH_KEYS, verify=False)


def _export_dfd(jt, job):
    """Export the Jittor worker's model; the reference outputs on batch 1."""
    from evaluation.benchmark.jittor_workers import build_model
    opt = preset_options(job["config"])
    jt.set_global_seed(0)
    model = build_model(jt, opt, job["bank"])
    try:
        model.save(model.root)
        _export(opt, model.root, job["dir"], "deepfacedrawing")
        sketches, latents, fmap = bench_inputs(opt, 1)
        crops = crops_of(sketches, opt)
        ref = {f"encoders_{PART_NAMES[p]}": model.encode_crops(p, crops[p]) for p in PARTS}
        with jt.no_grad():
            ref.update({f"fm_{PART_NAMES[p]}": model.combine.fm[p](jt.array(latents[p])).numpy()
                        for p in PARTS})
            ref["G"] = model.combine.netG(jt.array(fmap)).numpy()
        ref["networks"] = model.generate({p: ref[f"encoders_{PART_NAMES[p]}"] for p in PARTS})
        ref["pass"] = model.convert(sketches, opt.k, {p: 1.0 for p in PARTS}, "all")["images"]
        return ref
    finally:
        shutil.rmtree(model.root, ignore_errors=True)


def sp_inputs(opt, batch):
    """The inputs of the sketch embedding's measurement (``sp.worker_sp``'s)."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, opt.label_nc + 1, (batch, opt.encoder_size, opt.encoder_size))
    labels[rng.random(labels.shape) < 0.9] = 0
    y = rng.uniform(-1, 1, (batch, 3, opt.encoder_size, opt.encoder_size)).astype(np.float32)
    z = rng.standard_normal((batch, opt.style_dim)).astype(np.float32)
    codes = rng.standard_normal((batch, opt.n_latent, opt.style_dim)).astype(np.float32)
    return labels.astype(np.uint8), y, z, codes


def _export_sp(jt, job):
    from evaluation.benchmark.sp_config import sp_options
    from models import create_model
    from models.sp_embedding.inputs import one_hot
    opt = sp_options(job["config"])
    jt.set_global_seed(0)
    model = create_model("sp_embedding", opt)
    model.net.ready()
    rng = np.random.default_rng(2)
    model.net.latent_avg = (0.1 * rng.standard_normal((opt.n_latent, opt.style_dim))) \
        .astype(np.float32)
    root = tempfile.mkdtemp(prefix="dfd_bench_sp_")
    try:
        model.eval()
        model.save(root)
        _export(opt, root, job["dir"], "sp_embedding")
        labels, y, z, codes = sp_inputs(opt, 1)
        net = model.net
        with jt.no_grad():
            x = jt.array(one_hot(labels, opt.label_nc))
            ref = {"E_c": net.encoder_sketch_coarse(x).numpy(),
                   "E_s": net.sketch_offsets(x).numpy(),
                   "E_a": net.appearance_offsets(jt.array(y)).numpy(),
                   "M": net.mapping(jt.array(z)).numpy(),
                   "G": net.synthesize(jt.array(codes)).numpy()}
        ref["pass"] = model.generate(model.encode(labels, y))
        return ref
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- ONNX Runtime (no Jittor)
def worker_onnx(job):
    import onnxruntime
    from models.onnx_runtime.session import describe
    rss0 = rss_mb()
    res = _onnx_sp(job) if job["method"] == "sp_embedding" else _onnx_dfd(job)
    res.update(describe=describe("off"), onnxruntime=onnxruntime.__version__,
               rss_import_mb=rss0, rss_peak_mb=rss_mb())
    return res


def _timer(job):
    def run(fn):
        return timed(fn, job["repeats"], job.get("warmup", 1), job["budget"])
    return run


def _onnx_dfd(job):
    from models.deepfacedrawing.inference import DFDInference
    from models.onnx_runtime.dfd import OnnxDeepFaceDrawing
    opt = preset_options(job["config"])
    opt.params, opt.backend, opt.gpu = job["dir"], "onnx", "off"
    t = time.perf_counter()
    model = OnnxDeepFaceDrawing(opt).load_for_inference(opt)
    load_s = time.perf_counter() - t
    net = model.model
    sketches, latents, fmap = bench_inputs(opt, job["batch"])
    crops = crops_of(sketches, opt)
    refine = {p: 1.0 for p in PARTS}
    face = DFDInference(model, opt)              # the whole pass as demo.py runs it
    inputs = [face.prepare(s, normalise=False)[0] for s in sketches]
    g_feed = {"feature_map": fmap}
    if opt.appearance_dim:
        g_feed["code"] = np.zeros((job["batch"], opt.appearance_dim), np.float32)
    calls = {"encoders": lambda: [model.encode_crops(p, crops[p]) for p in PARTS],
             "fm": lambda: [net[f"fm_{PART_NAMES[p]}"](latent=latents[p]) for p in PARTS],
             "G": lambda: net["generator"](**g_feed),
             "networks": lambda: model.generate({p: model.encode_crops(p, crops[p])
                                                 for p in PARTS}),
             "pass": lambda: face(inputs, k=opt.k, refine=refine, gender="all")}
    run = _timer(job)
    times = {"pass": run(calls.pop("pass"))}
    rss_pass = rss_mb()
    times.update({k: run(fn) for k, fn in calls.items()})
    return {"times": times, "diffs": _dfd_diffs(job, opt, model), "load_s": load_s,
            "rss_pass_mb": rss_pass}


def _dfd_diffs(job, opt, model):
    """Max relative difference of each row to the Jittor reference (batch 1);
    the pass: max grey-level difference."""
    if not job.get("ref"):
        return {}
    ref, net = np.load(job["ref"]), model.model
    sketches, latents, fmap = bench_inputs(opt, 1)
    crops = crops_of(sketches, opt)
    enc = {p: model.encode_crops(p, crops[p]) for p in PARTS}
    feed = {"feature_map": fmap}
    if opt.appearance_dim:
        feed["code"] = np.zeros((1, opt.appearance_dim), np.float32)
    got = model.convert(sketches, opt.k, {p: 1.0 for p in PARTS}, "all")["images"]
    return {"encoders": max(rel_diff(enc[p], ref[f"encoders_{PART_NAMES[p]}"]) for p in PARTS),
            "fm": max(rel_diff(net[f"fm_{PART_NAMES[p]}"](latent=latents[p]),
                               ref[f"fm_{PART_NAMES[p]}"]) for p in PARTS),
            "G": rel_diff(net["generator"](**feed), ref["G"]),
            "networks": rel_diff(model.generate(enc), ref["networks"]),
            "pass_grey": int(np.abs(got.astype(np.int16) - ref["pass"].astype(np.int16)).max())}


def _onnx_sp(job):
    from evaluation.benchmark.sp_config import sp_options
    from models.inference import Appearance
    from models.onnx_runtime.sp import OnnxSPEmbedding
    from models.sp_embedding.inference import SPInference
    opt = sp_options(job["config"])
    opt.params, opt.backend, opt.gpu = job["dir"], "onnx", "off"
    t = time.perf_counter()
    model = OnnxSPEmbedding(opt).load_for_inference(opt)
    load_s = time.perf_counter() - t
    net = model.model
    labels, y, z, codes = sp_inputs(opt, job["batch"])
    from models.sp_embedding.inputs import one_hot
    x = one_hot(labels, opt.label_nc)
    face = SPInference(model, opt)               # the whole pass as demo.py runs it
    inputs, look = [{"labels": lab} for lab in labels], Appearance.of_photos(list(y))
    calls = {"E_c": lambda: net["encoder_sketch_coarse"](sketch=x),
             "E_s": lambda: net["encoder_sketch_fine"](sketch=x),
             "E_a": lambda: net["encoder_face_fine"](photo=y),
             "M": lambda: net["mapping"](z=z),
             "G": lambda: net["generator"](wplus=codes),
             "pass": lambda: face(inputs, look)}
    run = _timer(job)
    times = {"pass": run(calls["pass"])}
    rss_pass = rss_mb()
    times.update({k: run(fn) for k, fn in calls.items() if k != "pass"})
    diffs = {}
    if job.get("ref"):                       # batch 1, as the reference
        ref = np.load(job["ref"])
        labels, y, z, codes = sp_inputs(opt, 1)
        x = one_hot(labels, opt.label_nc)
        got = {"E_c": net["encoder_sketch_coarse"](sketch=x),
               "E_s": net["encoder_sketch_fine"](sketch=x),
               "E_a": net["encoder_face_fine"](photo=y), "M": net["mapping"](z=z),
               "G": net["generator"](wplus=codes), "pass": model.generate(model.encode(labels, y))}
        diffs = {k: rel_diff(v, ref[k]) for k, v in got.items()}
    return {"times": times, "diffs": diffs, "load_s": load_s, "rss_pass_mb": rss_pass}
