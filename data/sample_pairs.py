"""Dataset mode ``sp_samples``: the sketch embedding's generator samples
with the codes that made them (``scripts/make_sample_pairs.py``), for
training the encoders with their targets known.

``DATAROOT/<n>.npz`` holds (plain arrays, no pickle):

* ``codes``: the W+ code of the sample (n_latent x style_dim, float32);
* ``photo``: the generated image (S x S x 3 uint8);
* ``points``, ``ops``: its strokes, drawn the way the real training sketches
  are drawn (``data/photo_sketch.py``: from the face parser's map of the
  sample and the sample itself), so the sketch renders in any hand-drawn
  style at any size, with its semantic labels.

Every 50th file (by number) is the test split, the rest train. A sample
carries ``codes`` besides the usual (sketch, photo, semantic) and the loader
stacks them into the batch's ``codes``. Shifting or flipping a sample would
part it from its code, so the encoder stage refuses --jitter and --flip
with this mode.
"""

import os

import numpy as np

from data.datasets import DatasetError, FaceDataset, Sample, _sketch_size
from data.sketch_io import ImageError

TEST_EVERY = 50
KEYS = ("codes", "photo", "points", "ops")


def pair_files(root):
    """{n: path} of the ``<n>.npz`` files of ``root``."""
    if not os.path.isdir(root):
        raise DatasetError(f"{root}: folder not found (make the pairs with "
                           f"scripts/make_sample_pairs.py --out {root})")
    out = {}
    for name in os.listdir(root):
        stem, ext = os.path.splitext(name)
        if ext == ".npz" and stem.isdigit():
            out[int(stem)] = os.path.join(root, name)
    return out


def read_pair(path):
    """(codes, photo, stroke ops) of one pair file; ImageError naming the
    file when it is not one."""
    from data.photo_sketch import ops_from_arrays
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in KEYS if k not in z.files]
            if missing:
                raise ValueError(f"{path}: not a sample pair (no {', '.join(missing)})")
            codes, photo = z["codes"].astype(np.float32), z["photo"]
            ops = ops_from_arrays(z["points"], z["ops"], path)
    except (OSError, ValueError, EOFError) as exc:
        msg = str(exc)
        raise ImageError(msg if msg.startswith(path) else f"{path}: unreadable sample pair "
                         f"({msg})") from None
    if codes.ndim != 2 or not np.isfinite(codes).all():
        raise ImageError(f"{path}: codes must be a finite n_latent x style_dim array, "
                         f"got shape {codes.shape}")
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ImageError(f"{path}: photo must be H x W x 3 uint8, got {photo.shape} {photo.dtype}")
    return codes, photo, ops


class SamplePairsDataset(FaceDataset):
    def __init__(self, opt, phase="train"):
        super().__init__(opt, phase)
        files = pair_files(opt.dataroot)
        keep = [n for n in sorted(files) if (n % TEST_EVERY == 0) == (phase == "test")]
        self.items = [(files[n], files[n], "all") for n in keep]
        if not self.items:
            raise DatasetError(f"{opt.dataroot}: no sample pairs (<n>.npz) for phase {phase}")

    def describe(self):
        return (f"sp_samples: {len(self)} generator samples with their codes ({self.phase}; "
                f"every {TEST_EVERY}th is test)")

    def load(self, index):
        from PIL import Image

        from data.photo_sketch import pick_style, render_strokes
        path = self.items[index][0]
        codes, photo, ops = read_pair(path)
        if photo.shape[:2] != (self.size, self.size):
            photo = np.asarray(Image.fromarray(photo).resize((self.size, self.size),
                                                             Image.BICUBIC))
        seed = int(os.path.splitext(os.path.basename(path))[0])
        style = pick_style(getattr(self.opt, "sketch_style", "clean"), seed)
        sketch, semantic = render_strokes(ops, _sketch_size(self.opt), style, seed, labels=True)
        sample = Sample(sketch, photo, "all", None, semantic=semantic)
        sample.codes = codes
        return sample
