"""The CelebAMask-HQ layout as it comes: photos, label maps, split, genders,
and the alignment of a face onto the component layout from its label map.

    DATAROOT/CelebA-HQ-img/<id>.jpg          the photos (square, any size)
    DATAROOT/CelebAMask-HQ-mask/<id>.png     label maps, combined layout: one map a
                                             photo, pixel value = class (the layout
                                             CelebAMask-HQ's own g_mask.py writes)
    DATAROOT/CelebAMask-HQ-mask-anno/<k>/<id:05d>_<class>.png
                                             or the release's layout: one binary
                                             mask per class, painted in class order
    optional: CelebA-HQ-to-CelebA-mapping.txt + list_eval_partition.txt (the
    official split), CelebAMask-HQ-attribute-anno.txt (genders)

Classes are CelebAMask-HQ's 19 (``data.synthetic.labels.PARSING_CLASSES``).
**Left and right**: CelebAMask-HQ's ``l_eye``, ``l_brow``, ``l_ear`` are the
person's left, which is the image's right; this project names them by image
side (``l_*`` = image left, the ``eye1`` box), so every map read here has
4<->5, 6<->7 and 8<->9 swapped (``SIDE_SWAP``), in both layouts.

Split: ``test_ids`` ranges (``"4500-4799"``, ``"0-99,200"``) make the test
phase; the train phase is every other id. Without ranges, the official
partition files when both are there, else every photo is in both phases
(said by :func:`describe_split`). Genders: the attribute file's ``Male``
column when there, else ``all``.
"""

import os
import re

import cv2
import numpy as np

from data.sketch_io import IMAGE_EXTS, ImageError, load_photo, read_label_map
from data.synthetic.labels import PARSING_CLASSES, P
from util.components import CANONICAL_SIZE, FACE_ANCHORS_512

IMG_DIR = "CelebA-HQ-img"
COMBINED_DIR = "CelebAMask-HQ-mask"
ANNO_DIR = "CelebAMask-HQ-mask-anno"
MAPPING_FILE = "CelebA-HQ-to-CelebA-mapping.txt"
PARTITION_FILE = "list_eval_partition.txt"
ATTRIBUTE_FILE = "CelebAMask-HQ-attribute-anno.txt"

N_CLASSES = len(PARSING_CLASSES)
MASK_CLASSES = PARSING_CLASSES[1:]          # the release's masks, painted in this order
MASK_NAME = re.compile(r"^(\d+)_([a-z_]+)\.png$")
SIDE_SWAP = np.arange(256, dtype=np.uint8)
for _a, _b in (("l_eye", "r_eye"), ("l_brow", "r_brow"), ("l_ear", "r_ear")):
    SIDE_SWAP[P[_a]], SIDE_SWAP[P[_b]] = P[_b], P[_a]


class CelebAError(ValueError):
    """A CelebAMask-HQ folder that cannot be used; the message names the file."""


# ------------------------------------------------------------------ the split
def parse_id_ranges(spec):
    """``"4500-4799,12"`` -> [(4500, 4799), (12, 12)]; ValueError otherwise."""
    ranges = []
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise ValueError(f"{part!r} is not an id or a range of ids (such as 4500-4799)")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(f"{part!r}: the range ends before it starts")
        ranges.append((lo, hi))
    return ranges


def in_ranges(stem, ranges):
    return stem.isdigit() and any(lo <= int(stem) <= hi for lo, hi in ranges)


def official_split(root):
    """{stem: '0' train | '1' val | '2' test} from the partition files, or None."""
    mapping, parts = os.path.join(root, MAPPING_FILE), os.path.join(root, PARTITION_FILE)
    if not (os.path.isfile(mapping) and os.path.isfile(parts)):
        return None
    part_of = {}
    with open(parts) as f:
        for line in f:
            cols = line.split()
            if len(cols) == 2:
                part_of[cols[0]] = cols[1]
    split = {}
    with open(mapping) as f:
        next(f, None)
        for line in f:
            cols = line.split()          # idx orig_idx orig_file
            if len(cols) >= 3 and cols[2] in part_of:
                split[cols[0]] = part_of[cols[2]]
    return split


