"""Training datasets, created by name (``--dataset_mode``).

* ``paired``: ``DATAROOT/sketch/`` and ``DATAROOT/photo/`` with matching file
  stems (any image format), optional ``gender.txt`` / ``gender.csv``
  (``name male|female`` per line) for the gender-split banks.
* ``celeba``: the CelebAMask-HQ layout, ``DATAROOT/CelebA-HQ-img/*.jpg``
  with the sketches made from them in ``DATAROOT/sketch/`` (see
  ``scripts/make_sketches.py``); the official train/test split when
  ``CelebA-HQ-to-CelebA-mapping.txt`` and ``list_eval_partition.txt`` are
  there, genders from ``CelebAMask-HQ-attribute-anno.txt``.
* ``synthetic``: procedural faces made on the fly (``data/synthetic.py``).

Every dataset yields a ``Sample``: ``sketch`` uint8 (S, S), ``photo`` uint8
(S, S, 3), ``gender`` and ``clean`` (the clean version of a hand-drawn
sketch, when the dataset has one: the procedural faces drawn in a sketch
style; else None) at the configured size. A file that cannot be read is reported once and
replaced by the next good sample; the epoch goes on.

Semantic data (the sketch embedding's stages set ``opt.semantic``): a
``Sample`` then also carries ``semantic`` (uint8 label map in the 22-class
edge scheme: the class of the stroke under each stroke pixel, 0 elsewhere)
and ``parsing`` (uint8 19-class CelebAMask-HQ parsing map). They are
attributes, not tuple items, so ``sketch, photo, gender, clean = sample``
keeps working. Sizes: ``opt.image_size`` for photo and parsing map,
``opt.sketch_size`` (default the same) for sketch, clean sketch and semantic
sketch. Sources: the procedural faces (rendered at each size, in
``--sketch_style``), or the CelebAMask-HQ layout with the maps made by
``scripts/make_celeba_semantic_sketches.py`` (``DATAROOT/semantic_sketch/``,
``DATAROOT/parsing/``; the plain sketch is then the semantic strokes in black).
"""

import csv
import os
import sys
from collections import namedtuple

import numpy as np

from tqdm import tqdm

from data.sketch_io import IMAGE_EXTS, ImageError, load_photo, load_sketch_array

GENDER_NAMES = {"male": "male", "m": "male", "man": "male", "1": "male",
                "female": "female", "f": "female", "woman": "female", "0": "female"}


class Sample(namedtuple("_SampleItems", "sketch photo gender clean", defaults=(None,))):
    """(sketch, photo, gender, clean), plus the attributes ``semantic`` and
    ``parsing`` (None unless the dataset has semantic data; see the module
    docstring). A tuple of four, so unpacking callers keep working."""

    def __new__(cls, sketch, photo, gender, clean=None, semantic=None, parsing=None):
        self = super().__new__(cls, sketch, photo, gender, clean)
        self.semantic = semantic
        self.parsing = parsing
        return self


def resize_label_map(labels, size, strokes=False):
    """A uint8 label map at ``size`` x ``size``. Same size: unchanged.
    Stroke maps (``strokes``) shrunk by a whole factor keep every stroke: an
    output pixel takes the most frequent non-zero class of its block (0 when
    the block holds no stroke), where PIL's nearest would sample one pixel of
    the block and break thin strokes. Anything else: PIL NEAREST (the
    authors' resize of label maps)."""
    from PIL import Image
    labels = np.asarray(labels, np.uint8)
    n = labels.shape[0]
    if labels.shape == (size, size):
        return labels
    if strokes and n > size and n % size == 0:
        f = n // size
        blocks = labels.reshape(size, f, size, f).transpose(0, 2, 1, 3).reshape(size, size, f * f)
        best = np.zeros((size, size), np.uint8)
        most = np.zeros((size, size), np.int32)
        for c in np.unique(labels[labels > 0]):
            count = (blocks == c).sum(axis=-1)
            win = count > most                 # ties: the smaller class id
            best[win], most[win] = c, count[win]
        return best
    return np.asarray(Image.fromarray(labels).resize((size, size), Image.NEAREST))


