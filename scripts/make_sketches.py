"""Turn a folder of aligned face photos into line sketches (PNG, same stem).

    python scripts/make_sketches.py --input photos/ --output sketches/ \
        [--method xdog|canny] [--size 512] [--workers 2]

Every image in --input (sorted, hidden files skipped) is resized to
--size x --size (0 keeps its size; a non-square image is padded with white
first), converted with data.sketch_extract.extract_sketch and written as
--output/<stem>.png. A file that cannot be used is reported on one line and
skipped. Exit status: 0 all converted, 1 some skipped, 2 bad arguments.
"""

import argparse
import os
import sys
import time

import cv2
import numpy as np
from tqdm import tqdm

from data.sketch_extract import METHODS, extract_sketch
from data.sketch_io import ImageError, list_images, load_photo
from util.cli import UsageError, check_folders
from util.png import save_png


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", required=True, help="folder of face photos")
    ap.add_argument("--output", required=True, help="folder for the sketches (created)")
    ap.add_argument("--method", choices=METHODS, default="xdog",
                    help="line extractor (default xdog)")
    ap.add_argument("--size", type=int, default=512,
                    help="resize to this square size first; 0 keeps the size (default 512)")
    ap.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    return ap.parse_args(argv)


def check_args(args):
    """Raise UsageError for arguments argparse cannot judge."""
    check_folders(args.input, args.output)
    if args.size != 0 and args.size < 8:
        raise UsageError(f"--size {args.size}: use 0 (keep) or at least 8")
    if args.workers < 1:
        raise UsageError(f"--workers {args.workers}: must be at least 1")


def fit_photo(rgb, size):
    """Pad a non-square photo with white (centred) and resize to size x size."""
    if size == 0:
        return rgb
    h, w = rgb.shape[:2]
    if h != w:
        side = max(h, w)
        canvas = np.full((side, side, 3), 255, np.uint8)
        y, x = (side - h) // 2, (side - w) // 2
        canvas[y:y + h, x:x + w] = rgb
        rgb, h = canvas, side
    if h != size:
        interp = cv2.INTER_AREA if h > size else cv2.INTER_CUBIC
        rgb = cv2.resize(rgb, (size, size), interpolation=interp)
    return rgb


def convert_one(job):
    """Convert one file; returns (path, None) or (path, problem)."""
    src, dst, method, size = job
    try:
        sketch = extract_sketch(fit_photo(load_photo(src), size), method)
        save_png(dst, sketch)
    except ImageError as exc:
        return src, str(exc)
    except (OSError, ValueError) as exc:
        return src, f"{src}: {exc}"
    return src, None


def plan_jobs(files, output, method, size):
    """(jobs, problems): one job per file; a file whose stem is taken by an
    earlier file would overwrite its sketch, so it becomes a problem."""
    jobs, problems, seen = [], [], {}
    for path in files:
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem in seen:
            problems.append((path, f"{path}: same name as {os.path.basename(seen[stem])}, "
                                   f"both would write {stem}.png"))
            continue
        seen[stem] = path
        jobs.append((path, os.path.join(output, stem + ".png"), method, size))
    return jobs, problems


def _init_worker():
    cv2.setNumThreads(1)


def run_jobs(jobs, workers):
    """Yield (path, problem-or-None) in input order."""
    if workers > 1 and len(jobs) > 1:
        from multiprocessing import Pool
        with Pool(min(workers, len(jobs)), initializer=_init_worker) as pool:
            yield from pool.imap(convert_one, jobs, chunksize=2)
    else:
        for job in jobs:
            yield convert_one(job)


def report(problem):
    tqdm.write(f"skipped {problem}", file=sys.stderr)


def main(argv=None):
    args = parse_args(argv)
    try:
        check_args(args)
        files = list_images([args.input])
        if not files:
            raise UsageError(f"--input {args.input}: no images found")
    except (UsageError, OSError) as exc:
        print(f"make_sketches: {exc}", file=sys.stderr)
        return 2
    os.makedirs(args.output, exist_ok=True)

    start = time.time()
    jobs, problems = plan_jobs(files, args.output, args.method, args.size)
    for _, problem in problems:
        report(problem)
    converted, skipped = 0, len(problems)
    bar = tqdm(total=len(jobs), desc=f"sketches ({args.method})", unit="img")
    for _, problem in run_jobs(jobs, args.workers):
        if problem is None:
            converted += 1
        else:
            skipped += 1
            report(problem)
        bar.update(1)
    bar.close()
    seconds = time.time() - start
    per = f", {1000 * seconds / max(1, converted + skipped):.0f} ms/image"
    print(f"converted {converted}, skipped {skipped}, {seconds:.1f} s{per} -> {args.output}")
    return 0 if skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
