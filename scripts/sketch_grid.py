"""Checkpoints side by side on your own sketches: a grid of faces, made only
from the sketches given and the faces the models make (no dataset images).

    python scripts/sketch_grid.py --model old=/tmp/old_default --model new=params/default \
        --input test_input test_input/freehand --looks 2 --out docs/before_after.jpg

Rows: the sketches (files, or the images in folders); columns: the sketch,
each model's face with its default look (``demo.py``'s: the mean look, or
the sketch embedding's random look of seed 0), then the last model's faces
with ``--looks`` random looks (``--appearance_seed k``). Every face comes
from ``demo.py`` run once per model and look (so exactly what a user gets),
into ``--work`` (default: a folder under test_output/). Exit status: 0, or
2 for bad arguments or a demo run that failed (its message is shown).
"""

import argparse
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--model", action="append", required=True, metavar="LABEL=PATH",
                   help="a checkpoint and its column title (give it once per model)")
    p.add_argument("--input", nargs="+", default=[os.path.join(REPO, "test_input")],
                   help="sketch files or folders")
    p.add_argument("--looks", type=int, default=2, help="random looks of the last model")
    p.add_argument("--cell", type=int, default=160, help="side of a grid cell in pixels")
    p.add_argument("--out", default=os.path.join(REPO, "test_output", "sketch_grid.png"),
                   help="the grid (PNG or JPEG by its extension)")
    p.add_argument("--work", default=os.path.join(REPO, "test_output", "sketch_grid"),
                   help="where the demo runs write their faces")
    args = p.parse_args(argv)
    models = []
    for item in args.model:
        label, sep, path = item.partition("=")
        if not sep or not label or not path:
            p.error(f"--model {item!r}: expected LABEL=PATH")
        models.append((label, path))
    args.models = models
    if args.looks < 0 or args.cell < 32:
        p.error("--looks must be >= 0 and --cell >= 32")
    return args


def run_demo(params, inputs, output, seed=None):
    """demo.py on ``inputs`` into ``output``; None, or its error message."""
    cmd = [sys.executable, os.path.join(REPO, "demo.py"), "--params", params,
           "--output", output, "--input"] + list(inputs)
    if seed is not None:
        cmd += ["--appearance_seed", str(seed)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error")]
        return lines[-1] if lines else f"demo.py exited with {done.returncode}"
    return None


def main(argv=None):
    args = parse_args(argv)
    from PIL import Image, ImageDraw

    from data.sketch_io import list_images
    try:
        sketches = list_images(args.input)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not sketches:
        print(f"error: no sketches in {' '.join(args.input)}", file=sys.stderr)
        return 2
    columns = []                                   # (title, folder)
    for k, (label, path) in enumerate(args.models):
        last = k == len(args.models) - 1
        runs = [(label, None)] + ([(f"{label} look {s}", s) for s in range(1, args.looks + 1)]
                                  if last else [])
        for title, seed in runs:
            folder = os.path.join(args.work, f"{k}_{label}" + (f"_look{seed}" if seed else ""))
            error = run_demo(path, sketches, folder, seed)
            if error:
                print(f"error: {label} ({path}): {error}", file=sys.stderr)
                return 2
            columns.append((title, folder))
    cell = args.cell
    canvas = Image.new("RGB", (cell * (1 + len(columns)), 20 + cell * len(sketches)), "white")
    draw = ImageDraw.Draw(canvas)
    for j, title in enumerate(["sketch"] + [t for t, _ in columns]):
        draw.text((j * cell + 4, 4), title[:cell // 7], fill="black")
    for i, path in enumerate(sketches):
        stem = os.path.splitext(os.path.basename(path))[0]
        images = [path] + [os.path.join(folder, f"{stem}.png") for _, folder in columns]
        for j, image in enumerate(images):
            with Image.open(image) as im:
                canvas.paste(im.convert("RGB").resize((cell, cell), Image.BICUBIC),
                             (j * cell, 20 + i * cell))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    canvas.save(args.out, quality=88) if args.out.lower().endswith((".jpg", ".jpeg")) \
        else canvas.save(args.out)
    print(f"wrote {args.out} ({len(sketches)} sketches, {len(columns)} faces each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
