"""Two checkpoints of one method on the same test faces: the old and the new
bundled model, say.

    python scripts/before_after.py --old /tmp/old_default --new params/default

Both are evaluated by ``scripts/evaluate.py`` with the same test faces, seed,
size, features, reference photos and random looks (clean sketches, rough
variants and the held-out hand-like style). Writes ``before_after.md`` (the
table) and ``grid.png`` (rows: clean and hand-like test sketches; columns:
sketch, old, new, the new with two random looks and with a reference
photo's look, that photo, the target) into --out, each evaluation's folder
beside. With a face parser (--parser, by default the bundled sketch
embedding's) the table has semantic mIoU and hair IoU (is a bald head kept
bald, long hair long). An old bundled model is in git: ``git archive HEAD~N params/default
| tar -x -C /tmp`` gives it back.
"""

import argparse
import os
import sys

from evaluation import compare

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--old", required=True, help="the checkpoint before")
    p.add_argument("--new", default=os.path.join(REPO, "params", "default"),
                   help="the checkpoint after")
    p.add_argument("--out", default=os.path.join(REPO, "test_output", "before_after"),
                   help="where the table, the grid and the evaluations go")
    compare.add_common_args(p)
    p.add_argument("--grid_rows", type=int, default=4, help="test faces of each set in the grid")
    p.add_argument("--parser", default=os.path.join(REPO, "params", "sp_embedding"),
                   help="folder with a face parser for semantic mIoU and hair IoU (the bundled "
                        "sketch embedding has one); '' for none")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    for path in (args.old, args.new):
        if not os.path.exists(path):
            print(f"error: {path}: no such checkpoint", file=sys.stderr)
            return 2
    os.makedirs(args.out, exist_ok=True)
    parser = args.parser if args.parser and os.path.isdir(args.parser) else ""
    common = dict(compare.common_kwargs(args), parser=parser)
    results = {"old": compare.evaluate(args.out, "old", args.old, **common),
               "new": compare.evaluate(args.out, "new", args.new, **common)}
    lines = ["# Before and after, on the same test faces", "",
             f"{args.n_test} procedural test faces (seed {args.test_seed}) at {args.eval_size} "
             f"px: clean sketches, rough variants and the held-out hand-like (pencil) style. "
             f"old: `{args.old}`; new: `{args.new}`.", "",
             results["old"]["feature_note"], ""] + compare.table(results)
    with open(os.path.join(args.out, "before_after.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    compare.grid(args.out, list(results), os.path.join(args.out, "grid.png"),
                 rows=args.grid_rows, sets=("clean", "hand_like"), reference=True)
    print(f"wrote {os.path.join(args.out, 'before_after.md')} and grid.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
