"""scripts/benchmark.py and evaluation/benchmark: the FLOP counter against
the reference figures, and a smoke run of the whole benchmark (tables
complete, numbers positive, the saved run reported the same).

No timing is asserted here: the speed targets belong in the benchmark's
output (docs/benchmarks.md), not in tests that run on any machine under any
load."""

import os
import re
import subprocess
import sys

import pytest

from evaluation.benchmark import flops, inputs, workers
from evaluation.benchmark.flops import REFERENCE_GFLOP, count_flops, model_flops
from tests.conftest import ROOT
from util.jittor_env import get_jittor

jt = get_jittor()
SCRIPT = os.path.join(ROOT, "scripts", "benchmark.py")


# ---------------------------------------------------------------- FLOP counter
def test_flops_of_the_official_networks_match_the_reference(official_opt):
    """Issue 6: encoders 23, FM decoders 163, G 376 GFLOP per 512x512 sketch."""
    f = model_flops(official_opt, batch=1)
    for key, ref in REFERENCE_GFLOP.items():
        assert abs(f[key] / 1e9 - ref) <= 0.5, (key, f[key] / 1e9, ref)
    assert f["networks"] == f["encoders"] + f["fm"] + f["G"]
    assert 555e9 < f["pass"] < 565e9                      # "about 560 GFLOP"


def test_flops_scale_with_the_batch(tiny_opt):
    one, eight = model_flops(tiny_opt, 1), model_flops(tiny_opt, 8)
    assert all(eight[k] == 8 * one[k] for k in one)
    assert one["shadows"] == one["sketch_decoders"] * tiny_opt.k


def test_flops_of_single_layers():
    from jittor import nn
    conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
    assert count_flops(conv, (2, 3, 16, 16)) == (2 * 2 * 8 * 8 * 8 * 3 * 9, (2, 8, 8, 8))
    # a transposed conv: every input pixel meets every weight once
    up = nn.ConvTranspose(8, 4, 4, stride=2, padding=1)
    assert count_flops(up, (1, 8, 5, 5)) == (2 * 5 * 5 * 8 * 4 * 16, (1, 4, 10, 10))
    up3 = nn.ConvTranspose(8, 4, 3, stride=2, padding=1, output_padding=1)
    assert count_flops(up3, (1, 8, 5, 5))[1] == (1, 4, 10, 10)
    lin = nn.Linear(12, 5)
    assert count_flops(lin, (3, 3, 2, 2)) == (2 * 3 * 12 * 5, (3, 5))     # flattens
    seq = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(2, 2, 3), nn.ReLU())
    assert count_flops(seq, (1, 2, 6, 6)) == (2 * 2 * 2 * 9 * 36, (1, 2, 6, 6))
    with pytest.raises(ValueError, match="channels"):
        count_flops(conv, (1, 4, 16, 16))


def test_flops_of_the_discriminator_follow_its_scales():
    from models.deepfacedrawing.networks import MultiscaleDiscriminator, NLayerDiscriminator
    d1 = NLayerDiscriminator(4, 16, 3)
    f1, _ = count_flops(d1, (1, 4, 64, 64))
    f2, _ = count_flops(d1, (1, 4, 32, 32))
    two = MultiscaleDiscriminator(4, 16, 3, num_D=2)
    total, outs = count_flops(two, (1, 4, 64, 64))
    assert f1 > 0 and len(outs) == 2
    assert total > f1 and abs(total - (f1 + f2)) < 0.2 * f2      # the second sees 1/4 the pixels


def test_an_unknown_heavy_layer_is_an_error_not_zero():
    from jittor import nn

    class Odd(nn.Module):
        def __init__(self):
            self.kernel = jt.ones((4, 4))

        def execute(self, x):
            return x @ self.kernel

    with pytest.raises(ValueError, match="does not know Odd"):
        count_flops(Odd(), (1, 4))


def test_seeded_weights_are_the_same_everywhere():
    a = inputs.seeded_weights({"model.1.weight": (4, 3, 3, 3), "bn.running_var": (4,)}, seed=5)
    b = inputs.seeded_weights({"bn.running_var": (4,), "model.1.weight": (4, 3, 3, 3)}, seed=5)
    assert all((a[k] == b[k]).all() for k in a)
    assert (a["bn.running_var"] > 0).all() and a["model.1.weight"].dtype.name == "float32"


