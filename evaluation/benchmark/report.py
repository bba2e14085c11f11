"""The benchmark's Markdown: every table and the target lines, from the raw
results of a run (``R``, as ``--json`` saves it). Sections are functions
``R -> [lines]``, printed in the order of ``SECTIONS``."""

from evaluation.benchmark.flops import REFERENCE_GFLOP
from evaluation.benchmark.sp_report import sp_lines, sp_train_lines
from evaluation.benchmark.tables import best_rate, fmt, section, table

# (key in the results, label): the rows of the latency table, in order.
NET_ROWS = (("encoders", "encoders (5)"), ("fm", "FM decoders (5)"), ("G", "generator G"),
            ("networks", "all networks"), ("pass", "sketch-to-face pass"),
            ("pass_rebuilt", "the same, Jittor's graph rebuilt each call"),
            ("pass_shadow", "pass + shadows"))
# the pass against the floor: issue 21's CPU targets per config (512 px and the
# bundled 128 px; other sizes have none), and the GPU's
TARGET_CPU_FLOOR = {"official": 1.3, "tiny": 2.5}
TARGET_GPU_FLOOR = 3.0
MEMORY_LIMIT_MB = 4096


def header_lines(R):
    m, a = R["machine"], R["args"]
    ram = f"{m['ram_gb']:.1f} GB RAM" if m.get("ram_gb") else "RAM unknown"
    desc = next((r.get("describe") for r in R["infer"].values() if r.get("describe")), "?")
    peer = R["torch"] or "not run (torch not importable or --torch off)"
    return ["# DeepFaceDrawing benchmark", "",
            f"* date: {R['start']} to {R.get('end', '(interrupted)')}",
            f"* machine: {m['cpu']}, {m['cores']} cores, {ram}; Python {m['python']}",
            f"* load average (1, 5, 15 min): {R['load_start']} at the start, "
            f"{R.get('load_end', '-')} at the end",
            f"* Jittor: {desc}; PyTorch peer: {peer}",
            f"* settings: configs {a['configs']}, batch {a['batch']}, median of up to "
            f"{a['repeats']} runs after {a['warmup']} warm-up (at least 3 within a "
            f"{a['budget']:.0f} s budget), random banks of {a['bank']} latents",
            ""]


def rate_lines(R):
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
            n, rate = next(iter(res["matmul"].items()))
            rows.append(["cpu", key.split("/", 1)[1], f"pytorch {n}x{n}", rate])
    lines = section("The machine's rate (float32 matrix product, best of 5)",
                    ["device", "when", "product", "GFLOP/s"], rows)
    for dev in R["devices"]:
        rate, src = best_rate(R, dev)
        lines.append(f"Floor on {dev}: FLOPs / {rate:.1f} GFLOP/s ({src}, the best measured).")
    return lines + [""]


def flops_lines(R):
    rows, seen = [], set()
    for key, res in R["infer"].items():
        cfg, b = key.split("/")[1], int(key.split("/")[2])
        if cfg in seen or "error" in res:
            continue
        seen.add(cfg)
        f = {k: v / b / 1e9 for k, v in res["flops"].items()}
        rows.append([cfg, f["encoders"], f["fm"], f["G"], f["pass"], f["shadows"]])
    lines = section("FLOPs per sketch (analytic: 2 x multiply-adds of conv, transposed conv, "
                    "linear)", ["config", "encoders (5)", "FM decoders (5)", "G", "pass",
                                "shadows (K decodes x 5)"], rows)
    if "official" in seen:
        lines += [f"Reference (issue 6) for official: encoders {REFERENCE_GFLOP['encoders']:.0f}, "
                  f"FM {REFERENCE_GFLOP['fm']:.0f}, G {REFERENCE_GFLOP['G']:.0f} GFLOP.", ""]
    return lines


# ---------------------------------------------------------------- latency
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
            row, ratio = _latency_row(res["flops"][name] / 1e9, t["median"], rate,
                                      (peer.get("times") or {}).get(name))
            rows.append([cfg, b, label] + row)
            ratios[(cfg, int(b), name)] = ratio
    return rows, ratios


