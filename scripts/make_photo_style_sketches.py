"""Sketches drawn the way the real-face models were trained, from the
project's own procedural faces (``test_input/photo_style/``):

    python scripts/make_photo_style_sketches.py --out test_input/photo_style

The bundled models were trained on sketches extracted from CelebAMask-HQ
photos (``data/photo_sketch.py``: contours from the parsing map, photocopy
lines inside eyes, nose, mouth and ears, hair strands, facial hair). Those
sketches may not be shipped (they are made from the dataset's photos), so
this script applies the same extraction to procedural faces
(``data/synthetic``: a photo and its 19-class parsing map each), which
belong to the project: sketches in the training style of people nobody
trained on. ``--style`` draws them clean (default) or in any hand-drawn
style, ``pencil`` being the one held out of training. ``--shaded`` makes
shaded pencil portraits instead (``test_input/pencil_shaded/``): the face's
tones drawn as soft graphite (a colour-dodge of the gray photo by its
blurred negative, darkened, with paper grain), a kind of drawing no model
here trained on. Deterministic: the same files on every run.

    python scripts/make_photo_style_sketches.py --shaded --out test_input/pencil_shaded
"""

import argparse
import os
import sys

import cv2
import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (seed, index) of procedural faces chosen for variety: hair styles, facial
# hair, glasses, gender; the same faces on every run
FACES = ((5, 2), (5, 8), (5, 10), (5, 22), (5, 18), (5, 1))


def shaded_portrait(photo, seed):
    """An RGB uint8 photo -> a gray uint8 shaded pencil drawing of it."""
    gray = cv2.cvtColor(np.asarray(photo, np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)
    negative = cv2.GaussianBlur(255 - gray, (0, 0), 6)
    dodge = np.clip(gray * 255.0 / np.maximum(1.0, 255 - negative), 0, 255)
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(0, 1, gray.shape).astype(np.float32), (0, 0), 0.8) * 6
    return np.clip(255 - (255 - dodge) * 1.6 + grain, 0, 255).astype(np.uint8)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--out", default=os.path.join(REPO, "test_input", "photo_style"))
    p.add_argument("--style", default="clean", help="clean, pencil or another drawing style")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--shaded", action="store_true",
                   help="shaded pencil portraits instead of line sketches")
    args = p.parse_args(argv)
    from data.photo_sketch import render_strokes, sketch_strokes
    from data.synthetic import make_sample
    os.makedirs(args.out, exist_ok=True)
    for seed, index in FACES:
        s = make_sample(seed, index, 512, labels=True)
        params = s["params"]
        name = f"{params.hair_style}_{params.facial_hair}_{s['gender']}_{seed}_{index}"
        if args.shaded:
            sketch = Image.fromarray(shaded_portrait(s["photo"], index))
            sketch = np.asarray(sketch.resize((args.size, args.size), Image.LANCZOS))
        else:
            ops = sketch_strokes(s["photo"], s["labels"])
            sketch, _ = render_strokes(ops, args.size, args.style, seed=index)
        if args.style != "clean":
            name += f"_{args.style}"
        Image.fromarray(np.asarray(sketch, np.uint8)).save(os.path.join(args.out, name + ".png"))
        print(os.path.join(args.out, name + ".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
