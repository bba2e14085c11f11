"""Semantic sketches and parsing maps from CelebAMask-HQ's annotation masks,
for training the sketch embedding on real faces:

    python scripts/make_celeba_semantic_sketches.py --dataroot CelebAMask-HQ

reads ``DATAROOT/CelebAMask-HQ-mask-anno/<k>/<id>_<class>.png`` (one binary
PNG per class and face, 512x512; ids zero-padded to 5 digits, k = id // 2000)
and writes, per face id (unpadded, as the photos ``CelebA-HQ-img/<id>.jpg``):

* ``DATAROOT/parsing/<id>.png``: the 19-class CelebAMask-HQ parsing map
  (0 background, 1 skin, 2 nose, 3 eye_g, 4 l_eye, 5 r_eye, 6 l_brow,
  7 r_brow, 8 l_ear, 9 r_ear, 10 mouth, 11 u_lip, 12 l_lip, 13 hair, 14 hat,
  15 ear_r, 16 neck_l, 17 neck, 18 cloth), the masks painted in that order
  (a later class covers an earlier one, CelebAMask-HQ's own convention);
* ``DATAROOT/semantic_sketch/<id>.png``: a semantic sketch in the authors'
  22-class edge scheme (reference notes, section 3; ``data/synthetic/
  labels.py``): every pixel next to a pixel of another class (its
  (2 r + 1)^2 neighbourhood, ``--radius``; 2-pixel lines at r = 1, both
  sides of the boundary) carries the edge class of that boundary, 0 elsewhere.

Edge class of a boundary between classes a and b. When one of them is a face
part, the part's outline: eye 2 (l_eye, image left) / 1 (r_eye), brow 5 / 4,
mouth and lips 7, nose 6, glasses 3, earring 8, ear 12 (l_ear) / 11 (r_ear),
necklace 16 (as clothes), hat 15 (as hair); between two parts the higher in
that order wins. Otherwise by the pair: skin-hair 17 (hairline), skin-neck 18
(jaw), skin-background 10 (face outline), skin-cloth 19 (face / collar),
hair-anything 15, neck-background 14, neck-cloth and cloth-background 16.
Where a pixel touches several boundaries the one earliest in
``EDGE_PRIORITY`` wins. "Left" follows the project's convention (``l_*`` =
image left, as in data/synthetic/labels.py).

Interior strokes (hair strands, wrinkles) have no mask boundary and are not
drawn; the sketches are region outlines.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

import numpy as np
from PIL import Image

from data.synthetic.labels import E, P, PARSING_CLASSES

MASK_DIR = "CelebAMask-HQ-mask-anno"
MASK_NAME = re.compile(r"^(\d+)_([a-z_]+)\.png$")
MASK_CLASSES = PARSING_CLASSES[1:]          # painted in this order, later on top

# Face parts' own outline classes, highest first (a part beats the parts after it).
PART_EDGES = (("l_eye", E["eye_l"]), ("r_eye", E["eye_r"]), ("l_brow", E["brow_l"]),
              ("r_brow", E["brow_r"]), ("mouth", E["mouth"]), ("u_lip", E["mouth"]),
              ("l_lip", E["mouth"]), ("nose", E["nose"]), ("eye_g", E["glasses"]),
              ("ear_r", E["earring"]), ("l_ear", E["ear_l"]), ("r_ear", E["ear_r"]),
              ("neck_l", E["cloth"]), ("hat", E["hair"]))
# Boundaries between the large regions.
REGION_EDGES = {("skin", "hair"): E["hairline"], ("skin", "neck"): E["jaw"],
                ("skin", "background"): E["face"], ("skin", "cloth"): E["collar"],
                ("hair", "background"): E["hair"], ("hair", "neck"): E["hair"],
                ("hair", "cloth"): E["hair"], ("neck", "background"): E["neck"],
                ("neck", "cloth"): E["cloth"], ("cloth", "background"): E["cloth"]}
# Where a pixel touches several boundaries: earlier wins.
EDGE_PRIORITY = (E["eye_l"], E["eye_r"], E["brow_l"], E["brow_r"], E["mouth"], E["nose"],
                 E["glasses"], E["earring"], E["ear_l"], E["ear_r"], E["hairline"], E["jaw"],
                 E["face"], E["collar"], E["hair"], E["neck"], E["cloth"])


def edge_table():
    """19 x 19 uint8: the edge class of a boundary between parsing classes
    a and b (0 on the diagonal)."""
    n = len(PARSING_CLASSES)
    table = np.zeros((n, n), np.uint8)
    rank = {P[name]: (k, edge) for k, (name, edge) in enumerate(PART_EDGES)}
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            parts = [rank[c] for c in (a, b) if c in rank]
            if parts:
                table[a, b] = min(parts)[1]
                continue
            pair = (PARSING_CLASSES[a], PARSING_CLASSES[b])
            table[a, b] = REGION_EDGES.get(pair, REGION_EDGES.get(pair[::-1], 0))
    return table


def priority_table():
    """uint8 256: rank of each edge class (lower wins), 255 for none."""
    out = np.full(256, 255, np.uint8)
    for k, edge in enumerate(EDGE_PRIORITY):
        out[edge] = k
    return out


def parsing_from_masks(masks, size=None):
    """{class name: bool (H, W)} -> uint8 parsing map (later classes on
    top), resized with nearest to ``size`` when given."""
    shape = next(iter(masks.values())).shape if masks else (size or 512,) * 2
    out = np.zeros(shape, np.uint8)
    for name in MASK_CLASSES:
        if name in masks:
            out[masks[name]] = P[name]
    if size and out.shape != (size, size):
        out = np.asarray(Image.fromarray(out).resize((size, size), Image.NEAREST))
    return out


def semantic_from_parsing(parsing, radius=1):
    """Semantic sketch (uint8, edge classes on boundary pixels) of a parsing map."""
    parsing = np.asarray(parsing, np.uint8)
    table, rank = edge_table(), priority_table()
    h, w = parsing.shape
    padded = np.pad(parsing, radius, mode="edge")
    best = np.zeros((h, w), np.uint8)
    best_rank = np.full((h, w), 255, np.uint8)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dy == 0 and dx == 0:
                continue
            other = padded[radius + dy:radius + dy + h, radius + dx:radius + dx + w]
            edge = table[parsing, other]
            r = rank[edge]
            win = (edge > 0) & (r < best_rank)
            best[win], best_rank[win] = edge[win], r[win]
    return best


def find_masks(mask_root):
    """{face id (int): {class name: path}} of every annotation mask."""
    faces = defaultdict(dict)
    for folder, _, files in os.walk(mask_root):
        for name in files:
            m = MASK_NAME.match(name)
            if m and m.group(2) in MASK_CLASSES:
                faces[int(m.group(1))][m.group(2)] = os.path.join(folder, name)
    return dict(faces)


def read_mask(path, shape=None):
    img = Image.open(path).convert("L")
    if shape is not None and img.size != (shape[1], shape[0]):
        img = img.resize((shape[1], shape[0]), Image.NEAREST)
    return np.asarray(img) > 127


def convert_face(paths, size=None, radius=1):
    """(parsing map, semantic sketch) of one face's mask files."""
    masks, shape = {}, None
    for name in MASK_CLASSES:
        if name in paths:
            masks[name] = read_mask(paths[name], shape)
            shape = masks[name].shape
    parsing = parsing_from_masks(masks, size)
    return parsing, semantic_from_parsing(parsing, radius)