def _latency_row(gflop, seconds, rate, peer_time):
    """The cells after the label, and the ratios of one network's latency."""
    ms = seconds * 1e3
    floor_ms = gflop / rate * 1e3 if rate else None
    x_floor = ms / floor_ms if floor_ms else None
    pt_ms = peer_time["median"] * 1e3 if peer_time else None
    vs = ms / pt_ms if pt_ms else None
    return ([gflop, ms, gflop / seconds, floor_ms, x_floor, pt_ms, vs],
            {"x_floor": x_floor, "vs_torch": vs, "ms": ms, "torch_ms": pt_ms})


def latency_lines(R, dev):
    rows, _ = latency_rows(R, dev)
    lines = section(f"Latency on {dev} (median, whole batch)",
                    ["config", "batch", "network", "GFLOP", "median ms", "GFLOP/s",
                     "floor ms", "x floor", "PyTorch ms", "ours / PyTorch"], rows)
    fp = [(k, r["fp16"]) for k, r in R["infer"].items() if k.startswith(dev) and r.get("fp16")]
    if fp:
        lines += ["### float16 (Jittor), against float32", "",
                  table(["config", "batch", "network", "fp16 ms", "speed-up over fp32",
                         "x fp16 floor", "max rel. diff to fp32"], float16_rows(R, dev, fp)), ""]
    return lines


def float16_rows(R, dev, fp):
    rows = []
    for key, f16 in fp:
        _, cfg, b = key.split("/")
        if "error" in f16:
            rows.append([cfg, b, "unsupported", f16["error"], None, None, None])
            continue
        rate16, _ = best_rate(R, dev, "float16")
        for kind, v in f16.items():
            t32 = R["infer"][key]["times"][kind]["median"]
            gflop = R["infer"][key]["flops"][kind] / 1e9
            x16 = v["median"] / (gflop / rate16) if rate16 else None
            rows.append([cfg, b, kind, v["median"] * 1e3, t32 / v["median"], x16,
                         f"{v['rel_diff']:.2e}" + (" (non-finite!)" if v["nonfinite"] else "")])
    return rows


def stage_lines(R):
    rows = []
    for key, res in R["infer"].items():
        if "error" in res:
            continue
        dev, cfg, b = key.split("/")
        t = {k: v["median"] * 1e3 for k, v in res["times"].items()}
        rows.append([dev, cfg, b, res["times"]["pass"]["first"] * 1e3,
                     res["times"]["pass"]["second"] * 1e3, t["pass_new_content"], t["pass"],
                     t["stage_encode"], t["stage_project"], t["stage_synthesize"],
                     t.get("pass_shadow")])
    return section("Where the pass spends its time (median ms)",
                   ["device", "config", "batch", "first call", "second call", "new sketch",
                    "median", "encode", "project", "synthesize", "with shadows"], rows,
                   "encode = crops + 5 encoders (uint8 in, latents out); project = bank search "
                   "and least squares (NumPy); synthesize = 5 FM decoders + paste + G + "
                   "conversion to uint8. The first call compiles (or loads cached kernels); "
                   "'new sketch' is a call with other content of the same size after warm-up.")


# ---------------------------------------------------------------- peer, memory, processes
def peer_lines(R):
    if not R["torch_runs"]:
        return []
    rows = []
    for key, res in R["torch_runs"].items():
        dev, cfg, b = key.split("/")
        if "error" in res:
            rows.append([dev, cfg, b, "error: " + res["error"][:150], None, None])
            continue
        d = res.get("rel_diff")
        rows.append([dev, cfg, b, res["torch"], res["threads"],
                     ", ".join(f"{k} {v:.1e}" for k, v in d.items()) if d else "-"])
    return section("PyTorch peer: the same networks on the same weights",
                   ["device", "config", "batch", "torch", "threads",
                    "max rel. output diff to Jittor"], rows)


