"""Align face photos to the canonical 512x512 layout (needs dlib, optional).

    python scripts/align_faces.py --input photos/ --output aligned/ [--size 512]

For each image in --input (sorted), dlib finds the faces and their 68
landmarks; the largest face is warped by data.align.align_from_landmarks so
that its eye and mouth centres land on the centres of the eye1, eye2 and
mouth boxes (util/components.py). Results are --output/<stem>.png. Images
without a face, or unreadable, are reported on one line and skipped.
Exit status: 0 all aligned, 1 some skipped, 2 bad arguments or no dlib.

dlib is not a dependency of the project; install it with
    pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0
(the second package ships shape_predictor_68_face_landmarks.dat; Debian's
libdlib-data puts it in /usr/share/dlib/). --predictor names another file.
"""

import argparse
import os
import sys
import time

import numpy as np
from tqdm import tqdm

from data.align import BORDERS, align_from_landmarks
from data.sketch_io import ImageError, list_images, load_photo
from util.cli import UsageError, check_folders
from util.png import save_png

INSTALL_HINT = ("dlib is not installed; install it with: "
                "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0")
PREDICTOR_NAME = "shape_predictor_68_face_landmarks.dat"
DEBIAN_PREDICTOR = "/usr/share/dlib/" + PREDICTOR_NAME


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", required=True, help="folder of face photos")
    ap.add_argument("--output", required=True, help="folder for the aligned faces (created)")
    ap.add_argument("--size", type=int, default=512, help="output side in pixels (default 512)")
    ap.add_argument("--border", choices=BORDERS, default="white",
                    help="fill outside the photo: white (default) or replicate its edge")
    ap.add_argument("--upsample", type=int, default=1,
                    help="dlib detector upsampling steps; more finds smaller faces, "
                         "slower (default 1)")
    ap.add_argument("--predictor", default=None,
                    help=f"path of {PREDICTOR_NAME} (default: the one in face_recognition_models, "
                         f"then {DEBIAN_PREDICTOR})")
    return ap.parse_args(argv)


def check_args(args):
    check_folders(args.input, args.output)
    if args.size < 16:
        raise UsageError(f"--size {args.size}: must be at least 16")
    if args.upsample < 0:
        raise UsageError(f"--upsample {args.upsample}: must be 0 or more")


def find_predictor(explicit=None):
    """Path of the 68-landmark model file, or UsageError saying where to get it."""
    if explicit:
        if not os.path.isfile(explicit):
            raise UsageError(f"--predictor {explicit}: no such file")
        return explicit
    candidates = []
    try:
        import face_recognition_models
        candidates.append(face_recognition_models.pose_predictor_model_location())
    except ImportError:
        pass
    candidates.append(DEBIAN_PREDICTOR)
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise UsageError(f"{PREDICTOR_NAME} not found; install it with: "
                     "pip install face-recognition-models==0.3.0 "
                     "(or apt-get install libdlib-data), "
                     "or pass --predictor PATH")


class LandmarkFinder:
    """dlib face detector + 68-point shape predictor."""

    def __init__(self, predictor_path, upsample=1):
        import dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(predictor_path)
        self.upsample = upsample

    def __call__(self, rgb):
        """(68, 2) landmarks of the largest face and the face count, or (None, 0)."""
        faces = list(self.detector(rgb, self.upsample))
        if not faces:
            return None, 0
        face = max(faces, key=lambda r: r.width() * r.height())
        shape = self.predictor(rgb, face)
        pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], np.float64)
        return pts, len(faces)


def align_one(finder, src, dst, size, border):
    """Align one file; returns None, or a one-line problem."""
    try:
        rgb = load_photo(src)
    except ImageError as exc:
        return str(exc)
    landmarks, count = finder(rgb)
    if landmarks is None:
        return f"{src}: no face found"
    if count > 1:
        tqdm.write(f"note {src}: {count} faces, aligned the largest", file=sys.stderr)
    try:
        save_png(dst, align_from_landmarks(rgb, landmarks, size, border))
    except (OSError, ValueError) as exc:
        return f"{src}: {exc}"
    return None


def main(argv=None):
    args = parse_args(argv)
    try:
        check_args(args)
        try:
            import dlib  # noqa: F401
        except ImportError:
            raise UsageError(INSTALL_HINT) from None
        predictor = find_predictor(args.predictor)
        files = list_images([args.input])
        if not files:
            raise UsageError(f"--input {args.input}: no images found")
    except (UsageError, OSError) as exc:
        print(f"align_faces: {exc}", file=sys.stderr)
        return 2
    os.makedirs(args.output, exist_ok=True)
    finder = LandmarkFinder(predictor, args.upsample)

    start = time.time()
    aligned, skipped, stems = 0, 0, set()
    for src in tqdm(files, desc="aligning", unit="img"):
        stem = os.path.splitext(os.path.basename(src))[0]
        if stem in stems:
            problem = f"{src}: an earlier file already wrote {stem}.png"
        else:
            stems.add(stem)
            problem = align_one(finder, src, os.path.join(args.output, stem + ".png"),
                                args.size, args.border)
        if problem is None:
            aligned += 1
        else:
            skipped += 1
            tqdm.write(f"skipped {problem}", file=sys.stderr)
    print(f"aligned {aligned}, skipped {skipped}, {time.time() - start:.1f} s -> {args.output}")
    return 0 if skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
