"""Stroke labellers: from a plain black-on-white sketch (512x512 uint8) to a
label map in the authors' 22-class edge scheme, which the sketch encoders
take. Two kinds:

* ``RegionLabeler``: each stroke pixel takes the class that strokes at that
  place of the face layout most often have: a prior map counted over
  procedural faces whose strokes know their part (``compute_prior``; the
  map ships as ``params/label_prior.png``). Needs no network; blind to
  what a stroke looks like (a beard and a jaw line at the same place get
  the same class).
* ``NetworkLabeler``: a small UNet trained on sketches whose strokes know
  their part (``train.py --method sp_embedding --stage labeler``: the
  procedural faces' or, as the bundled one, the real training photos'
  strokes from their parsing maps), saved with the
  model as ``SPEmbedding/latest_net_labeler.pkl``; it reads the strokes
  themselves. Only stroke pixels get labels.
"""

import os

import numpy as np

from util.components import CANONICAL_SIZE

DARK = 128                       # a pixel darker than this is a stroke pixel
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRIOR_PATH = os.path.join(REPO_ROOT, "params", "label_prior.png")
LABELER_NAME = "labeler"
LABELER_SIZE = 128               # the network labeller works at this size


def strokes(gray):
    return np.asarray(gray) < DARK


def compute_prior(n=400, seed=77, size=128, label_nc=22):
    """The most frequent stroke class at every pixel over ``n`` procedural
    faces (clean and hand-drawn strokes), holes filled from the nearest
    labelled pixel; uint8 (512, 512)."""
    from scipy import ndimage

    from data.synthetic import TRAIN_STYLES, make_sample
    counts = np.zeros((label_nc + 1, size, size), np.int32)
    styles = ("clean",) + tuple(TRAIN_STYLES)
    for i in range(n):
        s = make_sample(seed, i, size, style=styles[i % len(styles)], labels=True)
        lab = s["semantic_sketch_style"] if "semantic_sketch_style" in s else s["semantic_sketch"]
        for c in np.unique(lab[lab > 0]):
            counts[c] += lab == c
    counts[0] = 0
    best = counts.argmax(axis=0).astype(np.uint8)
    empty = counts.max(axis=0) == 0
    if empty.any() and not empty.all():
        _, (iy, ix) = ndimage.distance_transform_edt(empty, return_indices=True)
        best = best[iy, ix]
    from PIL import Image
    return np.asarray(Image.fromarray(best).resize((CANONICAL_SIZE, CANONICAL_SIZE),
                                                  Image.NEAREST))


def load_prior(path=PRIOR_PATH):
    """The label prior (a label map: read by value, never rescaled)."""
    from data.sketch_io import ImageError, read_label_map
    try:
        arr = read_label_map(path, 255)
    except ImageError:
        arr = None
    if arr is None or arr.shape != (CANONICAL_SIZE, CANONICAL_SIZE):
        from models.files import CheckpointError
        raise CheckpointError(f"{path}: missing or not a {CANONICAL_SIZE}x{CANONICAL_SIZE} "
                              f"label prior (make it with `python scripts/make_label_prior.py`)")
    return arr


class RegionLabeler:
    description = "by face-part regions (prior map from the procedural faces)"

    def __init__(self, prior):
        self.prior = np.asarray(prior, np.uint8)

    def __call__(self, gray):
        return np.where(strokes(gray), self.prior, 0).astype(np.uint8)


class NetworkLabeler:
    """Labels from the stroke-labelling UNet: the sketch at ``LABELER_SIZE``
    (bilinear, [-1, 1]), the most likely class other than background per
    pixel, back at the sketch's size (nearest), kept on stroke pixels only.
    ``logits`` runs the network (here in Jittor; the ONNX runtime's
    labeller runs its exported graph instead)."""

    description = "by the stroke-labelling network saved with the model"

    def __init__(self, net):
        self.net = net

    def logits(self, x):
        """Class logits (C, s, s) of one sketch x (1, 1, s, s) float32."""
        from models import graph_replay
        from models.base_model import jt
        with jt.no_grad():
            return graph_replay.run(self, "labeler", self.net, jt.array(x)).numpy()[0]

    def __call__(self, gray):
        from PIL import Image
        small = np.asarray(Image.fromarray(np.asarray(gray, np.uint8)).resize(
            (LABELER_SIZE, LABELER_SIZE), Image.BILINEAR), np.float32)
        logits = np.array(self.logits(((small - 127.5) / 127.5)[None, None]), copy=True)
        logits[0] = -np.inf                       # strokes are never background
        labels = logits.argmax(axis=0).astype(np.uint8)
        big = np.asarray(Image.fromarray(labels).resize(np.asarray(gray).shape[::-1],
                                                         Image.NEAREST))
        return np.where(strokes(gray), big, 0).astype(np.uint8)


def define_labeler(label_nc):
    from models.sp_embedding.unet import UNet
    return UNet(1, label_nc + 1, base=16, depth=4)


def labeler_path(root, epoch="latest"):
    from models.sp_embedding.checkpoint import net_path
    return net_path(root, LABELER_NAME, epoch)


def make_labeler(opt, root):
    """The labeller ``opt.labeler`` asks for (auto: the network when the
    checkpoint folder has one, else regions)."""
    kind = getattr(opt, "labeler", "auto")
    path = labeler_path(root) if root and os.path.isdir(root) else None
    if kind == "network" or (kind == "auto" and path and os.path.isfile(path)):
        from models.base_model import load_network
        from models.files import CheckpointError
        if not path or not os.path.isfile(path):
            raise CheckpointError(f"--labeler network: {path or root} has no stroke labeller "
                                  f"(train one with --stage labeler, or use --labeler regions)")
        net = load_network(define_labeler(opt.label_nc), path)
        net.eval()
        from models import graph_replay
        labeler = NetworkLabeler(net)
        graph_replay.enable(labeler)          # loaded for inference: its weights are final
        return labeler
    return RegionLabeler(load_prior())