def test_training_flops_add_the_discriminator(tmp_path):
    from options.train_options import TrainOptions
    opt = TrainOptions().parse(["--stage", "combine", "--preset", "tiny",
                                "--checkpoints_dir", str(tmp_path)])
    f = flops.training_flops(opt, batch=2)
    base = model_flops(opt, batch=2)
    assert (f["fm"], f["G"]) == (base["fm"], base["G"]) and f["D"] > 0


class Gram(jt.nn.Module):
    """A layer the counter knows only once a counter is registered for it."""

    def __init__(self, n):
        self.kernel = jt.ones((n, n))

    def execute(self, x):
        return x @ self.kernel


def test_a_network_family_adds_its_layers_with_a_counter(monkeypatch):
    monkeypatch.setattr(flops, "_COUNTERS", dict(flops._COUNTERS))
    monkeypatch.setattr(flops, "_RESOLVED", {})
    seq = jt.nn.Sequential(Gram(4), jt.nn.ReLU())
    with pytest.raises(ValueError, match="does not know Gram"):
        count_flops(seq, (2, 4))

    @flops.counts(f"{__name__}:Gram")
    def gram(net, shape):
        return 2 * shape[0] * net.kernel.shape[0] * net.kernel.shape[1], shape

    assert count_flops(seq, (2, 4)) == (2 * 2 * 4 * 4, (2, 4))


