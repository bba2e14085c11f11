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
  whole sketch-to-face pass (``Sketch2FaceModel.convert``: uint8 sketches in,
  uint8 photos out, manifold projection included), with the same networks
  written in PyTorch as the peer when ``torch`` can be imported;
* where the time of the pass goes (encode, project, synthesize; the first
  call, which compiles, and the second, which must not);
* peak resident memory of inference and of one training step of the combine
  stage (FM decoders + G + D + VGG, batch 1);
* on a CUDA machine (``--gpu auto|on``) the same latency table on the GPU,
  and float16 where Jittor runs it, with the output difference to float32.

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
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from util.components import PARTS, PASTE_ORDER, nose_paste_rows, scaled_boxes  # noqa: E402

RESULT_TAG = "BENCHMARK-RESULT "
REFERENCE_GFLOP = {"encoders": 23.0, "fm": 163.0, "G": 376.0}   # official, batch 1 (issue 6)
NET_ROWS = (("encoders", "encoders (5)"), ("fm", "FM decoders (5)"), ("G", "generator G"),
            ("networks", "all networks"), ("pass", "sketch-to-face pass"),
            ("pass_shadow", "pass + shadows"))
TARGET_CPU_FLOOR = 2.0
TARGET_GPU_FLOOR = 3.0
MEMORY_LIMIT_MB = 4096


