"""Encode a training set with trained component encoders and write the
per-part (and, when genders are known, per-gender) feature banks in the
authors' format (raw float32 .bin in AE_whole/).

    python scripts/build_banks.py --preset tiny --name faces
    python scripts/build_banks.py --ae_from Params --dataset_mode paired --dataroot data/faces --name faces

Same as ``python train.py --stage banks``.
"""

import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    import train
    return train.main(["--stage", "banks"] + [a for a in argv if a != "--stage"])


if __name__ == "__main__":
    sys.exit(main())
