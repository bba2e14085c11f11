"""DeepFaceDrawing and the sketch embedding on their exported ONNX networks
(``scripts/export_onnx.py``), run by ONNX Runtime, without Jittor:

* ``manifest``: the exported folder's layout and its checks;
* ``session``: the networks as ONNX Runtime sessions;
* ``dfd`` and ``sp``: the two methods' inference models, with the same
  interface as the Jittor ones (``convert``, ``notes``, ...), built on the
  same NumPy pipelines (``models/deepfacedrawing/pipeline.py``,
  ``models/sp_embedding/pipeline.py``), so ``demo.py --backend onnx`` runs
  the same jobs, input pipeline and options.

Nothing here imports Jittor, onnx or scipy (``tests/test_onnx.py`` runs it
where importing Jittor fails)."""
