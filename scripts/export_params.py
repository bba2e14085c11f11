"""Copy what inference needs from a training folder into a clean checkpoint
folder in the authors' layout (no discriminator, optimiser state, per-epoch
copies or result pages):

    python scripts/export_params.py --src checkpoints/faces --dst params/faces
"""

import argparse
import os
import shutil
import sys


from models.files import CheckpointError, config_path, read_config
from models.deepfacedrawing import checkpoint as ckpt
from models.sp_embedding.checkpoint import FOLDER as SP_FOLDER
from util.cli import UsageError, check_writable_folder
from util.components import BANK_CHOICES, pipeline_parts

TRAINING_ONLY = ("discriminator",)   # the sketch embedding's networks inference never runs
# what the sketch embedding's inference loads (models/sp_embedding/psp.py NETWORKS), and
# the stage that trains each
SP_NEEDED = {"latest_net_encoder_sketch_coarse.pkl": "--stage encoder --encoder_step coarse",
             "latest_net_encoder_sketch_fine.pkl": "--stage encoder --encoder_step fine",
             "latest_net_encoder_face_fine.pkl": "--stage encoder --encoder_step fine",
             "latest_net_decoder.pkl": "--stage stylegan",
             "latest_latent_avg.pkl": "--stage stylegan"}


def needed_files(src):
    """The files of ``src`` that inference needs (UsageError naming its
    config.json when that cannot be read)."""
    path = config_path(src)
    try:
        config = read_config(src) or {}
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    if config.get("method") == "sp_embedding":
        return sp_files(src)
    appearance = config.get("appearance_dim", 0) or 0
    pipeline = config.get("pipeline", "components")
    if isinstance(appearance, bool) or not isinstance(appearance, int):
        raise UsageError(f"{path}: appearance_dim {appearance!r:.40} is not a whole number")
    try:
        parts = pipeline_parts(pipeline)
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{path}: pipeline {pipeline!r:.40} is not a pipeline") from None
    files = [path, ckpt.generator_path(src)]
    if appearance > 0:
        files.append(ckpt.appearance_path(src))          # the appearance encoder
    for part in parts:
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
    network, the average latent and the stroke labeller (not the
    discriminator); UsageError naming what inference needs and the folder
    lacks (a folder where only StyleGAN2 was trained has no encoders)."""
    folder = os.path.join(src, SP_FOLDER)
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    missing = [n for n in SP_NEEDED if n not in names]
    if missing:
        stages = sorted({SP_NEEDED[n] for n in missing})
        raise UsageError(f"{os.path.join(folder, missing[0])}: not found ({len(missing)} of the "
                         f"{len(SP_NEEDED)} files inference needs are missing: "
                         f"{', '.join(missing)}); train {'; '.join(stages)} first")
    keep = [os.path.join(folder, n) for n in names
            if n.startswith("latest_") and n.endswith(".pkl")
            and not any(t in n for t in TRAINING_ONLY)]
    return [config_path(src)] + keep


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--src", required=True, help="training folder (checkpoints/NAME)")
    ap.add_argument("--dst", required=True, help="checkpoint folder to write")
    ap.add_argument("--with_log", action="store_true", help="also copy loss_log.txt")
    args = ap.parse_args(argv)
    try:
        files = needed_files(args.src)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        print(f"error: {missing[0]}: not found ({len(missing)} files missing); train every "
              f"stage first", file=sys.stderr)
        return 2
    try:
        check_writable_folder(args.dst, "--dst")
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.with_log and os.path.isfile(os.path.join(args.src, "loss_log.txt")):
        files.append(os.path.join(args.src, "loss_log.txt"))
    total = 0
    for f in files:
        out = os.path.join(args.dst, os.path.relpath(f, args.src))
        try:
            os.makedirs(os.path.dirname(out), exist_ok=True)
            shutil.copyfile(f, out + ".tmp")
            os.replace(out + ".tmp", out)
        except OSError as exc:
            print(f"error: cannot write {out} ({exc.strerror or exc})", file=sys.stderr)
            return 2
        total += os.path.getsize(out)
    print(f"exported {len(files)} files ({total / 2 ** 20:.1f} MB) to {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
