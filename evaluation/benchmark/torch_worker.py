"""The PyTorch peer's measurement, in a process of its own: the twin
networks on the same seeded weights, their output difference to Jittor's,
their latency, PyTorch's matrix-product rate and the peak memory."""

from types import SimpleNamespace

import numpy as np

from evaluation.benchmark.inputs import (WEIGHT_SEEDS, bench_inputs, crops_of, preset_options,
                                         ref_name, rel_diff)
from evaluation.benchmark.timing import MATMUL_SIZES, matmul_rate, rss_mb, timed
from evaluation.benchmark.torch_twin import load_seeded, torch_feature_map, torch_networks
from util.components import PARTS


def worker_torch(job):
    """The same networks in PyTorch, on the same weights: output difference to
    Jittor's, latency, matrix-product rate, peak memory."""
    import torch
    device = job["device"]
    opt = SimpleNamespace(**job["arch"]) if "arch" in job else preset_options(job["config"])
    peer = Peer(torch, opt, device)
    res = {"torch": torch.__version__, "threads": torch.get_num_threads(),
           "rss_model_mb": rss_mb()}
    if job.get("ref_in"):
        res["rel_diff"] = peer.check(job["ref_in"])
    calls = peer.network_calls(job["batch"])
    res["times"] = {name: timed(call, job["repeats"], job["warmup"], job["budget"])
                    for name, call in calls.items()}
    res["matmul"] = torch_matmul_rates(torch) if device == "cpu" else {}
    res["rss_peak_mb"] = rss_mb()
    return res


def torch_matmul_rates(torch, sizes=MATMUL_SIZES):
    rates = {}
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        rates[n] = matmul_rate(n, lambda: torch.mm(a, b))
    return rates


class Peer:
    """The twin networks with the seeded weights, in eval mode on ``device``."""

    def __init__(self, torch, opt, device):
        self.torch, self.opt, self.device = torch, opt, device
        self.enc, self.fm, self.gen = torch_networks(opt, torch)
        for p in PARTS:
            load_seeded(torch, self.enc[p], WEIGHT_SEEDS["encoder"])
            load_seeded(torch, self.fm[p], WEIGHT_SEEDS["fm"])
        load_seeded(torch, self.gen, WEIGHT_SEEDS["G"])
        for net in list(self.enc.values()) + list(self.fm.values()) + [self.gen]:
            net.eval().to(device)

    def tensor(self, a):
        return self.torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

    def generate(self, z):
        return self.gen(torch_feature_map(self.torch, self.opt, self.fm, z))

    def check(self, path):
        """{network: max relative difference} to the reference outputs Jittor wrote."""
        ref, T = np.load(path), self.tensor
        diffs, z = {}, {}
        with self.torch.inference_mode():
            for p in PARTS:
                key = ref_name(p)
                z[p] = self.enc[p](T(ref[f"crop_{key}"]))
                got = {"encoders": z[p], "fm": self.fm[p](T(ref[f"lat_{key}"]))}
                want = {"encoders": ref[f"enc_{key}"], "fm": ref[f"fm_{key}"]}
                for kind in got:
                    diffs[kind] = max(diffs.get(kind, 0.0),
                                      rel_diff(got[kind].cpu().numpy(), want[kind]))
            diffs["G"] = rel_diff(self.gen(T(ref["fmap"])).cpu().numpy(), ref["G"])
            diffs["networks"] = rel_diff(self.generate(z).cpu().numpy(), ref["networks"])
        return diffs

    def network_calls(self, batch):
        """{row: call} of the networks alone, as the Jittor worker times them."""
        sketches, latents, fmap = bench_inputs(self.opt, batch)
        crops = {p: self.tensor(c) for p, c in crops_of(sketches, self.opt).items()}
        lat = {p: self.tensor(v) for p, v in latents.items()}
        fmap = self.tensor(fmap)
        enc, fm = self.enc, self.fm
        return {"encoders": self._synced(lambda: [enc[p](crops[p]) for p in PARTS]),
                "fm": self._synced(lambda: [fm[p](lat[p]) for p in PARTS]),
                "G": self._synced(lambda: self.gen(fmap)),
                "networks": self._synced(lambda: self.generate(
                    {p: enc[p](crops[p]) for p in PARTS}))}

    def _synced(self, forward):
        def call():
            with self.torch.inference_mode():
                out = forward()
                if self.device == "cuda":
                    self.torch.cuda.synchronize()
            return out
        return call
