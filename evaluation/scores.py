"""The scores of an evaluation (``evaluation/run.py``): what is measured on
a set of faces made from a test set (``evaluation/sets.py``).

A test set is sketches (uint8, black on white) with target photos, or
without them (hand-drawn sketches). For each set the model's outputs are
scored for

* fidelity to the target: L1, PSNR, SSIM, a VGG-feature perceptual
  distance (pix2pixHD's weighted L1 over five relu layers) and LPIPS*
  (LPIPS-VGG v0.1's heads over the project's VGG16, when the heads file
  ``params/lpips_vgg_v0.1.npz`` is there);
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
(``sets.prepare_sets``: the method's ``prepare``, as in demo.py and the
drawing app; off with --no_sketch_norm), and the normalised sketches are
what the model gets, what faithfulness is scored against and what is saved.
"""

import os

import numpy as np

from evaluation import metrics
from util.components import PART_NAMES, PARTS, scaled_boxes


# ------------------------------------------------------------------ features
class FeatureNet:
    """VGG features of uint8 RGB images: pooled (for FID/KID) and the
    perceptual distance between two images."""

    def __init__(self, vgg, fid_net=None, heads=None):
        from models.vgg import PERCEPTUAL_WEIGHTS
        self.vgg = vgg
        self.fid_net = fid_net       # Inception for FID/KID; None: the VGG's last layer
        self.weights = PERCEPTUAL_WEIGHTS
        # LPIPS-VGG v0.1 heads (lin0..lin4, 1 x C x 1 x 1) for LPIPS*, or None
        self.heads = heads

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

    def lpips(self, taps_a, taps_b):
        """Per-image LPIPS* (``training/lpips.py``: the LPIPS-VGG v0.1 heads over
        this VGG16's relu1_2 .. relu5_3 taps; every feature vector divided by
        its norm over the channels, the squared difference weighted by the
        head, summed over channels, averaged over pixels, summed over taps);
        None without heads."""
        if self.heads is None:
            return None
        out = []
        for ta, tb in zip(taps_a, taps_b):
            d = 0.0
            for head, a, b in zip(self.heads, ta, tb):
                na = a / (np.sqrt((a * a).sum(axis=1, keepdims=True)) + 1e-10)
                nb = b / (np.sqrt((b * b).sum(axis=1, keepdims=True)) + 1e-10)
                d = d + (((na - nb) ** 2) * head.reshape(1, -1, 1, 1)).sum(axis=1).mean(axis=(1, 2))
            out.extend(float(v) for v in d)
        return out


def identity_descriptors(taps_batches, grid=8):
    """One vector per image from its VGG taps, for telling faces apart: each
    layer's features normalised per pixel across channels (as LPIPS does),
    averaged onto a ``grid`` x ``grid`` layout (the face's layout is part of
    who it is), flattened and divided by the grid's side: averaged unit
    vectors, so every layer's part has a length of at most 1, whatever its
    width."""
    out = []
    for taps in taps_batches:
        parts = []
        for t in taps:
            t = t / np.maximum(np.sqrt((t * t).sum(axis=1, keepdims=True)), 1e-10)
            n, c, h, w = t.shape
            g = min(grid, h)
            t = t[:, :, :h - h % g, :w - w % g].reshape(n, c, g, h // g, g, w // g).mean((3, 5))
            flat = t.reshape(n, -1)
            parts.append(flat / g)
        out.append(np.concatenate(parts, axis=1))
    return np.concatenate(out).astype(np.float64)


def likeness(out_desc, photo_desc, ks=(1, 5)):
    """The share of outputs whose own target photo (same index) is among the
    k nearest of all target photos (Euclidean distance of the descriptors),
    for each k: does the face look like the drawn person? Chance is k / N."""
    d = ((out_desc ** 2).sum(1)[:, None] + (photo_desc ** 2).sum(1)[None, :]
         - 2.0 * out_desc @ photo_desc.T)
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
    heads, lpips_note = lpips_heads()
    return FeatureNet(net, heads=heads), (
        "FID*/KID* are computed on ImageNet VGG16 relu5_3 features (mean-pooled), not "
        "Inception: they rank methods here but are not comparable with published FID; "
        + lpips_note)


def lpips_heads():
    """(the LPIPS-VGG v0.1 heads as a list of arrays, or None; a note)."""
    from training.lpips import DEFAULT_HEADS_PATH, HEAD_NAMES, LPIPSWeightsError, read_heads
    if not os.path.isfile(DEFAULT_HEADS_PATH):
        return None, f"LPIPS* off (no {os.path.relpath(DEFAULT_HEADS_PATH)})"
    try:
        heads = read_heads(DEFAULT_HEADS_PATH)
    except LPIPSWeightsError as exc:
        return None, f"LPIPS* off ({exc})"
    return [heads[n] for n in HEAD_NAMES], (
        "LPIPS* is LPIPS-VGG v0.1's heads over the same (Caffe) VGG16, not calibrated LPIPS")


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


def parse_faces(parser, images, parsing, size):
    """The face parser's class map of each image, beside the test faces'
    own maps, both at the parser's ``size``: (read maps, own maps)."""
    from PIL import Image

    from models.base_model import jt
    from util.arrays import photo_to_array
    read, own = [], []
    for img, lab in zip(images, parsing):
        if img.shape[0] != size:
            img = np.asarray(Image.fromarray(img).resize((size, size), Image.BICUBIC))
        if lab.shape[0] != size:
            lab = np.asarray(Image.fromarray(lab).resize((size, size), Image.NEAREST))
        with jt.no_grad():
            read.append(parser(jt.array(photo_to_array(img[None]))).numpy()[0].argmax(axis=0))
        own.append(lab)
    return read, own


def semantic_iou(read, own):
    """How well the outputs keep the sketches' parts: the face parser's
    reading of each output against the test face's parsing map
    (``parse_faces``). Returns (mean IoU over the classes the face has, mean
    over faces; the hair's IoU, mean over faces: a bald head given hair
    scores 0, a bald head kept bald 1)."""
    ious, hair = [], []
    for pred, lab in zip(read, own):
        ious.append(np.mean([iou_or_one(pred == c, lab == c) for c in np.unique(lab)]))
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
