"""The sketch embedding in the benchmark: FLOPs of its networks, counted
from the architecture options the way PyTorch's flop counter counts the
authors' modules (2 x multiply-adds of convolutions, transposed
convolutions, linears; the blur FIRs as depthwise convolutions), and the
worker that times them (``worker_sp``: the three encoders, the mapping
network, the generator and the whole pass, with seeded random weights).

At the authors' size the counts equal the reference figures (E_c 146.4,
E_a 145.0, G 150.8 GFLOP; ``tests/test_benchmark.py`` checks them)."""

import math
import time

import numpy as np

from evaluation.benchmark.sp_config import sp_options
from evaluation.benchmark.timing import rss_mb, timed, with_replay_alternated

SP_ROWS = (("E_c", "W encoder E_c (head 0 only)"), ("E_s", "sketch encoder E_s"),
           ("E_a", "appearance encoder E_a"), ("M", "mapping network (one W)"),
           ("G", "generator G"), ("pass", "sketch + photo -> face"),
           ("pass_rebuilt", "the same, Jittor's graph rebuilt each call"))


def conv(h, w, cin, cout, k):
    return 2 * h * w * cin * cout * k * k


def encoder_flops(opt, input_nc, rows=None):
    """FLOPs of one GradualStyleEncoder on one input computing the style
    heads ``rows`` = (start, stop) and the lateral convolutions they read;
    by default all of them, as the authors' code computes them."""
    from models.sp_embedding.encoders import COARSE_IND, MIDDLE_IND, body_units, scaled_channels
    s = opt.encoder_size
    stem = scaled_channels(64, opt.encoder_width)
    total = conv(s, s, input_nc, stem, 3)
    h = s
    for cin, depth, stride in body_units(opt.encoder_layers, opt.encoder_width):
        total += conv(h, h, cin, depth, 3)                   # residual conv 1, input size
        h_out = h // stride
        total += conv(h_out, h_out, depth, depth, 3)         # residual conv 2 (strided)
        total += 2 * 2 * depth * (depth // 16)               # SE: two 1x1 convs on 1x1
        if cin != depth:
            total += conv(h_out, h_out, cin, depth, 1)       # shortcut 1x1 conv
        h = h_out
    d = opt.style_dim
    c1, c2 = scaled_channels(128, opt.encoder_width), scaled_channels(256, opt.encoder_width)
    start, stop = rows or (0, opt.n_latent)
    for i in range(start, stop):
        size = s // 16 if i < COARSE_IND else s // 8 if i < MIDDLE_IND else s // 4
        while size > 1:
            total += conv(size // 2, size // 2, d, d, 3)
            size //= 2
        total += 2 * d * d                                    # the head's linear
    if stop > COARSE_IND:
        total += conv(s // 8, s // 8, c2, d, 1)               # latlayer1 (p2)
    if stop > MIDDLE_IND:
        total += conv(s // 4, s // 4, c1, d, 1)               # latlayer2 (p1)
    return total


def mapping_flops(opt):
    return opt.n_mlp * 2 * opt.style_dim * opt.style_dim


def generator_flops(opt):
    """The synthesis network (mapping not included), for W+ input."""
    from models.sp_embedding.stylegan2 import channel_table
    ch = channel_table(opt.channel_multiplier, opt.channel_max)
    d = opt.style_dim
    log_size = int(math.log2(opt.output_size))
    total = 2 * d * ch[4] + conv(4, 4, ch[4], ch[4], 3)      # conv1: modulation + conv
    total += 2 * d * ch[4] + conv(4, 4, ch[4], 3, 1)          # to_rgb1
    cin = ch[4]
    for i in range(3, log_size + 1):
        r, cout = 2 ** i, ch[2 ** i]
        total += 2 * d * cin + conv(r // 2, r // 2, cin, cout, 3)   # transposed conv
        total += 2 * (r * r) * cout * 16                           # blur FIR, depthwise 4x4
        total += 2 * d * cout + conv(r, r, cout, cout, 3)
        total += 2 * d * cout + conv(r, r, cout, 3, 1)              # to_rgb
        total += 2 * (r * r) * 3 * 16                               # skip upsample FIR
        cin = cout
    return total


def sp_flops(opt, batch=1):
    """{row: FLOPs} of one configuration for ``batch`` sketches; each encoder
    counts the heads we compute (E_c head 0, E_s those below the break layer,
    E_a the rest); ``*_authors``: all of them, as the authors' code does."""
    from models.sp_embedding.psp import fine_rows
    rows = fine_rows(opt)
    out = {"E_c": encoder_flops(opt, opt.label_nc, (0, 1)),
           "E_s": encoder_flops(opt, opt.label_nc, rows["encoder_sketch_fine"]),
           "E_a": encoder_flops(opt, 3, rows["encoder_face_fine"]),
           "M": mapping_flops(opt), "G": generator_flops(opt)}
    out.update({f"{k}_authors": encoder_flops(opt, nc)
                for k, nc in (("E_c", opt.label_nc), ("E_s", opt.label_nc), ("E_a", 3))})
    out["pass"] = out["E_c"] + out["E_s"] + out["E_a"] + out["M"] + out["G"]
    out["pass_rebuilt"] = out["pass"]
    return {k: v * batch for k, v in out.items()}


# ---------------------------------------------------------------- the worker
def load_seeded(jt, module, name):
    """The seeded weights of network ``name`` (``sp_peer.SP_SEEDS``) into a
    Jittor module, tensor by tensor (no second copy of the model in memory);
    buffers stay untrained."""
    from evaluation.benchmark.sp_peer import sp_seeded_weights
    for key, var in module.state_dict().items():
        for value in sp_seeded_weights(name, {key: var.shape}).values():
            frozen = var.is_stop_grad()
            var.update(jt.array(value))
            if frozen:
                var.stop_grad()
            jt.sync([var])


def set_seeded_weights(jt, net, opt):
    """The benchmark's seeded weights (``sp_peer``, the PyTorch peer's too) in
    every network of a SketchEmbedding, and its latent_avg; eval mode.
    Returns {network: 'name:shape' list} for the peer to check its names."""
    from evaluation.benchmark.sp_peer import latent_avg, shapes_list
    shapes = {}
    for name, module in net.networks().items():
        shapes[name] = shapes_list({k: v.shape for k, v in module.state_dict().items()})
        load_seeded(jt, module, name)
        module.eval()                      # BatchNorm on its running statistics
    net.latent_avg = latent_avg(opt)
    net.ready(loaded=True)
    return shapes


def worker_sp(job):
    """Latency and memory of the sketch embedding's networks on the
    benchmark's seeded weights, one configuration and batch size, on the CPU
    or CUDA; with ``ref_out`` also the outputs (and names) the PyTorch peer
    must reproduce."""
    from evaluation.benchmark.jittor_workers import _jittor, _sync
    from evaluation.benchmark.sp_peer import sp_bench_inputs
    jt, env = _jittor(job["device"])
    from models import graph_replay
    opt = sp_options(job["config"])
    batch = job["batch"]
    res = {"describe": f"{env.describe()}; {graph_replay.describe()}",
           "flops": sp_flops(opt, batch)}
    rss0 = rss_mb()
    from models import create_model
    jt.set_global_seed(0)
    t = time.perf_counter()
    model = create_model("sp_embedding", opt)
    net = model.net
    shapes = set_seeded_weights(jt, net, opt)
    res.update(build_s=time.perf_counter() - t, rss_import_mb=rss0, rss_model_mb=rss_mb())
    labels, onehot, photos, z_np, codes_np = sp_bench_inputs(opt, batch)
    x, y, z, codes = (jt.array(a) for a in (onehot, photos, z_np, codes_np))
    # the whole pass as demo.py runs it: the inference contract, label maps and photos in
    from models.inference import Appearance
    from models.sp_embedding.inference import SPInference
    face = SPInference(model, opt)
    inputs = [{"labels": lab} for lab in labels]
    look = Appearance.of_photos(list(photos))

    model.enable_replay()

    def run(row, forward, *inputs):
        def call():       # as the pass runs networks: replayed (models/graph_replay.py)
            with jt.no_grad():
                out = graph_replay.run(model, ("bench", row), forward, *inputs)
                _sync(jt, job["device"], out)
            return out
        return call

    nets = {"E_c": run("E_c", net.encoder_sketch_coarse, x),
            "E_s": run("E_s", net.sketch_offsets, x),          # the rows the pass uses
            "E_a": run("E_a", net.appearance_offsets, y),
            "M": run("M", net.mapping, z),
            "G": run("G", net.synthesize, codes)}
    calls = dict(nets)
    calls["pass"] = lambda: face(inputs, look)
    rep, warm, budget = job["repeats"], job.get("warmup", 1), job["budget"]
    res["times"] = {"pass": timed(calls["pass"], rep, warm, budget)}
    with_replay_alternated(res["times"], "pass", calls.pop("pass"), rep, budget)
    res["rss_pass_mb"] = rss_mb()
    if job.get("ref_out"):
        with jt.no_grad():
            ref = {k: fn().numpy() for k, fn in nets.items()}
            ref["codes"] = net.codes(x, y).numpy()
        ref["pass"] = face(inputs, look)["faces"]
        ref.update({f"shapes_{k}": np.array(v) for k, v in shapes.items()})
        np.savez(job["ref_out"], **ref)
    res["times"].update({k: timed(fn, rep, warm, budget) for k, fn in calls.items()})
    res["rss_peak_mb"] = rss_mb()
    return res
