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
import os
import sys

from evaluation import compare

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    compare.add_common_args(p)
    p.add_argument("--grid_rows", type=int, default=6, help="test faces in the grid")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    parser = args.parser or (args.sp if os.path.isdir(args.sp) else "")
    os.makedirs(args.out, exist_ok=True)
    common = dict(compare.common_kwargs(args), parser=parser)
    results = {"deepfacedrawing": compare.evaluate(args.out, "deepfacedrawing", args.dfd,
                                                   **common),
               "sp_embedding": compare.evaluate(args.out, "sp_embedding", args.sp, **common)}
    lines = ["# DeepFaceDrawing and the sketch embedding, on the same test faces", "",
             f"{args.n_test} procedural test faces (seed {args.test_seed}) at {args.eval_size} "
             f"px: clean sketches, rough variants and the held-out hand-like (pencil) style. "
             f"Checkpoints: `{os.path.relpath(args.dfd, REPO)}`, `{os.path.relpath(args.sp, REPO)}`.",
             "", results["deepfacedrawing"]["feature_note"], ""] + compare.table(results)
    with open(os.path.join(args.out, "comparison.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    compare.grid(args.out, list(results), os.path.join(args.out, "grid.png"),
                 rows=args.grid_rows)
    print(f"wrote {os.path.join(args.out, 'comparison.md')} and grid.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