def test_the_plan_and_the_peer_import_no_framework():
    """The plan's process and the PyTorch peer's modules leave Jittor alone
    (and torch: it is imported by the peer's worker only)."""
    code = ("import sys\n"
            "import evaluation.benchmark.report, evaluation.benchmark.workers\n"
            "import evaluation.benchmark.torch_twin, evaluation.benchmark.torch_worker\n"
            "import evaluation.benchmark.sp, evaluation.benchmark.sp_peer, "
            "evaluation.benchmark.sp_twin\n"
            "import evaluation.benchmark.sp_train, evaluation.benchmark.sp_train_peer\n"
            "import evaluation.benchmark.torch_train, evaluation.benchmark.train_steps\n"
            "import evaluation.benchmark.jittor_workers\n"
            "print(sorted(m for m in ('jittor', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_failed_worker_is_an_error_result_not_an_exception():
    res = workers.run_worker("no_such_measurement", {}, timeout=300)
    assert set(res) == {"error"} and "exit status 1" in res["error"]
    assert "KeyError" in res["error"]


# ---------------------------------------------------------------- the whole benchmark
def markdown_tables(text):
    """{first header cell tuple: [rows as lists of cells]} of every table."""
    tables, current = {}, None
    for line in text.splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if current is None:
            current = tuple(cells)
            tables[current] = []
        elif not all(set(c) <= {"-"} for c in cells):
            tables[current].append(cells)
    return tables


def positive(cell):
    return float(cell) > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    raw = str(tmp_path_factory.mktemp("bench") / "raw.json")
    env = dict(os.environ, PYTHONPATH=ROOT, DFD_GPU="off")
    res = subprocess.run([sys.executable, SCRIPT, "--quick", "--gpu", "off", "--json", raw],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout, raw


LATENCY = ("config", "batch", "network", "GFLOP", "median ms", "GFLOP/s", "floor ms",
           "x floor", "PyTorch ms", "ours / PyTorch")


@pytest.mark.slow
def test_quick_run_prints_the_latency_table(quick_run):
    out, _ = quick_run
    assert "## Latency on cpu" in out
    rows = markdown_tables(out)[LATENCY]
    names = [r[2] for r in rows]
    assert names == ["encoders (5)", "FM decoders (5)", "generator G", "all networks",
                     "sketch-to-face pass", "the same, Jittor's graph rebuilt each call",
                     "pass + shadows"]
    assert "forwards replayed from traced graphs" in out      # models/graph_replay.py
    for r in rows:
        assert r[0] == "tiny" and r[1] == "1"
        assert all(positive(c) for c in r[3:8]), r
        if r[8] != "-":                             # the PyTorch peer, when torch is here
            assert positive(r[8]) and positive(r[9])


def test_quick_run_reports_rate_flops_breakdown_memory_and_targets(quick_run):
    out, raw = quick_run
    tables = markdown_tables(out)
    rate = tables[("device", "when", "product", "GFLOP/s")]
    assert {r[1] for r in rate} >= {"start", "end"} and all(positive(r[3]) for r in rate)
    assert re.search(r"Floor on cpu: FLOPs / [0-9.]+ GFLOP/s", out)
    flops = tables[("config", "encoders (5)", "FM decoders (5)", "G", "pass",
                    "shadows (K decodes x 5)")]
    assert flops[0][0] == "tiny" and all(positive(c) for c in flops[0][1:])
    stages = [t for k, t in tables.items() if k[:3] == ("device", "config", "batch")
              and "first call" in k][0]
    assert all(positive(c) for c in stages[0][3:])
    memory = tables[("device", "config", "what", "batch", "MB after building", "peak MB",
                     "fits 4 GB", "notes")]
    what = {r[2]: r for r in memory}
    assert positive(what["inference"][5]) and what["inference"][6] == "yes"
    assert positive(what["training step (combine)"][5])
    assert "NON-FINITE" not in what["training step (combine)"][7]
    assert "## Targets" in out and "x the floor (target <= 2.5x)" in out      # tiny: 128 px
    load = tables[("model", "quiet ms", "loaded ms (adaptive)", "x quiet", "loaded ms (all cores)",
                   "x quiet", "quiet again ms")]
    assert [r[0].split(",")[0] for r in load] == ["deepfacedrawing", "sp_embedding"]
    assert all(positive(c) for r in load for c in r[1:]), load
    assert re.search(r"1 busy process\(es\) .* on \d+ cores", out)
    assert os.path.getsize(raw) > 0


def test_the_saved_run_reports_the_same_tables(quick_run):
    out, raw = quick_run
    res = subprocess.run([sys.executable, SCRIPT, "--report", raw], cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT),    # this checkout's modules
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout == out


def test_sketch_embedding_flops_match_the_reference_counts():
    """At the authors' size the analytic counts equal PyTorch's flop counter on
    their modules (the reference notes: E_c/E_s 146.396, E_a 144.962,
    G 150.766 GFLOP, the whole forward 588.525)."""
    from evaluation.benchmark.sp import sp_flops
    from evaluation.benchmark.sp_config import sp_options
    f = {k: v / 1e9 for k, v in sp_flops(sp_options("official")).items()}
    assert round(f["E_c_authors"], 3) == round(f["E_s_authors"], 3) == 146.396
    assert round(f["E_a_authors"], 3) == 144.962 and round(f["G"], 3) == 150.766
    assert round(f["M"], 3) == 0.004
    authors = f["E_c_authors"] + f["E_s_authors"] + f["E_a_authors"] + f["M"] + f["G"]
    assert round(authors, 2) == 588.52
    # we compute E_c's head 0 only, E_s's 8 heads below the break layer, E_a's 10 from it
    assert f["E_c"] < 0.5 * f["E_c_authors"]
    assert f["E_s"] < 0.8 * f["E_s_authors"] and f["E_a"] < f["E_a_authors"]
    exact = sp_flops(sp_options("official"))
    # E_s leaves out heads 8-17, all on p1 (64 x 64, 512 channels): 6 stride-2 convs and a linear
    p1_head = sum(2 * (size // 2) ** 2 * 512 * 512 * 9 for size in (64, 32, 16, 8, 4, 2)) \
        + 2 * 512 * 512
    assert exact["E_s_authors"] - exact["E_s"] == 10 * p1_head


ONNX_TABLE = ("method", "config", "batch", "network", "Jittor ms", "ONNX Runtime ms",
              "ONNX Runtime / Jittor", "max diff to Jittor")


def test_quick_run_times_onnx_runtime_beside_jittor(quick_run):
    """Both methods exported and timed under ONNX Runtime on the same weights,
    each row beside Jittor's, with the output difference."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    out, _ = quick_run
    rows = markdown_tables(out)[ONNX_TABLE]
    assert [(r[0], r[3]) for r in rows] == [
        ("deepfacedrawing", n) for n in ("encoders (5)", "FM decoders (5)", "generator G",
                                         "all networks", "sketch-to-face pass")] + [
        ("sp_embedding", n) for n in ("W encoder E_c", "sketch encoder E_s",
                                      "appearance encoder E_a", "mapping network",
                                      "generator G", "sketch + photo -> face")]
    for r in rows:
        assert r[1] == "tiny" and r[2] == "1" and all(positive(c) for c in r[4:7]), r
        if r[3] == "sketch-to-face pass":
            assert r[7] in ("0 grey levels", "1 grey level"), r
        else:
            assert float(r[7]) < 1e-3, r
    assert re.search(r"deepfacedrawing, tiny, batch 1: the pass takes [0-9.]+x Jittor's time",
                     out)


# ---------------------------------------------------------------- training steps against PyTorch
def torch_python():
    """A Python that has torch ($DFD_TORCH_PYTHON, else this one), or skip."""
    python = os.environ.get("DFD_TORCH_PYTHON", sys.executable)
    if workers.torch_available(python)[0] is None:
        pytest.skip("no Python with torch (set DFD_TORCH_PYTHON)")
    return python


@pytest.fixture(scope="module")
def train_steps():
    """{stage: (Jittor result, PyTorch result)} of one tiny step of each stage."""
    from evaluation.benchmark.train_steps import STAGES
    python, out = torch_python(), {}
    for stage in STAGES:
        job = {"device": "cpu", "config": "tiny", "batch": 1, "stage": stage, "repeats": 2,
               "budget": 1.0}
        jit = workers.run_worker("train", job, env_extra={"DFD_GPU": "off"}, timeout=1800)
        assert "error" not in jit, jit["error"]
        tjob = dict(job, options=jit["options"], vgg=jit["vgg"], ref_losses=jit["losses"])
        out[stage] = jit, workers.run_worker("torch_train", tjob, python=python,
                                             env_extra={"CUDA_VISIBLE_DEVICES": ""}, timeout=1800)
    return out


def test_pytorch_takes_the_same_training_steps(train_steps):
    """ae and combine: the PyTorch step reproduces the Jittor trainer's losses
    (first step and the one after an Adam update), then is timed; both
    processes report their peak memory."""
    from evaluation.benchmark.train_steps import LOSS_TOLERANCE
    names = {"ae": {"rec_eye1", "rec_eye2", "rec_nose", "rec_mouth", "rec_remainder"},
             "combine": {"KL", "G_GAN", "G_GAN_Feat", "G_VGG", "G_TV", "G_L1", "D_fake",
                         "D_real"}}
    for stage, (jit, tor) in train_steps.items():
        assert "error" not in tor, tor["error"]
        assert [set(s) for s in jit["losses"]] == [names[stage]] * 2
        assert jit["losses"][0] != jit["losses"][1]                 # the step changed weights
        assert len(tor["loss_diff"]) == 2
        assert tor["loss_diff"][0] < LOSS_TOLERANCE[0] / 10, tor["loss_diff"]
        assert tor["loss_diff"][1] < LOSS_TOLERANCE[1], tor["loss_diff"]
        for res in (jit, tor):
            assert res["times"]["step"]["median"] > 0 and res["rss_peak_mb"] > 0
    assert train_steps["combine"][0]["vgg"]["weights"] == [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0]


def test_a_training_step_that_disagrees_is_not_timed(train_steps):
    jit, _ = train_steps["ae"]
    wrong = [{k: v * 1.01 for k, v in s.items()} for s in jit["losses"]]
    job = {"stage": "ae", "batch": 1, "repeats": 2, "budget": 1.0, "options": jit["options"],
           "vgg": None, "ref_losses": wrong}
    res = workers.run_worker("torch_train", job, python=torch_python(), timeout=1800)
    assert "not the same step" in res["error"] and "times" not in res
    assert 5e-3 < res["loss_diff"][0] < 2e-2


def test_the_report_shows_training_steps_beside_pytorch():
    """The training-step table, its target lines and memory rows, from results
    alone (a failed comparison is a failed row, not a ratio)."""
    from evaluation.benchmark.report import memory_lines, train_lines, train_targets

    def step(s, mb, **more):
        return dict({"times": {"step": {"median": s}}, "rss_model_mb": mb / 2, "rss_peak_mb": mb,
                     "losses_finite": True, "vgg": None}, **more)
    R = {"infer": {}, "torch_runs": {},
         "train": {"cpu/tiny/1/ae": step(0.2, 300), "cpu/tiny/1/combine": step(0.6, 650)},
         "torch_train": {"cpu/tiny/1/ae": step(0.4, 400, loss_diff=[1e-6, 1e-4]),
                         "cpu/tiny/1/combine": {"error": "not the same step: ...",
                                                "loss_diff": [0.5, 0.5]}}}
    text = "\n".join(train_lines(R))
    rows = [r for t, r in markdown_tables(text).items() if "stage" in t][0]
    assert rows[0][3:7] == ["ae", "200", "400", "0.500"] and rows[0][-1] == "1.0e-06, 1.0e-04"
    assert rows[1][3] == "combine" and rows[1][4].startswith("failed: not the same step")
    targets = train_targets(R)
    assert "ours/PyTorch = 0.50 (target <= 1): met" in targets[0]
    assert "not compared" in targets[1]
    memory = "\n".join(memory_lines(R))
    assert "training step (ae)" in memory and "PyTorch training step (ae)" in memory


# ---------------------------------------------------------------- the sketch embedding's peer
SP_TABLE = ("device", "config", "batch", "network", "GFLOP", "median ms", "floor ms", "x floor",
            "PyTorch ms", "ours / PyTorch")


def test_the_sketch_embedding_peer_matches_jittor_and_is_timed(tmp_path):
    """The peer (the authors' networks and CPU fallbacks in PyTorch) loads the
    same seeded weights under the same names, reproduces every output of
    Jittor's to float rounding, and every row gets both times."""
    from evaluation.benchmark.sp_report import sp_lines
    from evaluation.benchmark.sp_peer import TOLERANCE, sp_twin_options
    python = torch_python()
    ref = str(tmp_path / "ref.npz")
    job = {"device": "cpu", "config": "tiny", "batch": 1, "repeats": 1, "warmup": 1,
           "budget": 5.0, "ref_out": ref}
    env = {"DFD_GPU": "off", "OMP_NUM_THREADS": "1"}
    res = workers.run_worker("sp", job, env_extra=env, timeout=1200)
    assert "error" not in res, res
    peer = workers.run_worker("torch_sp", dict(job, ref_in=ref, ref_out="",
                                               arch=sp_twin_options("tiny")),
                              python=python, env_extra=dict(env, CUDA_VISIBLE_DEVICES=""),
                              timeout=600)
    assert "error" not in peer, peer
    diffs = peer["rel_diff"]
    assert set(diffs) == {"E_c", "E_s", "E_a", "M", "G", "codes", "pass"}
    assert all(v < 1e-4 for k, v in diffs.items() if k != "pass"), diffs
    assert diffs["pass"] <= TOLERANCE["grey"] and peer["failed"] == []
    R = {"peak": {"cpu": [{"numpy": {"512": 10.0}}]}, "torch_runs": {}, "sp": {"cpu/tiny/1": res},
         "sp_torch": {"cpu/tiny/1": peer}}
    text = "\n".join(sp_lines(R))
    rows = markdown_tables(text)[SP_TABLE]
    assert [r[3] for r in rows][:6] == ["W encoder E_c (head 0 only)", "sketch encoder E_s",
                                        "appearance encoder E_a", "mapping network (one W)",
                                        "generator G", "sketch + photo -> face"]
    assert all(positive(c) for r in rows[:6] for c in r[8:]), rows
    assert rows[6][3] == "the same, Jittor's graph rebuilt each call"     # no peer row
    assert positive(rows[6][5]) and rows[6][8] == "-"
    assert rows[7][3] == "peak memory (MB)" and positive(rows[7][8])
    assert "largest output difference to Jittor" in text


def test_the_peer_refuses_weights_under_other_names(tmp_path):
    """A twin whose names differ from Jittor's is an error, not a silent reseed."""
    import numpy as np
    python = torch_python()
    from evaluation.benchmark.sp_peer import sp_twin_options
    ref = tmp_path / "ref.npz"
    np.savez(ref, **{f"shapes_{k}": np.array(["odd.weight:1"]) for k in
                     ("encoder_sketch_coarse", "encoder_sketch_fine", "encoder_face_fine",
                      "decoder")})
    job = {"device": "cpu", "batch": 1, "repeats": 1, "warmup": 0, "budget": 1.0,
           "ref_in": str(ref), "arch": sp_twin_options("tiny")}
    res = workers.run_worker("torch_sp", job, python=python, timeout=600)
    assert "names or shapes differ" in res.get("error", ""), res


SP_TRAIN_TABLE = ("config", "batch", "step", "Jittor ms", "PyTorch ms", "ours / PyTorch",
                  "Jittor peak MB", "PyTorch peak MB", "loss diff (step 1 / 2)")


def test_the_sketch_embedding_training_steps_match_pytorch():
    """Each stage's step (StyleGAN2 with and without its regularisers, the
    encoder step) in Jittor's trainers and in PyTorch: the same losses on the
    first step, both timed, both peak memories."""
    from evaluation.benchmark.sp_report import sp_train_lines
    from evaluation.benchmark.sp_peer import sp_twin_options
    from evaluation.benchmark.sp_train import SP_STEPS, within_tolerance
    # the path length's own tolerance (a gradient's norm), the rest's
    assert within_tolerance({"D": 9e-4, "path": 5e-3, "path_length": 5e-3})
    assert not within_tolerance({"D": 2e-3, "path": 0.0})
    assert not within_tolerance({"G": 0.0, "path_length": 0.02})
    python = torch_python()
    env = {"DFD_GPU": "off", "OMP_NUM_THREADS": "1"}
    R = {"sp_train": {}, "sp_train_torch": {}}
    for step in SP_STEPS:
        job = {"device": "cpu", "config": "tiny", "batch": 2, "step": step, "repeats": 2,
               "budget": 5.0}
        res = workers.run_worker("sp_train", job, env_extra=env, timeout=1200)
        assert "error" not in res, res
        assert len(res["losses"]) == 2 and ("R1" in res["losses"][0]) == (step == "stylegan_reg")
        peer = workers.run_worker("torch_sp_train", dict(
            job, arch=sp_twin_options("tiny"), options=res["options"], ref_losses=res["losses"]),
            python=python, env_extra=dict(env, CUDA_VISIBLE_DEVICES=""), timeout=600)
        assert "error" not in peer, peer
        assert set(peer["loss_diff"][0]) == set(res["losses"][0])
        assert within_tolerance(peer["loss_diff"][0]) and not peer["failed"], peer
        R["sp_train"][f"cpu/tiny/{step}"], R["sp_train_torch"][f"cpu/tiny/{step}"] = res, peer
    rows = markdown_tables("\n".join(sp_train_lines(R)))[SP_TRAIN_TABLE]
    assert [r[2] for r in rows] == list(SP_STEPS.values())
    for r in rows:
        assert r[0] == "tiny" and r[1] == "2" and all(positive(c) for c in r[3:8]), r


def test_pass_targets_are_the_issues_per_size():
    """512 px within 1.3x the floor, the bundled 128 px within 2.5x, no
    target for the sizes between; a GPU's 3x."""
    from evaluation.benchmark.report import target_lines

    def ratio(x):
        return {"x_floor": x, "vs_torch": None, "ms": 1.0, "torch_ms": None}
    cpu = {("official", 1, "pass"): ratio(1.2), ("tiny", 1, "pass"): ratio(3.0),
           ("small", 1, "pass"): ratio(2.0)}
    lines = target_lines([("cpu", cpu), ("cuda", {("official", 1, "pass"): ratio(2.9)})])
    assert lines[0] == "* cpu, official, batch 1: pass at 1.20x the floor (target <= 1.3x): met"
    assert lines[1] == "* cpu, small, batch 1: pass at 2.00x the floor (no target for this size)"
    assert lines[2] == ("* cpu, tiny, batch 1: pass at 3.00x the floor (target <= 2.5x): "
                        "missed, 1.20 times the allowed time")
    assert lines[3].endswith("(target <= 3x): met")