def memory_row(group, key, res):
    """One row of the memory table: an inference or a training process."""
    dev, cfg, b, *stage = key.split("/")       # training: .../stage (older runs: combine)
    what = f"training step ({(stage or ['combine'])[0]})" if group == "train" else "inference"
    if "error" in res:
        return [dev, cfg, what, b, "error: " + res["error"][:120], None, None, None]
    if group == "train":
        extra = f"step {res['times']['step']['median']:.2f} s"
        extra += "" if res["losses_finite"] else ", NON-FINITE losses"
        if res["vgg"]:                      # older runs: True (random VGG)
            src = res["vgg"]["source"] if isinstance(res["vgg"], dict) else "random"
            extra += f", VGG ({src if src in ('seeded', 'random') else 'ImageNet'})"
        return [dev, cfg, what, b, res["rss_model_mb"], res["rss_peak_mb"], "-", extra]
    fits = "yes" if res["rss_pass_mb"] <= MEMORY_LIMIT_MB else "no"
    return [dev, cfg, what, b, res["rss_model_mb"], res["rss_pass_mb"], fits, ""]


def memory_lines(R):
    rows = [memory_row(group, k, v) for group in ("infer", "train") for k, v in R[group].items()]
    for key, res in R["torch_runs"].items():
        if "error" not in res:
            dev, cfg, b = key.split("/")
            rows.append([dev, cfg, "PyTorch peer (networks only)", b, res["rss_model_mb"],
                         res["rss_peak_mb"], "-", ""])
    for key, res in R.get("torch_train", {}).items():
        if "error" not in res:
            dev, cfg, b, stage = key.split("/")
            rows.append([dev, cfg, f"PyTorch training step ({stage})", b, res["rss_model_mb"],
                         res["rss_peak_mb"], "-", f"step {res['times']['step']['median']:.2f} s"])
    for key, res in R.get("onnx", {}).items():
        if "error" not in res:
            method, cfg, b = key.split("/")
            rows.append(["cpu", cfg, f"ONNX Runtime, {method}", b, res["rss_import_mb"],
                         res["rss_pass_mb"], "yes" if res["rss_pass_mb"] <= MEMORY_LIMIT_MB
                         else "no", f"load {res['load_s']:.1f} s"])
    return section("Peak resident memory (fresh process per row)",
                   ["device", "config", "what", "batch", "MB after building", "peak MB",
                    "fits 4 GB", "notes"], rows,
                   "Inference peak: after the whole pass (before the per-network timings, "
                   "which keep extra inputs); it includes the Jittor runtime, the random "
                   "initialisation of every network and the replacement of their weights, "
                   "as loading a checkpoint does.")


def process_lines(R):
    rows = []
    for group, label in (("infer", "Jittor"), ("torch_runs", "PyTorch"), ("train", "Jittor train"),
                         ("torch_train", "PyTorch train"),
                         ("onnx_export", "ONNX export"), ("onnx", "ONNX Runtime")):
        for key, res in R.get(group, {}).items():
            rows.append([key, label, res.get("wall_s"), res.get("load_before", "-"),
                         res.get("load_after", "-")])
    return section("Measurement processes (load average before and after each)",
                   ["measurement", "process", "wall s", "load before", "load after"], rows)


# ---------------------------------------------------------------- targets
def target_lines(targets):
    """'* ...' lines: the pass against the floor, G and all networks against
    PyTorch, for ``targets`` = [(device, ratios of latency_rows)]."""
    out = []
    for dev, ratios in targets:
        for (cfg, b, name), r in sorted(ratios.items()):
            limit = TARGET_CPU_FLOOR.get(cfg) if dev == "cpu" else TARGET_GPU_FLOOR
            if name == "pass" and r["x_floor"] is not None and limit is None:
                out.append(f"* {dev}, {cfg}, batch {b}: pass at {r['x_floor']:.2f}x the floor "
                           f"(no target for this size)")
            elif name == "pass" and r["x_floor"] is not None:
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


def targets_section(R):
    targets = [(dev, latency_rows(R, dev)[1]) for dev in R["devices"]]
    return ["## Targets", ""] + target_lines(targets) + train_targets(R)


