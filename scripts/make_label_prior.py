"""Make params/label_prior.png, the region labeller's prior map: at every
pixel of the 512 layout, the stroke class that procedural faces most often
have there (see models/sp_embedding/labelers.py).

    python scripts/make_label_prior.py [--n 400] [--seed 77]
"""

import argparse
import sys
import time

from models.sp_embedding.labelers import PRIOR_PATH, compute_prior
from util.png import save_png


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--n", type=int, default=400, help="procedural faces counted")
    ap.add_argument("--seed", type=int, default=77, help="their seed")
    ap.add_argument("--out", default=PRIOR_PATH, help="the PNG to write")
    args = ap.parse_args(argv)
    start = time.time()
    prior = compute_prior(args.n, args.seed)
    save_png(args.out, prior)
    print(f"wrote {args.out} ({len(set(prior.ravel().tolist()))} classes, "
          f"{time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
