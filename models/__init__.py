"""Models, created by name from options (a registry, as in pix2pixHD).

    from models import create_model
    ae = create_model("ae", opt, part="eye1")
    combine = create_model("combine", opt, is_train=True)
    face = create_model("sketch2face", opt)
    sketch = create_model("sp_embedding", opt)

Which model a method uses for inference is in ``models/methods.py``.

Modules are imported when a model is created, so importing this package
(for checkpoint or projection helpers) does not start Jittor.
"""

import importlib

_REGISTRY = {
    "ae": ("models.AE_Model", "AEModel"),
    "combine": ("models.Combine_Model", "CombineModel"),
    "sketch2face": ("models.Sketch2Face_Model", "Sketch2FaceModel"),
    "sp_embedding": ("models.SPEmbedding_Model", "SPEmbeddingModel"),
    # the same models on exported ONNX networks (ONNX Runtime, no Jittor)
    "sketch2face_onnx": ("models.onnx_runtime.dfd", "OnnxSketch2Face"),
    "sp_embedding_onnx": ("models.onnx_runtime.sp", "OnnxSPEmbedding"),
}


def register_model(name, module, cls):
    """Make ``create_model(name, ...)`` build ``module.cls``."""
    _REGISTRY[name] = (module, cls)


def model_names():
    return sorted(_REGISTRY)


def create_model(name, opt, **kwargs):
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(model_names())}")
    module, cls = _REGISTRY[name]
    return getattr(importlib.import_module(module), cls)(opt, **kwargs)