def strokes_to_sketch(semantic):
    """Black strokes on white from a semantic sketch (stroke pixels > 0)."""
    return np.where(np.asarray(semantic) > 0, 0, 255).astype(np.uint8)


class DatasetError(ValueError):
    """A dataset that cannot be used (no folder, no valid pairs...)."""


def _stems(folder):
    out = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() in IMAGE_EXTS and not name.startswith("."):
            out.setdefault(stem, os.path.join(folder, name))
    return out


def read_genders(path):
    """{stem: 'male'|'female'} from 'name gender' lines or a two-column CSV."""
    genders = {}
    with open(path, newline="") as f:
        rows = csv.reader(f) if path.endswith(".csv") else (line.split() for line in f)
        for row in rows:
            if len(row) < 2:
                continue
            g = GENDER_NAMES.get(row[1].strip().lower())
            if g:
                genders[os.path.splitext(row[0].strip())[0]] = g
    return genders


class FaceDataset:
    """Base: subclasses fill ``self.items`` with (sketch_path, photo_path, gender)."""

    def __init__(self, opt, phase="train"):
        self.opt = opt
        self.size = opt.image_size
        self.phase = phase
        self.items = []
        self.bad = set()
        self._cache = {}

    def __len__(self):
        return len(self.items)

    def name(self, index):
        return os.path.basename(self.items[index][0])

    def genders(self):
        return [it[2] for it in self.items]

    def attributes(self, keys):
        """A tuple of the values of ``keys`` per sample (train.py --balance);
        only the procedural faces are labelled."""
        raise DatasetError(f"--balance {','.join(keys)}: only the procedural faces "
                           f"(--dataset_mode synthetic) are labelled with what they show")

    def load(self, index):
        sketch_path, photo_path, gender = self.items[index]
        sketch = load_sketch_array(sketch_path, self.size)
        photo = load_photo(photo_path, self.size) if photo_path else None
        return Sample(sketch, photo, gender)

    def get(self, index):
        """The ``Sample`` at ``index``; a bad file is reported once and the
        next good sample is returned in its place."""
        n = len(self)
        for step in range(n):
            i = (index + step) % n
            if i in self.bad:
                continue
            if i in self._cache:
                return self._cache[i]
            try:
                sample = self.load(i)
            except ImageError as exc:
                self.bad.add(i)
                tqdm.write(f"skipped {exc}", file=sys.stderr)   # not into a progress bar
                continue
            if getattr(self.opt, "cache", False):
                self._cache[i] = sample
            return sample
        raise DatasetError(f"no readable samples left in the {self.opt.dataset_mode} dataset "
                           f"at {getattr(self.opt, 'dataroot', '')}")


class PairedDataset(FaceDataset):
    def __init__(self, opt, phase="train"):
        super().__init__(opt, phase)
        root = opt.dataroot
        sk_dir, ph_dir = os.path.join(root, "sketch"), os.path.join(root, "photo")
        for d in (sk_dir, ph_dir):
            if not os.path.isdir(d):
                raise DatasetError(f"{d}: folder not found (the paired layout needs "
                                   f"DATAROOT/sketch and DATAROOT/photo)")
        sketches, photos = _stems(sk_dir), _stems(ph_dir)
        genders = {}
        for name in ("gender.txt", "gender.csv"):
            if os.path.isfile(os.path.join(root, name)):
                genders = read_genders(os.path.join(root, name))
        self.items = [(sketches[s], photos[s], genders.get(s, "all"))
                      for s in sorted(sketches) if s in photos]
        if not self.items:
            raise DatasetError(f"{root}: no sketch/photo pairs with matching names "
                               f"({len(sketches)} sketches, {len(photos)} photos)")


