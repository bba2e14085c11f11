"""Batch sketch-to-face conversion, with either method.

    python demo.py                               # test_input/ -> test_output/
    python demo.py --input my_sketches --params Params --refine eye1=0.8,mouth=0.5
    python demo.py --method sp_embedding --params model.pt --input sketches \\
        --appearance photos/ --output faces/

What a method writes per sketch and how it reads one is its job
(``models/deepfacedrawing/job.py``, ``models/sp_embedding/job.py``); this file is the
driver: list the inputs, check the output folder, load the model, convert
batch by batch, skip and report bad files.

Exit status: 0 all converted, 1 some files skipped (or a write failed),
2 bad arguments, an unusable output folder, or missing/damaged checkpoints.
"""

import os
import sys
import time

from util.entry import ONNX_REQUIRED, REQUIRED, require_dependencies

BACKENDS = ("auto", "jittor", "onnx")


def chosen_backend(argv):
    """The backend a command line asks for, read before anything else is
    imported (to check its dependencies): --backend jittor|onnx, or auto
    (the default): onnx when --params is a folder of exported networks
    (scripts/export_onnx.py), else jittor."""
    import argparse
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--backend", default="auto")
    p.add_argument("--params", default=None)
    known, _ = p.parse_known_args(argv)
    if known.backend != "auto":
        return known.backend
    from models.onnx_runtime.manifest import is_export      # standard library only
    return "onnx" if is_export(known.params) else "jittor"


require_dependencies(ONNX_REQUIRED if chosen_backend(sys.argv[1:]) == "onnx" else REQUIRED)

from options.test_options import TestOptions  # noqa: E402


class DemoOptions(TestOptions):
    """TestOptions and --backend (demo.py only)."""

    def initialize(self, parser):
        parser = super().initialize(parser)
        parser.add_argument_group("backend").add_argument(
            "--backend", default="auto", choices=BACKENDS,
            help="jittor: the checkpoint in Jittor; onnx: a folder of exported ONNX networks "
                 "(python scripts/export_onnx.py) run by ONNX Runtime, without Jittor; auto: "
                 "onnx when --params is such a folder")
        return parser

    def parse(self, args=None):
        args = sys.argv[1:] if args is None else list(args)
        opt = super().parse(args)
        opt.backend = chosen_backend(args)
        return opt


def describe_backend(opt):
    """How the networks will run, said before they are loaded."""
    if opt.backend == "onnx":
        from models.onnx_runtime.session import describe
        return describe(opt.gpu)
    from util import jittor_env
    return jittor_env.describe_plan(opt.gpu)


def fail(msg):
    print(f"error: {msg}", file=sys.stderr)
    return 2


def output_stems(files):
    """{input path: output stem}: the file's stem, made unique within one run
    (``a.png`` and ``a.jpg`` give ``a`` and ``a_jpg``)."""
    used, stems = set(), {}
    for path in files:
        stem, ext = os.path.splitext(os.path.basename(path))
        name = stem
        if name in used:
            name = f"{stem}_{ext.lstrip('.').lower() or 'img'}"
        n = 2
        while name in used:
            name = f"{stem}_{n}"
            n += 1
        used.add(name)
        stems[path] = name
    return stems


def check_output(output, inputs, planned):
    """The output folder must be a folder we can write, and no output file
    may be a file an option reads (``inputs``: sketches, appearance photos,
    the checkpoint; a folder there covers the files in it): a one-line error
    otherwise, before any work. ``planned`` may be a generator."""
    from util.cli import UsageError
    if os.path.exists(output) and not os.path.isdir(output):
        raise UsageError(f"--output {output}: exists and is not a folder")
    files = {os.path.realpath(p) for p in inputs if not os.path.isdir(p)}
    folders = tuple(os.path.join(os.path.realpath(p), "") for p in inputs if os.path.isdir(p))
    for path in planned:
        real = os.path.realpath(path)
        if real in files or (real.startswith(folders) and os.path.exists(real)):
            raise UsageError(f"--output {output}: would overwrite the input {path} "
                             f"(choose another output folder)")
    try:
        os.makedirs(output, exist_ok=True)
        import tempfile
        with tempfile.NamedTemporaryFile(dir=output, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"--output {output}: cannot write there ({exc.strerror or exc})") \
            from None


def write(path, data):
    """A uint8 image as PNG, a float array as .npy; atomically."""
    import io

    import numpy as np

    from util.fileio import atomic_write
    from util.png import save_png
    if data.dtype == np.uint8:
        save_png(path, data)
    else:
        buf = io.BytesIO()
        np.save(buf, data, allow_pickle=False)
        atomic_write(path, buf.getvalue())


def main(argv=None):
    opt = DemoOptions().parse(argv)
    from data.sketch_io import ImageError, list_images
    from models.methods import get_method
    from util import jittor_env
    from util.cli import UsageError
    try:
        files = list_images(opt.input)
    except FileNotFoundError as exc:
        return fail(str(exc))
    if not files:
        return fail(f"no images found in {', '.join(opt.input)}")
    stems = output_stems(files)
    try:
        job = get_method(opt.method).job_class()(opt, files)
        planned = (os.path.join(opt.output, rel) for p in files for rel in job.outputs(stems[p]))
        check_output(opt.output, files + job.reads(), planned)
    except UsageError as exc:
        return fail(str(exc))
    try:
        plan = describe_backend(opt)
    except UsageError as exc:
        return fail(str(exc))
    print(f"demo: {len(files)} sketch{'es' if len(files) != 1 else ''} -> {opt.output} with "
          f"{opt.method} from {opt.params} ({plan})",
          file=sys.stderr, flush=True)
    try:
        notes = job.load()
    except UsageError as exc:
        return fail(str(exc))
    from tqdm import tqdm
    if opt.verbose:
        from options.base_options import arch_summary
        print(f"{plan if opt.backend == 'onnx' else jittor_env.describe()}; options from "
              f"{opt.preset_source}: {arch_summary(opt)}", file=sys.stderr)

    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    start = time.time()
    converted, skipped = 0, []
    bar = tqdm(total=len(files), unit="sketch", disable=len(files) < 2, file=sys.stderr)

    def say(msg):
        bar.write(msg, file=sys.stderr)

    def run(batch):
        nonlocal converted
        results = job.run(batch, [stems[path] for _, path, _ in batch])
        for produced in results:
            for rel, data in produced.items():
                path = os.path.join(opt.output, rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                write(path, data)
            converted += 1
        bar.update(len(batch))

    batch = []
    try:
        for index, path in enumerate(files):
            try:
                item, item_notes = job.read(path)
            except ImageError as exc:
                say(f"skipped {exc}")
                skipped.append(path)
                bar.update(1)
                continue
            for note in item_notes:
                say(f"note: {path}: {note}")
            batch.append((index, path, item))
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
