"""Side-by-side comparisons of evaluated checkpoints: the evaluations (one
``scripts/evaluate.py`` run per checkpoint, the same test faces, seed,
size, features and looks), a markdown table of their metrics and a grid of
their faces. Used by ``scripts/compare_methods.py`` (DeepFaceDrawing against
the sketch embedding) and ``scripts/before_after.py`` (two checkpoints of
one method, e.g. the old and the new bundled model)."""

import json
import os

from PIL import Image, ImageDraw

from evaluation.ablation_report import fmt_value
from evaluation.scores import gaps

METRICS = (("fid", "FID*"), ("kid", "KID*"), ("kid_looks", "KID*, a random look per face"),
           ("kid_each_look", "KID*, one random look for all (mean over looks)"),
           ("ssim", "SSIM"), ("chamfer", "chamfer px"),
           ("edge_f1", "edge F1"), ("target_edge_f1", "edge F1 of the target photo (ceiling)"),
           ("line_chamfer", "chamfer px, clean lines"), ("line_f1", "edge F1, clean lines"),
           ("semantic_miou", "semantic mIoU"), ("hair_iou", "hair IoU"),
           ("diversity", "diversity"))
SETS = ("clean", "rough", "hand_like")
GAP_METRICS = (("edge_f1", "edge F1"), ("target_edge_f1", "edge F1 of the target photo (ceiling)"),
               ("line_f1", "edge F1, clean lines"))


def evaluate(out, label, params, n_test, test_seed, eval_size, looks, feature_net="auto",
             parser=""):
    """Evaluate ``params`` into ``out/label`` (clean, rough and hand-like
    sets); its metrics.json as a dict."""
    from evaluation.run import main as evaluate_main
    folder = os.path.join(out, label)
    argv = ["--params", params, "--label", label, "--n_test", str(n_test),
            "--test_seed", str(test_seed), "--rough", "--hand_like",
            "--eval_size", str(eval_size), "--looks", str(looks),
            "--feature_net", feature_net, "--results_dir", folder]
    if parser:
        argv += ["--parser", parser]
    code = evaluate_main(argv)
    if code != 0:
        raise SystemExit(f"error: evaluating {label} ({params}) failed (exit {code})")
    with open(os.path.join(folder, "metrics.json")) as f:
        return json.load(f)


def fmt(v):
    return "-" if v is None else fmt_value(v)


def add_common_args(p):
    """The options every comparison shares (what both evaluations run on)."""
    p.add_argument("--n_test", type=int, default=48, help="procedural test faces")
    p.add_argument("--test_seed", type=int, default=1234, help="their seed")
    p.add_argument("--eval_size", type=int, default=128, help="size both are compared at")
    p.add_argument("--looks", type=int, default=4, help="random looks per sketch")
    p.add_argument("--feature_net", default="auto", help="features for FID/KID (evaluate.py)")


def common_kwargs(args):
    return dict(n_test=args.n_test, test_seed=args.test_seed, eval_size=args.eval_size,
                looks=args.looks, feature_net=args.feature_net)


def table(results):
    """Markdown lines: a row per set and metric, a column per evaluation
    (``results``: label -> metrics.json), then the appearance rows."""
    labels = list(results)
    lines = ["| set | metric | " + " | ".join(labels) + " |", "|---" * (len(labels) + 2) + "|"]
    for s in SETS:
        for key, name in METRICS:
            vals = [results[m]["sets"].get(s, {}).get(key) for m in labels]
            if all(v is None for v in vals):
                continue
            lines.append(f"| {s} | {name} | " + " | ".join(fmt(v) for v in vals) + " |")
    style_gaps = [gaps(results[m]["sets"], "clean", "hand_like") for m in labels]
    for key, name in GAP_METRICS:          # what the hand-drawn style costs
        vals = [g.get(key) for g in style_gaps]
        if any(v is not None for v in vals):
            lines.append(f"| hand_like - clean | {name} | " + " | ".join(fmt(v) for v in vals)
                         + " |")
    app = [results[m].get("appearance") for m in labels]
    if any(app):
        for key, name in (("to_reference", "with the reference"),
                          ("without_reference", "without a reference"),
                          ("own_photo", "their own photos (chance)")):
            for region in ("hair", "skin", "background"):
                vals = [a[key][region] if a else None for a in app]
                lines.append(f"| appearance | {region} colour distance, {name} | "
                             + " | ".join(fmt(v) for v in vals) + " |")
        lines.append("| appearance | look diversity | "
                     + " | ".join(fmt(a["look_diversity"] if a else None) for a in app) + " |")
    return lines


def _names(folder, n):
    return sorted(f[:-4] for f in os.listdir(folder)
                  if f.endswith(".png") and not f.endswith("_sketch.png"))[:n]


def grid(out, labels, path, rows=6, sets=("clean",), reference=False, cell=128):
    """A grid of the evaluations in ``out/<label>``. Rows: the first
    ``rows`` test faces of each of ``sets``; columns: the sketch, each
    label's face (with its first two random looks when it has them, and
    with ``reference`` the face made with the reference photo's look and
    that photo), the target."""
    first = os.path.join(out, labels[0])
    entries = [(s, n) for s in sets for n in _names(os.path.join(first, s), rows)]
    # (title, folder or None for the row's own set, file suffix); looks and
    # references exist for the clean sketches only
    cols = [("sketch", (first, None), "_sketch")]
    for label in labels:
        base = os.path.join(out, label)
        cols.append((label, (base, None), ""))
        kinds = [f"look{k}" for k in (0, 1)] + (["with_reference", "reference"]
                                                 if reference else [])
        for kind in kinds:
            if os.path.isdir(os.path.join(base, "looks", kind)):
                title = kind if kind == "reference" else f"{label} {kind.replace('_', ' ')}"
                cols.append((title, (os.path.join(base, "looks"), kind), ""))
    cols.append(("target", (first, "target"), ""))
    canvas = Image.new("RGB", (cell * len(cols), 18 + cell * len(entries)), "white")
    draw = ImageDraw.Draw(canvas)
    for j, (title, _, _) in enumerate(cols):
        draw.text((j * cell + 4, 3), title[:21], fill="black")
    for i, (s, name) in enumerate(entries):
        for j, (_, (root, sub), suffix) in enumerate(cols):
            if sub not in (None, "target") and s != "clean":
                continue
            with Image.open(os.path.join(root, sub or s, f"{name}{suffix}.png")) as im:
                canvas.paste(im.convert("RGB").resize((cell, cell), Image.BILINEAR),
                             (j * cell, 18 + i * cell))
        if s != "clean":
            draw.text((4, 18 + i * cell + cell - 14), s, fill="red")
    canvas.save(path)