# ---------------------------------------------------------------- training steps
def train_rows(R):
    """[(key, Jittor result, PyTorch result or None)] of the training steps
    that have a peer (keys device/config/batch/stage)."""
    return [(k, R["train"].get(k, {}), v) for k, v in R.get("torch_train", {}).items()]


def train_lines(R):
    """Each training step in Jittor and in PyTorch: time, ratio, peak memory,
    and how far the PyTorch step's losses are from Jittor's."""
    rows = []
    for key, jit, tor in train_rows(R):
        dev, cfg, b, stage = key.split("/")
        diff = ", ".join(f"{d:.1e}" for d in tor.get("loss_diff") or []) or "-"
        if "error" in tor or "error" in jit:
            rows.append([dev, cfg, b, stage, "failed: " + (tor.get("error") or jit["error"])[:160],
                         None, None, jit.get("rss_peak_mb"), tor.get("rss_peak_mb"), diff])
            continue
        ms, tms = jit["times"]["step"]["median"] * 1e3, tor["times"]["step"]["median"] * 1e3
        rows.append([dev, cfg, b, stage, ms, tms, ms / tms, jit["rss_peak_mb"],
                     tor["rss_peak_mb"], diff])
    if not rows:
        return []
    return section("Training steps: Jittor against PyTorch",
                   ["device", "config", "batch", "stage", "Jittor ms", "PyTorch ms",
                    "ours / PyTorch", "Jittor peak MB", "PyTorch peak MB",
                    "loss diff (steps 1, 2)"], rows,
                   "One optimisation step (median): ae = the five sketch autoencoders (MSE "
                   "to the clean sketch, Adam); combine = FM decoders + G + appearance encoder against the "
                   "multiscale D (LSGAN, feature matching, VGG, TV, L1, KL; Adam on G, then "
                   "on D), with the options of the bundled model's run. Jittor runs the real "
                   "trainer; PyTorch the same networks, seeded weights, losses, optimiser and "
                   "batch, each in a fresh process (peak MB: that process). Loss diff: the "
                   "largest relative difference of a loss in each of the first two steps; a "
                   "step that disagrees is not timed.")


def train_targets(R):
    out = []
    for key, jit, tor in train_rows(R):
        if "error" in tor or "error" in jit:
            why = (tor.get("error") or jit["error"])[:100]
            out.append(f"* {key}: training step not compared ({why})")
            continue
        r = jit["times"]["step"]["median"] / tor["times"]["step"]["median"]
        out.append(f"* {key}: training step ours/PyTorch = {r:.2f} (target <= 1): "
                   + ("met" if r <= 1.0 else f"missed, {r:.2f}x slower"))
    return out


# (method, key in the results, label): the rows of the ONNX Runtime table, in order.
ONNX_ROWS = {"deepfacedrawing": NET_ROWS[:5],
             "sp_embedding": (("E_c", "W encoder E_c"), ("E_s", "sketch encoder E_s"),
                              ("E_a", "appearance encoder E_a"), ("M", "mapping network"),
                              ("G", "generator G"), ("pass", "sketch + photo -> face"))}


def _jittor_times(R, method, cfg, b):
    group = "infer" if method == "deepfacedrawing" else "sp"
    return (R.get(group, {}).get(f"cpu/{cfg}/{b}") or {}).get("times") or {}


def onnx_rows(R):
    """Rows of the ONNX Runtime table and, per (method, config, batch), the
    ratio of the pass times (ONNX Runtime over Jittor)."""
    rows, ratios = [], {}
    for key, res in R.get("onnx", {}).items():
        method, cfg, b = key.split("/")
        if "error" in res:
            rows.append([method, cfg, b, "(failed)", None, None, None, res["error"][:120]])
            continue
        jit = _jittor_times(R, method, cfg, b)
        for name, label in ONNX_ROWS[method]:
            t = res["times"].get(name)
            if t is None:
                continue
            ms = t["median"] * 1e3
            j_ms = jit[name]["median"] * 1e3 if name in jit else None
            diff = res.get("diffs", {}).get(name)
            if method == "deepfacedrawing" and name == "pass":
                diff = res.get("diffs", {}).get("pass_grey")
                diff = None if diff is None else f"{diff} grey level{'s' if diff != 1 else ''}"
            elif diff is not None:
                diff = f"{diff:.1e}"
            rows.append([method, cfg, b, label, j_ms, ms, ms / j_ms if j_ms else None, diff])
            if name == "pass" and j_ms:
                ratios[(method, cfg, int(b))] = (ms / j_ms, ms, j_ms)
    return rows, ratios


