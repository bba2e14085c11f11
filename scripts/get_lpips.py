"""Get the LPIPS-VGG v0.1 linear heads for the sketch embedding's perceptual
loss, in one command:

    python scripts/get_lpips.py             # -> params/lpips_vgg_v0.1.npz

Downloads the ``lpips==0.1.4`` wheel with pip into a temporary folder
(``pip download --no-deps``: nothing is installed, nothing of it runs),
checks its SHA-256, reads ``lpips/weights/v0.1/vgg.pth`` inside it with the
project's restricted PyTorch reader, checks that file's SHA-256 and the
heads' digest, and writes a small .npz (about 8 KB); the download is
deleted. An installed ``lpips`` package, or ``--pth FILE``, is used instead
when there is one. Does nothing when the file is already there and correct
(``--force`` remakes it).

The heads were calibrated on torchvision's VGG16; over the project's Caffe
VGG16 they give LPIPS*, an LPIPS-like distance (see training/lpips.py).
"""

import argparse
import sys


from training import lpips
from util.wheels import ensure_checked_file


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--out", default=lpips.DEFAULT_HEADS_PATH, help="the .npz to write")
    parser.add_argument("--pth", default=None,
                        help="use this vgg.pth (the wheel's lpips/weights/v0.1/vgg.pth) instead "
                             "of downloading the wheel")
    parser.add_argument("--force", action="store_true", help="remake the file even if it is fine")
    opt = parser.parse_args(argv)
    return ensure_checked_file(
        opt.out, opt.force, lpips.read_heads, lambda out: lpips.get_heads(out, opt.pth),
        lpips.LPIPSWeightsError,
        lambda heads: f"wrote {opt.out}: LPIPS-VGG v0.1 heads ({sum(lpips.TAP_CHANNELS)} "
                      f"weights), digests checked")

if __name__ == "__main__":
    sys.exit(main())
