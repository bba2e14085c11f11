"""Evaluate a checkpoint folder on a test set: images + metrics.json +
metrics.md (``scripts/evaluate.py`` is its command line).

    python scripts/evaluate.py --params params/default --rough
    python scripts/evaluate.py --name faces --test_set paired --dataroot data/test
    python scripts/evaluate.py --params checkpoints/ablations_tiny/full \\
        --preset tiny+ablations/no_projection --rough --hand my_sketches/

Inference options (--k, --refine, --gender, --preset, --no_sketch_norm) work as in
demo.py.
See evaluation/evaluation.py for what each metric is; the same options and
seed give the same numbers.
"""

import json
import os
import sys
import time

from options.eval_options import EvalOptions


def fail(msg, code=2):
    print(f"error: {msg}", file=sys.stderr)
    return code


def fmt(v):
    if isinstance(v, float):
        return "inf" if v == float("inf") else f"{v:.4g}"
    return str(v)


def markdown(results):
    """Overall table (rows: sets) and per-part table."""
    sets = results["sets"]
    cols = ["n", "l1", "psnr", "ssim", "vgg", "fid", "kid", "likeness_top1", "likeness_top5",
            "chamfer", "edge_f1", "line_chamfer", "line_f1", "target_edge_f1", "to_clean",
            "diversity", "semantic_miou", "hair_iou"]
    cols = [c for c in cols if any(c in s for s in sets.values())]
    opts = results["options"]
    knobs = ", ".join(f"{k}={opts[k]}" for k in ("k", "refine", "gender") if k in opts)
    lines = [f"# {results['label']}", "",
             f"{results['method']} checkpoint `{results['params']}`"
             f"{'; ' + knobs if knobs else ''}; test set {results['test_set']} at "
             f"{opts['image_size']} px (model {opts['model_size']} px).", "",
             results["feature_note"], ""]
    if "normalised" in results:
        changed = ", ".join(f"{name} {n} of {sets[name]['n']}"
                            for name, n in results["normalised"].items())
        lines += [f"Sketches normalised (data/sketch_norm.py; --no_sketch_norm keeps them as "
                  f"drawn): {changed} changed.", ""]
    lines += ["| set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    rows = list(sets.items())
    if results.get("gap"):
        rows.append(("rough - clean", results["gap"]))
    for name, s in rows:
        lines.append(f"| {name} | " + " | ".join(fmt(s.get(c, "")) for c in cols) + " |")
    if "line_f1" in cols:
        lines += ["", "chamfer and edge_f1 score the output's edges against the input strokes; "
                  "line_chamfer and line_f1 against the face's clean lines (equal on the clean "
                  "set); target_edge_f1 is the target photo's own edge_f1, the set's ceiling."]
    app = results.get("appearance")
    if app:
        regions = list(app["to_reference"])
        lines += ["", "Appearance control (clean set; each face with its neighbour's photo as the "
                  "reference): mean RGB distance (0-255) of each region to the reference's.", "",
                  "| faces | " + " | ".join(regions) + " |", "|---" * (len(regions) + 1) + "|"]
        for key, label in (("to_reference", "with the reference"),
                           ("without_reference", "without (mean look)"),
                           ("own_photo", "their own photos (chance)")):
            lines.append(f"| {label} | " + " | ".join(fmt(app[key][r]) for r in regions) + " |")
        lines += ["", f"Look diversity (mean L1 between random looks of one sketch): "
                      f"{fmt(app['look_diversity'])}"]
    part_keys = sorted({k for s in sets.values() for k in s if "/" in k})
    if part_keys:
        parts = sorted({k.split("/")[0] for k in part_keys}, key=lambda p: p)
        metrics = sorted({k.split("/")[1] for k in part_keys})
        lines += ["", "Per part (inside the component boxes):", "",
                  "| set | part | " + " | ".join(metrics) + " |",
                  "|---" * (len(metrics) + 2) + "|"]
        for name, s in sets.items():
            for p in parts:
                lines.append(f"| {name} | {p} | " + " | ".join(
                    fmt(s.get(f"{p}/{m}", "")) for m in metrics) + " |")
    return "\n".join(lines) + "\n"


def load_parser(folder):
    """(face parser, the size it works at) of a sketch-embedding folder."""
    from models.checkpoint import read_config
    from models.sp_embedding.parser import load_parser as load
    cfg = read_config(folder) or {}
    return load(folder), min(256, int(cfg.get("output_size", 256)))


class Converter:
    """Sketches at the evaluation size -> faces at the evaluation size, with
    either method (``model.faces``), batch by batch, counted on ``bar``."""

    def __init__(self, model, opt, size, bar):
        self.model, self.opt, self.size, self.bar = model, opt, size, bar

    def resize(self, images, size):
        from PIL import Image
        if images.shape[1] == size:
            return images
        import numpy as np
        return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BICUBIC))
                         for im in images])

    def __call__(self, sketches, references=None, seed=None, key=0, count=True):
        import numpy as np
        out = []
        step = self.opt.batch_size
        for i in range(0, len(sketches), step):
            batch = sketches[i:i + step]
            if getattr(self.opt, "image_size", self.size) != self.size:     # DeepFaceDrawing
                batch = self.resize(batch, self.opt.image_size)
            refs = None
            if references is not None:
                refs = self.resize(references[i:i + step], self.model.size)
            faces = self.model.faces(batch, self.opt, refs, seed, key)
            out.append(self.resize(faces, self.size))
            if count:
                self.bar.update(len(batch))
        return np.concatenate(out)