def split_stems(root, stems, phase, test_ids=""):
    """The stems of ``phase`` ('train' or 'test'; 'val' with the official split)."""
    if test_ids:
        ranges = parse_id_ranges(test_ids)
        test = phase == "test"
        return [s for s in stems if in_ranges(s, ranges) == test]
    split = official_split(root)
    if split is None:
        return list(stems)
    want = {"train": "0", "val": "1", "test": "2"}[phase]
    return [s for s in stems if split.get(s) == want]


def describe_split(root, test_ids=""):
    if test_ids:
        return f"test ids {test_ids}, train the rest"
    if official_split(root) is not None:
        return "the official CelebA partition"
    return "no split (no --test_ids and no partition files): every photo in both phases"


def genders(root):
    """{stem: 'male'|'female'} from the attribute file's Male column, or {}."""
    path = os.path.join(root, ATTRIBUTE_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        lines = f.read().splitlines()
    if len(lines) < 2 or "Male" not in lines[1].split():
        return {}
    col = lines[1].split().index("Male") + 1
    out = {}
    for line in lines[2:]:
        cols = line.split()
        if len(cols) > col:
            out[os.path.splitext(cols[0])[0]] = "male" if cols[col] == "1" else "female"
    return out


# ---------------------------------------------------------------- label maps
def find_anno_masks(mask_root):
    """{stem (unpadded id): {class name: path}} of the release's per-class masks."""
    faces = {}
    for folder, _, files in os.walk(mask_root):
        for name in files:
            m = MASK_NAME.match(name)
            if m and m.group(2) in MASK_CLASSES:
                faces.setdefault(str(int(m.group(1))), {})[m.group(2)] = os.path.join(folder, name)
    return faces


def paint_masks(masks):
    """{class name: bool (H, W)} -> uint8 map in CelebAMask-HQ's own naming
    (later classes painted over earlier ones, as g_mask.py does)."""
    shape = next(iter(masks.values())).shape
    out = np.zeros(shape, np.uint8)
    for name in MASK_CLASSES:
        if name in masks:
            out[masks[name]] = P[name]
    return out


def read_anno_face(paths):
    """The painted map of one face's per-class mask files (all one size)."""
    from data.sketch_io import open_image
    masks, shape = {}, None
    for name in MASK_CLASSES:
        if name not in paths:
            continue
        img = open_image(paths[name]).convert("L")
        if shape is not None and img.size != shape:
            raise ImageError(f"{paths[name]}: mask is {img.size[0]}x{img.size[1]}, the face's "
                             f"other masks {shape[0]}x{shape[1]}")
        shape = img.size
        masks[name] = np.asarray(img) > 127
    return paint_masks(masks)


class LabelMaps:
    """The label maps of a CelebAMask-HQ folder, in whichever layout it has
    (the combined maps first). ``stems()`` lists the faces with a map;
    ``read(stem)`` gives the map in this project's naming (sides swapped)."""

    def __init__(self, root):
        self.root = root
        combined = os.path.join(root, COMBINED_DIR)
        anno = os.path.join(root, ANNO_DIR)
        if os.path.isdir(combined):
            self.layout, self.folder = "combined", combined
            self.files = {s: p for s, p in _stems(combined).items()}
        elif os.path.isdir(anno):
            self.layout, self.folder = "anno", anno
            self.files = find_anno_masks(anno)
        else:
            raise CelebAError(f"{combined}: folder not found (nor {anno}): the CelebAMask-HQ "
                              f"label maps")

    def stems(self):
        return set(self.files)

    def path(self, stem):
        f = self.files[stem]
        return f if isinstance(f, str) else os.path.join(self.folder, f"{int(stem):05d}_*.png")

    def read(self, stem):
        f = self.files[stem]
        raw = read_label_map(f, N_CLASSES - 1) if isinstance(f, str) else read_anno_face(f)
        return SIDE_SWAP[raw]


def label_maps(root):
    """The ``LabelMaps`` of ``root``, listed once a process (worker pools)."""
    if root not in _MAPS:
        _MAPS[root] = LabelMaps(root)
    return _MAPS[root]


_MAPS = {}


def _stems(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() in IMAGE_EXTS and not name.startswith("."):
            out.setdefault(stem, os.path.join(folder, name))
    return out


def id_order(stem):
    return (len(stem), stem)


def photo_files(root):
    folder = os.path.join(root, IMG_DIR)
    if not os.path.isdir(folder):
        raise CelebAError(f"{folder}: folder not found (the CelebA-HQ photos)")
    return _stems(folder)


def paired_stems(root, photos, maps):
    """The stems with both a photo and a label map, sorted by id; CelebAError
    naming the first photo without a map or map without a photo."""
    lone_photos = sorted(set(photos) - maps.stems(), key=id_order)
    lone_maps = sorted(maps.stems() - set(photos), key=id_order)
    for lone, have, missing in ((lone_photos, photos, "label map"),
                                (lone_maps, None, "photo")):
        if lone:
            first = lone[0]
            where = have[first] if have else maps.path(first)
            more = f" (and {len(lone) - 1} more)" if len(lone) > 1 else ""
            raise CelebAError(f"{where}: no {missing} for face {first}{more}")
    return sorted(photos, key=id_order)


def read_pair(photo_path, maps, stem):
    """(photo RGB uint8, label map uint8) of one face at the photo's size;
    ImageError naming the file when they do not fit together."""
    photo = load_photo(photo_path)
    h, w = photo.shape[:2]
    if h != w:
        raise ImageError(f"{photo_path}: photo is {w}x{h}, not square")
    labels = maps.read(stem)
    lh, lw = labels.shape
    if lh != lw:
        raise ImageError(f"{maps.path(stem)}: label map is {lw}x{lh}, not square")
    if lh != h:
        labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
    return photo, labels


# ----------------------------------------------------------------- alignment
def anchor_points(labels):
    """(3, 2) centroids (x, y) of the image-left eye, the image-right eye and
    the upper lip of a label map in this project's naming; ValueError when
    one of them is not visible."""
    pts = []
    for classes in ((P["l_eye"],), (P["r_eye"],), (P["u_lip"],)):
        ys, xs = np.nonzero(np.isin(labels, classes))
        if len(xs) < 3:
            names = "/".join(PARSING_CLASSES[c] for c in classes)
            raise ValueError(f"no {names} in the label map")
        pts.append((xs.mean(), ys.mean()))
    return np.array(pts, np.float64)


def alignment_matrix(labels, size=CANONICAL_SIZE):
    """2x3 similarity taking the label map's pixel coordinates onto the
    face layout (``util.components.FACE_ANCHORS_512``) at ``size``; a face
    with an eye hidden (sunglasses, hair) is aligned by its glasses' or
    face's box instead."""
    from data.align import similarity_transform
    f = size / CANONICAL_SIZE
    dst = (np.asarray(FACE_ANCHORS_512, np.float64) + 0.5) * f - 0.5
    try:
        src = anchor_points(labels)
    except ValueError:
        return _fallback_matrix(labels, dst)
    return similarity_transform(src, dst)


def _fallback_matrix(labels, dst):
    """Scale and shift only: the skin's box centre onto the layout's face."""
    ys, xs = np.nonzero(labels == P["skin"])
    n = labels.shape[0]
    if len(xs) < 10:
        s = (dst[1, 0] - dst[0, 0]) / (0.24 * n)
        c = np.array([n / 2, n / 2])
    else:
        s = (dst[1, 0] - dst[0, 0]) / (0.48 * (xs.max() - xs.min() + 1))
        c = np.array([(xs.min() + xs.max()) / 2, ys.min() + 0.45 * (ys.max() - ys.min())])
    target = np.array([(dst[0, 0] + dst[1, 0]) / 2, (dst[0, 1] + dst[2, 1]) / 2])
    return np.array([[s, 0, target[0] - s * c[0]], [0, s, target[1] - s * c[1]]])


def warp_pair(photo, labels, matrix, size):
    """The photo (bilinear, reflected borders) and label map (nearest, edge
    labels repeated) warped by ``matrix`` to ``size`` x ``size``."""
    from data.align import _prescale
    img, m = _prescale(np.ascontiguousarray(photo), np.asarray(matrix, np.float64))
    out_photo = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT101)
    out_labels = cv2.warpAffine(np.ascontiguousarray(labels), np.asarray(matrix, np.float64),
                                (size, size), flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_REPLICATE)
    return out_photo, out_labels

