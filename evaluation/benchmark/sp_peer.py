"""The sketch embedding's PyTorch peer: the benchmark's seeded weights of its
networks (NumPy only, the same in both frameworks), the inputs, and the
peer's inference measurement (``worker_torch_sp``): the twin networks of
``sp_twin.py`` on those weights, their outputs compared with the ones the
Jittor worker wrote (``ref_out``), then timed. A row whose difference exceeds
``TOLERANCE`` is marked failed and not timed.

Seeded weights are drawn the way the networks initialise themselves, so the
activations have realistic sizes (no denormals, no demodulation swamped by
its epsilon): equalised weights (StyleGAN2's, the style heads' last linear
layers) are standard normal, the mapping network's divided by its lr_mul
0.01, modulation biases near 1; the encoders' plain convolutions are fan-in
scaled (``inputs.seeded_weights``). FIR kernels are left as built.
"""

import zlib

import numpy as np

from evaluation.benchmark.inputs import seeded_weights
from evaluation.benchmark.sp_config import sp_options

SP_SEEDS = {"encoder_sketch_coarse": 51, "encoder_sketch_fine": 52, "encoder_face_fine": 53,
            "decoder": 54, "latent_avg": 55, "discriminator": 56}
SP_TWIN_KEYS = ("output_size", "style_dim", "n_mlp", "channel_multiplier", "channel_max",
                "label_nc", "encoder_layers", "encoder_width", "encoder_size", "n_latent",
                "break_layer", "w_scale", "wplus_scale")
# The largest allowed difference to Jittor: relative (max |a - b| / max |b|)
# for float outputs, grey levels for the uint8 faces. float32 rounding of the
# two frameworks' different convolution algorithms, grown through 24 IR-SE
# units or 17 modulated layers, stays near 1e-5 (the authors' own float32 vs
# float64 noise is 2e-5); any real mismatch (a pad, a scale, a flipped
# kernel, a missing head) moves the output by 1e-2 or more. The truncating
# uint8 conversion turns a 1e-6 difference at a level boundary into 1 level.
TOLERANCE = {"float": 1e-3, "grey": 1}
LR_MLP = 0.01


def sp_twin_options(config):
    """{option: value} the twin is built from (made in the plan's process)."""
    opt = sp_options(config)
    return {k: getattr(opt, k) for k in SP_TWIN_KEYS}


def is_fixed(name):
    """The FIR kernels (made from [1, 3, 3, 1], not drawn) and PyTorch's counters."""
    return name.endswith(".kernel") or name.endswith("num_batches_tracked")


def sp_seeded_weights(network, shapes):
    """{name: float32 array} of one network (``SP_SEEDS``'s names) for {name: shape}."""
    shapes = {k: tuple(int(s) for s in v) for k, v in shapes.items() if not is_fixed(k)}
    out = seeded_weights(shapes, SP_SEEDS[network])
    for name, shape in shapes.items():
        rng = np.random.default_rng([SP_SEEDS[network], 7, zlib.crc32(name.encode())])
        leaf = name.rsplit(".", 1)[-1]
        equalised = network in ("decoder", "discriminator") or name.endswith("linear.weight")
        if equalised and (len(shape) >= 2 and leaf in ("weight", "input")
                          or name.startswith("noises.")):
            a = rng.standard_normal(shape)
            if network == "decoder" and name.startswith("style."):
                a = a / LR_MLP
            out[name] = a.astype(np.float32)
        elif name.endswith("modulation.bias"):
            out[name] = out[name] + np.float32(1.0)
        elif name.endswith("noise.weight"):
            out[name] = out[name] * np.float32(2.0)           # about N(0, 0.1)
    return out


def latent_avg(opt):
    rng = np.random.default_rng(SP_SEEDS["latent_avg"])
    return (0.1 * rng.standard_normal((opt.n_latent, opt.style_dim))).astype(np.float32)


def sp_bench_inputs(opt, batch):
    """(labels uint8 (B, S, S), one-hot (B, label_nc, S, S), photos (B, 3, S, S),
    z (B, D), W+ codes (B, n_latent, D)): the worker's inputs, seeded."""
    rng = np.random.default_rng(1)
    s = opt.encoder_size
    labels = rng.integers(0, opt.label_nc + 1, (batch, s, s))
    labels[rng.random(labels.shape) < 0.9] = 0
    labels = labels.astype(np.uint8)
    y = rng.uniform(-1, 1, (batch, 3, s, s)).astype(np.float32)
    z = rng.standard_normal((batch, opt.style_dim)).astype(np.float32)
    codes = rng.standard_normal((batch, opt.n_latent, opt.style_dim)).astype(np.float32)
    return labels, one_hot(labels, opt.label_nc), y, z, codes


def one_hot(labels, label_nc):
    classes = np.arange(1, label_nc + 1, dtype=labels.dtype).reshape(1, -1, 1, 1)
    return (labels[:, None] == classes).astype(np.float32)


def shapes_list(shapes):
    """'name:shape' of every drawn tensor, sorted: how the peer checks its names."""
    return sorted(f"{k}:{'x'.join(str(int(s)) for s in v)}" for k, v in shapes.items()
                  if not is_fixed(k))


def out_of_tolerance(diffs):
    """The names of the compared outputs whose difference is too large."""
    return sorted(k for k, v in diffs.items()
                  if not v <= TOLERANCE["grey" if k == "pass" else "float"])