def appearance_metrics(convert, ts, mean_look, looks):
    """Appearance control, on the clean set: each face with its neighbour's
    photo as the reference (colour distances of hair, skin and background
    to the reference; the same for the faces made without a reference and
    for the faces' own photos, the chance level), and ``looks`` random
    looks per sketch (their mean pairwise L1: how much a look changes)."""
    import numpy as np

    from evaluation import evaluation as ev
    from evaluation import metrics
    refs = np.roll(ts.photos, -1, axis=0)
    ref_parsing = np.roll(ts.parsing, -1, axis=0)
    with_ref = convert(ts.sketches, references=refs, count=False)
    out = {"to_reference": ev.colour_distances(with_ref, ts.parsing, refs, ref_parsing),
           "without_reference": ev.colour_distances(mean_look, ts.parsing, refs, ref_parsing),
           "own_photo": ev.colour_distances(ts.photos, ts.parsing, refs, ref_parsing)}
    faces = [convert(ts.sketches, seed=0, key=k, count=False) for k in range(looks)]
    pairs = [metrics.l1(faces[a][i], faces[b][i]) for a in range(looks) for b in range(a)
             for i in range(len(ts))]
    out["look_diversity"] = float(np.mean(pairs)) if pairs else float("nan")
    images = {"reference": refs, "with_reference": with_ref}
    images.update({f"look{k}": f for k, f in enumerate(faces)})
    return out, images


