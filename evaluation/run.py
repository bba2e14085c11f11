"""Evaluate a checkpoint folder on a test set: images + metrics.json +
metrics.md (``scripts/evaluate.py`` is its command line).

    python scripts/evaluate.py --params params/default --rough
    python scripts/evaluate.py --name faces --test_set paired --dataroot data/test
    python scripts/evaluate.py --params checkpoints/ablations_tiny/full \\
        --preset tiny+ablations/no_projection --rough --hand my_sketches/

Inference options (--k, --refine, --gender, --preset) work as in demo.py.
See evaluation/evaluation.py for what each metric is; the same options and
seed give the same numbers.
"""

import json
import os
import sys
import time

from options.eval_options import EvalOptions


def fail(msg, code=2):
    print(f"error: {msg}", file=sys.stderr)
    return code


def fmt(v):
    if isinstance(v, float):
        return "inf" if v == float("inf") else f"{v:.4g}"
    return str(v)


def markdown(results):
    """Overall table (rows: sets) and per-part table."""
    sets = results["sets"]
    cols = ["n", "l1", "psnr", "ssim", "vgg", "fid", "kid", "chamfer", "edge_f1", "to_clean"]
    cols = [c for c in cols if any(c in s for s in sets.values())]
    lines = [f"# {results['label']}", "",
             f"Checkpoint `{results['params']}`; k={results['options']['k']}, "
             f"refine={results['options']['refine']}, gender={results['options']['gender']}; "
             f"test set {results['test_set']}.", "", results["feature_note"], "",
             "| set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    rows = list(sets.items())
    if results.get("gap"):
        rows.append(("rough - clean", results["gap"]))
    for name, s in rows:
        lines.append(f"| {name} | " + " | ".join(fmt(s.get(c, "")) for c in cols) + " |")
    part_keys = sorted({k for s in sets.values() for k in s if "/" in k})
    if part_keys:
        parts = sorted({k.split("/")[0] for k in part_keys}, key=lambda p: p)
        metrics = sorted({k.split("/")[1] for k in part_keys})
        lines += ["", "Per part (inside the component boxes):", "",
                  "| set | part | " + " | ".join(metrics) + " |",
                  "|---" * (len(metrics) + 2) + "|"]
        for name, s in sets.items():
            for p in parts:
                lines.append(f"| {name} | {p} | " + " | ".join(
                    fmt(s.get(f"{p}/{m}", "")) for m in metrics) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    opt = EvalOptions().parse(argv)
    from models.methods import prepare_inference
    from util import jittor_env
    from util.cli import UsageError
    print(f"evaluate: {opt.label} ({opt.method} from {opt.params}) on {opt.test_set} test "
          f"faces -> {opt.results_dir} ({jittor_env.describe_plan(opt.gpu)})",
          file=sys.stderr, flush=True)
    try:
        model = prepare_inference(opt)
    except UsageError as exc:
        return fail(str(exc))
    import numpy as np
    from tqdm import tqdm

    from util.png import save_png
    from evaluation import evaluation as ev
    from models.checkpoint import CheckpointError
    from util.fileio import atomic_write
    from util.html import ResultPage

    start = time.time()
    try:
        if opt.test_set == "synthetic":
            sets = ev.synthetic_sets(opt.n_test, opt.test_seed, opt.image_size, opt.rough)
        else:
            sets = ev.dataset_sets(opt, opt.rough)
        if opt.hand:
            sets.append(ev.hand_set(opt.hand, opt.image_size))
    except (ValueError, FileNotFoundError) as exc:
        return fail(str(exc))
    try:
        features, feature_note = ev.load_feature_net(opt.feature_net, opt.inception_path)
    except CheckpointError as exc:    # VGGWeightsError: one line, names the file
        return fail(str(exc))

    reference = None
    if features is not None:         # the real photos' features, computed once
        reference = features.pooled_and_taps(sets[0].photos)
    results = {"label": opt.label, "method": opt.method, "params": opt.params, "test_set": opt.test_set,
               "options": {"k": opt.k, "refine": opt.refine, "gender": opt.gender,
                           "pipeline": opt.pipeline, "image_size": opt.image_size,
                           "seed": opt.seed, "test_seed": opt.test_seed},
               "feature_note": feature_note, "sets": {}}
    page = None if opt.no_images else ResultPage(opt.results_dir, f"evaluation: {opt.label}")
    total = sum(len(s) for s in sets)
    bar = tqdm(total=total, unit="sketch", desc=f"evaluating {opt.label}", file=sys.stderr)
    produced = {}
    for ts in sets:
        outputs = []
        for i in range(0, len(ts), opt.batch_size):
            res = model.convert(ts.sketches[i:i + opt.batch_size], opt.k, opt.refine_by_part,
                                opt.gender)
            outputs.append(res["images"])
            bar.update(len(res["images"]))
        outputs = produced[ts.name] = np.concatenate(outputs)
        if not opt.no_images:
            folder = os.path.join(opt.results_dir, ts.name)
            for name, sketch, out in zip(ts.names, ts.sketches, outputs):
                save_png(os.path.join(folder, f"{name}.png"), out)
                save_png(os.path.join(folder, f"{name}_sketch.png"), sketch)
            if ts.photos is not None and ts.name == "clean":
                for name, photo in zip(ts.names, ts.photos):
                    save_png(os.path.join(opt.results_dir, "target", f"{name}.png"), photo)
        rows = ev.per_image(outputs, ts, opt.image_size)
        summary = {"n": len(ts)}
        if features is not None:
            dist, taps_out = ev.distribution(features, outputs, reference,
                                             opt.kid_subsets, opt.seed)
            summary.update(dist)
            if ts.photos is not None:        # every set with targets shares the clean photos
                for r, d in zip(rows, features.perceptual(taps_out, reference[1])):
                    r["vgg"] = d
        summary.update(ev.summarize(rows))
        results["sets"][ts.name] = summary
    bar.close()
    if "rough" in produced and "clean" in produced:
        # robustness without a target: how far the rough sketch's face is from the clean one's
        results["sets"]["rough"]["to_clean"] = ev.mean_l1(produced["rough"], produced["clean"])
    results["gap"] = ev.gaps(results["sets"])
    results["seconds"] = round(time.time() - start, 1)
    if page is not None:
        for i, name in enumerate(sets[0].names[:16]):
            cells = []
            for ts in sets:
                if i < len(ts):
                    cells.append((f"{ts.name}_sketch", ts.sketches[i]))
                    cells.append((f"{ts.name}_output", produced[ts.name][i]))
            if sets[0].photos is not None:
                cells.append(("target", sets[0].photos[i]))
            page.add_row(name, cells)
    os.makedirs(opt.results_dir, exist_ok=True)
    atomic_write(os.path.join(opt.results_dir, "metrics.json"),
                 json.dumps(results, indent=1, sort_keys=True).encode())
    atomic_write(os.path.join(opt.results_dir, "metrics.md"), markdown(results).encode())
    clean = results["sets"][sets[0].name]
    summary = ", ".join(f"{k} {fmt(clean[k])}" for k in ("psnr", "ssim", "fid", "chamfer")
                        if k in clean)
    print(f"evaluated {opt.label} on {total} sketches in {results['seconds']} s ({summary}) "
          f"-> {os.path.join(opt.results_dir, 'metrics.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