# ================================================================== FLOPs
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def count_flops(net, shape):
    """FLOPs of one forward pass of ``net`` on an input of ``shape``, counted
    from the module tree: 2 x multiply-adds of every Conv2d, ConvTranspose and
    Linear layer (norms, activations, padding and additions are not counted).
    Returns ``(flops, output shape)``. Nothing is computed, so the official
    networks can be counted without running (or even materialising) them."""
    from jittor import nn

    from models import networks as N

    shape = tuple(int(s) for s in shape)
    if isinstance(net, nn.Conv):
        b, c, h, w = shape
        kh, kw = _pair(net.kernel_size)
        sh, sw = _pair(net.stride)
        ph, pw = _pair(net.padding)
        dh, dw = _pair(net.dilation)
        if c != net.in_channels:
            raise ValueError(f"Conv2d expects {net.in_channels} channels, gets {c}")
        ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        macs = b * net.out_channels * ho * wo * (c // net.groups) * kh * kw
        return 2 * macs, (b, net.out_channels, ho, wo)
    if isinstance(net, nn.ConvTranspose):
        b, c, h, w = shape
        kh, kw = _pair(net.kernel_size)
        sh, sw = _pair(net.stride)
        ph, pw = _pair(net.padding)
        dh, dw = _pair(net.dilation)
        oph, opw = _pair(net.output_padding)
        if c != net.in_channels:
            raise ValueError(f"ConvTranspose expects {net.in_channels} channels, gets {c}")
        ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
        wo = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
        macs = b * h * w * c * (net.out_channels // net.groups) * kh * kw
        return 2 * macs, (b, net.out_channels, ho, wo)
    if isinstance(net, nn.Linear):
        b, feats = shape[0], math.prod(shape[1:])
        if feats != net.in_features:
            raise ValueError(f"Linear expects {net.in_features} features, gets {feats}")
        return 2 * b * net.in_features * net.out_features, (b, net.out_features)
    if isinstance(net, nn.ReflectionPad2d):
        b, c, h, w = shape
        return 0, (b, c, h + net.pt + net.pb, w + net.pl + net.pr)
    if isinstance(net, (nn.AvgPool2d, nn.Pool)):
        pool = getattr(net, "layer", net)          # AvgPool2d wraps a Pool
        b, c, h, w = shape
        k, s, p = _pair(pool.kernel_size), _pair(pool.stride), _pair(pool.padding)
        rnd = math.ceil if pool.ceil_mode else math.floor
        return 0, (b, c, rnd((h + 2 * p[0] - k[0]) / s[0]) + 1, rnd((w + 2 * p[1] - k[1]) / s[1]) + 1)
    if isinstance(net, N.ResnetBlock):
        flops, out = count_flops(net.conv_block, shape)
        if out != shape:
            raise ValueError(f"ResnetBlock changes the shape {shape} -> {out}")
        return flops, shape
    if isinstance(net, N.ComponentEncoder):
        f1, h = count_flops(net.conv, shape)
        f2, out = count_flops(net.fc_mu, (h[0], math.prod(h[1:])))
        return f1 + f2, out
    if isinstance(net, N.LatentDecoder):
        f1, h = count_flops(net.fc, shape)
        f2, out = count_flops(net.conv, (shape[0], net.top, net.grid, net.grid))
        return f1 + f2, out
    if isinstance(net, N.NLayerDiscriminator):
        return count_flops(net.stages, shape)
    if isinstance(net, N.MultiscaleDiscriminator):
        total, outs, x = 0, [], shape
        for i, d in enumerate(net.nets):
            if i:
                _, x = count_flops(net.down, x)
            f, out = count_flops(d, x)
            total += f
            outs.append(out)
        return total, outs
    children = list(net) if isinstance(net, (nn.Sequential, nn.ModuleList)) else net.children()
    if children:                      # a container: its children run in order
        total = 0
        for child in children:
            f, shape = count_flops(child, shape)
            total += f
        return total, shape
    heavy = [k for k, v in net.state_dict().items() if len(v.shape) >= 2]
    if heavy:
        raise ValueError(f"count_flops does not know {type(net).__name__} (parameters {heavy})")
    return 0, shape                   # norms, activations, identity: elementwise


def model_flops(opt, batch=1, k=None):
    """FLOPs of the networks of one configuration for ``batch`` sketches:
    {'encoders', 'fm', 'G', 'sketch_decoders', 'networks', 'shadows'}.
    Builds the networks lazily (their weights are never computed)."""
    from models.networks import ComponentEncoder, FeatureDecoder, GlobalGenerator, SketchDecoder
    boxes = scaled_boxes(opt.image_size)
    ae = dict(latent_dim=opt.latent_dim, ngf=opt.ae_ngf, n_down=opt.ae_n_down,
              norm=opt.ae_norm, variant=opt.variant)
    out = {"encoders": 0, "fm": 0, "sketch_decoders": 0}
    for p in PARTS:
        s = boxes[p][2]
        out["encoders"] += count_flops(ComponentEncoder(s, **ae), (batch, 1, s, s))[0]
        out["sketch_decoders"] += count_flops(SketchDecoder(s, **ae), (batch, opt.latent_dim))[0]
        fm = FeatureDecoder(s, opt.fm_channels, opt.fm_nc, opt.latent_dim, opt.ae_norm, opt.variant)
        out["fm"] += count_flops(fm, (batch, opt.latent_dim))[0]
    g = GlobalGenerator(opt.fm_nc, 3, opt.ngf, opt.n_downsample_global, opt.n_blocks_global,
                        opt.norm)
    n = opt.image_size
    out["G"] = count_flops(g, (batch, opt.fm_nc, n, n))[0]
    out["networks"] = out["encoders"] + out["fm"] + out["G"]
    out["pass"] = out["networks"]             # projection: B x bank x D, negligible
    k = opt.k if k is None else k
    out["shadows"] = out["sketch_decoders"] * k    # K neighbours decoded per part
    out["pass_shadow"] = out["pass"] + out["shadows"]
    return out


def training_flops(opt, batch=1):
    """Forward FLOPs of the combine stage's networks (FM + G + D on three
    inputs + VGG on the two images); a training step costs about 3x that."""
    from models.networks import MultiscaleDiscriminator
    base = model_flops(opt, batch, k=0)
    n = opt.image_size
    d = MultiscaleDiscriminator(1 + 3, opt.ndf, opt.n_layers_D, opt.num_D, opt.norm_D)
    return {"fm": base["fm"], "G": base["G"],
            "D": count_flops(d, (batch, 4, n, n))[0]}


# ================================================================== weights
def seeded_weights(shapes, seed=0):
    """{name: float32 array} for {name: shape}, the same in every process and
    framework (NumPy, seeded by the name): fan-in scaled normal weights,
    small biases, norm scales near 1, positive running variances."""
    import numpy as np
    out = {}
    for name, shape in shapes.items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        shape = tuple(int(s) for s in shape)
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var":
            a = rng.uniform(0.5, 1.5, shape)
        elif leaf == "running_mean":
            a = rng.normal(0.0, 0.1, shape)
        elif len(shape) >= 2:
            a = rng.standard_normal(shape, dtype=np.float32) / np.sqrt(max(1, math.prod(shape[1:])))
        elif leaf == "weight":
            a = rng.uniform(0.8, 1.2, shape)
        else:
            a = rng.normal(0.0, 0.05, shape)
        out[name] = np.ascontiguousarray(a, dtype=np.float32)
    return out


def bench_inputs(opt, batch, seed=1):
    """Sketch-like uint8 images and the arrays every network gets, seeded."""
    import numpy as np
    rng = np.random.default_rng(seed)
    n = opt.image_size
    sketches = np.full((batch, n, n), 255, np.uint8)
    sketches[rng.random((batch, n, n)) < 0.06] = 0          # sparse dark strokes
    latents = {p: rng.standard_normal((batch, opt.latent_dim)).astype(np.float32) for p in PARTS}
    fmap = rng.standard_normal((batch, opt.fm_nc, n, n)).astype(np.float32)
    return sketches, latents, fmap


def crops_of(sketches, opt):
    """{part: (B, 1, S, S) float32 crops}, as the encoders get them."""
    from models.AE_Model import crop_part
    from models.Sketch2Face_Model import sketch_to_array
    x = sketch_to_array(sketches)
    return {p: crop_part(x, p, opt.image_size) for p in PARTS}


# ================================================================== timing
def rss_mb():
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, repeats, warmup=1, budget=None, min_repeats=3):
    """Call ``fn`` ``warmup`` times untimed, then up to ``repeats`` times
    timed; with ``budget`` (seconds) the timed calls stop once they have
    taken that long, after at least ``min_repeats``. Returns the median,
    the minimum, the count, the first call (which compiles) and the second."""
    warm = [_time_once(fn) for _ in range(warmup)]
    times = []
    for _ in range(repeats):
        times.append(_time_once(fn))
        if budget and len(times) >= min_repeats and sum(times) > budget:
            break
    return {"median": statistics.median(times), "min": min(times), "n": len(times),
            "first": (warm or times)[0], "second": (warm[1:] + times)[0]}


def matmul_rates_numpy(sizes=(2048, 3072), tries=5):
    import numpy as np
    rates = {}
    for n in sizes:
        a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
        b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
        best = min(_time_once(lambda: a @ b) for _ in range(tries))
        rates[n] = 2.0 * n ** 3 / best / 1e9
    return rates


def _time_once(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# ================================================================== Jittor workers
def _jittor(device):
    from util import jittor_env
    jt = jittor_env.setup("on" if device == "cuda" else "off")
    return jt, jittor_env


def _sync(jt, device, outs=None):
    if outs is not None:
        jt.sync(outs if isinstance(outs, list) else [outs])
    if device == "cuda":
        jt.sync_all(True)


def _opt(config, extra=()):
    from options.test_options import TestOptions
    return TestOptions().parse(["--preset", config, *extra])


def set_jittor_weights(jt, net, seed):
    """Give ``net`` the seeded weights (as ``load_network`` gives a checkpoint's)."""
    state = net.state_dict()
    weights = seeded_weights({k: v.shape for k, v in state.items()}, seed)
    for name, var in state.items():
        var.update(jt.array(weights.pop(name)))
    jt.sync(list(state.values()))


def worker_peak(job):
    """The rate of a large float32 matrix product: NumPy and Jittor (and on
    CUDA Jittor in float32 and float16)."""
    out = {"numpy": matmul_rates_numpy()} if job["device"] == "cpu" else {}
    jt, env = _jittor(job["device"])
    out["describe"] = env.describe()
    sizes = (2048, 3072) if job["device"] == "cpu" else (8192,)
    dtypes = ("float32",) if job["device"] == "cpu" else ("float32", "float16")
    for dtype in dtypes:
        rates = {}
        for n in sizes:
            a = jt.randn(n, n).cast(dtype)
            b = jt.randn(n, n).cast(dtype)
            _sync(jt, job["device"], [a, b])

            def run():
                c = jt.matmul(a, b)
                _sync(jt, job["device"], c)
            run()                                   # compiles
            best = min(_time_once(run) for _ in range(5 if job["device"] == "cpu" else 20))
            rates[n] = 2.0 * n ** 3 / best / 1e9
        out[f"jittor_{dtype}"] = rates
    return out


def worker_infer(job):
    """Latency of the networks and of the whole pass for one configuration and
    batch size, on one device; peak memory of this inference process."""
    import numpy as np
    device, batch = job["device"], job["batch"]
    jt, env = _jittor(device)
    from models import checkpoint as ckpt
    from models.Sketch2Face_Model import Sketch2FaceModel
    opt = _opt(job["config"])
    res = {"describe": env.describe(), "flops": model_flops(opt, batch)}
    jt.set_global_seed(0)
    rss0 = rss_mb()
    t = time.perf_counter()
    model = Sketch2FaceModel(opt)
    model.root = tempfile.mkdtemp(prefix="dfd_bench_banks_")     # random banks, read as files
    for p in PARTS:
        set_jittor_weights(jt, model.parts[p].encoder, 10)
        set_jittor_weights(jt, model.combine.fm[p], 20)
        rng = np.random.default_rng(30 + PARTS.index(p))
        ckpt.write_bank(ckpt.bank_path(model.root, p, "all"),
                        rng.standard_normal((job["bank"], opt.latent_dim)).astype(np.float32))
    set_jittor_weights(jt, model.combine.netG, 40)
    for ae in model.parts.values():
        ae.eval()
    model.combine.eval()
    model.check_banks("all")
    res["build_s"] = time.perf_counter() - t
    res["rss_import_mb"] = rss0
    res["rss_model_mb"] = rss_mb()

    sketches, latents_np, fmap_np = bench_inputs(opt, batch)
    crops_np = crops_of(sketches, opt)
    refine = {p: 1.0 for p in PARTS}
    rep, budget = job["repeats"], job["budget"]
    warm = job["warmup"]
    times = {}

    # the whole pass first: its peak memory is the inference figure
    times["pass"] = timed(lambda: model.convert(sketches, opt.k, refine, "all", False),
                          rep, warm, budget)
    other = bench_inputs(opt, batch, seed=7)[0]           # new content, same size
    times["pass_new_content"] = timed(lambda: model.convert(other, opt.k, refine, "all", False),
                                      1, 0)
    res["rss_pass_mb"] = rss_mb()

    enc_in = {p: jt.array(crops_np[p]) for p in PARTS}
    lat_in = {p: jt.array(latents_np[p]) for p in PARTS}
    fmap_in = jt.array(fmap_np)
    _sync(jt, device, list(enc_in.values()) + list(lat_in.values()) + [fmap_in])

    def encoders():
        with jt.no_grad():
            outs = [model.parts[p].encoder(enc_in[p]) for p in PARTS]
            _sync(jt, device, outs)
        return outs

    def fm():
        with jt.no_grad():
            outs = [model.combine.fm[p](lat_in[p]) for p in PARTS]
            _sync(jt, device, outs)
        return outs

    def gen():
        with jt.no_grad():
            out = model.combine.netG(fmap_in)
            _sync(jt, device, out)
        return out

    def networks():
        with jt.no_grad():
            z = {p: model.parts[p].encoder(enc_in[p]) for p in PARTS}
            out = model.combine.generate(z)
            _sync(jt, device, out)
        return out

    times["encoders"] = timed(encoders, rep, warm, budget)
    times["fm"] = timed(fm, rep, warm, budget)
    times["G"] = timed(gen, rep, warm, budget)
    times["networks"] = timed(networks, rep, warm, budget)

    # where the pass spends its time
    state = {}
    times["stage_encode"] = timed(lambda: state.update(z=model.encode(sketches)), rep, warm, budget)
    times["stage_project"] = timed(
        lambda: state.update(pz=model.project(state["z"], opt.k, refine, "all")), rep, warm, budget)
    times["stage_synthesize"] = timed(lambda: model.synthesize(state["pz"][0]), rep, warm, budget)
    if job.get("shadows"):       # two sketches in turn: nothing carries over between calls
        turn = [sketches, other]

        def with_shadows():
            turn.reverse()
            return model.convert(turn[0], opt.k, refine, "all", True)
        times["pass_shadow"] = timed(with_shadows, max(1, rep // 2), warm, budget)
    res["times"] = times

    if job.get("ref_out"):          # what the PyTorch peer must reproduce
        one = {p: crops_np[p][:1] for p in PARTS}
        with jt.no_grad():
            z = {p: model.parts[p].encoder(jt.array(one[p])) for p in PARTS}
            ref = {f"crop_{p or 'rem'}": one[p] for p in PARTS}
            ref.update({f"enc_{p or 'rem'}": z[p].numpy() for p in PARTS})
            ref.update({f"lat_{p or 'rem'}": latents_np[p][:1] for p in PARTS})
            ref.update({f"fm_{p or 'rem'}": model.combine.fm[p](jt.array(latents_np[p][:1])).numpy()
                        for p in PARTS})
            ref["fmap"] = fmap_np[:1]
            ref["G"] = model.combine.netG(jt.array(fmap_np[:1])).numpy()
            ref["networks"] = model.combine.generate(z).numpy()
        np.savez(job["ref_out"], **ref)

    if device == "cuda" and job.get("fp16"):
        res["fp16"] = _fp16(jt, model, enc_in, lat_in, fmap_in, rep, warm, budget, gen, fm,
                            encoders)
    res["rss_peak_mb"] = rss_mb()
    shutil.rmtree(model.root, ignore_errors=True)
    return res


def _fp16(jt, model, enc_in, lat_in, fmap_in, rep, warm, budget, gen, fm, encoders):
    """float16 copies of the networks: latency and output difference to float32."""
    import numpy as np
    ref = {"G": gen().numpy(), "fm": [o.numpy() for o in fm()],
           "encoders": [o.numpy() for o in encoders()]}
    out = {}
    try:
        for p in PARTS:
            model.parts[p].encoder.float16()
            model.combine.fm[p].float16()
        model.combine.netG.float16()
        enc16 = {p: v.float16() for p, v in enc_in.items()}
        lat16 = {p: v.float16() for p, v in lat_in.items()}
        fmap16 = fmap_in.float16()

        def run(kind):
            with jt.no_grad():
                if kind == "G":
                    outs = [model.combine.netG(fmap16)]
                elif kind == "fm":
                    outs = [model.combine.fm[p](lat16[p]) for p in PARTS]
                else:
                    outs = [model.parts[p].encoder(enc16[p]) for p in PARTS]
                _sync(jt, "cuda", outs)
            return outs

        for kind in ("encoders", "fm", "G"):
            t = timed(lambda: run(kind), rep, warm, budget)
            got = [o.float32().numpy() for o in run(kind)]
            want = ref[kind] if isinstance(ref[kind], list) else [ref[kind]]
            diff = max(float(np.abs(g - w).max() / max(np.abs(w).max(), 1e-12))
                       for g, w in zip(got, want))
            out[kind] = {"median": t["median"], "rel_diff": diff,
                         "nonfinite": bool(any(not np.isfinite(g).all() for g in got))}
    except Exception as exc:                      # noqa: BLE001 - reported, not fatal
        out["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return out


def worker_train(job):
    """One training step of the combine stage (the step of models/trainers.py:
    FM + G + multiscale D, LSGAN + feature matching + VGG + TV + L1, Adam on
    both), batch 1: latency and peak memory."""
    import numpy as np
    jt, env = _jittor(job["device"])
    from models.AE_Model import AEModel
    from models.Combine_Model import CombineModel
    from models.optim import Adam
    from models.trainers import CombineTrainer
    from options.train_options import TrainOptions
    tmp = tempfile.mkdtemp(prefix="dfd_bench_train_")
    opt = TrainOptions().parse(["--stage", "combine", "--preset", job["config"], "--name", "bench",
                                "--checkpoints_dir", tmp, "--batch_size", str(job["batch"]),
                                "--vgg", "random"])
    jt.set_global_seed(0)
    rss0 = rss_mb()
    tr = CombineTrainer.__new__(CombineTrainer)       # the real step, without data or files
    tr.opt = opt
    tr.encoders = {p: AEModel(opt, p).eval() for p in PARTS}
    tr.use_d = opt.lambda_gan > 0 or opt.lambda_feat > 0
    tr.model = CombineModel(opt, is_train=tr.use_d).train()
    tr.vgg = None
    if opt.lambda_vgg > 0:
        from models.vgg import VGGLoss, load_vgg
        tr.vgg = VGGLoss(load_vgg("random", quiet=True))
    g_params = [v for n in tr.model.fm.values() for v in n.parameters()] + tr.model.netG.parameters()
    betas = (opt.beta1, opt.beta2)
    tr.optim_G = Adam(g_params, opt.lr, betas, opt.eps)
    tr.optim_D = Adam(tr.model.netD.parameters(), opt.lr, betas, opt.eps) if tr.use_d else None
    rss_model = rss_mb()
    rng = np.random.default_rng(0)
    n, b = opt.image_size, job["batch"]
    sketch = np.full((b, n, n), 255, np.uint8)
    sketch[rng.random((b, n, n)) < 0.06] = 0
    batch = {"sketch": sketch, "photo": rng.integers(0, 256, (b, n, n, 3), dtype=np.uint8),
             "gender": None}
    losses = {}
    t = timed(lambda: losses.update(tr.step(batch)), job["repeats"], 1, job["budget"],
              min_repeats=2)
    fl = training_flops(opt, b)
    shutil.rmtree(tmp, ignore_errors=True)
    return {"describe": env.describe(), "times": {"step": t}, "rss_import_mb": rss0,
            "rss_model_mb": rss_model, "rss_peak_mb": rss_mb(),
            "losses_finite": bool(all(math.isfinite(v) for v in losses.values())),
            "vgg": tr.vgg is not None, "flops": fl}


# ================================================================== PyTorch peer
def torch_networks(opt, torch):
    """The encoders, FM decoders and generator of ``opt`` in PyTorch, with
    the parameter names of models/networks.py (so the same weights load)."""
    nn, F = torch.nn, torch.nn.functional

    class BatchNorm(nn.BatchNorm2d):
        sample_stats = False

        def forward(self, x):
            if self.sample_stats:    # each sample's own statistics (the release's quirk)
                return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
            return super().forward(x)

    def norm(kind, c):
        if kind == "batch":
            return BatchNorm(c)
        if kind == "instance":
            return nn.InstanceNorm2d(c, affine=True)
        return nn.Identity()

    def act(variant):
        return nn.Identity() if variant == "official" else nn.LeakyReLU(0.2)

    class Res(nn.Module):
        def __init__(self, d, kind):
            super().__init__()
            self.conv_block = nn.Sequential(
                nn.ReflectionPad2d(1), nn.Conv2d(d, d, 3), norm(kind, d), nn.ReLU(),
                nn.ReflectionPad2d(1), nn.Conv2d(d, d, 3), norm(kind, d))

        def forward(self, x):
            return x + self.conv_block(x)

    class Down(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 4, stride=2, padding=1)
            self.bn = norm(opt.ae_norm, cout)
            self.relu = act(opt.variant)

        def forward(self, x):
            return self.relu(self.bn(self.conv(x)))

    class Up(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv = nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1),
                                      norm(opt.ae_norm, cout), act(opt.variant))

        def forward(self, x):
            return self.conv(x)

    class Encoder(nn.Module):
        def __init__(self, s):
            super().__init__()
            chans = [opt.ae_ngf * 2 ** i for i in range(opt.ae_n_down + 1)]
            grid = s // 2 ** (opt.ae_n_down + 1)
            layers = [Down(1, chans[0])]
            for a, b in zip(chans[:-1], chans[1:]):
                layers += [Res(a, opt.ae_norm), Down(a, b)]
            layers.append(Res(chans[-1], opt.ae_norm))
            self.conv = nn.Sequential(*layers)
            self.fc_mu = nn.Sequential(nn.Linear(chans[-1] * grid * grid, opt.latent_dim))

        def forward(self, x):
            h = self.conv(x)
            return self.fc_mu(h.reshape(h.shape[0], -1))

    class FMDecoder(nn.Module):
        def __init__(self, s):
            super().__init__()
            ch = list(opt.fm_channels)
            self.top, self.grid = ch[0], s // 2 ** (len(ch) - 1)
            self.fc = nn.Sequential(nn.Linear(opt.latent_dim, ch[0] * self.grid ** 2))
            layers = [Res(ch[0], opt.ae_norm)]
            for a, b in zip(ch[:-1], ch[1:]):
                layers += [Up(a, b), Res(b, opt.ae_norm)]
            layers += [nn.ReflectionPad2d(2), nn.Conv2d(ch[-1], opt.fm_nc, 5)]
            self.conv = nn.Sequential(*layers)

        def forward(self, z):
            return self.conv(self.fc(z).reshape(z.shape[0], self.top, self.grid, self.grid))

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            ngf, nd = opt.ngf, opt.n_downsample_global
            layers = [nn.ReflectionPad2d(3), nn.Conv2d(opt.fm_nc, ngf, 7), norm(opt.norm, ngf),
                      nn.ReLU()]
            for i in range(nd):
                c = ngf * 2 ** i
                layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), norm(opt.norm, 2 * c),
                           nn.ReLU()]
            layers += [Res(ngf * 2 ** nd, opt.norm) for _ in range(opt.n_blocks_global)]
            for i in range(nd, 0, -1):
                c = ngf * 2 ** i
                layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1),
                           norm(opt.norm, c // 2), nn.ReLU()]
            layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
            self.model = nn.Sequential(*layers)

        def forward(self, x):
            return self.model(x)

    boxes = scaled_boxes(opt.image_size)
    enc = {p: Encoder(boxes[p][2]) for p in PARTS}
    fm = {p: FMDecoder(boxes[p][2]) for p in PARTS}
    for dec in fm.values():
        for m in dec.modules():
            if isinstance(m, BatchNorm):
                m.sample_stats = bool(opt.fm_sample_stats)
    return enc, fm, Generator()


def torch_feature_map(torch, opt, fm, z):
    """CombineModel.feature_map in PyTorch: the remainder, then the pastes."""
    F = torch.nn.functional
    n = opt.image_size
    boxes = scaled_boxes(n)
    face = fm[""](z[""])
    for part in PASTE_ORDER:
        x, y, s = boxes[part]
        rows = nose_paste_rows(n) if part == "nose" else s
        patch = fm[part](z[part])[:, :, :rows, :]
        placed = F.pad(patch, [x, n - x - s, y, n - y - rows])
        mask = torch.zeros((1, 1, n, n), dtype=face.dtype, device=face.device)
        mask[:, :, y:y + rows, x:x + s] = 1.0
        face = face * (1.0 - mask) + placed * mask
    return face


def _torch_load(torch, net, seed):
    """Give a PyTorch network the seeded weights (names as in networks.py)."""
    state = net.state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items() if not k.endswith("num_batches_tracked")}
    weights = seeded_weights(shapes, seed)
    missing, unexpected = net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()},
                                              strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise RuntimeError(f"PyTorch peer: parameter names differ ({missing}, {unexpected})")


