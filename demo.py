"""Batch sketch-to-face conversion.

    python demo.py                               # test_input/ -> test_output/
    python demo.py --input my_sketches --params Params --refine eye1=0.8,mouth=0.5

Exit status: 0 all converted, 1 some files skipped (or a write failed),
2 bad arguments, an unusable output folder, or missing/damaged checkpoints.
"""

import os
import sys
import time

from util.entry import require_dependencies

require_dependencies()

from options.test_options import TestOptions  # noqa: E402


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    return 2


def output_name(path, used):
    """'<stem>.png', made unique within one run."""
    stem, ext = os.path.splitext(os.path.basename(path))
    name = f"{stem}.png"
    if name in used:
        name = f"{stem}_{ext.lstrip('.').lower() or 'img'}.png"
    n = 2
    while name in used:
        name = f"{stem}_{n}.png"
        n += 1
    used.add(name)
    return name


def plan_outputs(files, output, extra_suffixes=()):
    """{input path: output file name} and every output path a run may write."""
    used, names, paths = set(), {}, []
    for path in files:
        names[path] = output_name(path, used)
        stem = names[path][:-4]
        paths += [os.path.join(output, names[path])]
        paths += [os.path.join(output, f"{stem}{suffix}.png") for suffix in extra_suffixes]
    return names, paths


def check_output(output, inputs, planned):
    """The output folder must be a folder we can write, and no output file
    may be an input file (a one-line error otherwise, before any work)."""
    from util.cli import UsageError
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"--output {output}: exists and is not a folder")
    inputs = {os.path.realpath(p) for p in inputs}
    clash = [p for p in planned if os.path.realpath(p) in inputs]
    if clash:
        raise UsageError(f"--output {output}: would overwrite the input {clash[0]} "
                         f"(choose another output folder)")
    try:
        os.makedirs(output, exist_ok=True)
        import tempfile
        with tempfile.NamedTemporaryFile(dir=output, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"--output {output}: cannot write there ({exc.strerror or exc})") \
            from None


def main(argv=None):
    opt = TestOptions().parse(argv)
    from data.sketch_io import ImageError, list_images, load_sketch, save_png
    from util import jittor_env
    from util.cli import UsageError
    try:
        files = list_images(opt.input)
    except FileNotFoundError as exc:
        return fail(str(exc))
    if not files:
        return fail(f"no images found in {', '.join(opt.input)}")
    suffixes = ("_shadow",) if opt.shadow else ()
    names, planned = plan_outputs(files, opt.output, suffixes)
    try:
        check_output(opt.output, files, planned)
    except UsageError as exc:
        return fail(str(exc))
    print(f"demo: {len(files)} sketch{'es' if len(files) != 1 else ''} -> {opt.output} with "
          f"{opt.method} from {opt.params} ({opt.image_size}x{opt.image_size}; "
          f"{jittor_env.describe_plan(opt.gpu)})", file=sys.stderr, flush=True)

    from models.methods import prepare_inference
    try:
        model = prepare_inference(opt)
    except UsageError as exc:
        return fail(str(exc))
    import numpy as np
    from tqdm import tqdm

    if opt.verbose:
        from options.base_options import arch_summary
        print(f"{jittor_env.describe()}; options from {opt.preset_source}: "
              f"{arch_summary(opt)}", file=sys.stderr)

    start = time.time()
    converted, skipped = 0, []
    bar = tqdm(total=len(files), unit="sketch", disable=len(files) < 2, file=sys.stderr)

    def say(msg):
        bar.write(msg, file=sys.stderr)

    for note in model.notes(opt):
        say(f"note: {note}")

    def run(batch):
        nonlocal converted
        sketches = np.stack([s for _, s in batch])
        result = model.convert(sketches, opt.k, opt.refine_by_part, opt.gender, opt.shadow)
        for i, (path, _) in enumerate(batch):
            name = names[path]
            save_png(os.path.join(opt.output, name), result["images"][i])
            if opt.shadow and result["shadows"] is not None:
                save_png(os.path.join(opt.output, name[:-4] + "_shadow.png"),
                         result["shadows"][i])
            converted += 1
        bar.update(len(batch))

    batch = []
    try:
        for path in files:
            try:
                sketch, notes = load_sketch(path, opt.image_size, opt.max_pixels)
            except ImageError as exc:
                say(f"skipped {exc}")
                skipped.append(path)
                bar.update(1)
                continue
            for note in notes:
                say(f"note: {path}: {note}")
            batch.append((path, sketch))
            if len(batch) == opt.batch_size:
                run(batch)
                batch = []
        if batch:
            run(batch)
    except OSError as exc:
        bar.close()
        where = getattr(exc, "filename", None) or opt.output
        print(f"error: cannot write {where} ({exc.strerror or exc}); stopped after "
              f"{converted} of {len(files)}", file=sys.stderr)
        return 1
    bar.close()
    seconds = time.time() - start
    print(f"converted {converted}, skipped {len(skipped)} in {seconds:.1f} s "
          f"-> {opt.output}")
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
