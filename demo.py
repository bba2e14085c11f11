"""Batch sketch-to-face conversion.

    python demo.py                               # test_input/ -> test_output/
    python demo.py --input my_sketches --params Params --refine eye1=0.8,mouth=0.5

Exit status: 0 all converted, 1 some files skipped, 2 bad arguments or
missing/damaged checkpoints.
"""

import os
import sys
import time

from options.test_options import TestOptions


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


def main(argv=None):
    opt = TestOptions().parse(argv)
    from data.sketch_io import ImageError, list_images, load_sketch, save_png
    try:
        files = list_images(opt.input)
    except FileNotFoundError as exc:
        return fail(str(exc))
    if not files:
        return fail(f"no images found in {', '.join(opt.input)}")
    from util.cli import UsageError, prepare_inference
    try:
        model = prepare_inference(opt)
    except UsageError as exc:
        return fail(str(exc))
    import numpy as np
    from tqdm import tqdm

    from util import jittor_env
    if opt.verbose:
        print(f"{jittor_env.describe()}; options from {opt.preset_source}")

    os.makedirs(opt.output, exist_ok=True)
    start = time.time()
    used, converted, skipped = set(), 0, []
    bar = tqdm(total=len(files), unit="sketch", disable=len(files) < 2, file=sys.stderr)

    def say(msg):
        bar.write(msg, file=sys.stderr)

    def run(batch):
        nonlocal converted
        sketches = np.stack([s for _, s in batch])
        result = model.convert(sketches, opt.k, opt.refine_by_part, opt.gender, opt.shadow)
        for i, (path, _) in enumerate(batch):
            name = output_name(path, used)
            save_png(os.path.join(opt.output, name), result["images"][i])
            if opt.shadow and result["shadows"] is not None:
                save_png(os.path.join(opt.output, name[:-4] + "_shadow.png"), result["shadows"][i])
            converted += 1
        bar.update(len(batch))

    batch = []
    for path in files:
        try:
            sketch, notes = load_sketch(path, opt.image_size)
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
    bar.close()
    seconds = time.time() - start
    print(f"converted {converted}, skipped {len(skipped)} in {seconds:.1f} s "
          f"-> {opt.output}")
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
