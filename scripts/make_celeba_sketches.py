"""DeepFaceDrawing's training sketches of real faces, as stroke files:

    python scripts/make_celeba_sketches.py --dataroot CelebAMask-HQ --out data/celeba_strokes
    python train.py --stage ae --dataset_mode celeba --dataroot CelebAMask-HQ \
        --sketch_dir data/celeba_strokes --test_ids 4500-4799 ...

Each face of ``DATAROOT`` (photos ``CelebA-HQ-img/``, label maps in the
combined ``CelebAMask-HQ-mask/`` or the per-class ``CelebAMask-HQ-mask-anno/``
layout; ``data/celeba.py``) is aligned onto the component layout and drawn
(``data/photo_sketch.py``: contours from the label map, photocopy lines
inside the features, simplified into strokes with their parts and edge
classes). ``OUT/<id>.npz`` holds the strokes (plain arrays, no pickle), from
which the celeba dataset renders the clean sketch or any hand-drawn style at
any size. ``--preview N`` also writes a contact sheet of N faces' clean
sketches (and one style) to look at before training; the sketches are made
from the photos, so keep them (and the stroke files) out of the repository:
CelebAMask-HQ is for non-commercial research only.

A face that cannot be drawn (a missing or damaged file, no face in the map)
is reported in one line and skipped; the run goes on. Exit status: 0 all
drawn, 1 some skipped, 2 bad arguments or no faces.
"""

import argparse
import io
import os
import sys

import numpy as np


def draw_face(root, maps, photo_path, stem):
    """The stroke ops of one face."""
    from data import celeba, photo_sketch
    photo, labels = celeba.read_pair(photo_path, maps, stem)
    big = celeba.warp_pair(photo, labels, celeba.alignment_matrix(labels), 512)
    return photo_sketch.sketch_strokes(*big)


def write_strokes(path, ops):
    from data.photo_sketch import ops_to_arrays
    from util.fileio import atomic_write
    buf = io.BytesIO()
    np.savez_compressed(buf, **ops_to_arrays(ops))
    atomic_write(path, buf.getvalue())


def _job(args):
    root, photo_path, stem, out = args
    from data import celeba
    from data.sketch_io import ImageError
    try:
        ops = draw_face(root, celeba.label_maps(root), photo_path, stem)
        write_strokes(os.path.join(out, f"{stem}.npz"), ops)
    except (ImageError, OSError, ValueError, celeba.CelebAError) as exc:
        return stem, str(exc)
    return stem, None


def preview(root, out, stems, n, path, style):
    """A contact sheet: n faces' clean sketches and the same in ``style``."""
    from PIL import Image
    from data.datasets import read_strokes
    from data.photo_sketch import render_strokes
    from util.png import save_png
    tiles = []
    for stem in stems[:n]:
        f = os.path.join(out, f"{stem}.npz")
        if not os.path.isfile(f):
            continue
        ops = read_strokes(f)
        clean = render_strokes(ops, 128, "clean", int(stem))[0]
        styled = render_strokes(ops, 128, style, int(stem))[0]
        tiles.append(np.concatenate([clean, styled], 1))
    if not tiles:
        return None
    cols = 6
    while len(tiles) % cols:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.concatenate(tiles[i:i + cols], 1) for i in range(0, len(tiles), cols)]
    save_png(path, np.concatenate(rows, 0))
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--dataroot", required=True, help="the CelebAMask-HQ folder")
    parser.add_argument("--out", default="", help="where the stroke files go (default "
                                                  "DATAROOT/strokes; give this to --sketch_dir)")
    parser.add_argument("--limit", type=int, default=0, help="draw at most this many faces")
    parser.add_argument("--skip_existing", action="store_true",
                        help="leave faces whose stroke file is already written")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    parser.add_argument("--preview", type=int, default=0,
                        help="also write a contact sheet of this many faces' sketches "
                             "(test_output/celeba_sketches.png)")
    parser.add_argument("--preview_style", default="random",
                        help="the style shown beside the clean sketches in the preview")
    opt = parser.parse_args(argv)
    from data import celeba
    from tqdm import tqdm
    root = opt.dataroot
    try:
        maps = celeba.LabelMaps(root)
        photos = celeba.photo_files(root)
        stems = celeba.paired_stems(root, photos, maps)
    except celeba.CelebAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if opt.limit < 0 or opt.workers < 1 or opt.preview < 0:
        print("error: --limit and --preview must be >= 0 and --workers >= 1", file=sys.stderr)
        return 2
    out = opt.out or os.path.join(root, "strokes")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        print(f"error: {out}: cannot create the folder ({exc.strerror})", file=sys.stderr)
        return 2
    stems = stems[:opt.limit or None]
    todo = [s for s in stems if not (opt.skip_existing and
                                     os.path.isfile(os.path.join(out, f"{s}.npz")))]
    print(f"{len(todo)} faces of {root} ({maps.layout} label maps) -> {out}")
    jobs = [(root, photos[s], s, out) for s in todo]
    if opt.workers > 1:
        from multiprocessing import Pool
        with Pool(opt.workers) as pool:
            results = list(tqdm(pool.imap(_job, jobs, chunksize=8), total=len(jobs),
                                desc="faces", unit="face"))
    else:
        results = [_job(j) for j in tqdm(jobs, desc="faces", unit="face")]
    failed = [(s, e) for s, e in results if e]
    for _, error in failed:
        print(f"skipped {error}", file=sys.stderr)
    print(f"wrote {len(results) - len(failed)} stroke files to {out}"
          + (f"; {len(failed)} faces skipped" if failed else ""))
    if opt.preview:
        from options.base_options import REPO_ROOT
        sheet = preview(root, out, stems, opt.preview,
                        os.path.join(REPO_ROOT, "test_output", "celeba_sketches.png"),
                        opt.preview_style)
        if sheet:
            print(f"preview: {sheet}")
    if results and len(failed) == len(results):
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
