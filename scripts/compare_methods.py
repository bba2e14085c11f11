"""Compare DeepFaceDrawing and the sketch embedding on the same test faces.

    python scripts/compare_methods.py                      # the two bundled models
    python scripts/compare_methods.py --dfd checkpoints/faces --sp checkpoints/sk --n_test 96

Both are evaluated by ``scripts/evaluate.py`` with the same test faces and
seed (clean, rough and the held-out hand-like style), at the same size, with
the same features for FID*/KID*, the same face parser for the semantics
metric (the sketch embedding's, from --parser) and the same reference photos
and random looks for the appearance metrics. Writes ``comparison.md`` (the
table) and ``grid.png`` (sketch, DeepFaceDrawing, the embedding with two
appearances, the target) into --out, with each evaluation's folder beside.
"""

import argparse
import json
import os
import sys

from PIL import Image, ImageDraw

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METRICS = (("fid", "FID*"), ("kid", "KID*"), ("ssim", "SSIM"), ("chamfer", "chamfer px"),
           ("edge_f1", "edge F1"), ("semantic_miou", "semantic mIoU"),
           ("diversity", "diversity"))
SETS = ("clean", "rough", "hand_like")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dfd", default=os.path.join(REPO, "params", "default"),
                   help="DeepFaceDrawing checkpoint folder")
    p.add_argument("--sp", default=os.path.join(REPO, "params", "sp_embedding"),
                   help="sketch-embedding checkpoint (folder or model.pt)")
    p.add_argument("--parser", default="",
                   help="folder with the face parser for the semantics metric (default: --sp)")
    p.add_argument("--out", default=os.path.join(REPO, "test_output", "comparison"),
                   help="where the table, the grid and the evaluations go")
    p.add_argument("--n_test", type=int, default=48, help="procedural test faces")
    p.add_argument("--test_seed", type=int, default=1234, help="their seed")
    p.add_argument("--eval_size", type=int, default=128, help="size both are compared at")
    p.add_argument("--looks", type=int, default=4, help="random looks per sketch")
    p.add_argument("--feature_net", default="auto", help="features for FID/KID (evaluate.py)")
    p.add_argument("--grid_rows", type=int, default=6, help="test faces in the grid")
    return p.parse_args(argv)


def evaluate(args, label, params):
    from evaluation.run import main as evaluate_main
    folder = os.path.join(args.out, label)
    code = evaluate_main(["--params", params, "--label", label, "--n_test", str(args.n_test),
                          "--test_seed", str(args.test_seed), "--rough", "--hand_like",
                          "--eval_size", str(args.eval_size), "--looks", str(args.looks),
                          "--feature_net", args.feature_net, "--parser", args.parser,
                          "--results_dir", folder])
    if code != 0:
        raise SystemExit(f"error: evaluating {label} failed (exit {code})")
    with open(os.path.join(folder, "metrics.json")) as f:
        return json.load(f)


def fmt(v):
    if v is None:
        return "-"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def table(results):
    labels = list(results)
    lines = ["| set | metric | " + " | ".join(labels) + " |", "|---" * (len(labels) + 2) + "|"]
    for s in SETS:
        for key, name in METRICS:
            vals = [results[m]["sets"].get(s, {}).get(key) for m in labels]
            if all(v is None for v in vals):
                continue
            lines.append(f"| {s} | {name} | " + " | ".join(fmt(v) for v in vals) + " |")
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


def grid(args, labels, path, cell=128):
    """Rows: test faces; columns: sketch, each method's face (the sketch
    embedding also with two random looks), target."""
    first = os.path.join(args.out, labels[0])
    names = sorted(f[:-4] for f in os.listdir(os.path.join(first, "clean"))
                   if f.endswith(".png") and not f.endswith("_sketch.png"))[:args.grid_rows]
    cols = [("sketch", lambda n: os.path.join(first, "clean", f"{n}_sketch.png"))]
    for label in labels:
        base = os.path.join(args.out, label)
        cols.append((label, lambda n, b=base: os.path.join(b, "clean", f"{n}.png")))
        for k in (0, 1):
            look = os.path.join(base, "looks", f"look{k}")
            if os.path.isdir(look):
                cols.append((f"{label} look {k}", lambda n, d=look: os.path.join(d, f"{n}.png")))
    cols.append(("target", lambda n: os.path.join(first, "target", f"{n}.png")))
    canvas = Image.new("RGB", (cell * len(cols), 18 + cell * len(names)), "white")
    draw = ImageDraw.Draw(canvas)
    for j, (label, _) in enumerate(cols):
        draw.text((j * cell + 4, 3), label[:21], fill="black")
    for i, name in enumerate(names):
        for j, (_, where) in enumerate(cols):
            with Image.open(where(name)) as im:
                canvas.paste(im.convert("RGB").resize((cell, cell), Image.BILINEAR),
                             (j * cell, 18 + i * cell))
    canvas.save(path)


def main(argv=None):
    args = parse_args(argv)
    args.parser = args.parser or (args.sp if os.path.isdir(args.sp) else "")
    os.makedirs(args.out, exist_ok=True)
    results = {"deepfacedrawing": evaluate(args, "deepfacedrawing", args.dfd),
               "sp_embedding": evaluate(args, "sp_embedding", args.sp)}
    lines = ["# DeepFaceDrawing and the sketch embedding, on the same test faces", "",
             f"{args.n_test} procedural test faces (seed {args.test_seed}) at {args.eval_size} "
             f"px: clean sketches, rough variants and the held-out hand-like (pencil) style. "
             f"Checkpoints: `{os.path.relpath(args.dfd, REPO)}`, `{os.path.relpath(args.sp, REPO)}`.",
             "", results["deepfacedrawing"]["feature_note"], ""] + table(results)
    with open(os.path.join(args.out, "comparison.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    grid(args, list(results), os.path.join(args.out, "grid.png"))
    print(f"wrote {os.path.join(args.out, 'comparison.md')} and grid.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
