"""Training datasets, created by name (``--dataset_mode``).

* ``paired``: ``DATAROOT/sketch/`` and ``DATAROOT/photo/`` with matching file
  stems (any image format), optional ``gender.txt`` / ``gender.csv``
  (``name male|female`` per line) for the gender-split banks.
* ``celeba``: the CelebAMask-HQ layout (``data/celeba.py``): photos and
  label maps (combined or per-class), each face aligned onto the component
  layout and drawn as DeepFaceDrawing drew its training sketches
  (``data/photo_sketch.py``) in any ``--sketch_style``; split by
  ``--test_ids`` (or the official partition files); genders from the
  attribute file, else ``all``. Without label maps: the photos with the
  raster sketches of ``DATAROOT/sketch/`` (``scripts/make_sketches.py``).
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
``--sketch_style``), the CelebAMask-HQ layout (the strokes of its real
sketches carry their edge classes; the parsing map is the aligned label
map), or its maps made by ``scripts/make_celeba_semantic_sketches.py``
(``DATAROOT/semantic_sketch/``, ``DATAROOT/parsing/``: region outlines, used
when that folder is there; the plain sketch is then the strokes in black).
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
        # the photo size: DeepFaceDrawing's image_size, else the evaluation's or the generator's
        self.size = int(getattr(opt, "image_size", 0) or getattr(opt, "eval_size", 0)
                        or opt.output_size)
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
        """A tuple of the values of ``keys`` per sample (train.py --balance):
        the procedural faces' parameters, or what a face's parsing map shows."""
        raise DatasetError(f"--balance {','.join(keys)}: only the procedural faces "
                           f"(--dataset_mode synthetic) and CelebAMask-HQ faces with label "
                           f"maps are labelled with what they show")

    def map_attributes(self, keys, read_map):
        """``attributes`` from each sample's parsing map (``read_map(i)``),
        the values of ``data/parsing_attributes.py``; DatasetError naming
        the file of an unreadable map."""
        from data.parsing_attributes import present
        try:
            return [tuple(present(read_map(i))[k] for k in keys) for i in range(len(self))]
        except ImageError as exc:
            raise DatasetError(f"--balance: {exc}") from None

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
    """The CelebAMask-HQ layout (``data/celeba.py``). With label maps (either
    layout), each face is aligned onto the component layout from its map and
    drawn the way DeepFaceDrawing made its training sketches
    (``data/photo_sketch.py``), in ``--sketch_style`` (a face's random style
    is fixed by its id), its strokes read from ``--sketch_dir/<id>.npz``
    (``scripts/make_celeba_sketches.py``) or made on first use. Without label
    maps, the raster sketches of ``DATAROOT/sketch/`` (``make_sketches.py``)
    are paired with the photos as they are. Split by ``--test_ids`` (else
    the official partition files, else none); genders from the attribute
    file, else ``all``."""

    def __init__(self, opt, phase="train"):
        super().__init__(opt, phase)
        from data import celeba
        root = opt.dataroot
        try:
            photos = celeba.photo_files(root)
            try:
                self.maps = celeba.LabelMaps(root)
            except celeba.CelebAError:
                self.maps = None
            genders = celeba.genders(root)
            test_ids = getattr(opt, "test_ids", "")
            if self.maps is not None:
                stems = celeba.paired_stems(root, photos, self.maps)
                sketches = {}
            else:
                sk_dir = os.path.join(root, "sketch")
                if not os.path.isdir(sk_dir):
                    raise DatasetError(
                        f"{os.path.join(root, celeba.COMBINED_DIR)}: folder not found (nor "
                        f"{celeba.ANNO_DIR} or sketch/): the label maps, or sketches made with "
                        f"scripts/make_sketches.py --input {os.path.join(root, celeba.IMG_DIR)} "
                        f"--output {sk_dir}")
                sketches = _stems(sk_dir)
                stems = sorted((s for s in photos if s in sketches), key=celeba.id_order)
            stems = celeba.split_stems(root, stems, phase, test_ids)
        except (celeba.CelebAError, ValueError) as exc:
            raise DatasetError(str(exc)) from None
        self.split_note = celeba.describe_split(root, test_ids)
        self.gender_note = "from the attribute file" if genders else "all (no attribute file)"
        self.strokes_dir = getattr(opt, "sketch_dir", "") or os.path.join(root, "strokes")
        self.items = [(sketches.get(s, s), photos[s], genders.get(s, "all")) for s in stems]
        if not self.items:
            raise DatasetError(f"{root}: no CelebA-HQ faces for phase {phase} "
                               f"({self.split_note})")

    def name(self, index):
        return os.path.basename(self.items[index][1])

    def describe(self):
        kind = ("real sketches from the photos and label maps" if self.maps is not None
                else "the raster sketches of DATAROOT/sketch")
        return (f"celeba: {len(self)} faces ({self.phase}; {self.split_note}), {kind}; "
                f"genders {self.gender_note}")

    def attributes(self, keys):
        if self.maps is None:
            return super().attributes(keys)
        return self.map_attributes(keys, lambda i: self.maps.read(self.items[i][0]))

    def strokes(self, index):
        """The stroke ops of face ``index`` (its .npz, else made now)."""
        from data import celeba, photo_sketch
        stem = self.items[index][0]
        path = os.path.join(self.strokes_dir, f"{stem}.npz")
        if os.path.isfile(path):
            return read_strokes(path)
        photo, labels = celeba.read_pair(self.items[index][1], self.maps, stem)
        big = celeba.warp_pair(photo, labels, celeba.alignment_matrix(labels), 512)
        return photo_sketch.sketch_strokes(*big)

    def aligned(self, index, size):
        """(photo, label map) of face ``index`` aligned at ``size``."""
        from data import celeba
        stem = self.items[index][0]
        photo, labels = celeba.read_pair(self.items[index][1], self.maps, stem)
        return celeba.warp_pair(photo, labels, celeba.alignment_matrix(labels, size), size)

    def load(self, index):
        if self.maps is None:
            return super().load(index)
        from data.photo_sketch import pick_style, render_strokes
        stem, _, gender = self.items[index]
        photo, parsing = self.aligned(index, self.size)
        ops = self.strokes(index)
        seed = int(stem) if stem.isdigit() else zlib_seed(stem)
        style = pick_style(getattr(self.opt, "sketch_style", "clean"), seed)
        sk_size = _sketch_size(self.opt)
        semantic_wanted = getattr(self.opt, "semantic", False)
        sketch, semantic = render_strokes(ops, sk_size, style, seed, labels=semantic_wanted)
        clean = None if style == "clean" else render_strokes(ops, sk_size, "clean", seed)[0]
        if semantic_wanted:
            return Sample(sketch, photo, gender, clean, semantic=semantic, parsing=parsing)
        return Sample(sketch, photo, gender, clean)


def zlib_seed(text):
    import zlib
    return zlib.crc32(text.encode())


def read_strokes(path):
    """The stroke ops of a ``.npz`` written by make_celeba_sketches.py (read
    without pickle); ImageError naming the file when it is not one."""
    from data.photo_sketch import ops_from_arrays
    try:
        with np.load(path, allow_pickle=False) as z:
            return ops_from_arrays(z["points"], z["ops"], path)
    except (OSError, KeyError, ValueError, EOFError) as exc:
        msg = str(exc)
        raise ImageError(msg if msg.startswith(path) else f"{path}: unreadable stroke file "
                         f"({msg})") from None


class CelebASemanticDataset(FaceDataset):
    """The semantic sketches and parsing maps written by
    ``scripts/make_celeba_semantic_sketches.py`` (``DATAROOT/semantic_sketch/
    <id>.png``, ``DATAROOT/parsing/<id>.png``: region outlines) with the
    photos ``DATAROOT/CelebA-HQ-img/<id>.jpg``, as they are (not aligned);
    split and genders as for celeba."""

    def __init__(self, opt, phase="train"):
        FaceDataset.__init__(self, opt, phase)
        from data import celeba
        root = opt.dataroot
        img_dir = os.path.join(root, celeba.IMG_DIR)
        sem_dir, par_dir = os.path.join(root, "semantic_sketch"), os.path.join(root, "parsing")
        for d in (img_dir, sem_dir, par_dir):
            if not os.path.isdir(d):
                raise DatasetError(
                    f"{d}: folder not found (make the semantic sketches and parsing maps with "
                    f"scripts/make_celeba_semantic_sketches.py --dataroot {root})")
        photos, semantic, parsing = _stems(img_dir), _stems(sem_dir), _stems(par_dir)
        stems = sorted((s for s in photos if s in semantic and s in parsing),
                       key=celeba.id_order)
        try:
            stems = celeba.split_stems(root, stems, phase, getattr(opt, "test_ids", ""))
        except ValueError as exc:
            raise DatasetError(f"--test_ids: {exc}") from None
        genders = celeba.genders(root)
        self.items = [(semantic[s], photos[s], genders.get(s, "all")) for s in stems]
        self.parsing_files = {semantic[s]: parsing[s] for s in stems}
        if not self.items:
            raise DatasetError(f"{root}: no CelebA-HQ photos with semantic sketches and "
                               f"parsing maps for phase {phase}")

    def attributes(self, keys):
        from data.celeba import N_CLASSES
        from data.sketch_io import read_label_map
        return self.map_attributes(
            keys, lambda i: read_label_map(self.parsing_files[self.items[i][0]], N_CLASSES - 1))

    def load(self, index):
        from data.celeba import N_CLASSES
        from data.sketch_io import read_label_map
        sem_path, photo_path, gender = self.items[index]
        label_nc = getattr(self.opt, "label_nc", 255)
        maps = []
        for path, strokes in ((sem_path, True), (self.parsing_files[sem_path], False)):
            arr = read_label_map(path, label_nc if strokes else N_CLASSES - 1)
            if arr.shape[0] != arr.shape[1]:
                raise ImageError(f"{path}: label map is {arr.shape[1]}x{arr.shape[0]}, not square")
            maps.append(arr)
        semantic = resize_label_map(maps[0], _sketch_size(self.opt), strokes=True)
        parsing = resize_label_map(maps[1], self.size)
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


# a class, or "module:Class" for a dataset module that builds on this one
_REGISTRY = {"paired": PairedDataset, "celeba": CelebAMaskHQDataset,
             "synthetic": SyntheticDataset, "sp_samples": "data.sample_pairs:SamplePairsDataset"}


def dataset_class(name):
    cls = _REGISTRY[name]
    if isinstance(cls, str):
        import importlib
        module, attr = cls.split(":")
        cls = _REGISTRY[name] = getattr(importlib.import_module(module), attr)
    return cls


def dataset_names():
    return sorted(_REGISTRY)


def register_dataset(name, cls):
    _REGISTRY[name] = cls


def create_dataset(opt, phase="train"):
    if opt.dataset_mode not in _REGISTRY:
        raise DatasetError(f"unknown dataset mode {opt.dataset_mode!r}; "
                           f"choose one of {', '.join(dataset_names())}")
    cls = dataset_class(opt.dataset_mode)
    if getattr(opt, "semantic", False):
        if opt.dataset_mode == "celeba" and os.path.isdir(
                os.path.join(opt.dataroot, "semantic_sketch")):
            cls = CelebASemanticDataset
        elif opt.dataset_mode not in ("synthetic", "celeba", "sp_samples"):
            raise DatasetError(f"--dataset_mode {opt.dataset_mode} has no semantic sketches or "
                               f"parsing maps: use synthetic, celeba (its label maps) or "
                               f"sp_samples (the generator's own samples)")
    ds = cls(opt, phase)
    limit = getattr(opt, "max_dataset_size", 0) or 0
    if limit and len(ds.items) > limit:
        ds.items = ds.items[:limit]
    return ds
