"""Evaluate a checkpoint folder on a test set: images + metrics.json +
metrics.md (``scripts/evaluate.py`` is its command line).

    python scripts/evaluate.py --params params/default --rough
    python scripts/evaluate.py --name faces --test_set paired --dataroot data/test
    python scripts/evaluate.py --params checkpoints/ablations_tiny/full \\
        --preset tiny+ablations/no_projection --rough --hand my_sketches/

Inference options (--k, --refine, --gender, --preset, --no_sketch_norm) work as in
demo.py: the model is the method's inference contract (``models/inference.py``).
``main`` runs the steps below in order: ``load_method``, ``make_sets``,
``load_scorers``, ``start_results``, ``evaluate_sets``, ``read_attributes``,
``appearance_metrics``,
``per_face_looks``, ``each_look_kid``, ``finish_results``, ``write_results``. What each metric is:
``evaluation/scores.py``; the same options and seed give the same numbers.
"""

import json
import os
import sys
import time

from evaluation.report import fmt, markdown
from options.eval_options import EvalOptions


class EvaluationError(Exception):
    """A one-line reason the evaluation cannot run (exit 2)."""


def fail(msg, code=2):
    print(f"error: {msg}", file=sys.stderr)
    return code


def load_parser(folder):
    """(face parser, the size it works at) of a sketch-embedding folder."""
    from models.files import read_config
    from models.sp_embedding.parser import load_parser as load
    cfg = read_config(folder) or {}
    return load(folder), min(256, int(cfg.get("output_size", 256)))


class Converter:
    """Prepared test sketches -> faces at the evaluation size, with either
    method's inference contract, batch by batch, counted on ``bar``: the
    mean look, the random look of (seed, key), or reference photos (at the
    evaluation size, resized to the model's)."""

    def __init__(self, face, opt, size, bar):
        self.face, self.opt, self.size, self.bar = face, opt, size, bar

    @staticmethod
    def resize(images, size):
        from PIL import Image
        if images.shape[1] == size:
            return images
        import numpy as np
        return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BICUBIC))
                         for im in images])

    def appearance(self, references, seed, key):
        from models.inference import Appearance
        if references is not None:
            photos = self.resize(references, self.face.size)
            return Appearance.of_photos([self.face.photo_input(p) for p in photos])
        if seed is not None:
            return Appearance.random(seed, key)
        return Appearance.mean()

    def __call__(self, inputs, references=None, seed=None, key=0, count=True):
        import numpy as np
        out = []
        step = self.opt.batch_size
        for i in range(0, len(inputs), step):
            batch = inputs[i:i + step]
            refs = None if references is None else references[i:i + step]
            faces = self.face(batch, self.appearance(refs, seed, key))["faces"]
            out.append(self.resize(faces, self.size))
            if count:
                self.bar.update(len(batch))
        return np.concatenate(out)


# ------------------------------------------------------------------ the steps
def load_method(opt):
    """The method's inference contract, loaded (Jittor set up, seeded)."""
    from models.methods import prepare_inference
    from util.cli import UsageError
    try:
        return prepare_inference(opt)
    except UsageError as exc:
        raise EvaluationError(str(exc)) from None


def make_sets(opt, face):
    """The test sets (procedural or a dataset's, and --hand), every sketch
    prepared by ``face``; and {set: sketches normalised} when it normalises."""
    from evaluation import sets as test_sets
    size = opt.eval_size
    try:
        if opt.test_set == "synthetic":
            sets = test_sets.synthetic_sets(opt.n_test, opt.test_seed, size, opt.rough,
                                            opt.hand_like)
        else:
            sets = test_sets.dataset_sets(opt, opt.rough, hand_like=opt.hand_like)
        if opt.hand:
            sets.append(test_sets.hand_set(opt.hand, size))
    except (ValueError, FileNotFoundError) as exc:
        raise EvaluationError(str(exc)) from None
    sets, changed = test_sets.prepare_sets(sets, face)
    return sets, (changed if face.normalises else None)


def load_scorers(opt):
    """(features, their note, the face parser or None): what scores the faces."""
    from evaluation import scores
    from models.files import CheckpointError
    try:              # VGGWeightsError: one line, names the file
        features, feature_note = scores.load_feature_net(opt.feature_net, opt.inception_path)
        parser = load_parser(opt.parser) if opt.parser else None
    except CheckpointError as exc:
        raise EvaluationError(str(exc)) from None
    return features, feature_note, parser


def start_results(opt, face, normalised, feature_note):
    """What metrics.json says of the run before any set is scored."""
    options = {k: getattr(opt, k) for k in ("k", "refine", "gender", "pipeline") if hasattr(opt, k)}
    options.update(image_size=opt.eval_size, model_size=face.size, seed=opt.seed,
                   test_seed=opt.test_seed, sketch_norm=normalised is not None)
    results = {"label": opt.label, "method": opt.method, "params": opt.params,
               "test_set": opt.test_set, "options": options,
               "feature_note": feature_note, "sets": {}}
    if normalised is not None:
        results["normalised"] = normalised
    return results


