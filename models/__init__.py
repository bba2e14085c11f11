"""Models, created by name from options (a registry, as in pix2pixHD).

    from models import create_model
    ae = create_model("ae", opt, part="eye1")
    combine = create_model("combine", opt, is_train=True)
    face = create_model("deepfacedrawing", opt)
    sketch = create_model("sp_embedding", opt)

Which model a method uses for inference, and the inference contract that
wraps it, are in ``models/methods.py``.

Modules are imported when a model is created, so importing this package
(for checkpoint or projection helpers) does not start Jittor.
"""

import importlib

_REGISTRY = {
    # DeepFaceDrawing: one component autoencoder, FM decoders + generator, the whole model
    "ae": ("models.deepfacedrawing.autoencoder", "AEModel"),
    "combine": ("models.deepfacedrawing.combine", "CombineModel"),
    "deepfacedrawing": ("models.deepfacedrawing.model", "DeepFaceDrawingModel"),
    "sp_embedding": ("models.sp_embedding.model", "SPEmbeddingModel"),
    # the same models on exported ONNX networks (ONNX Runtime, no Jittor)
    "deepfacedrawing_onnx": ("models.onnx_runtime.dfd", "OnnxDeepFaceDrawing"),
    "sp_embedding_onnx": ("models.onnx_runtime.sp", "OnnxSPEmbedding"),
}


def model_names():
    return sorted(_REGISTRY)


def create_model(name, opt, **kwargs):
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(model_names())}")
    module, cls = _REGISTRY[name]
    return getattr(importlib.import_module(module), cls)(opt, **kwargs)