class CelebAMaskHQDataset(FaceDataset):
    def __init__(self, opt, phase="train"):
        super().__init__(opt, phase)
        root = opt.dataroot
        img_dir, sk_dir = os.path.join(root, "CelebA-HQ-img"), os.path.join(root, "sketch")
        for d in (img_dir, sk_dir):
            if not os.path.isdir(d):
                raise DatasetError(f"{d}: folder not found (make the sketches with "
                                   f"scripts/make_sketches.py --input {img_dir} --output {sk_dir})")
        photos, sketches = _stems(img_dir), _stems(sk_dir)
        split = self._split(root)
        genders = self._genders(root)
        stems = sorted((s for s in photos if s in sketches), key=lambda s: (len(s), s))
        if split is not None:
            want = {"train": "0", "val": "1", "test": "2"}[phase]
            stems = [s for s in stems if split.get(s) == want]
        self.items = [(sketches[s], photos[s], genders.get(s, "all")) for s in stems]
        if not self.items:
            raise DatasetError(f"{root}: no CelebA-HQ photos with sketches for phase {phase}")

    @staticmethod
    def _split(root):
        mapping = os.path.join(root, "CelebA-HQ-to-CelebA-mapping.txt")
        parts = os.path.join(root, "list_eval_partition.txt")
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

    @staticmethod
    def _genders(root):
        path = os.path.join(root, "CelebAMask-HQ-attribute-anno.txt")
        if not os.path.isfile(path):
            return {}
        with open(path) as f:
            lines = f.read().splitlines()
        header = lines[1].split()
        if "Male" not in header:
            return {}
        col = header.index("Male") + 1
        out = {}
        for line in lines[2:]:
            cols = line.split()
            if len(cols) > col:
                out[os.path.splitext(cols[0])[0]] = "male" if cols[col] == "1" else "female"
        return out


class CelebASemanticDataset(CelebAMaskHQDataset):
    """The CelebAMask-HQ layout with semantic sketches and parsing maps
    (``DATAROOT/semantic_sketch/<id>.png``, ``DATAROOT/parsing/<id>.png``,
    made by ``scripts/make_celeba_semantic_sketches.py``) and the photos
    ``DATAROOT/CelebA-HQ-img/<id>.jpg``; split and genders as for celeba."""

    def __init__(self, opt, phase="train"):
        FaceDataset.__init__(self, opt, phase)
        root = opt.dataroot
        img_dir = os.path.join(root, "CelebA-HQ-img")
        sem_dir, par_dir = os.path.join(root, "semantic_sketch"), os.path.join(root, "parsing")
        for d in (img_dir, sem_dir, par_dir):
            if not os.path.isdir(d):
                raise DatasetError(
                    f"{d}: folder not found (make the semantic sketches and parsing maps with "
                    f"scripts/make_celeba_semantic_sketches.py --dataroot {root})")
        photos, semantic, parsing = _stems(img_dir), _stems(sem_dir), _stems(par_dir)
        split = self._split(root)
        genders = self._genders(root)
        stems = sorted((s for s in photos if s in semantic and s in parsing),
                       key=lambda s: (len(s), s))
        if split is not None:
            want = {"train": "0", "val": "1", "test": "2"}[phase]
            stems = [s for s in stems if split.get(s) == want]
        self.items = [(semantic[s], photos[s], genders.get(s, "all")) for s in stems]
        self.parsing_files = {semantic[s]: parsing[s] for s in stems}
        if not self.items:
            raise DatasetError(f"{root}: no CelebA-HQ photos with semantic sketches and "
                               f"parsing maps for phase {phase}")

    def load(self, index):
        from data.sketch_io import ImageError, open_image
        sem_path, photo_path, gender = self.items[index]
        label_nc = getattr(self.opt, "label_nc", 255)
        maps = []
        for path, strokes in ((sem_path, True), (self.parsing_files[sem_path], False)):
            arr = np.asarray(open_image(path).convert("L"))
            if arr.shape[0] != arr.shape[1]:
                raise ImageError(f"{path}: label map is {arr.shape[1]}x{arr.shape[0]}, not square")
            top = int(arr.max(initial=0))
            limit = label_nc if strokes else 18
            if top > limit:
                raise ImageError(f"{path}: label value {top} above {limit}")
            maps.append((arr, strokes))
        semantic = resize_label_map(maps[0][0], _sketch_size(self.opt), strokes=True)
        parsing = resize_label_map(maps[1][0], self.size)
        photo = load_photo(photo_path, self.size)
        return Sample(strokes_to_sketch(semantic), photo, gender, None,
                      semantic=semantic, parsing=parsing)


