"""Write a procedural paired face dataset (see data/synthetic.py).

Layout under --out:
    photo/00000.png        RGB face photo
    sketch/00000.png       line sketch (black on white)
    sketch_rough/00000.png rough sketch (with --rough)
    gender.txt             "00000.png male" per line

Sample i depends only on (--seed, i), so runs with different --start /
--n write consistent shards of one dataset.

    python scripts/make_synthetic_faces.py --out datasets/synth --n 2000 \
        --seed 0 --size 512 --rough --workers 2
"""

import argparse
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import cv2  # noqa: E402
from multiprocessing import Pool  # noqa: E402
from tqdm import tqdm  # noqa: E402

from data.synthetic import make_sample  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--n", type=int, required=True, help="number of samples")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0,
                    help="index of the first sample (for shards)")
    ap.add_argument("--size", type=int, default=512, help="image size (square)")
    ap.add_argument("--rough", action="store_true",
                    help="also write rough sketches to sketch_rough/")
    ap.add_argument("--workers", type=int, default=1, help="processes")
    return ap.parse_args(argv)


def _init_worker():
    cv2.setNumThreads(1)


def _write_sample(job):
    """Render sample ``index`` and write its files; returns (name, gender)."""
    out, seed, index, size, rough = job
    s = make_sample(seed, index, size, rough)
    name = f"{index:05d}.png"
    cv2.imwrite(os.path.join(out, "photo", name), s["photo"][:, :, ::-1])
    cv2.imwrite(os.path.join(out, "sketch", name), s["sketch"])
    if rough:
        cv2.imwrite(os.path.join(out, "sketch_rough", name), s["sketch_rough"])
    return name, s["gender"]


def main(argv=None):
    args = parse_args(argv)
    folders = ["photo", "sketch"] + (["sketch_rough"] if args.rough else [])
    for f in folders:
        os.makedirs(os.path.join(args.out, f), exist_ok=True)
    jobs = [(args.out, args.seed, i, args.size, args.rough)
            for i in range(args.start, args.start + args.n)]
    bar = dict(total=len(jobs), desc="synthetic faces", unit="img")
    if args.workers > 1:
        with Pool(args.workers, initializer=_init_worker) as pool:
            results = list(tqdm(pool.imap(_write_sample, jobs, chunksize=4), **bar))
    else:
        _init_worker()
        results = [_write_sample(j) for j in tqdm(jobs, **bar)]
    _write_genders(os.path.join(args.out, "gender.txt"), results)
    print(f"wrote {len(results)} samples to {args.out}")


def _write_genders(path, results):
    """Merge (name, gender) pairs into gender.txt, keeping earlier shards."""
    genders = {}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 2:
                    genders[parts[0]] = parts[1]
    genders.update(results)
    with open(path, "w") as fh:
        for name in sorted(genders):
            fh.write(f"{name} {genders[name]}\n")


if __name__ == "__main__":
    main()
