"""The methods this project implements, side by side, picked by name.

    deepfacedrawing   DeepFaceDrawing (Chen et al., SIGGRAPH 2020)
    sp_embedding      semantics-preserving sketch embedding (Yang et al., TMM 2023)

A method is a name with these things attached (module paths, imported on
use, so reading this registry starts nothing heavy):

* ``title``: its name in full, for people;
* ``options``: the module declaring its options (``add_arch_options``,
  ``add_common_options``, ``add_test_options``, ``add_train_options``,
  ``finish``, ``config_dict``, ``ARCH_KEYS``); see ``options/base_options.py``;
* ``presets``: its folder of presets under ``configs/``;
* ``model``: the name of its inference model in ``models.create_model``
  (its Jittor networks, loaded by ``load_for_inference``);
* ``onnx_model``: the same on its exported ONNX networks (``demo.py
  --backend onnx``; ``scripts/export_onnx.py`` writes them);
* ``inference``: its inference contract (``models/inference.py``), which
  wraps either model: ``load(opt)`` gives it, loaded; what demo.py, the
  drawing app, the evaluation and the benchmark call;
* ``job``: its batch conversion for demo.py (the files written per sketch);
* ``stages``: its training stages, ``name -> "module:Class"``;
* ``bundled``: the folder under ``params/`` of its bundled model (what
  ``--params`` defaults to for it);
* ``where_from``: the one-line hint a missing checkpoint gets.

Every entry point picks the method the same way (``method_for``): an
explicit ``--method``, else the ``"method"`` of the checkpoint folder's
``config.json`` (or, for a ``.pt`` file, the sketch embedding), else
DeepFaceDrawing (the authors' Params folder has no config.json).

To add a method: its package ``models/<method>/`` (networks, model,
pipeline, inference contract, job, checkpoint layout), its option module
``options/<method>.py``, its presets ``configs/<method>/``, its stages
``training/<method>/``; register it here and its model in
``models/__init__``.
"""

import importlib
import os

DEFAULT_METHOD = "deepfacedrawing"


def _attribute(path):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class Method:
    def __init__(self, name, title, options, presets, model, onnx_model, inference, job,
                 stages, bundled, where_from):
        self.name, self.title, self.bundled = name, title, bundled
        self.options, self.presets = options, presets
        self.model, self.onnx_model, self.inference = model, onnx_model, inference
        self.job, self.stages, self.where_from = job, dict(stages), where_from

    def option_module(self):
        return importlib.import_module(self.options)

    def stage_class(self, stage):
        return _attribute(self.stages[stage])

    def job_class(self):
        """The class that runs demo.py's batch conversion for this method."""
        return _attribute(self.job)

    def inference_class(self):
        """The method's inference contract (``models/inference.py``)."""
        return _attribute(self.inference)

    def hint(self):
        """Where checkpoints of this method come from (one line)."""
        return _attribute(self.where_from)

    def load(self, opt, backend="jittor"):
        """The method's inference contract over ``opt.params``, loaded
        (``load_for_inference``: weights and what else it needs, errors
        early): on Jittor (set up already: ``prepare_inference``) or, with
        ``backend="onnx"``, on exported networks under ONNX Runtime."""
        from models import create_model
        name = self.onnx_model if backend == "onnx" else self.model
        model = create_model(name, opt).load_for_inference(opt)
        return self.inference_class()(model, opt)


METHODS = {
    "deepfacedrawing": Method(
        "deepfacedrawing", "DeepFaceDrawing (Chen et al., SIGGRAPH 2020)",
        options="options.deepfacedrawing", presets="deepfacedrawing", model="deepfacedrawing",
        onnx_model="deepfacedrawing_onnx",
        inference="models.deepfacedrawing.inference:DFDInference",
        job="models.deepfacedrawing.job:DFDJob",
        stages={"ae": "training.deepfacedrawing.autoencoders:AETrainer",
                "banks": "training.deepfacedrawing.banks:BanksStage",
                "combine": "training.deepfacedrawing.combine:CombineTrainer"},
        bundled="default", where_from="models.deepfacedrawing.checkpoint:WHERE_FROM"),
    "sp_embedding": Method(
        "sp_embedding", "the semantics-preserving sketch embedding (Yang et al., TMM 2023)",
        options="options.sp_embedding", presets="sp_embedding", model="sp_embedding",
        onnx_model="sp_embedding_onnx", inference="models.sp_embedding.inference:SPInference",
        job="models.sp_embedding.job:SPJob",
        stages={"stylegan": "training.sp_embedding.stylegan:StyleGANTrainer",
                "parser": "training.sp_embedding.segmenters:ParserTrainer",
                "labeler": "training.sp_embedding.segmenters:LabelerTrainer",
                "encoder": "training.sp_embedding.encoder:EncoderTrainer"},
        bundled="sp_embedding", where_from="models.sp_embedding.checkpoint:WHERE_FROM"),
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
    from models.files import read_config
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
    set Jittor up (the one place), seed it, then (by default) load the
    method's inference contract (``Method.load``).

    With ``opt.backend == 'onnx'`` (demo.py) the contract runs a folder of
    exported networks under ONNX Runtime instead, and Jittor is never
    imported.

    Returns the contract (or None); raises ``util.cli.UsageError`` with a
    one-line reason."""
    from models.files import CheckpointError
    from models.onnx_runtime.manifest import is_export
    from util.cli import UsageError
    method = get_method(opt.method)
    if not os.path.exists(opt.params):
        raise UsageError(f"checkpoint folder {opt.params} not found. {method.hint()}")
    backend = getattr(opt, "backend", "jittor")
    if backend == "onnx":
        import numpy as np
        np.random.seed(opt.seed)
    else:
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
    try:
        return method.load(opt, backend)
    except CheckpointError as exc:
        raise UsageError(str(exc)) from None
