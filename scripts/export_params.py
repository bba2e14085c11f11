"""Copy what inference needs from a training folder into a clean checkpoint
folder in the authors' layout (no discriminator, optimiser state, per-epoch
copies or result pages):

    python scripts/export_params.py --src checkpoints/faces --dst params/faces
"""

import argparse
import os
import shutil
import sys


from models import checkpoint as ckpt
from models.sp_embedding.checkpoint import FOLDER as SP_FOLDER
from util.components import BANK_CHOICES, pipeline_parts

TRAINING_ONLY = ("discriminator",)   # the sketch embedding's networks inference never runs


def needed_files(src):
    config = ckpt.read_config(src) or {}
    if config.get("method") == "sp_embedding":
        return sp_files(src)
    files = [ckpt.config_path(src), ckpt.generator_path(src)]
    if int(config.get("appearance_dim", 0) or 0) > 0:
        files.append(ckpt.appearance_path(src))          # the appearance encoder
    pipeline = config.get("pipeline", "components")
    for part in pipeline_parts(pipeline):
        files += [ckpt.encoder_path(src, part), ckpt.decoder_path(src, part),
                  ckpt.fm_path(src, part)]
        for gender in BANK_CHOICES:
            for ext in (".bin", ".npy"):
                path = ckpt.bank_path(src, part, gender, ext)
                if os.path.isfile(path):
                    files.append(path)
    return files


def sp_files(src):
    """The sketch embedding's folder: config.json and the latest copy of every
    network, the average latent and the stroke labeller (not the discriminator)."""
    folder = os.path.join(src, SP_FOLDER)
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    keep = [os.path.join(folder, n) for n in names
            if n.startswith("latest_") and n.endswith(".pkl")
            and not any(t in n for t in TRAINING_ONLY)]
    return [ckpt.config_path(src)] + (keep or [os.path.join(folder, "latest_net_decoder.pkl")])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--src", required=True, help="training folder (checkpoints/NAME)")
    ap.add_argument("--dst", required=True, help="checkpoint folder to write")
    ap.add_argument("--with_log", action="store_true", help="also copy loss_log.txt")
    args = ap.parse_args(argv)
    files = needed_files(args.src)
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        print(f"error: {missing[0]}: not found ({len(missing)} files missing); train every "
              f"stage first", file=sys.stderr)
        return 2
    if args.with_log and os.path.isfile(os.path.join(args.src, "loss_log.txt")):
        files.append(os.path.join(args.src, "loss_log.txt"))
    total = 0
    for f in files:
        out = os.path.join(args.dst, os.path.relpath(f, args.src))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        shutil.copyfile(f, out + ".tmp")
        os.replace(out + ".tmp", out)
        total += os.path.getsize(out)
    print(f"exported {len(files)} files ({total / 2 ** 20:.1f} MB) to {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
