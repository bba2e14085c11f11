"""Semantic sketches and parsing maps from CelebAMask-HQ's label maps, for
training the sketch embedding on the region outlines the authors' examples
show:

    python scripts/make_celeba_semantic_sketches.py --dataroot CelebAMask-HQ

reads the label maps in either layout (``data/celeba.py``: the combined
``DATAROOT/CelebAMask-HQ-mask/<id>.png``, one map a photo, or the release's
per-class ``DATAROOT/CelebAMask-HQ-mask-anno/<k>/<id:05d>_<class>.png``) and
writes, per face id (as the photos ``CelebA-HQ-img/<id>.jpg``):

* ``OUT/parsing/<id>.png``: the 19-class parsing map in this project's naming
  (``l_eye`` etc. = image left; CelebAMask-HQ's own ``l_`` is the person's
  left, so the sides are swapped on reading);
* ``OUT/semantic_sketch/<id>.png``: a semantic sketch in the authors'
  22-class edge scheme (``data/photo_sketch.semantic_from_parsing``: every
  pixel within ``--radius`` of another class carries the edge class of that
  boundary; 2-pixel lines at r = 1, both sides of the boundary).

Edge class of a boundary between classes a and b: when one of them is a face
part, the part's outline (eye 2 image left / 1 image right, brow 5 / 4,
mouth and lips 7, nose 6, glasses 3, earring 8, ear 12 / 11, necklace 16,
hat 15); otherwise by the pair: skin-hair 17 (hairline), skin-neck 18 (jaw),
skin-background 10 (face outline), skin-cloth 19, hair-anything 15,
neck-background 14, neck-cloth and cloth-background 16. Interior strokes
(hair strands, wrinkles) have no boundary and are not drawn: these sketches
are region outlines (``scripts/make_celeba_sketches.py`` makes the drawn
ones, which the celeba dataset uses when this script's folders are absent).

The photos are not aligned: the maps keep the photos' own layout.
"""

import argparse
import os
import sys

import numpy as np
from PIL import Image

from data.celeba import CelebAError, LabelMaps, id_order, label_maps
from data.photo_sketch import semantic_from_parsing


def convert_face(maps, stem, size=None, radius=1):
    """(parsing map, semantic sketch) of one face, boundaries found at ``size``."""
    parsing = maps.read(stem)
    if size and parsing.shape != (size, size):
        parsing = np.asarray(Image.fromarray(parsing).resize((size, size), Image.NEAREST))
    return parsing, semantic_from_parsing(parsing, radius)


def _job(args):
    root, face_id, out_parsing, out_semantic, size, radius = args
    try:
        parsing, semantic = convert_face(label_maps(root), face_id, size, radius)
    except (OSError, ValueError) as exc:
        return face_id, str(exc)
    Image.fromarray(parsing).save(os.path.join(out_parsing, f"{face_id}.png"))
    Image.fromarray(semantic).save(os.path.join(out_semantic, f"{face_id}.png"))
    return face_id, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--dataroot", required=True,
                        help="the CelebAMask-HQ folder (holding CelebAMask-HQ-mask/ or "
                             "CelebAMask-HQ-mask-anno/)")
    parser.add_argument("--out", default="",
                        help="where parsing/ and semantic_sketch/ go (default: DATAROOT)")
    parser.add_argument("--size", type=int, default=0,
                        help="side of the written maps (0: the maps' own; boundaries are "
                             "found at this size, so lines stay 2 px wide)")
    parser.add_argument("--radius", type=int, default=1,
                        help="neighbourhood radius of a boundary pixel (1: 2-pixel lines)")
    parser.add_argument("--limit", type=int, default=0, help="convert at most this many faces")
    parser.add_argument("--skip_existing", action="store_true",
                        help="leave faces whose two maps are already written")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    opt = parser.parse_args(argv)
    if (opt.size and opt.size < 8) or opt.radius < 1:
        print("error: --size must be 0 or >= 8 and --radius >= 1", file=sys.stderr)
        return 2
    try:
        maps = LabelMaps(opt.dataroot)
    except CelebAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not maps.stems():
        print(f"error: {maps.folder}: no label maps found", file=sys.stderr)
        return 2
    out = opt.out or opt.dataroot
    out_parsing, out_semantic = os.path.join(out, "parsing"), os.path.join(out, "semantic_sketch")
    os.makedirs(out_parsing, exist_ok=True)
    os.makedirs(out_semantic, exist_ok=True)
    ids = sorted(maps.stems(), key=id_order)[:opt.limit or None]
    if opt.skip_existing:
        ids = [i for i in ids if not (os.path.isfile(os.path.join(out_parsing, f"{i}.png")) and
                                      os.path.isfile(os.path.join(out_semantic, f"{i}.png")))]
    jobs = [(opt.dataroot, i, out_parsing, out_semantic, opt.size, opt.radius) for i in ids]
    from tqdm import tqdm
    failed = 0
    if opt.workers > 1:
        from multiprocessing import Pool
        with Pool(opt.workers) as pool:
            results = list(tqdm(pool.imap(_job, jobs, chunksize=8), total=len(jobs),
                                desc="faces", unit="face"))
    else:
        results = [_job(j) for j in tqdm(jobs, desc="faces", unit="face")]
    for face_id, error in results:
        if error:
            failed += 1
            print(f"skipped {error}", file=sys.stderr)
    print(f"wrote {len(results) - failed} parsing maps and semantic sketches to {out_parsing} "
          f"and {out_semantic}" + (f"; {failed} faces skipped" if failed else ""))
    return 0 if len(results) > failed or not results else 2


if __name__ == "__main__":
    sys.exit(main())
