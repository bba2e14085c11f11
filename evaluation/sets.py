"""The test sets of an evaluation (``evaluation/run.py``): sketches (uint8,
black on white) with their target photos, parsing maps and clean lines,
or without targets (hand-drawn sketches), and ``prepare_sets``, which puts
every sketch through the method's inference contract (``prepare``:
DeepFaceDrawing normalises it as demo.py and the drawing app do, the
sketch embedding labels it) before anything is converted or scored.
"""

import os

import numpy as np


class TestSet:
    def __init__(self, name, sketches, photos, names, parsing=None, lines=None):
        self.name = name
        self.sketches = sketches          # (N, H, W) uint8
        self.photos = photos              # (N, H, W, 3) uint8 or None
        self.names = names
        self.parsing = parsing            # (N, H, W) uint8 CelebAMask-HQ classes, or None
        self.lines = lines                # (N, H, W) uint8 the faces' clean sketches, or None
        self.inputs = None                # what the method is given (``prepare_sets``)

    def __len__(self):
        return len(self.sketches)


def synthetic_sets(n, seed, size, rough, hand_like=False):
    """Procedural test faces ``10**6 + i`` of stream ``seed`` (the test phase of
    the synthetic dataset: disjoint from the training samples 0..n-1), with
    their parsing maps; ``rough`` adds the rough variants, ``hand_like`` the
    sketches in the held-out hand-drawn style (never used in training)."""
    from data.synthetic import HELD_OUT_STYLE, make_sample
    clean, rough_sk, held, photos, names, parsing = [], [], [], [], [], []
    for i in range(n):
        s = make_sample(seed, 10 ** 6 + i, size, rough=rough,
                        style=HELD_OUT_STYLE if hand_like else "clean", labels=True)
        clean.append(s["sketch_clean"])
        photos.append(s["photo"])
        parsing.append(s["labels"])
        names.append(f"face{i:04d}")
        if rough:
            rough_sk.append(s["sketch_rough"])
        if hand_like:
            held.append(s["sketch"])
    photos, parsing, clean = np.stack(photos), np.stack(parsing), np.stack(clean)
    sets = [TestSet("clean", clean, photos, names, parsing, clean)]
    if rough:
        sets.append(TestSet("rough", np.stack(rough_sk), photos, names, parsing, clean))
    if hand_like:
        sets.append(TestSet("hand_like", np.stack(held), photos, names, parsing, clean))
    return sets


def dataset_sets(opt, rough, report=print, hand_like=False):
    """The test split of a paired / CelebAMask-HQ dataset (bad files skipped
    and reported); rough variants by roughening the sketch raster. A
    CelebAMask-HQ folder with label maps gives the real faces aligned at the
    evaluation size, their parsing maps, and with ``hand_like`` the same
    faces drawn in the held-out hand-drawn style (never used in training)."""
    from data.datasets import create_dataset
    from data.sketch_io import ImageError
    from data.synthetic import make_rough
    ds = create_dataset(opt, "test")
    if getattr(ds, "maps", None) is not None:
        return _real_sets(ds, opt, rough, hand_like, report)
    if hand_like:
        raise ValueError(f"{opt.dataroot}: --hand_like needs the sketches' strokes (the "
                         f"procedural faces, or a CelebAMask-HQ folder with label maps)")
    sketches, photos, names = [], [], []
    for i in range(len(ds)):
        try:
            sketch, photo = ds.load(i)[:2]
        except ImageError as exc:
            report(f"skipped {exc}")
            continue
        sketches.append(sketch)
        photos.append(photo)
        names.append(ds.name(i).rsplit(".", 1)[0])
    if not sketches:
        raise ValueError(f"{opt.dataroot}: no readable test pairs")
    photos, clean = np.stack(photos), np.stack(sketches)
    sets = [TestSet("clean", clean, photos, names, lines=clean)]
    if rough:
        rng = np.random.default_rng(opt.test_seed)
        sets.append(TestSet("rough", np.stack([make_rough(s, rng) for s in sketches]),
                            photos, names, lines=clean))
    return sets


def _real_sets(ds, opt, rough, hand_like, report):
    from data.photo_sketch import render_strokes
    from data.sketch_io import ImageError
    from data.synthetic import HELD_OUT_STYLE, make_rough
    size = opt.eval_size
    clean, held, photos, parsing, names = [], [], [], [], []
    for i in range(len(ds)):
        stem = ds.items[i][0]
        try:
            photo, labels = ds.aligned(i, size)
            ops = ds.strokes(i)
        except (ImageError, ValueError) as exc:
            report(f"skipped {exc}")
            continue
        seed = int(stem) if stem.isdigit() else i
        clean.append(render_strokes(ops, size, "clean", seed)[0])
        if hand_like:
            held.append(render_strokes(ops, size, HELD_OUT_STYLE, seed)[0])
        photos.append(photo)
        parsing.append(labels)
        names.append(stem)
    if not clean:
        raise ValueError(f"{opt.dataroot}: no readable test faces")
    photos, parsing, clean = np.stack(photos), np.stack(parsing), np.stack(clean)
    sets = [TestSet("clean", clean, photos, names, parsing, clean)]
    if rough:
        rng = np.random.default_rng(opt.test_seed)
        sets.append(TestSet("rough", np.stack([make_rough(s, rng) for s in clean]),
                            photos, names, parsing, clean))
    if hand_like:
        sets.append(TestSet("hand_like", np.stack(held), photos, names, parsing, clean))
    return sets


def hand_set(folder, size, report=print):
    """Hand-drawn sketches from ``folder`` (no targets)."""
    from data.sketch_io import ImageError, list_images, load_sketch
    sketches, names = [], []
    for path in list_images([folder]):
        try:
            sketch, _ = load_sketch(path, size)
        except ImageError as exc:
            report(f"skipped {exc}")
            continue
        sketches.append(sketch)
        names.append(os.path.splitext(os.path.basename(path))[0])
    if not sketches:
        raise ValueError(f"{folder}: no readable sketches")
    return TestSet("hand", np.stack(sketches), None, names)


def prepare_sets(sets, face, report=print):
    """``sets`` with every sketch prepared by ``face`` (the method's
    inference contract, ``models/inference.py``): each set's ``inputs``
    are what the method is given, its ``sketches`` what the method sees
    (normalised by DeepFaceDrawing unless --no_sketch_norm; what
    faithfulness is scored against and what is saved). Each note is
    reported as ``note: SET/NAME: ...``; returns the new sets and {set
    name: sketches changed}. A set's clean lines are normalised the same
    way (silently), so that they stay what the clean set's sketches are."""
    out, changed = [], {}
    for ts in sets:
        lines = None if ts.lines is None else np.stack(
            [face.normalise(line)[0] for line in ts.lines])
        inputs, n = [], 0
        for name, sketch in zip(ts.names, ts.sketches):
            item, notes = face.prepare(sketch)
            for note in notes:
                report(f"note: {ts.name}/{name}: {note}")
            n += bool(notes)
            inputs.append(item)
        prepared = TestSet(ts.name, np.stack([item["sketch"] for item in inputs]), ts.photos,
                           ts.names, ts.parsing, lines)
        prepared.inputs = inputs
        out.append(prepared)
        changed[ts.name] = n
    return out, changed
