"""Write a procedural paired face dataset (see data/synthetic/).

Layout under --out:
    photo/00000.png            RGB face photo
    sketch/00000.png           sketch (black on white) in --style (default clean)
    sketch_rough/00000.png     rough sketch (with --rough)
    labels/00000.png           CelebAMask-HQ face-parsing ids (with --labels)
    semantic_sketch/00000.png  edge class ids on the sketch's strokes (with --labels)
    gender.txt                 "00000.png male" per line
    style.txt                  "00000.png pencil" per line (with --style other than clean)

Label PNGs are single-channel 8-bit ('L') with the class ids as values; the
semantic sketch follows the strokes of sketch/ (its style). Sample i depends
only on (--seed, i) (and the style), so runs with different --start / --n
write consistent shards of one dataset.

    python scripts/make_synthetic_faces.py --out datasets/synth --n 2000 \\
        --seed 0 --size 512 --rough --workers 2
    python scripts/make_synthetic_faces.py --out datasets/hand --n 200 --style held_out --labels

--sheet PATH writes a contact sheet of the first --n samples instead (photo,
clean sketch, the --style sketch, the held-out style, coloured label map and
semantic sketch per row).
"""

import argparse
import colorsys
import os
from multiprocessing import Pool

import cv2
import numpy as np
from tqdm import tqdm

from data.synthetic import HELD_OUT_STYLE, SKETCH_STYLES, make_sample

STYLE_CHOICES = tuple(SKETCH_STYLES) + ("random", "held_out")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="output folder")
    ap.add_argument("--n", type=int, required=True, help="number of samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0,
                    help="index of the first sample (for shards)")
    ap.add_argument("--size", type=int, default=512, help="image size (square)")
    ap.add_argument("--rough", action="store_true",
                    help="also write rough sketches to sketch_rough/")
    ap.add_argument("--style", default="clean", choices=STYLE_CHOICES,
                    help="sketch style: clean, a hand-drawn style, random (clean or a "
                         f"training style per sample) or held_out ({HELD_OUT_STYLE})")
    ap.add_argument("--labels", action="store_true",
                    help="also write labels/ and semantic_sketch/ (class ids, 'L' PNGs)")
    ap.add_argument("--sheet", metavar="PNG",
                    help="write a contact sheet of the samples to this file instead")
    ap.add_argument("--workers", type=int, default=1, help="processes")
    args = ap.parse_args(argv)
    if not args.out and not args.sheet:
        ap.error("one of --out or --sheet is required")
    return args


def _init_worker():
    cv2.setNumThreads(1)


def _write_sample(job):
    """Render sample ``index`` and write its files; returns (name, gender, style)."""
    out, seed, index, size, rough, style, labels = job
    s = make_sample(seed, index, size, rough, style=style, labels=labels)
    name = f"{index:05d}.png"
    cv2.imwrite(os.path.join(out, "photo", name), s["photo"][:, :, ::-1])
    cv2.imwrite(os.path.join(out, "sketch", name), s["sketch"])
    if rough:
        cv2.imwrite(os.path.join(out, "sketch_rough", name), s["sketch_rough"])
    if labels:
        cv2.imwrite(os.path.join(out, "labels", name), s["labels"])
        cv2.imwrite(os.path.join(out, "semantic_sketch", name), s["semantic_sketch_style"])
    return name, s["gender"], s["style"]


def _palette(n, background):
    cols = [background] + [[int(255 * c) for c in colorsys.hsv_to_rgb((i * 0.618) % 1, 0.75, 0.92)]
                           for i in range(1, n)]
    return np.array(cols, np.uint8)


def contact_sheet(args):
    """Rows of photo, clean sketch, --style sketch, held-out sketch, label
    map and semantic sketch (class colours), with the face's attributes."""
    lab_pal, sem_pal = _palette(24, [0, 0, 0]), _palette(24, [255, 255, 255])
    grey = lambda a: np.repeat(a[:, :, None], 3, 2)  # noqa: E731
    rows = []
    for i in range(args.start, args.start + args.n):
        s = make_sample(args.seed, i, args.size, style=args.style, labels=True)
        held = make_sample(args.seed, i, args.size, style=HELD_OUT_STYLE)["sketch"]
        row = np.hstack([s["photo"], grey(s["sketch_clean"]), grey(s["sketch"]), grey(held),
                         lab_pal[s["labels"]], sem_pal[s["semantic_sketch"]]]).copy()
        p = s["params"]
        text = (f"{i} {p.gender} {p.face_shape} {p.hair_style} {p.facial_hair} glasses:"
                f"{p.glasses} {p.expression} | {s['style']} | {HELD_OUT_STYLE}")
        scale = args.size / 640
        cv2.putText(row, text, (4, int(14 * scale) + 4), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), max(1, int(2 * scale)), cv2.LINE_AA)
        rows.append(row)
    os.makedirs(os.path.dirname(os.path.abspath(args.sheet)), exist_ok=True)
    cv2.imwrite(args.sheet, np.vstack(rows)[:, :, ::-1])
    print(f"wrote a contact sheet of {args.n} faces to {args.sheet}")


def main(argv=None):
    args = parse_args(argv)
    if args.sheet:
        contact_sheet(args)
        return
    folders = ["photo", "sketch"] + (["sketch_rough"] if args.rough else [])
    folders += ["labels", "semantic_sketch"] if args.labels else []
    for f in folders:
        os.makedirs(os.path.join(args.out, f), exist_ok=True)
    jobs = [(args.out, args.seed, i, args.size, args.rough, args.style, args.labels)
            for i in range(args.start, args.start + args.n)]
    bar = dict(total=len(jobs), desc="synthetic faces", unit="img")
    if args.workers > 1:
        with Pool(args.workers, initializer=_init_worker) as pool:
            results = list(tqdm(pool.imap(_write_sample, jobs, chunksize=4), **bar))
    else:
        _init_worker()
        results = [_write_sample(j) for j in tqdm(jobs, **bar)]
    _merge_table(os.path.join(args.out, "gender.txt"), [r[:2] for r in results])
    if args.style != "clean":
        _merge_table(os.path.join(args.out, "style.txt"), [(r[0], r[2]) for r in results])
    print(f"wrote {len(results)} samples to {args.out}")


def _merge_table(path, results):
    """Merge (name, value) pairs into a two-column table, keeping earlier shards."""
    table = {}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2:
                    table[parts[0]] = parts[1]
    table.update(results)
    with open(path, "w") as fh:
        for name in sorted(table):
            fh.write(f"{name} {table[name]}\n")


if __name__ == "__main__":
    main()
