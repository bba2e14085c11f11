"""Evaluation of a sketch-to-face model on test sets (used by scripts/evaluate.py).

A test set is sketches (uint8, black on white) with target photos, or
without them (hand-drawn sketches). For each set the model's outputs are
scored for

* fidelity to the target: L1, PSNR, SSIM, and a VGG-feature perceptual
  distance (pix2pixHD's weighted L1 over five relu layers);
* distribution quality: FID and KID between the outputs' and the target
  photos' pooled features (on VGG16 unless the caller gives another
  network: NOT comparable with published, Inception-based FID);
* sketch faithfulness: edges are extracted from the output with the
  extractor of ``scripts/make_sketches.py`` (XDoG) and compared with the
  input strokes: symmetric chamfer distance (pixels at the model's size)
  and edge F1 within 2 px;
* where the face's clean sketch is known (procedural sets, and the rough
  variants of a dataset's sketches), ``line_f1`` and ``line_chamfer``: the
  same edges scored against the clean lines instead of the input strokes.
  A hand-drawn style's hatching, shading and overdrawn passes are strokes
  no face has as edges, so edge F1 against the input falls with the style
  even for a perfect face; the line scores measure whether the face follows
  the drawn geometry whatever the style (on the clean set they equal edge
  F1 and chamfer);
* with targets, ``target_edge_f1``: the target photo's own edges scored
  like the outputs' (edge F1 against the input strokes): what a perfect
  face would get, the ceiling of edge F1 on that set;
* the same fidelity and faithfulness numbers inside the eye, nose and
  mouth boxes;
* for rough sketches, ``to_clean``: the L1 distance between the face made
  from the rough sketch and the face made from its clean version (0 = the
  roughness changed nothing).

For DeepFaceDrawing every set's sketches are normalised first
(``normalise_sets``: ``data.sketch_norm``, as demo.py and the drawing app
do; off with --no_sketch_norm), and the normalised sketches are what the
model gets, what faithfulness is scored against and what is saved.
"""

import os

import numpy as np

from evaluation import metrics
from util.components import PART_NAMES, PARTS, scaled_boxes


class TestSet:
    def __init__(self, name, sketches, photos, names, parsing=None, lines=None):
        self.name = name
        self.sketches = sketches          # (N, H, W) uint8
        self.photos = photos              # (N, H, W, 3) uint8 or None
        self.names = names
        self.parsing = parsing            # (N, H, W) uint8 CelebAMask-HQ classes, or None
        self.lines = lines                # (N, H, W) uint8 the faces' clean sketches, or None

    def __len__(self):
        return len(self.sketches)


# ------------------------------------------------------------------ test sets
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


def normalise_sets(sets, model_size, report=print):
    """``sets`` with every sketch normalised (``data.sketch_norm``; the
    training width is the model's at ``model_size``, the sketches may be
    at another size), each change reported as ``note: SET/NAME: ...``;
    returns the new sets and {set name: sketches changed}. A set's clean
    lines are normalised the same way (silently), so that they stay what
    the clean set's sketches are."""
    from data.sketch_norm import normalise_sketch
    out, changed = [], {}
    for ts in sets:
        lines = None if ts.lines is None else np.stack(
            [normalise_sketch(line, model_size)[0] for line in ts.lines])
        sketches, n = [], 0
        for name, sketch in zip(ts.names, ts.sketches):
            new, notes = normalise_sketch(sketch, model_size)
            for note in notes:
                report(f"note: {ts.name}/{name}: {note}")
            n += bool(notes)
            sketches.append(new)
        out.append(TestSet(ts.name, np.stack(sketches), ts.photos, ts.names, ts.parsing,
                           lines))
        changed[ts.name] = n
    return out, changed


# ------------------------------------------------------------------ features
class FeatureNet:
    """VGG features of uint8 RGB images: pooled (for FID/KID) and the
    perceptual distance between two images."""

    def __init__(self, vgg, fid_net=None):
        from models.vgg import PERCEPTUAL_WEIGHTS
        self.vgg = vgg
        self.fid_net = fid_net       # Inception for FID/KID; None: the VGG's last layer
        self.weights = PERCEPTUAL_WEIGHTS

    def pooled_and_taps(self, images, batch=8):
        """(pooled features (N, D) float64, per-batch lists of VGG taps)."""
        from models.base_model import jt
        pooled, taps = [], []
        for i in range(0, len(images), batch):
            x = jt.array(images[i:i + batch].astype(np.float32).transpose(0, 3, 1, 2)
                         / 127.5 - 1.0)
            with jt.no_grad():
                t = [v.numpy() for v in self.vgg(x)]
                pooled.append(self.fid_net(x).numpy() if self.fid_net is not None
                              else t[-1].mean(axis=(2, 3)))
            taps.append(t)
        return np.concatenate(pooled).astype(np.float64), taps

    def perceptual(self, taps_a, taps_b):
        """Per-image distances from two lists of per-batch tap lists."""
        out = []
        for ta, tb in zip(taps_a, taps_b):
            d = sum(w * np.abs(a - b).mean(axis=(1, 2, 3))
                    for w, a, b in zip(self.weights, ta, tb))
            out.extend(float(v) for v in d)
        return out


