"""Sketch / code pairs from the sketch embedding's own generator, to train
its encoders on targets they can learn in thousands of steps:

    python scripts/make_sample_pairs.py --stylegan_from checkpoints/real_sg \
        --parser_from checkpoints/real_par --out data/sg_pairs --count 8000
    python train.py --method sp_embedding --stage encoder --encoder_step coarse \
        --dataset_mode sp_samples --dataroot data/sg_pairs --stylegan_from checkpoints/real_sg ...

``--stylegan_from`` is a folder written by ``--stage stylegan`` (its
config.json gives the generator's shape), ``--parser_from`` one written by
``--stage parser``. Each ``OUT/<n>.npz`` holds a generated face, the W+
code that made it and its strokes (training/sp_embedding/sample_pairs.py
says how they are made; data/sample_pairs.py how they are read). Made from
the generator, not from any photo. ``--resume`` goes on from the files
already written (the same files an unbroken run makes).
"""

import argparse
import os
import sys

from util.entry import require_dependencies


def build_generator(folder):
    """The generator of a --stage stylegan folder and its latent_avg."""
    from types import SimpleNamespace

    from models.files import CheckpointError, read_config
    from models.sp_embedding.psp import define_generator
    from options.sp_embedding import n_latent
    from training.sp_embedding.encoder import load_stylegan
    cfg = read_config(folder)
    if cfg is None or cfg.get("method") != "sp_embedding":
        raise CheckpointError(f"{folder}: no config.json of the sketch embedding (a folder "
                              f"written by train.py --method sp_embedding --stage stylegan)")
    opt = SimpleNamespace(**cfg)
    opt.n_latent = n_latent(opt.output_size)
    g = define_generator(opt)
    avg = load_stylegan(folder, g, opt.n_latent)       # the encoder stage's loading
    g.eval()
    return g, avg, opt


def written_before(out, batch):
    """The first pair to make on --resume: after the last whole batch on disk."""
    if not os.path.isdir(out):
        return 0
    done = [int(n[:-4]) for n in os.listdir(out) if n.endswith(".npz") and n[:-4].isdigit()]
    return (max(done) // batch) * batch if done else 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--stylegan_from", required=True, help="a folder of --stage stylegan")
    p.add_argument("--parser_from", required=True, help="a folder of --stage parser")
    p.add_argument("--out", required=True, help="where the <n>.npz pairs go")
    p.add_argument("--count", type=int, default=8000, help="how many pairs")
    p.add_argument("--batch", type=int, default=16, help="samples generated at once")
    p.add_argument("--seed", type=int, default=0, help="seed of the codes and noise")
    p.add_argument("--psi", type=float, default=0.9,
                   help="truncation towards latent_avg (1: none); lower gives fewer broken "
                        "faces and less variety")
    p.add_argument("--mix", type=float, default=0.5,
                   help="share of pairs whose rows from --break_layer on come from a second "
                        "code (the appearance the photo gives and the sketch does not)")
    p.add_argument("--break_layer", type=int, default=0,
                   help="first appearance row (0: the generator folder's config)")
    p.add_argument("--resume", action="store_true", help="go on from the pairs already in --out")
    opt = p.parse_args(argv)
    if opt.count < 1 or opt.batch < 1 or not 0 < opt.psi <= 1 or not 0 <= opt.mix <= 1:
        print("error: --count and --batch must be >= 1, --psi in (0, 1], --mix in [0, 1]",
              file=sys.stderr)
        return 2
    require_dependencies()
    from util.jittor_env import setup
    setup(gpu="auto")
    from models.files import CheckpointError
    from models.sp_embedding.parser import load_parser
    from training.sp_embedding.sample_pairs import make_pairs
    try:
        g, avg, cfg = build_generator(opt.stylegan_from)
        parser = load_parser(opt.parser_from)
    except (CheckpointError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    b = opt.break_layer or cfg.break_layer
    if not 1 <= b < g.n_latent:
        print(f"error: --break_layer must be in 1..{g.n_latent - 1}", file=sys.stderr)
        return 2
    start = written_before(opt.out, opt.batch) if opt.resume else 0
    from tqdm import tqdm
    with tqdm(total=opt.count, initial=start, desc="pairs", unit="pair") as bar:
        written, skipped = make_pairs(g, parser, avg, opt.out, opt.count, b, opt.seed,
                                      opt.batch, opt.psi, opt.mix, start, bar.update)
    print(f"wrote {written} pairs to {opt.out}" +
          (f"; {skipped} samples had no face to draw and were skipped" if skipped else ""))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