def worker_torch(job):
    """The same networks in PyTorch, on the same weights: output difference to
    Jittor's, latency, matrix-product rate, peak memory."""
    import numpy as np
    import torch
    device = job["device"]
    opt = _opt(job["config"])
    batch = job["batch"]
    enc, fm, gen = torch_networks(opt, torch)
    for p in PARTS:
        _torch_load(torch, enc[p], 10)
        _torch_load(torch, fm[p], 20)
    _torch_load(torch, gen, 40)
    nets = list(enc.values()) + list(fm.values()) + [gen]
    for net in nets:
        net.eval().to(device)
    res = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "rss_model_mb": rss_mb()}

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def T(a):
        return torch.from_numpy(np.ascontiguousarray(a)).to(device)

    if job.get("ref_in"):
        ref = np.load(job["ref_in"])
        diffs = {}
        with torch.inference_mode():
            z = {}
            for p in PARTS:
                key = p or "rem"
                z[p] = enc[p](T(ref[f"crop_{key}"]))
                got = {"encoders": z[p], "fm": fm[p](T(ref[f"lat_{key}"]))}
                want = {"encoders": ref[f"enc_{key}"], "fm": ref[f"fm_{key}"]}
                for kind in got:
                    diffs[kind] = max(diffs.get(kind, 0.0),
                                      _rel_diff(got[kind].cpu().numpy(), want[kind]))
            diffs["G"] = _rel_diff(gen(T(ref["fmap"])).cpu().numpy(), ref["G"])
            out = gen(torch_feature_map(torch, opt, fm, z))
            diffs["networks"] = _rel_diff(out.cpu().numpy(), ref["networks"])
        res["rel_diff"] = diffs

    sketches, latents_np, fmap_np = bench_inputs(opt, batch)
    crops = {p: T(c) for p, c in _crops_numpy(sketches, opt).items()}
    lat = {p: T(v) for p, v in latents_np.items()}
    fmap = T(fmap_np)
    rep, warm, budget = job["repeats"], job["warmup"], job["budget"]

    def run(kind):
        with torch.inference_mode():
            if kind == "encoders":
                out = [enc[p](crops[p]) for p in PARTS]
            elif kind == "fm":
                out = [fm[p](lat[p]) for p in PARTS]
            elif kind == "G":
                out = gen(fmap)
            else:
                z = {p: enc[p](crops[p]) for p in PARTS}
                out = gen(torch_feature_map(torch, opt, fm, z))
            sync()
        return out

    res["times"] = {kind: timed(lambda: run(kind), rep, warm, budget)
                    for kind in ("encoders", "fm", "G", "networks")}
    rates = {}
    if device == "cpu":
        for n in (2048, 3072):
            a, b = torch.randn(n, n), torch.randn(n, n)
            torch.mm(a, b)
            rates[n] = 2.0 * n ** 3 / min(_time_once(lambda: torch.mm(a, b)) for _ in range(5)) / 1e9
    res["matmul"] = rates
    res["rss_peak_mb"] = rss_mb()
    return res