def save_set_images(opt, ts, outputs):
    """OUTPUT/SET/NAME.png and NAME_sketch.png; the targets once, in OUTPUT/target/."""
    from util.png import save_png
    folder = os.path.join(opt.results_dir, ts.name)
    for name, sketch, out in zip(ts.names, ts.sketches, outputs):
        save_png(os.path.join(folder, f"{name}.png"), out)
        save_png(os.path.join(folder, f"{name}_sketch.png"), sketch)
    if ts.photos is not None and ts.name == "clean":
        for name, photo in zip(ts.names, ts.photos):
            save_png(os.path.join(opt.results_dir, "target", f"{name}.png"), photo)


def score_set(opt, ts, outputs, features, reference, photo_desc, parser):
    """The summary of one set's faces (``evaluation/scores.py``)."""
    from evaluation import attributes, scores
    rows = scores.per_image(outputs, ts, opt.eval_size)
    summary = {"n": len(ts), "diversity": scores.diversity(outputs, ts.sketches)}
    if parser is not None and ts.parsing is not None:
        read, own = scores.parse_faces(parser[0], outputs, ts.parsing, parser[1])
        summary["semantic_miou"], summary["hair_iou"] = scores.semantic_iou(read, own)
        summary["attributes"] = attributes.carried(own, read)
    if features is not None:
        dist, taps_out = scores.distribution(features, outputs, reference, opt.kid_subsets,
                                             opt.seed)
        summary.update(dist)
        if ts.photos is not None:        # every set with targets shares the clean photos
            for r, d in zip(rows, features.perceptual(taps_out, reference[1])):
                r["vgg"] = d
            for r, d in zip(rows, features.lpips(taps_out, reference[1]) or []):
                r["lpips"] = d
            summary.update(scores.likeness(scores.identity_descriptors(taps_out), photo_desc))
    summary.update(scores.summarize(rows))
    return summary


def reference_features(features, sets):
    """(pooled features and taps of the target photos, their identity
    descriptors), computed once; (None, None) without features."""
    from evaluation import scores
    if features is None:
        return None, None
    reference = features.pooled_and_taps(sets[0].photos)
    return reference, scores.identity_descriptors(reference[1])


def evaluate_sets(opt, sets, convert, features, parser, results, reference=(None, None)):
    """Every set converted (images saved unless --no_images) and scored
    into ``results``; returns {set: faces}. ``reference``: ``reference_features``."""
    reference, photo_desc = reference
    produced = {}
    for ts in sets:
        outputs = produced[ts.name] = convert(ts.inputs)
        if not opt.no_images:
            save_set_images(opt, ts, outputs)
        results["sets"][ts.name] = score_set(opt, ts, outputs, features, reference,
                                             photo_desc, parser)
    return produced


def read_attributes(ts, images, parser):
    """``attributes.carried`` for ``images`` of the test faces ``ts``: for
    the true photos, how often the face parser itself sees what the maps say
    (the ceiling of the outputs'); for the faces in a look each, what was
    drawn comes through whatever the look."""
    from evaluation import attributes, scores
    read, own = scores.parse_faces(parser[0], images, ts.parsing, parser[1])
    return attributes.carried(own, read)


def appearance_metrics(convert, ts, mean_look, looks):
    """Appearance control, on the clean set: each face with its neighbour's
    photo as the reference (colour distances of hair, skin and background
    to the reference; the same for the faces made without a reference and
    for the faces' own photos, the chance level), and ``looks`` random
    looks per sketch (their mean pairwise L1: how much a look changes)."""
    import numpy as np

    from evaluation import metrics, scores
    refs = np.roll(ts.photos, -1, axis=0)
    ref_parsing = np.roll(ts.parsing, -1, axis=0)
    with_ref = convert(ts.inputs, references=refs, count=False)
    out = {"to_reference": scores.colour_distances(with_ref, ts.parsing, refs, ref_parsing),
           "without_reference": scores.colour_distances(mean_look, ts.parsing, refs,
                                                        ref_parsing),
           "own_photo": scores.colour_distances(ts.photos, ts.parsing, refs, ref_parsing)}
    faces = [convert(ts.inputs, seed=0, key=k, count=False) for k in range(looks)]
    pairs = [metrics.l1(faces[a][i], faces[b][i]) for a in range(looks) for b in range(a)
             for i in range(len(ts))]
    out["look_diversity"] = float(np.mean(pairs)) if pairs else float("nan")
    images = {"reference": refs, "with_reference": with_ref}
    images.update({f"look{k}": f for k, f in enumerate(faces)})
    return out, images


