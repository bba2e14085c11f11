"""Train and evaluate the paper's ablations, then write one comparison.

    python scripts/run_ablations.py                 # tiny size, CPU budget (~2 h on 2 cores)
    python scripts/run_ablations.py --size small --ae_steps 3000 --combine_steps 10000

Methods are the presets in ``configs/deepfacedrawing/ablations/`` (full,
no_projection, whole_face, pix2pixhd, no_perceptual, no_smoothness,
k1..k15). Models are trained once each with ``train.py`` (methods that only
change inference options reuse the full method's model; no_perceptual and
no_smoothness reuse its autoencoders), each stage recorded as done in
``status.json``; a stopped run picks up where it was (``--continue_train``
for a stage cut short).
Every method is then evaluated with ``scripts/evaluate.py`` on the same
procedural test faces, clean and rough (and ``--hand`` sketches), and the
full method once per refinement weight in ``--sweep``.

Writes to ``--out``: ``ablations.md`` / ``ablations.csv`` (one row per
method), ``grid.png`` (rows: test sketches, clean and rough; columns:
methods), ``refine_sweep.md`` / ``refine_sweep.csv`` / ``refine_sweep.png``,
and each evaluation's folder (images, metrics.json, metrics.md).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from configs import ablation_names, load_preset, preset_notes

SIZES = ("tiny", "small", "official")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--size", default="tiny", choices=SIZES,
                   help="size preset the methods are trained at (tiny = 128 px, the CPU "
                        "configuration; small = 256 px)")
    p.add_argument("--methods", default="all",
                   help="comma-separated ablation presets, or 'all' "
                        "(configs/deepfacedrawing/ablations/)")
    p.add_argument("--checkpoints_dir", default="",
                   help="where the models go (default: checkpoints/ablations_SIZE)")
    p.add_argument("--out", default="",
                   help="where results go (default: test_output/ablations_SIZE)")
    t = p.add_argument_group("training budget (procedural faces)")
    t.add_argument("--n_train", type=int, default=1000, help="procedural training faces")
    t.add_argument("--data_seed", type=int, default=1234, help="seed of the training faces")
    t.add_argument("--ae_steps", type=int, default=300, help="autoencoder steps per model")
    t.add_argument("--ae_batch", type=int, default=8, help="autoencoder batch size")
    t.add_argument("--combine_steps", type=int, default=400, help="FM + IS steps per model")
    t.add_argument("--combine_batch", type=int, default=4, help="FM + IS batch size")
    t.add_argument("--vgg", default="auto", choices=("auto", "vgg16", "vgg19", "random"),
                   help="perceptual network for training (see train.py --vgg)")
    t.add_argument("--ndf", type=int, default=32, help="discriminator filters")
    e = p.add_argument_group("evaluation")
    e.add_argument("--n_test", type=int, default=48, help="procedural test faces")
    e.add_argument("--test_seed", type=int, default=1234,
                   help="seed of the test faces (their test samples, disjoint from training)")
    e.add_argument("--hand", default="", help="a folder of hand-drawn sketches to add")
    e.add_argument("--feature_net", default="auto",
                   choices=("auto", "vgg16", "inception", "random", "none"),
                   help="features for FID/KID and the perceptual distance (see evaluate.py)")
    e.add_argument("--inception_path", default="",
                   help="FID Inception-v3 .pth: FID/KID comparable with published numbers")
    e.add_argument("--sweep", default="0,0.25,0.5,0.75,1",
                   help="refinement weights t of the sweep (full method)")
    e.add_argument("--grid_rows", type=int, default=4, help="test faces shown in the grid")
    e.add_argument("--sp_params", default="",
                   help="a sketch-embedding checkpoint (folder or the authors' model.pt) to "
                        "evaluate beside the ablations, on the same test faces, as the row "
                        "'sp_embedding' (trained separately: see README)")
    p.add_argument("--skip_train", action="store_true",
                   help="only evaluate (every model must already be trained)")
    p.add_argument("--gpu", default="auto", choices=("auto", "on", "off"))
    args = p.parse_args(argv)
    names = ablation_names()
    args.method_list = names if args.methods == "all" else \
        [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in args.method_list if m not in names]
    if bad:
        p.error(f"unknown method {bad[0]!r}; choose from {', '.join(names)}")
    try:
        args.sweep_list = [float(v) for v in args.sweep.split(",") if v.strip()]
    except ValueError:
        p.error(f"--sweep must be comma-separated numbers, got {args.sweep!r}")
    if any(not 0 <= t <= 1 for t in args.sweep_list):
        p.error("--sweep values must lie in [0, 1]")
    args.checkpoints_dir = args.checkpoints_dir or os.path.join(
        REPO, "checkpoints", f"ablations_{args.size}")
    args.out = args.out or os.path.join(REPO, "test_output", f"ablations_{args.size}")
    return args


# ------------------------------------------------------------------ plan
def plan(methods):
    """Which models to train (in order) and which model each method uses.

    Returns ([(model, ae_from or None)], {method: model})."""
    uses, train = {}, []
    for m in methods:
        model = preset_notes(f"ablations/{m}").get("_model", m)
        uses[m] = model
        chain = []
        while model not in [t for t, _ in train] and model not in [c for c, _ in chain]:
            ae_from = preset_notes(f"ablations/{model}").get("_ae_from")
            chain.append((model, ae_from))
            if not ae_from:
                break
            model = ae_from
        train.extend(reversed(chain))
    return train, uses


def stages(model, ae_from):
    pipeline = load_preset(f"ablations/{model}").get("pipeline", "components")
    if pipeline == "direct":
        return ["combine"]
    return ["combine"] if ae_from else ["ae", "banks", "combine"]


class Status:
    """``status.json``: which training stages finished, with their commands."""

    def __init__(self, path):
        self.path = path
        self.data = {}
        if os.path.isfile(path):
            with open(path) as f:
                self.data = json.load(f)

    def done(self, key, cmd):
        entry = self.data.get(key)
        return bool(entry) and entry.get("cmd") == cmd

    def mark(self, key, cmd, seconds):
        self.data[key] = {"cmd": cmd, "seconds": round(seconds, 1),
                          "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1)
        os.replace(tmp, self.path)


def train_command(args, model, ae_from, stage):
    steps = args.ae_steps if stage == "ae" else args.combine_steps
    batch = args.ae_batch if stage == "ae" else args.combine_batch
    cmd = [sys.executable, os.path.join(REPO, "train.py"), "--stage", stage,
           "--preset", f"{args.size}+ablations/{model}", "--name", model,
           "--checkpoints_dir", args.checkpoints_dir, "--dataset_mode", "synthetic",
           "--n_samples", str(args.n_train), "--data_seed", str(args.data_seed),
           "--gpu", args.gpu, "--seed", "0"]
    if ae_from:
        cmd += ["--ae_from", os.path.join(args.checkpoints_dir, ae_from)]
    if stage == "banks":
        return cmd
    epochs = max(1, math.ceil(steps * batch / args.n_train))
    cmd += ["--batch_size", str(batch), "--niter", str(epochs), "--niter_decay", "0",
            "--max_iters", str(steps), "--print_freq", "25", "--save_latest_freq", "100",
            "--save_epoch_freq", "1000", "--display_freq", str(max(steps // 4, 1))]
    if stage == "ae":
        cmd += ["--lr", "0.0005", "--beta1", "0.9", "--jitter", "2"]
    else:
        cmd += ["--vgg", args.vgg, "--ndf", str(args.ndf)]
    return cmd


def run_training(args):
    todo, _ = plan(args.method_list)
    status = Status(os.path.join(args.checkpoints_dir, "status.json"))
    for model, ae_from in todo:
        for stage in stages(model, ae_from):
            cmd = train_command(args, model, ae_from, stage)
            key = f"{model}/{stage}"
            # recorded without the folder, so a copied or moved folder stays trained
            shown = " ".join(os.path.relpath(c, REPO) if c.startswith(REPO) else c for c in
                             (c.replace(args.checkpoints_dir, "CHECKPOINTS") for c in cmd[1:]))
            if status.done(key, shown):
                print(f"[ablations] {key}: already trained")
                continue
            if args.skip_train:
                raise SystemExit(f"error: {key} is not trained (run without --skip_train)")
            state = os.path.join(args.checkpoints_dir, model, "train_state", f"{stage}.pkl")
            resume = stage != "banks" and os.path.isfile(state)
            print(f"[ablations] {key}: {'resuming' if resume else 'training'}", flush=True)
            start = time.time()
            code = subprocess.call(cmd + (["--continue_train"] if resume else []), cwd=REPO)
            if code != 0:
                raise SystemExit(f"error: training {key} failed (exit {code}): {shown}")
            status.mark(key, shown, time.time() - start)


# ------------------------------------------------------------------ evaluation
def evaluate(args, method, model, folder, refine=None):
    """scripts/evaluate.py for one method; returns its metrics dict. The
    sketch embedding (``model`` None) runs from --sp_params, compared at the
    size preset's image size."""
    if model is None:
        size = load_preset(args.size)["image_size"]
        cmd = ["--params", args.sp_params, "--label", method, "--eval_size", str(size)]
    else:
        cmd = ["--params", os.path.join(args.checkpoints_dir, model),
               "--preset", f"{args.size}+ablations/{method}", "--label", method]
    cmd += ["--test_set", "synthetic", "--n_test", str(args.n_test),
           "--test_seed", str(args.test_seed), "--rough", "--results_dir", folder,
           "--feature_net", args.feature_net, "--gpu", args.gpu]
    if refine is not None:
        cmd += ["--refine", str(refine)]
    if args.hand:
        cmd += ["--hand", args.hand]
    if args.inception_path:
        cmd += ["--inception_path", args.inception_path]
    from evaluation.run import main as evaluate_main   # in this process: kernels stay compiled
    code = evaluate_main(cmd)
    if code != 0:
        raise SystemExit(f"error: evaluating {method} failed (exit {code})")
    with open(os.path.join(folder, "metrics.json")) as f:
        return json.load(f)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.checkpoints_dir, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    run_training(args)
    trained = time.time()
    _, uses = plan(args.method_list)
    results = {}
    for m in args.method_list:
        print(f"[ablations] evaluating {m}", flush=True)
        results[m] = evaluate(args, m, uses[m], os.path.join(args.out, m))
    if args.sp_params:
        print("[ablations] evaluating the sketch embedding", flush=True)
        results["sp_embedding"] = evaluate(args, "sp_embedding", None,
                                           os.path.join(args.out, "sp_embedding"))
    sweep = {}
    if args.sweep_list and "full" in uses.values():
        model = "full"
        for t in args.sweep_list:
            print(f"[ablations] refinement sweep t={t:g}", flush=True)
            sweep[t] = evaluate(args, "full", model, os.path.join(args.out, "sweep", f"t{t:g}"),
                                refine=t)
    from evaluation.ablation_report import (flat_rows, grid_image, sweep_plot, sweep_rows,
                                      table_rows, write_csv, write_markdown)
    header, rows = table_rows(results)
    write_csv(os.path.join(args.out, "ablations.csv"), *flat_rows(results))
    notes = [f"Size preset `{args.size}`; {args.n_train} procedural training faces "
             f"(seed {args.data_seed}); autoencoders {args.ae_steps} steps x {args.ae_batch}, "
             f"FM+IS {args.combine_steps} steps x {args.combine_batch}; "
             f"{args.n_test} test faces (seed {args.test_seed}), clean and rough.",
             next(iter(results.values()))["feature_note"] if results else ""]
    write_markdown(os.path.join(args.out, "ablations.md"), "Ablations", header, rows, notes)
    grid_image([os.path.join(args.out, m) for m in results], list(results),
               args.grid_rows, os.path.join(args.out, "grid.png"))
    if sweep:
        sh, sr = sweep_rows(sweep)
        write_csv(os.path.join(args.out, "refine_sweep.csv"), sh, sr)
        write_markdown(os.path.join(args.out, "refine_sweep.md"),
                       "Refinement sweep (full method)", sh, sr, notes)
        sweep_plot(sweep, os.path.join(args.out, "refine_sweep.png"))
    print(f"[ablations] trained in {(trained - start) / 60:.1f} min, evaluated in "
          f"{(time.time() - trained) / 60:.1f} min -> {os.path.join(args.out, 'ablations.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
