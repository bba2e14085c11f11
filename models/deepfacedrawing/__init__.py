"""The first method: DeepFaceDrawing (Chen, Su, Gao, Xia, Fu; SIGGRAPH 2020).

* ``networks``: the networks and their factories (``define_encoder``,
  ``define_sketch_decoder``, ``define_fm``, ``define_G``, ``define_D``,
  ``define_A``); the authors' ``networks.py``.
* ``autoencoder``: one component's sketch autoencoder (``AEModel``; the
  authors' ``AE_Model.py``).
* ``combine``: the FM decoders and the generator (``CombineModel``; the
  authors' ``Combine_Model.py``).
* ``model``: the whole model in Jittor (``DeepFaceDrawingModel``: five
  autoencoders and a CombineModel from one checkpoint folder).
* ``pipeline``: the pass around the networks in NumPy (crops, projection,
  paste, shadows, seeded looks), shared with the ONNX runtime.
* ``manifold``: the manifold projection and the feature banks.
* ``checkpoint``: the authors' Params layout, banks, the config.json keys.
* ``inference``: the method's inference contract (``DFDInference``), what
  every caller uses; ``job``: what demo.py writes per sketch.

Modules are imported on use, so importing this package does not start
Jittor (``pipeline``, ``manifold``, ``checkpoint``, ``inference`` and
``job`` never do).
"""