def _sketch_size(opt):
    return int(getattr(opt, "sketch_size", 0) or opt.image_size)


class SyntheticDataset(FaceDataset):
    """Procedural faces, sample i fixed by (seed, i): no files needed."""

    def __init__(self, opt, phase="train"):
        super().__init__(opt, phase)
        n = int(getattr(opt, "n_samples", 0) or 0)
        if n < 1:
            raise DatasetError("--dataset_mode synthetic needs --n_samples >= 1")
        offset = 0 if phase == "train" else 10 ** 6          # disjoint test faces
        self.seed = opt.data_seed
        self.items = [(f"synthetic_{offset + i:07d}.png", None, None) for i in range(n)]
        self.offset = offset

    def load(self, index):
        from data.synthetic import make_sample
        style = getattr(self.opt, "sketch_style", "clean")
        if getattr(self.opt, "semantic", False):
            return self._load_semantic(index, style)
        s = make_sample(self.seed, self.offset + index, self.size, style=style)
        return Sample(s["sketch"], s["photo"], s["gender"],
                      None if s["style"] == "clean" else s["sketch_clean"])

    def _load_semantic(self, index, style):
        """Photo and parsing map at image_size; sketch, clean sketch and
        semantic sketch (of the sketch as drawn, in its style) rendered at
        sketch_size (the same face: it depends only on (seed, index))."""
        from data.synthetic import make_sample
        s = make_sample(self.seed, self.offset + index, self.size, style=style, labels=True)
        k = s
        if _sketch_size(self.opt) != self.size:
            k = make_sample(self.seed, self.offset + index, _sketch_size(self.opt), style=style,
                            labels=True)
        return Sample(k["sketch"], s["photo"], s["gender"],
                      None if k["style"] == "clean" else k["sketch_clean"],
                      semantic=k["semantic_sketch_style"], parsing=s["labels"])

    def genders(self):
        return [a for (a,) in self.attributes(("gender",))]

    def attributes(self, keys):
        from data.synthetic import sample_params
        params = [sample_params(np.random.default_rng([self.seed, self.offset + i]))
                  for i in range(len(self))]
        return [tuple(getattr(p, k) for k in keys) for p in params]


_REGISTRY = {"paired": PairedDataset, "celeba": CelebAMaskHQDataset,
             "synthetic": SyntheticDataset}


def dataset_names():
    return sorted(_REGISTRY)


def register_dataset(name, cls):
    _REGISTRY[name] = cls


def create_dataset(opt, phase="train"):
    if opt.dataset_mode not in _REGISTRY:
        raise DatasetError(f"unknown dataset mode {opt.dataset_mode!r}; "
                           f"choose one of {', '.join(dataset_names())}")
    cls = _REGISTRY[opt.dataset_mode]
    if getattr(opt, "semantic", False):
        if opt.dataset_mode == "celeba":
            cls = CelebASemanticDataset
        elif opt.dataset_mode != "synthetic":
            raise DatasetError(f"--dataset_mode {opt.dataset_mode} has no semantic sketches or "
                               f"parsing maps: use synthetic, or celeba with the maps made by "
                               f"scripts/make_celeba_semantic_sketches.py")
    ds = cls(opt, phase)
    limit = getattr(opt, "max_dataset_size", 0) or 0
    if limit and len(ds.items) > limit:
        ds.items = ds.items[:limit]
    return ds