def _crops_numpy(sketches, opt):
    """The encoders' crops without importing Jittor (as AE_Model.crop_part)."""
    import numpy as np
    x = ((np.asarray(sketches, np.float32) - 127.5) / 127.5)[:, None]
    boxes = scaled_boxes(opt.image_size)
    out = {}
    for p in PARTS:
        if p == "":
            rem = x.copy()
            for q in PARTS[:-1]:
                bx, by, s = boxes[q]
                rem[:, :, by:by + s, bx:bx + s] = 1.0
            out[p] = rem
        else:
            bx, by, s = boxes[p]
            out[p] = np.ascontiguousarray(x[:, :, by:by + s, bx:bx + s])
    return out


def _rel_diff(got, want):
    import numpy as np
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-12))


WORKERS = {"peak": worker_peak, "infer": worker_infer, "train": worker_train,
           "torch": worker_torch}


def worker_main(kind, job_json):
    job = json.loads(job_json)
    result = WORKERS[kind](job)
    result["rss_peak_mb"] = max(result.get("rss_peak_mb", 0.0), rss_mb())
    sys.stdout.flush()
    print(RESULT_TAG + json.dumps(result), flush=True)
    return 0


# ================================================================== orchestration
def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_worker(kind, job, python=None, env_extra=None, timeout=None, verbose=False):
    """Run one measurement in a fresh process; its result dict, or {'error': ...}."""
    cmd = [python or sys.executable, os.path.abspath(__file__), "--_worker", kind,
           "--_job", json.dumps(job)]
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
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            res = json.loads(line[len(RESULT_TAG):])
            res.update(wall_s=time.time() - t, load_before=load_before, load_after=loadavg())
            return res
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
    how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else \
        f"exit status {proc.returncode}"
    return {"error": f"{how}: {' | '.join(tail)[-400:]}"}


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


