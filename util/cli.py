"""Checks shared by the folder-to-folder scripts."""

import os


class UsageError(Exception):
    """A bad command line or a missing dependency; the script exits 2."""


def check_folders(input_dir, output_dir):
    """The input must be a folder, the output a folder (or not yet there)
    other than the input, so that nothing is overwritten in place."""
    if not os.path.isdir(input_dir):
        raise UsageError(f"--input {input_dir}: not a folder")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise UsageError(f"--output {output_dir}: exists and is not a folder")
    if os.path.realpath(input_dir) == os.path.realpath(output_dir):
        raise UsageError("--output must differ from --input (outputs would overwrite inputs)")


def prepare_inference(opt, build_model=True):
    """The start of every inference entry point: check the checkpoint
    folder, set Jittor up (the one place), seed it, then (by default) create
    the sketch2face model, load it and its banks for ``opt.gender``.

    Returns the model (or None); raises UsageError with a one-line reason."""
    from models.checkpoint import WHERE_FROM, CheckpointError
    if not os.path.isdir(opt.params):
        raise UsageError(f"checkpoint folder {opt.params} not found. {WHERE_FROM}")
    from util import jittor_env
    try:
        jittor_env.setup(opt.gpu)
    except jittor_env.JittorSetupError as exc:
        raise UsageError(str(exc)) from None
    import numpy as np
    np.random.seed(opt.seed)
    jittor_env.get_jittor().set_global_seed(opt.seed)
    if not build_model:
        return None
    from models import create_model
    model = create_model("sketch2face", opt)
    try:
        model.load(opt.params)
        model.check_banks(opt.gender)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
    return model