def identity_descriptors(taps_batches, grid=8):
    """One vector per image from its VGG taps, for telling faces apart: each
    layer's features normalised per pixel across channels (as LPIPS does),
    averaged onto a ``grid`` x ``grid`` layout, flattened and scaled so that
    every layer weighs the same."""
    out = []
    for taps in taps_batches:
        parts = []
        for t in taps:
            t = t / np.maximum(np.sqrt((t * t).sum(axis=1, keepdims=True)), 1e-10)
            n, c, h, w = t.shape
            g = min(grid, h)
            t = t[:, :, :h - h % g, :w - w % g].reshape(n, c, g, h // g, g, w // g).mean((3, 5))
            flat = t.reshape(n, -1)
            parts.append(flat / np.sqrt(flat.shape[1]))
        out.append(np.concatenate(parts, axis=1))
    return np.concatenate(out).astype(np.float64)


def likeness(out_desc, photo_desc, ks=(1, 5)):
    """The share of outputs whose own target photo (same index) is among the
    k nearest of all target photos (Euclidean distance of the descriptors),
    for each k: does the face look like the drawn person? Chance is k / N."""
    d = ((out_desc[:, None, :] - photo_desc[None, :, :]) ** 2).sum(-1)
    own = d[np.arange(len(d)), np.arange(len(d))]
    rank = (d < own[:, None]).sum(axis=1)          # photos strictly nearer than the own one
    return {f"likeness_top{k}": float((rank < k).mean()) for k in ks}


def load_feature_net(kind, inception_path="", report=print):
    """(FeatureNet or None, one-line note on what the features are)."""
    if kind == "none":
        return None, "FID/KID and VGG distance off (--feature_net none)"
    from models.vgg import VGGWeightsError, load_vgg
    if kind == "inception" or (kind == "auto" and inception_path):
        from models.inception import load_fid_inception
        fid_net = load_fid_inception(inception_path)
        return FeatureNet(load_vgg("auto", quiet=True), fid_net), (
            f"FID/KID on the FID Inception-v3 pool3 features (weights {inception_path}); "
            f"images are resized to 299 px from the model's size, so compare only at equal size")
    if kind == "random":
        net = load_vgg("random", quiet=True)
        return FeatureNet(net), (
            "FID/KID and VGG distance on a RANDOM VGG16 (smoke test only, meaningless)")
    try:
        net = load_vgg("vgg16", quiet=True)
    except VGGWeightsError as exc:
        if kind == "vgg16":
            raise
        report(f"note: no VGG16 weights ({exc}); FID/KID and VGG distance are off")
        return None, "FID/KID and VGG distance off (no VGG16 weights)"
    return FeatureNet(net), (
        "FID*/KID* are computed on ImageNet VGG16 relu5_3 features (mean-pooled), not "
        "Inception: they rank methods here but are not comparable with published FID")


# ------------------------------------------------------------------ scoring
def output_edges(images):
    """Stroke masks of the edges the sketch extractor finds in the outputs."""
    from data.sketch_extract import extract_sketch
    return [metrics.stroke_mask(extract_sketch(img, "xdog")) for img in images]


def per_image(outputs, test_set, size):
    """A list of {metric: value} per image, with per-part entries
    ``<part>/<metric>``."""
    boxes = scaled_boxes(size)
    edges = output_edges(outputs)
    target_edges = output_edges(test_set.photos) if test_set.photos is not None else None
    rows = []
    for i, out in enumerate(outputs):
        strokes = metrics.stroke_mask(test_set.sketches[i])
        row = {"chamfer": metrics.chamfer(strokes, edges[i]),
               "edge_f1": metrics.edge_f1(strokes, edges[i])["f1"]}
        if test_set.lines is not None:
            lines = metrics.stroke_mask(test_set.lines[i])
            row.update(line_chamfer=metrics.chamfer(lines, edges[i]),
                       line_f1=metrics.edge_f1(lines, edges[i])["f1"])
        target = test_set.photos[i] if test_set.photos is not None else None
        if target is not None:
            row.update(l1=metrics.l1(out, target), psnr=metrics.psnr(out, target),
                       ssim=metrics.ssim(out, target),
                       target_edge_f1=metrics.edge_f1(strokes, target_edges[i])["f1"])
        for p in PARTS[:-1]:
            box, name = boxes[p], PART_NAMES[p]
            row[f"{name}/chamfer"] = metrics.chamfer(metrics.crop_box(strokes, box),
                                                     metrics.crop_box(edges[i], box))
            if target is not None:
                a, b = metrics.crop_box(out, box), metrics.crop_box(target, box)
                row[f"{name}/l1"] = metrics.l1(a, b)
                row[f"{name}/psnr"] = metrics.psnr(a, b)
                row[f"{name}/ssim"] = metrics.ssim(a, b)
        rows.append(row)
    return rows


def diversity(outputs, sketches, pairs=300, seed=0):
    """How much the outputs differ from one another, relative to how much
    their sketches do: mean L1 over random pairs of outputs divided by the
    mean L1 over the same pairs of sketches (1 = as varied as the input;
    near 0 = one face for every sketch)."""
    n = len(outputs)
    if n < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, pairs)
    j = (i + rng.integers(1, n, pairs)) % n
    out = np.mean([metrics.l1(outputs[a], outputs[b]) for a, b in zip(i, j)])
    inp = np.mean([metrics.l1(sketches[a], sketches[b]) for a, b in zip(i, j)])
    return float(out / inp) if inp > 0 else float("nan")


