"""The report's sections on the sketch embedding: its networks and whole
pass against the floor and the PyTorch peer (``sp_lines``), one step of each
training stage beside PyTorch's (``sp_train_lines``)."""


def sp_lines(R):
    """The report's section on the sketch embedding (empty when not measured):
    each network and the whole pass against the floor and the PyTorch peer."""
    from evaluation.benchmark.tables import best_rate, fmt, section
    from evaluation.benchmark.sp import SP_ROWS
    if not R.get("sp"):
        return []
    rows, peers = [], R.get("sp_torch", {})
    for key, res in R["sp"].items():
        dev, cfg, b = key.split("/")
        if "error" in res:
            rows.append([dev, cfg, b, "(failed)", res["error"][:120]] + [None] * 5)
            continue
        rate, _ = best_rate(R, dev)
        peer = peers.get(key) or {}
        for name, label in SP_ROWS:
            t = res["times"].get(name)
            if t is None:
                continue
            gflop = res["flops"][name] / 1e9
            floor_ms = gflop / rate * 1e3 if rate else None
            ms = t["median"] * 1e3
            pt = (peer.get("times") or {}).get(name)
            pt_ms = pt["median"] * 1e3 if pt else \
                "(failed)" if name in peer.get("failed", ()) else None
            rows.append([dev, cfg, b, label, gflop, ms, floor_ms,
                         ms / floor_ms if floor_ms else None, pt_ms, ms / pt_ms if pt else None])
        rows.append([dev, cfg, b, "peak memory (MB)", None, res.get("rss_peak_mb"), None, None,
                     peer.get("rss_peak_mb"), None])
    flops = next(iter(R['sp'].values())).get('flops', {})
    notes = ["GFLOP as PyTorch's counter counts the authors' modules, for the style heads we "
             "compute: E_c head 0, E_s the rows below the break layer, E_a the rows from it "
             "(the authors' code computes all heads of each: "
             + ", ".join(f"{k} {fmt(flops.get(k + '_authors', 0) / 1e9)}"
                         for k in ("E_c", "E_s", "E_a"))
             + " GFLOP in the first configuration; the PyTorch peer computes them all, as they "
             "do, and is compared on the rows the pass uses). Weights are "
             "the benchmark's seeded ones, the same in both frameworks; the whole pass includes "
             "loading nothing (the model is built once): label maps and photos in, uint8 faces "
             "out. The peer runs the authors' networks as their release does on a CPU: the "
             "pure-PyTorch fallbacks of upfirdn2d and fused_leaky_relu, the modulated "
             "convolution with a weight per sample (grouped over the batch); CPU only."]
    for key, res in peers.items():
        if "error" in res:
            notes.append(f"PyTorch peer, {key}: failed: {res['error'][:300]}")
        elif res.get("rel_diff"):
            d = dict(res["rel_diff"])
            grey = d.pop("pass", None)
            notes.append(f"PyTorch peer, {key} (torch {res['torch']}, {res['threads']} "
                         "threads): largest output difference to Jittor, relative to the "
                         "largest output: " + ", ".join(f"{k} {v:.1e}" for k, v in d.items())
                         + f"; faces {grey} grey level(s)"
                         + (f". Out of tolerance, not timed: {', '.join(res['failed'])}"
                            if res.get("failed") else ""))
    return section("Sketch embedding (median, whole batch)",
                   ["device", "config", "batch", "network", "GFLOP", "median ms", "floor ms",
                    "x floor", "PyTorch ms", "ours / PyTorch"], rows, *notes)


def sp_train_lines(R):
    """One training step of each sketch-embedding stage, Jittor beside PyTorch."""
    from evaluation.benchmark.tables import section
    from evaluation.benchmark.sp_train import LOSS_TOLERANCE, PATH_TOLERANCE, SP_STEPS
    if not R.get("sp_train"):
        return []
    rows = []
    for key, res in R["sp_train"].items():
        _, cfg, step = key.split("/")
        peer = R.get("sp_train_torch", {}).get(key) or {}
        if "error" in res or "error" in peer:
            rows.append([cfg, None, SP_STEPS[step], "(failed)",
                         (res.get("error") or peer["error"])[:120]] + [None] * 4)
            continue
        ms = res["times"]["step"]["median"] * 1e3
        pt = (peer.get("times") or {}).get("step")
        pt_ms = pt["median"] * 1e3 if pt else "(losses differ)" if peer.get("failed") else None
        diff = " / ".join(f"{max(d.values()):.0e}" for d in peer.get("loss_diff", []))
        rows.append([cfg, res["options"].get("batch_size", "-"), SP_STEPS[step], ms, pt_ms,
                     ms / pt_ms if pt else None, res.get("rss_peak_mb"), peer.get("rss_peak_mb"),
                     diff or None])
    return section("Sketch embedding: one training step (CPU, median)",
                   ["config", "batch", "step", "Jittor ms", "PyTorch ms", "ours / PyTorch",
                    "Jittor peak MB", "PyTorch peak MB", "loss diff (step 1 / 2)"], rows,
                   "Jittor runs the project's trainers (training/sp_embedding/), PyTorch the "
                   "same step as rosinality's train.py and pSp's coach write it, on the "
                   "twin networks with the same seeded weights, batch and draws; every timed "
                   "call is step 1 (the regularised step regularises every time). Loss diff: "
                   "the largest relative difference of the losses of the first and second "
                   f"call; a step is timed only when the first is within {LOSS_TOLERANCE:g} "
                   f"({PATH_TOLERANCE:g} for the path length and its penalty, the norm of "
                   "a gradient through the whole generator) "
                   "(the second moves after Adam's sign-like first update and is reported "
                   "only). Peak memory: the resident set of the whole process.")