def _job(args):
    face_id, paths, out_parsing, out_semantic, size, radius = args
    try:
        parsing, semantic = convert_face(paths, size, radius)
    except (OSError, ValueError) as exc:
        return face_id, f"{type(exc).__name__}: {exc}"
    Image.fromarray(parsing).save(os.path.join(out_parsing, f"{face_id}.png"))
    Image.fromarray(semantic).save(os.path.join(out_semantic, f"{face_id}.png"))
    return face_id, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--dataroot", required=True,
                        help="the CelebAMask-HQ folder (holding CelebAMask-HQ-mask-anno/)")
    parser.add_argument("--out", default="",
                        help="where parsing/ and semantic_sketch/ go (default: DATAROOT)")
    parser.add_argument("--size", type=int, default=512,
                        help="side of the written maps (the masks are 512; boundaries are "
                             "found at this size, so lines stay 2 px wide)")
    parser.add_argument("--radius", type=int, default=1,
                        help="neighbourhood radius of a boundary pixel (1: 2-pixel lines)")
    parser.add_argument("--limit", type=int, default=0, help="convert at most this many faces")
    parser.add_argument("--skip_existing", action="store_true",
                        help="leave faces whose two maps are already written")
    parser.add_argument("--workers", type=int, default=1, help="processes")
    opt = parser.parse_args(argv)
    mask_root = os.path.join(opt.dataroot, MASK_DIR)
    if not os.path.isdir(mask_root):
        print(f"error: {mask_root}: folder not found (the CelebAMask-HQ annotation masks)",
              file=sys.stderr)
        return 2
    if opt.size < 8 or opt.radius < 1:
        print("error: --size must be >= 8 and --radius >= 1", file=sys.stderr)
        return 2
    faces = find_masks(mask_root)
    if not faces:
        print(f"error: {mask_root}: no <id>_<class>.png masks found", file=sys.stderr)
        return 2
    out = opt.out or opt.dataroot
    out_parsing, out_semantic = os.path.join(out, "parsing"), os.path.join(out, "semantic_sketch")
    os.makedirs(out_parsing, exist_ok=True)
    os.makedirs(out_semantic, exist_ok=True)
    ids = sorted(faces)[:opt.limit or None]
    if opt.skip_existing:
        ids = [i for i in ids if not (os.path.isfile(os.path.join(out_parsing, f"{i}.png")) and
                                      os.path.isfile(os.path.join(out_semantic, f"{i}.png")))]
    jobs = [(i, faces[i], out_parsing, out_semantic, opt.size, opt.radius) for i in ids]
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
            print(f"skipped face {face_id}: {error}", file=sys.stderr)
    print(f"wrote {len(results) - failed} parsing maps and semantic sketches to {out_parsing} "
          f"and {out_semantic}" + (f"; {failed} faces skipped" if failed else ""))
    return 0 if len(results) > failed or not results else 2


if __name__ == "__main__":
    sys.exit(main())