# ---------------------------------------------------------------- the twin
class SPTwin:
    """The four networks of one configuration (+ the discriminator), seeded,
    and the authors' composition of the codes (pSp.forward)."""

    def __init__(self, torch, opt, discriminator=False):
        from evaluation.benchmark.sp_twin import sp_classes
        self.torch, self.opt = torch, opt
        cls, o = sp_classes(torch), opt

        def encoder(input_nc, scale, head0=False):
            return cls["GradualStyleEncoder"](input_nc, o.n_latent, o.encoder_layers, o.style_dim,
                                              o.encoder_size, o.encoder_width, scale, head0)
        self.nets = {
            "encoder_sketch_coarse": encoder(o.label_nc, o.w_scale, head0=True),
            "encoder_sketch_fine": encoder(o.label_nc, o.wplus_scale),
            "encoder_face_fine": encoder(3, o.wplus_scale),
            "decoder": cls["Generator"](o.output_size, o.style_dim, o.n_mlp,
                                        o.channel_multiplier, o.channel_max)}
        if discriminator:
            self.nets["discriminator"] = cls["Discriminator"](
                o.output_size, o.channel_multiplier, o.channel_max)
        for name, net in self.nets.items():
            load_seeded(torch, net, name)
            net.eval()
        self.latent_avg = torch.from_numpy(latent_avg(o))

    def shapes(self):
        return {name: shapes_list({k: v.shape for k, v in net.state_dict().items()})
                for name, net in self.nets.items()}

    def codes(self, x, y):
        """W+: M(E_c(x)) + latent_avg, + E_s(x) below the break layer, + E_a(y) above."""
        b, n = self.opt.break_layer, self.nets
        base = n["decoder"].style(n["encoder_sketch_coarse"](x)).unsqueeze(1) + \
            self.latent_avg[None]
        top = base[:, :b] + n["encoder_sketch_fine"](x)[:, :b]
        bottom = base[:, b:] + n["encoder_face_fine"](y)[:, b:]
        return self.torch.cat([top, bottom], dim=1)

    def face(self, labels, y):
        """uint8 faces (B, N, N, 3) from uint8 label maps, as the authors'
        inference writes them: one-hot without the background, the forward,
        clamp((x + 1) / 2) * 255 truncated."""
        torch = self.torch
        classes = torch.arange(1, self.opt.label_nc + 1, dtype=labels.dtype).view(1, -1, 1, 1)
        x = (labels[:, None] == classes).float()
        img = self.nets["decoder"](self.codes(x, y))
        return (((img + 1) / 2).clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1)


def load_seeded(torch, net, name):
    """The seeded weights of network ``name`` into the twin's ``net``, tensor
    by tensor (no second copy of the model in memory)."""
    with torch.no_grad():
        for key, tensor in net.state_dict().items():
            for value in sp_seeded_weights(name, {key: tensor.shape}).values():
                tensor.copy_(torch.from_numpy(value))


# ---------------------------------------------------------------- inference
SP_PEER_ROWS = ("E_c", "E_s", "E_a", "M", "G", "pass")


def worker_torch_sp(job):
    """The sketch embedding in PyTorch on the benchmark's weights: names and
    outputs checked against Jittor's (``ref_in``), then each network and the
    whole pass timed (rows out of tolerance are not), peak memory."""
    from types import SimpleNamespace

    import torch

    from evaluation.benchmark.inputs import rel_diff
    from evaluation.benchmark.timing import rss_mb, timed
    opt = SimpleNamespace(**job["arch"])
    twin = SPTwin(torch, opt)
    res = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "rss_model_mb": rss_mb()}
    labels, x, y, z, codes = (torch.from_numpy(a) for a in sp_bench_inputs(opt, job["batch"]))
    n, b = twin.nets, opt.break_layer
    # E_s and E_a compute every head, as the authors' code does; the rows the
    # pass uses are compared (Jittor computes only those)
    forward = {"E_c": lambda: n["encoder_sketch_coarse"](x),
               "E_s": lambda: n["encoder_sketch_fine"](x)[:, :b],
               "E_a": lambda: n["encoder_face_fine"](y)[:, b:],
               "M": lambda: n["decoder"].style(z), "G": lambda: n["decoder"](codes),
               "pass": lambda: twin.face(labels, y)}
    skip = set()
    if job.get("ref_in"):
        ref = np.load(job["ref_in"])
        mine = twin.shapes()
        bad = [k for k in mine if list(ref[f"shapes_{k}"]) != mine[k]]
        if bad:
            return {"error": f"parameter names or shapes differ from Jittor's: {bad}"}
        diffs = {}
        with torch.inference_mode():
            for name, fn in forward.items():
                got = fn().numpy()
                want = ref[name]
                if name == "pass":                      # uint8: the largest grey-level step
                    diffs[name] = int(np.abs(got.astype(np.int16) - want.astype(np.int16)).max()) \
                        if got.shape == want.shape else float("inf")
                else:
                    diffs[name] = rel_diff(got, want)
            diffs["codes"] = rel_diff(twin.codes(x, y).numpy(), ref["codes"])
        res["rel_diff"] = diffs
        skip = set(out_of_tolerance(diffs))
        res["failed"] = sorted(skip)

    def call(fn):
        def run():
            with torch.inference_mode():
                return fn()
        return run
    res["times"] = {name: timed(call(fn), job["repeats"], job["warmup"], job["budget"])
                    for name, fn in forward.items() if name not in skip}
    res["rss_peak_mb"] = rss_mb()
    return res