def machine_info():
    info = {"python": platform.python_version(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor() or platform.machine()
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
        info["ram_gb"] = kb / 1024 ** 2
    except (OSError, StopIteration, ValueError):
        info["ram_gb"] = None
    return info


def loadavg():
    try:
        return "%.2f, %.2f, %.2f" % os.getloadavg()
    except OSError:
        return "n/a"


def parse_args(argv):
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
    p.add_argument("--quick", action="store_true",
                   help="smoke test: tiny config, batch 1, 3 repeats, 15 s budget")
    p.add_argument("--torch", default="auto", choices=("auto", "off"),
                   help="time the PyTorch peer when torch can be imported")
    p.add_argument("--torch_python", default=os.environ.get("DFD_TORCH_PYTHON", sys.executable),
                   help="the Python that runs the PyTorch peer")
    p.add_argument("--gpu", default="auto", choices=("auto", "on", "off"),
                   help="also measure on a CUDA GPU (auto: when one is usable)")
    p.add_argument("--train", default="on", choices=("on", "off"),
                   help="measure one training step per configuration")
    p.add_argument("--shadows", default="on", choices=("on", "off"),
                   help="time the pass with shadows (batch 1)")
    p.add_argument("--timeout", type=float, default=3600.0,
                   help="seconds before one measurement process is given up")
    p.add_argument("--json", default="", help="also write every raw result to this file")
    p.add_argument("--report", default="", metavar="JSON",
                   help="print the tables of a run saved with --json, measuring nothing")
    p.add_argument("--verbose", action="store_true", help="show the workers' stderr")
    p.add_argument("--_worker", help=argparse.SUPPRESS)
    p.add_argument("--_job", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.configs, args.batch, args.repeats, args.budget = "tiny", "1", 3, 15.0
    try:
        args.config_list = [c.strip() for c in args.configs.split(",") if c.strip()]
        args.batch_list = [int(b) for b in str(args.batch).split(",") if b.strip()]
    except ValueError:
        p.error("--batch must be comma-separated integers")
    from configs import available
    bad = [c for c in args.config_list if c not in available()]
    if bad or not args.config_list:
        p.error(f"unknown config {', '.join(bad) or '(none)'}; choose from {', '.join(available())}")
    if not args.batch_list or min(args.batch_list) < 1:
        p.error("batch sizes must be >= 1")
    if args.repeats < 1 or args.warmup < 0:
        p.error("--repeats must be >= 1 and --warmup >= 0")
    return args


def run_all(args):
    from util.jittor_env import gpu_usable
    devices = ["cpu"]
    if args.gpu != "off" and gpu_usable():
        devices.append("cuda")
    elif args.gpu == "on":
        raise SystemExit("error: --gpu on, but no usable CUDA GPU (device, nvcc and libcudart)")
    torch_version, torch_cuda = None, False
    if args.torch == "auto":
        torch_version, torch_cuda = torch_available(args.torch_python)
        log(f"PyTorch peer: {torch_version or 'torch not importable, skipped'}")
    env = {"cpu": {"DFD_GPU": "off"}, "cuda": {"DFD_GPU": "on"}}
    R = {"machine": machine_info(), "start": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
         "load_start": loadavg(), "devices": devices, "torch": torch_version, "peak": {},
         "infer": {}, "torch_runs": {}, "train": {}, "args": {k: v for k, v in vars(args).items()
                                                               if not k.startswith("_")}}
    tmp = tempfile.mkdtemp(prefix="dfd_bench_")
    go = dict(timeout=args.timeout, verbose=args.verbose)

    def save():              # after every measurement: an interrupted run keeps what it had
        if args.json:
            with open(args.json, "w") as f:
                json.dump(R, f, indent=1, default=str)
    for dev in devices:
        log(f"[{dev}] matrix-product rate")
        R["peak"][dev] = [run_worker("peak", {"device": dev}, env_extra=env[dev], **go)]
    for dev in devices:
        for cfg in args.config_list:
            for i, b in enumerate(args.batch_list):
                key = f"{dev}/{cfg}/{b}"
                peer = torch_version and (dev == "cpu" or torch_cuda)
                ref = os.path.join(tmp, f"ref_{dev}_{cfg}.npz") if i == 0 and peer else ""
                job = {"device": dev, "config": cfg, "batch": b, "repeats": args.repeats,
                       "warmup": args.warmup + (2 if dev == "cuda" else 0),
                       "budget": args.budget, "bank": args.bank, "ref_out": ref,
                       "shadows": args.shadows == "on" and b == 1, "fp16": dev == "cuda"}
                if dev == "cuda":
                    job["repeats"] = max(args.repeats, 20)
                log(f"[{key}] Jittor: networks and pass")
                R["infer"][key] = run_worker("infer", job, env_extra=env[dev], **go)
                save()
                if peer and "error" not in R["infer"][key]:
                    log(f"[{key}] PyTorch peer")
                    tjob = dict(job, ref_in=ref if i == 0 else "")
                    R["torch_runs"][key] = run_worker("torch", tjob, python=args.torch_python,
                                                      env_extra={"CUDA_VISIBLE_DEVICES": ""}
                                                      if dev == "cpu" else {}, **go)
                    save()
            if args.train == "on" and dev == "cpu":
                log(f"[{dev}/{cfg}] one training step")
                R["train"][f"{dev}/{cfg}/1"] = run_worker(
                    "train", {"device": dev, "config": cfg, "batch": 1,
                              "repeats": max(2, min(args.repeats, 3)), "budget": args.budget},
                    env_extra=env[dev], **go)
                save()
    for dev in devices:        # the rate again at the end: the machine may have changed
        R["peak"][dev].append(run_worker("peak", {"device": dev}, env_extra=env[dev], **go))
    R["end"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    R["load_end"] = loadavg()
    save()
    shutil.rmtree(tmp, ignore_errors=True)          # the reference outputs for the peer
    return R


# ================================================================== report
def best_rate(R, dev, dtype="float32"):
    """(GFLOP/s, source) of the fastest float32 matrix product measured on ``dev``."""
    best = (0.0, "none")
    for res in R["peak"].get(dev, []):
        for src in ([f"jittor_{dtype}"] + (["numpy"] if dev == "cpu" else [])):
            for n, rate in (res.get(src) or {}).items():
                if rate > best[0]:
                    best = (rate, f"{src.split('_')[0]} {n}x{n}")
    if dev == "cpu" and dtype == "float32":
        for key, res in R["torch_runs"].items():
            if key.startswith("cpu/"):
                for n, rate in (res.get("matmul") or {}).items():
                    if rate > best[0]:
                        best = (rate, f"pytorch {n}x{n}")
    return best


def fmt(x, digits=None):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, int):
        return str(x)
    if digits is not None:
        return f"{x:.{digits}f}"
    ax = abs(x)
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def latency_rows(R, dev):
    """Rows of the latency table and, per key, the ratios the targets use."""
    rate, _ = best_rate(R, dev)
    rows, ratios = [], {}
    for key, res in R["infer"].items():
        if not key.startswith(dev + "/"):
            continue
        _, cfg, b = key.split("/")
        if "error" in res:
            rows.append([cfg, b, "(failed)", res["error"][:120]] + [None] * 6)
            continue
        peer = R["torch_runs"].get(key, {})
        for name, label in NET_ROWS:
            t = res["times"].get(name)
            if t is None:
                continue
            gflop = res["flops"][name] / 1e9
            ms = t["median"] * 1e3
            floor_ms = gflop / rate * 1e3 if rate else None
            x_floor = ms / floor_ms if floor_ms else None
            pt = (peer.get("times") or {}).get(name)
            pt_ms = pt["median"] * 1e3 if pt else None
            vs = ms / pt_ms if pt_ms else None
            rows.append([cfg, b, label, gflop, ms, gflop / t["median"], floor_ms, x_floor,
                         pt_ms, vs])
            ratios[(cfg, int(b), name)] = {"x_floor": x_floor, "vs_torch": vs, "ms": ms,
                                           "torch_ms": pt_ms}
    return rows, ratios


def report(R):
    m = R["machine"]
    lines = ["# DeepFaceDrawing benchmark", ""]
    lines.append(f"* date: {R['start']} to {R.get('end', '(interrupted)')}")
    ram = f"{m['ram_gb']:.1f} GB RAM" if m.get("ram_gb") else "RAM unknown"
    lines.append(f"* machine: {m['cpu']}, {m['cores']} cores, {ram}; Python {m['python']}")
    lines.append(f"* load average (1, 5, 15 min): {R['load_start']} at the start, "
                 f"{R.get('load_end', '-')} at the end")
    desc = next((r.get("describe") for r in R["infer"].values() if r.get("describe")), "?")
    lines.append(f"* Jittor: {desc}; PyTorch peer: {R['torch'] or 'not run (torch not importable or --torch off)'}")
    a = R["args"]
    lines.append(f"* settings: configs {a['configs']}, batch {a['batch']}, median of up to "
                 f"{a['repeats']} runs after {a['warmup']} warm-up (at least 3 within a "
                 f"{a['budget']:.0f} s budget), random banks of {a['bank']} latents")
    lines.append("")

    lines += ["## The machine's rate (float32 matrix product, best of 5)", ""]
    rows = []
    for dev, runs in R["peak"].items():
        for when, res in zip(("start", "end"), runs):
            if "error" in res:
                rows.append([dev, when, "error", res["error"][:100]])
                continue
            for src in ("numpy", "jittor_float32", "jittor_float16"):
                for n, rate in (res.get(src) or {}).items():
                    rows.append([dev, when, f"{src.replace('_', ' ')} {n}x{n}", rate])
    for key, res in R["torch_runs"].items():
        if key.startswith("cpu/") and res.get("matmul"):
            for n, rate in res["matmul"].items():
                rows.append(["cpu", key.split("/", 1)[1], f"pytorch {n}x{n}", rate])
                break
    lines += [table(["device", "when", "product", "GFLOP/s"], rows), ""]
    for dev in R["devices"]:
        rate, src = best_rate(R, dev)
        lines.append(f"Floor on {dev}: FLOPs / {rate:.1f} GFLOP/s ({src}, the best measured).")
    lines.append("")

    lines += ["## FLOPs per sketch (analytic: 2 x multiply-adds of conv, transposed conv, "
              "linear)", ""]
    rows, seen = [], set()
    for key, res in R["infer"].items():
        cfg, b = key.split("/")[1], int(key.split("/")[2])
        if cfg in seen or "error" in res:
            continue
        seen.add(cfg)
        f = {k: v / b / 1e9 for k, v in res["flops"].items()}
        rows.append([cfg, f["encoders"], f["fm"], f["G"], f["pass"], f["shadows"]])
    lines += [table(["config", "encoders (5)", "FM decoders (5)", "G", "pass",
                     "shadows (K decodes x 5)"], rows), ""]
    if "official" in seen:
        lines.append(f"Reference (issue 6) for official: encoders {REFERENCE_GFLOP['encoders']:.0f}, "
                     f"FM {REFERENCE_GFLOP['fm']:.0f}, G {REFERENCE_GFLOP['G']:.0f} GFLOP.")
        lines.append("")

    targets = []
    for dev in R["devices"]:
        rows, ratios = latency_rows(R, dev)
        lines += [f"## Latency on {dev} (median, whole batch)", ""]
        lines += [table(["config", "batch", "network", "GFLOP", "median ms", "GFLOP/s",
                         "floor ms", "x floor", "PyTorch ms", "ours / PyTorch"], rows), ""]
        targets.append((dev, ratios))
        fp = [(k, r["fp16"]) for k, r in R["infer"].items() if k.startswith(dev) and r.get("fp16")]
        if fp:
            lines += ["### float16 (Jittor), against float32", ""]
            frows = []
            for key, f16 in fp:
                _, cfg, b = key.split("/")
                if "error" in f16:
                    frows.append([cfg, b, "unsupported", f16["error"], None, None, None])
                    continue
                rate16, _ = best_rate(R, dev, "float16")
                for kind, v in f16.items():
                    t32 = R["infer"][key]["times"][kind]["median"]
                    gflop = R["infer"][key]["flops"][kind] / 1e9
                    x16 = v["median"] / (gflop / rate16) if rate16 else None
                    frows.append([cfg, b, kind, v["median"] * 1e3, t32 / v["median"], x16,
                                  f"{v['rel_diff']:.2e}" + (" (non-finite!)" if v["nonfinite"] else "")])
            lines += [table(["config", "batch", "network", "fp16 ms", "speed-up over fp32",
                             "x fp16 floor", "max rel. diff to fp32"], frows), ""]

    lines += ["## Where the pass spends its time (median ms)", ""]
    rows = []
    for key, res in R["infer"].items():
        if "error" in res:
            continue
        dev, cfg, b = key.split("/")
        t = res["times"]
        rows.append([dev, cfg, b, t["pass"]["first"] * 1e3, t["pass"]["second"] * 1e3,
                     t["pass_new_content"]["median"] * 1e3, t["pass"]["median"] * 1e3,
                     t["stage_encode"]["median"] * 1e3, t["stage_project"]["median"] * 1e3,
                     t["stage_synthesize"]["median"] * 1e3,
                     t["pass_shadow"]["median"] * 1e3 if "pass_shadow" in t else None])
    lines += [table(["device", "config", "batch", "first call", "second call", "new sketch",
                     "median", "encode", "project", "synthesize", "with shadows"], rows), ""]
    lines.append("encode = crops + 5 encoders (uint8 in, latents out); project = bank search "
                 "and least squares (NumPy); synthesize = 5 FM decoders + paste + G + "
                 "conversion to uint8. The first call compiles (or loads cached kernels); "
                 "'new sketch' is a call with other content of the same size after warm-up.")
    lines.append("")

    if R["torch_runs"]:
        lines += ["## PyTorch peer: the same networks on the same weights", ""]
        rows = []
        for key, res in R["torch_runs"].items():
            dev, cfg, b = key.split("/")
            if "error" in res:
                rows.append([dev, cfg, b, "error: " + res["error"][:150], None, None])
                continue
            d = res.get("rel_diff")
            rows.append([dev, cfg, b, res["torch"], res["threads"],
                         ", ".join(f"{k} {v:.1e}" for k, v in d.items()) if d else "-"])
        lines += [table(["device", "config", "batch", "torch", "threads",
                         "max rel. output diff to Jittor"], rows), ""]

    lines += ["## Peak resident memory (fresh process per row)", ""]
    rows = []
    for group, key, res in ([("infer", k, v) for k, v in R["infer"].items()]
                            + [("train", k, v) for k, v in R["train"].items()]):
        dev, cfg, b = key.split("/")
        what = "training step (combine)" if group == "train" else "inference"
        if "error" in res:
            rows.append([dev, cfg, what, b, "error: " + res["error"][:120], None, None, None])
            continue
        extra = ""
        if group == "train":
            t = res["times"]["step"]["median"]
            extra = f"step {t:.2f} s" + ("" if res["losses_finite"] else ", NON-FINITE losses")
            extra += ", VGG (random)" if res["vgg"] else ""
        peak = res["rss_pass_mb"] if group == "infer" else res["rss_peak_mb"]
        ok = "yes" if peak <= MEMORY_LIMIT_MB else "no"
        rows.append([dev, cfg, what, b, res["rss_model_mb"], peak,
                     ok if group == "infer" else "-", extra])
    for key, res in R["torch_runs"].items():
        if "error" not in res:
            dev, cfg, b = key.split("/")
            rows.append([dev, cfg, "PyTorch peer (networks only)", b, res["rss_model_mb"],
                         res["rss_peak_mb"], "-", ""])
    lines += [table(["device", "config", "what", "batch", "MB after building",
                     "peak MB", "fits 4 GB", "notes"], rows), ""]
    lines.append("Inference peak: after the whole pass (before the per-network timings, "
                 "which keep extra inputs); it includes the Jittor runtime, the random "
                 "initialisation of every network and the replacement of their weights, "
                 "as loading a checkpoint does.")
    lines.append("")

    lines += ["## Measurement processes (load average before and after each)", ""]
    rows = []
    for group, label in (("infer", "Jittor"), ("torch_runs", "PyTorch"), ("train", "Jittor train")):
        for key, res in R[group].items():
            rows.append([key, label, res.get("wall_s"), res.get("load_before", "-"),
                         res.get("load_after", "-")])
    lines += [table(["measurement", "process", "wall s", "load before", "load after"], rows), ""]

    lines += ["## Targets", ""]
    lines += target_lines(targets)
    return "\n".join(lines) + "\n"


def target_lines(targets):
    out = []
    for dev, ratios in targets:
        limit = TARGET_CPU_FLOOR if dev == "cpu" else TARGET_GPU_FLOOR
        for (cfg, b, name), r in sorted(ratios.items()):
            if name == "pass" and r["x_floor"] is not None:
                ok = r["x_floor"] <= limit
                out.append(f"* {dev}, {cfg}, batch {b}: pass at {r['x_floor']:.2f}x the floor "
                           f"(target <= {limit:g}x): " + (
                               "met" if ok else f"missed, {r['x_floor'] / limit:.2f} times "
                                                f"the allowed time"))
        for (cfg, b, name), r in sorted(ratios.items()):
            if name in ("G", "networks") and r["vs_torch"] is not None:
                ok = r["vs_torch"] <= 1.0
                out.append(f"* {dev}, {cfg}, batch {b}: {name} ours/PyTorch = {r['vs_torch']:.2f} "
                           f"({r['ms']:.0f} vs {r['torch_ms']:.0f} ms; target <= 1): "
                           + ("met" if ok else f"missed, {r['vs_torch']:.2f}x slower"))
    return out or ["* no complete measurement"]


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
    failed = [k for group in ("infer", "train", "torch_runs") for k, v in R[group].items()
              if "error" in v]
    if failed:
        log(f"failed measurements: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