# CelebAMask-HQ parsing classes whose colour the appearance sets
APPEARANCE_REGIONS = {"hair": (13,), "skin": (1, 2), "background": (0,)}
MIN_REGION_PIXELS = 20


def region_colours(images, parsing):
    """{region: (N, 3) mean RGB, NaN where the region is too small}."""
    out = {}
    for region, classes in APPEARANCE_REGIONS.items():
        rows = []
        for img, lab in zip(images, parsing):
            mask = np.isin(lab, classes)
            rows.append(img[mask].mean(axis=0) if mask.sum() >= MIN_REGION_PIXELS
                        else np.full(3, np.nan))
        out[region] = np.array(rows, np.float64)
    return out


def colour_distances(outputs, parsing, references, ref_parsing):
    """Mean RGB distance (0-255 units) per region between each output (its
    regions from its own face's parsing map) and its reference photo (the
    reference's regions): how well the output takes the reference's look."""
    a, b = region_colours(outputs, parsing), region_colours(references, ref_parsing)
    out = {}
    for region in APPEARANCE_REGIONS:
        d = np.linalg.norm(a[region] - b[region], axis=1)
        d = d[np.isfinite(d)]
        out[region] = float(d.mean()) if len(d) else float("nan")
    return out


HAIR_CLASS = APPEARANCE_REGIONS["hair"][0]


def semantic_iou(parser, outputs, parsing, size):
    """How well the outputs keep the sketches' parts: the face parser's
    reading of each output against the test face's parsing map (both at the
    parser's ``size``). Returns (mean IoU over the classes the face has, mean
    over faces; the hair's IoU, mean over faces: a bald head given hair
    scores 0, a bald head kept bald 1)."""
    from PIL import Image

    from models.base_model import jt
    from util.arrays import photo_to_array
    ious, hair = [], []
    for img, lab in zip(outputs, parsing):
        if img.shape[0] != size:
            img = np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC))
            lab = np.asarray(Image.fromarray(lab).resize((size, size), Image.NEAREST))
        with jt.no_grad():
            pred = parser(jt.array(photo_to_array(img[None]))).numpy()[0].argmax(axis=0)
        per_class = []
        for c in np.unique(lab):
            per_class.append(iou_or_one(pred == c, lab == c))
        ious.append(np.mean(per_class))
        hair.append(iou_or_one(pred == HAIR_CLASS, lab == HAIR_CLASS))
    return float(np.mean(ious)), float(np.mean(hair))


def iou_or_one(a, b):
    """IoU of two masks; 1 when both are empty (nothing, rightly)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def mean_l1(a, b):
    """Mean over images of the L1 distance between two output stacks."""
    return float(np.mean([metrics.l1(x, y) for x, y in zip(a, b)]))


def summarize(rows):
    """Means over images (PSNR: of finite values)."""
    out = {}
    for key in rows[0]:
        vals = np.array([r[key] for r in rows], np.float64)
        finite = vals[np.isfinite(vals)]
        out[key] = float(finite.mean()) if len(finite) else float("inf")
    return out


def distribution(features, outputs, reference, subsets, seed):
    """FID / KID between outputs and reference photos (``reference`` is
    ``features.pooled_and_taps`` of them), plus the outputs' taps."""
    f_out, taps_out = features.pooled_and_taps(outputs)
    f_ref = reference[0]
    size = min(len(f_out), len(f_ref), 1000)
    if size >= 8 and size == min(len(f_out), len(f_ref)):
        size //= 2                   # subsets smaller than the sets, so kid_std means something
    res = {"fid": metrics.fid(f_out, f_ref)}
    if size >= 2:
        kid, kid_std = metrics.kid(f_out, f_ref, subsets, size, seed)
        res.update(kid=kid, kid_std=kid_std)
    return res, taps_out


def gaps(results, base="clean", other="rough"):
    """``other`` minus ``base`` for every shared numeric metric."""
    a, b = results.get(base), results.get(other)
    if not a or not b:
        return {}
    return {k: b[k] - a[k] for k in a
            if k in b and isinstance(a[k], float) and np.isfinite(a[k]) and np.isfinite(b[k])}