def main(argv=None):
    opt = EvalOptions().parse(argv)
    from data import sketch_norm
    from models.methods import prepare_inference
    from util import jittor_env
    from util.cli import UsageError, check_writable_folder
    try:                # checked first: a long run must not end unable to write
        check_writable_folder(opt.results_dir, "--results_dir")
    except UsageError as exc:
        return fail(str(exc))
    print(f"evaluate: {opt.label} ({opt.method} from {opt.params}) on {opt.test_set} test "
          f"faces -> {opt.results_dir} ({jittor_env.describe_plan(opt.gpu)})",
          file=sys.stderr, flush=True)
    try:
        model = prepare_inference(opt)
    except UsageError as exc:
        return fail(str(exc))
    from tqdm import tqdm

    from evaluation import evaluation as ev
    from models.checkpoint import CheckpointError
    from util.fileio import atomic_write
    from util.html import ResultPage
    from util.png import save_png

    start = time.time()
    size = opt.eval_size
    try:
        if opt.test_set == "synthetic":
            sets = ev.synthetic_sets(opt.n_test, opt.test_seed, size, opt.rough, opt.hand_like)
        else:
            sets = ev.dataset_sets(opt, opt.rough, hand_like=opt.hand_like)
        if opt.hand:
            sets.append(ev.hand_set(opt.hand, size))
    except (ValueError, FileNotFoundError) as exc:
        return fail(str(exc))
    normalised = None
    if sketch_norm.wanted(opt):
        sets, normalised = ev.normalise_sets(sets, model.size)
    try:
        features, feature_note = ev.load_feature_net(opt.feature_net, opt.inception_path)
    except CheckpointError as exc:    # VGGWeightsError: one line, names the file
        return fail(str(exc))

    reference = photo_desc = None
    if features is not None:         # the real photos' features, computed once
        reference = features.pooled_and_taps(sets[0].photos)
        photo_desc = ev.identity_descriptors(reference[1])
    options = {k: getattr(opt, k) for k in ("k", "refine", "gender", "pipeline") if hasattr(opt, k)}
    options.update(image_size=size, model_size=model.size, seed=opt.seed,
                   test_seed=opt.test_seed, sketch_norm=normalised is not None)
    results = {"label": opt.label, "method": opt.method, "params": opt.params,
               "test_set": opt.test_set, "options": options,
               "feature_note": feature_note, "sets": {}}
    if normalised is not None:
        results["normalised"] = normalised
    page = None if opt.no_images else ResultPage(opt.results_dir, f"evaluation: {opt.label}")
    total = sum(len(s) for s in sets)
    bar = tqdm(total=total, unit="sketch", desc=f"evaluating {opt.label}", file=sys.stderr)
    convert = Converter(model, opt, size, bar)
    try:
        parser = load_parser(opt.parser) if opt.parser else None
    except CheckpointError as exc:
        return fail(str(exc))
    produced = {}
    for ts in sets:
        outputs = produced[ts.name] = convert(ts.sketches)
        if not opt.no_images:
            folder = os.path.join(opt.results_dir, ts.name)
            for name, sketch, out in zip(ts.names, ts.sketches, outputs):
                save_png(os.path.join(folder, f"{name}.png"), out)
                save_png(os.path.join(folder, f"{name}_sketch.png"), sketch)
            if ts.photos is not None and ts.name == "clean":
                for name, photo in zip(ts.names, ts.photos):
                    save_png(os.path.join(opt.results_dir, "target", f"{name}.png"), photo)
        rows = ev.per_image(outputs, ts, size)
        summary = {"n": len(ts), "diversity": ev.diversity(outputs, ts.sketches)}
        if parser is not None and ts.parsing is not None:
            summary["semantic_miou"], summary["hair_iou"] = ev.semantic_iou(
                parser[0], outputs, ts.parsing, parser[1])
        if features is not None:
            dist, taps_out = ev.distribution(features, outputs, reference,
                                             opt.kid_subsets, opt.seed)
            summary.update(dist)
            if ts.photos is not None:        # every set with targets shares the clean photos
                for r, d in zip(rows, features.perceptual(taps_out, reference[1])):
                    r["vgg"] = d
                summary.update(ev.likeness(ev.identity_descriptors(taps_out), photo_desc))
        summary.update(ev.summarize(rows))
        results["sets"][ts.name] = summary
    look_images = {}
    if model.has_appearance and opt.looks and sets[0].parsing is not None:
        results["appearance"], look_images = appearance_metrics(convert, sets[0],
                                                                produced["clean"], opt.looks)
        if not opt.no_images:               # OUTPUT/looks/<kind>/<face>.png
            for kind, images in look_images.items():
                for name, image in zip(sets[0].names, images):
                    save_png(os.path.join(opt.results_dir, "looks", kind, f"{name}.png"), image)
    bar.close()
    if "rough" in produced and "clean" in produced:
        # robustness without a target: how far the rough sketch's face is from the clean one's
        results["sets"]["rough"]["to_clean"] = ev.mean_l1(produced["rough"], produced["clean"])
    results["gap"] = ev.gaps(results["sets"])
    results["seconds"] = round(time.time() - start, 1)
    if page is not None:
        for i, name in enumerate(sets[0].names[:16]):
            cells = []
            for ts in sets:
                if i < len(ts):
                    cells.append((f"{ts.name}_sketch", ts.sketches[i]))
                    cells.append((f"{ts.name}_output", produced[ts.name][i]))
            if sets[0].photos is not None:
                cells.append(("target", sets[0].photos[i]))
            cells += [(label, images[i]) for label, images in look_images.items()]
            page.add_row(name, cells)
    os.makedirs(opt.results_dir, exist_ok=True)
    atomic_write(os.path.join(opt.results_dir, "metrics.json"),
                 json.dumps(results, indent=1, sort_keys=True).encode())
    atomic_write(os.path.join(opt.results_dir, "metrics.md"), markdown(results).encode())
    clean = results["sets"][sets[0].name]
    summary = ", ".join(f"{k} {fmt(clean[k])}" for k in ("psnr", "ssim", "fid", "chamfer")
                        if k in clean)
    print(f"evaluated {opt.label} on {total} sketches in {results['seconds']} s ({summary}) "
          f"-> {os.path.join(opt.results_dir, 'metrics.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