def onnx_lines(R):
    """ONNX Runtime beside Jittor (empty when not measured)."""
    if not R.get("onnx") and not R.get("onnx_export"):
        return []
    rows, ratios = onnx_rows(R)
    version = next((r.get("onnxruntime") for r in R.get("onnx", {}).values()
                    if r.get("onnxruntime")), "?")
    exports = ", ".join(f"{k} {v['export_s']:.1f} s ({v['mb']:.1f} MB)"
                        if "error" not in v else f"{k} failed: {v['error'][:100]}"
                        for k, v in R.get("onnx_export", {}).items())
    summary = [f"* {m}, {cfg}, batch {b}: the pass takes {r:.2f}x Jittor's time "
               f"({ms:.0f} vs {j:.0f} ms): ONNX Runtime is "
               + (f"{1 / r:.2f}x faster" if r < 1 else f"{r:.2f}x slower")
               for (m, cfg, b), (r, ms, j) in sorted(ratios.items())]
    return section(f"ONNX Runtime {version} beside Jittor (CPU, same machine, same weights)",
                   ["method", "config", "batch", "network", "Jittor ms", "ONNX Runtime ms",
                    "ONNX Runtime / Jittor", "max diff to Jittor"], rows,
                   "The networks exported by scripts/export_onnx.py's exporter from the seeded "
                   "weights of the Jittor rows, run by the Jittor-free runtime (demo.py "
                   "--backend onnx) in a process of its own with ONNX Runtime's default "
                   "threads; the pass includes the same NumPy steps (crops, manifold "
                   "projection, paste, uint8). Differences: largest absolute difference "
                   "relative to the largest Jittor output on the reference input (batch 1); "
                   "DeepFaceDrawing's pass: the largest difference of the uint8 faces. "
                   f"Exports: {exports or '-'}.", *(["\n".join(summary)] if summary else []))


def load_lines(R):
    """The report's section on a conversion beside busy processes (empty when
    not measured)."""
    res = (R.get("load") or {}).get("cpu")
    if not res:
        return []
    if "error" in res:
        return section("A conversion under load", ["result"], [[res["error"][:200]]])
    rows = []
    for row in res["rows"].values():
        quiet = row["quiet"]["median"]
        loaded, every = row["loaded"]["median"], row["loaded_all_cores"]["median"]
        rows.append([row["label"], quiet * 1e3, loaded * 1e3, loaded / quiet, every * 1e3,
                     every / quiet, row["quiet_after"]["median"] * 1e3])
    notes = [f"{res['busy']} busy process(es) (`while True: pass`) on {res['cores']} cores "
             "while the conversion runs (read, prepare, convert; medians). Adaptive: the "
             "thread count from the cores the others leave free (util/threads.py, what the "
             "inference contracts do); all cores: OpenMP's own choice. Threads: "
             + "; ".join(f"{m}: {r['threads_loaded']}" for m, r in res["rows"].items())
             + ". Target: loaded at most 3x quiet."]
    return section("A conversion under load",
                   ["model", "quiet ms", "loaded ms (adaptive)", "x quiet",
                    "loaded ms (all cores)", "x quiet", "quiet again ms"], rows, *notes)


def report(R):
    """The whole Markdown report of the results ``R``."""
    lines = header_lines(R) + rate_lines(R) + flops_lines(R)
    for dev in R["devices"]:
        lines += latency_lines(R, dev)
    for part in (sp_lines, sp_train_lines, onnx_lines, load_lines, stage_lines, peer_lines,
                 train_lines, memory_lines, process_lines, targets_section):
        lines += part(R)
    return "\n".join(lines) + "\n"