def per_face_looks(opt, convert, ts, features, reference):
    """The clean set's faces with a random look of their own (face i: the
    look of (--seed, i)) and FID*/KID* of those against the photos: the
    distribution the model draws from. The mean-look faces all share one
    look (the sketch embedding has no mean and uses the look of seed 0), so
    their FID*/KID* also count that sameness. Returns (summary, faces)."""
    import numpy as np

    from evaluation import scores
    faces = np.concatenate([convert(ts.inputs[i:i + 1], seed=opt.seed, key=i, count=False)
                            for i in range(len(ts))])
    dist, _ = scores.distribution(features, faces, reference, opt.kid_subsets, opt.seed)
    return {f"{k}_looks": v for k, v in dist.items()}, faces


def each_look_kid(opt, features, reference, look_images):
    """KID* of the clean set's faces in each random look of ``appearance_metrics``
    (every face in look k of seed 0), against the photos: one look for all,
    over several draws. The mean-look ``kid`` is one such draw for the
    sketch embedding (the look of seed 0), and it moves with the draw."""
    import numpy as np

    from evaluation import scores
    kids = []
    for k in range(opt.looks):
        dist, _ = scores.distribution(features, look_images[f"look{k}"], reference,
                                      opt.kid_subsets, opt.seed)
        if "kid" in dist:
            kids.append(float(dist["kid"]))
    return {"kid_each_look": float(np.mean(kids)), "kid_each_look_all": kids} if kids else {}


def save_look_images(opt, names, look_images):
    """OUTPUT/looks/<kind>/<face>.png."""
    from util.png import save_png
    for kind, images in look_images.items():
        for name, image in zip(names, images):
            save_png(os.path.join(opt.results_dir, "looks", kind, f"{name}.png"), image)


def finish_results(results, produced, start):
    """The robustness numbers across sets, and the time taken."""
    from evaluation import scores
    if "rough" in produced and "clean" in produced:
        # robustness without a target: how far the rough sketch's face is from the clean one's
        results["sets"]["rough"]["to_clean"] = scores.mean_l1(produced["rough"],
                                                               produced["clean"])
    results["gap"] = scores.gaps(results["sets"])
    results["seconds"] = round(time.time() - start, 1)


def write_page(opt, sets, produced, look_images):
    """index.html: sketches, faces, target and looks of the first 16 faces."""
    from util.html import ResultPage
    page = ResultPage(opt.results_dir, f"evaluation: {opt.label}")
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


def write_results(opt, results):
    """metrics.json and metrics.md, atomically."""
    from util.fileio import atomic_write
    os.makedirs(opt.results_dir, exist_ok=True)
    atomic_write(os.path.join(opt.results_dir, "metrics.json"),
                 json.dumps(results, indent=1, sort_keys=True).encode())
    atomic_write(os.path.join(opt.results_dir, "metrics.md"), markdown(results).encode())


def main(argv=None):
    opt = EvalOptions().parse(argv)
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
        face = load_method(opt)
        start = time.time()
        sets, normalised = make_sets(opt, face)
        features, feature_note, parser = load_scorers(opt)
    except EvaluationError as exc:
        return fail(str(exc))
    from tqdm import tqdm
    results = start_results(opt, face, normalised, feature_note)
    total = sum(len(s) for s in sets)
    bar = tqdm(total=total, unit="sketch", desc=f"evaluating {opt.label}", file=sys.stderr)
    convert = Converter(face, opt, opt.eval_size, bar)
    reference = reference_features(features, sets)
    produced = evaluate_sets(opt, sets, convert, features, parser, results, reference)
    if parser is not None and sets[0].parsing is not None and sets[0].photos is not None:
        results["attributes_photos"] = read_attributes(sets[0], sets[0].photos, parser)
    look_images = {}
    if face.has_appearance and opt.looks and sets[0].parsing is not None:
        results["appearance"], look_images = appearance_metrics(convert, sets[0],
                                                                produced["clean"], opt.looks)
    if face.has_appearance and opt.looks and features is not None:
        if look_images:
            results["sets"][sets[0].name].update(each_look_kid(opt, features, reference[0],
                                                               look_images))
        own, look_images["own_look"] = per_face_looks(opt, convert, sets[0], features,
                                                      reference[0])
        if parser is not None and sets[0].parsing is not None:
            own["attributes_looks"] = read_attributes(sets[0], look_images["own_look"], parser)
        results["sets"][sets[0].name].update(own)
    if look_images and not opt.no_images:
        save_look_images(opt, sets[0].names, look_images)
    bar.close()
    finish_results(results, produced, start)
    if not opt.no_images:
        write_page(opt, sets, produced, look_images)
    write_results(opt, results)
    clean = results["sets"][sets[0].name]
    summary = ", ".join(f"{k} {fmt(clean[k])}" for k in ("psnr", "ssim", "fid", "chamfer")
                        if k in clean)
    print(f"evaluated {opt.label} on {total} sketches in {results['seconds']} s ({summary}) "
          f"-> {os.path.join(opt.results_dir, 'metrics.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
