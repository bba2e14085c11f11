"""The methods this project implements, side by side, picked by name.

    deepfacedrawing   DeepFaceDrawing (Chen et al., SIGGRAPH 2020)
    sp_embedding      semantics-preserving sketch embedding (Yang et al., TMM 2023)

A method is a name with four things attached (module paths, imported on
use, so reading this registry starts nothing heavy):

* ``options``: the module declaring its options (``add_arch_options``,
  ``add_common_options``, ``add_test_options``, ``add_train_options``,
  ``finish``, ``ARCH_KEYS``); see ``options/base_options.py``;
* ``presets``: its folder of presets under ``configs/`` ('' = ``configs/``);
* ``model``: the name of its inference model in ``models.create_model``;
* ``onnx_model``: the same on its exported ONNX networks (``demo.py
  --backend onnx``; ``scripts/export_onnx.py`` writes them);
* ``job``: its batch conversion for demo.py (``"module:Class"``);
* ``stages``: its training stages, ``name -> "module:Class"``;
* ``bundled``: the folder under ``params/`` of its bundled model (what
  ``--params`` defaults to for it).

Every entry point picks the method the same way (``method_for``): an
explicit ``--method``, else the ``"method"`` of the checkpoint folder's
``config.json``, else DeepFaceDrawing (the authors' Params folder has no
config.json).

To add a method: write its networks and model class under ``models/``
(``models/<method>/``), its option module under ``options/``, its stages
under ``training/``, register it here and its model in ``models/__init__``.
"""

import importlib
import os

DEFAULT_METHOD = "deepfacedrawing"


def _attribute(path):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class Method:
    def __init__(self, name, title, options, presets, model, job, stages, bundled, onnx_model):
        self.name, self.title, self.bundled = name, title, bundled
        self.options, self.presets = options, presets
        self.model, self.job, self.stages = model, job, dict(stages)
        self.onnx_model = onnx_model

    def option_module(self):
        return importlib.import_module(self.options)

    def stage_class(self, stage):
        return _attribute(self.stages[stage])

    def job_class(self):
        """The class that runs demo.py's batch conversion for this method."""
        return _attribute(self.job)


METHODS = {
    "deepfacedrawing": Method(
        "deepfacedrawing", "DeepFaceDrawing (Chen et al., SIGGRAPH 2020)",
        options="options.dfd_options", presets="", model="sketch2face",
        job="models.dfd_job:DFDJob",
        stages={"ae": "training.trainers:AETrainer",
                "banks": "training.trainers:BanksStage",
                "combine": "training.trainers:CombineTrainer"},
        bundled="default", onnx_model="sketch2face_onnx"),
    "sp_embedding": Method(
        "sp_embedding", "the semantics-preserving sketch embedding (Yang et al., TMM 2023)",
        options="options.sp_options", presets="sp_embedding", model="sp_embedding",
        job="models.sp_embedding.job:SPJob",
        stages={"stylegan": "training.sp_stylegan:StyleGANTrainer",
                "parser": "training.sp_trainers:ParserTrainer",
                "labeler": "training.sp_trainers:LabelerTrainer",
                "encoder": "training.sp_encoder:EncoderTrainer"},
        bundled="sp_embedding", onnx_model="sp_embedding_onnx"),
}


def method_names():
    return list(METHODS)


def get_method(name):
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def method_of_checkpoint(path):
    """The method a checkpoint folder (or file) holds, or None when it does
    not say: our folders name it in config.json; a PyTorch file (.pt/.pth)
    is the sketch embedding's (the authors' model.pt)."""
    from models.checkpoint import read_config
    if path and os.path.isfile(path) and path.lower().endswith((".pt", ".pth")):
        return "sp_embedding"
    if not path or not os.path.isdir(path):
        return None
    cfg = read_config(path)
    return cfg.get("method") if cfg else None


def method_for(explicit, checkpoint):
    """The method of a run: ``explicit`` (--method) when given, else the
    checkpoint's, else the default."""
    return explicit or method_of_checkpoint(checkpoint) or DEFAULT_METHOD


BACKENDS = ("jittor", "onnx")


def prepare_inference(opt, build_model=True):
    """The start of every inference entry point: check the checkpoint,
    set Jittor up (the one place), seed it, then (by default) create the
    method's inference model and load it (``load_for_inference``: weights
    and what else it needs, errors early).

    With ``opt.backend == 'onnx'`` (demo.py) the model runs a folder of
    exported networks under ONNX Runtime instead, and Jittor is never
    imported.

    Returns the model (or None); raises ``util.cli.UsageError`` with a
    one-line reason."""
    from models.checkpoint import WHERE_FROM, CheckpointError
    from models.onnx_runtime.manifest import is_export
    from util.cli import UsageError
    if not os.path.exists(opt.params):
        raise UsageError(f"checkpoint folder {opt.params} not found. {WHERE_FROM}")
    backend = getattr(opt, "backend", "jittor")
    if backend == "onnx":
        return _prepare_onnx(opt, build_model)
    if is_export(opt.params):
        raise UsageError(f"{opt.params}: a folder of exported ONNX networks; run it with "
                         f"--backend onnx")
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
    try:
        return create_model(get_method(opt.method).model, opt).load_for_inference(opt)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None


def _prepare_onnx(opt, build_model):
    """prepare_inference for exported networks (no Jittor)."""
    import numpy as np

    from models.checkpoint import CheckpointError
    from util.cli import UsageError
    np.random.seed(opt.seed)
    if not build_model:
        return None
    from models import create_model
    try:
        return create_model(get_method(opt.method).onnx_model, opt).load_for_inference(opt)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
