"""The second method: semantics-preserving sketch embedding (Yang et al.,
IEEE TMM 2023): three pSp-style IR-SE50 encoders over a StyleGAN2
generator. A sketch gives a coarse W code and W+ offsets for the first 8
generator layers; an appearance photo gives the W+ offsets of the last 10.

* ``stylegan2``: the generator (rosinality's parameter layout) and, for
  training, the discriminator.
* ``encoders``: the IR-SE50 GradualStyleEncoder (pSp's layout).
* ``psp``: the composition of the codes (``SketchEmbedding``: E_c, E_s,
  E_a, the mapping network and the generator with latent_avg).
* ``model``: the whole model in Jittor (``SPEmbeddingModel``: networks and
  checkpoints).
* ``pipeline``: the pass around the networks in NumPy, shared with the
  ONNX runtime.
* ``checkpoint``: the authors' ``model.pt``, rosinality's StyleGAN2 file
  and our folder.
* ``inputs``: the authors' input pipeline (label maps, one-hot,
  appearance photos).
* ``labelers`` and ``unet``: stroke labels for plain sketches; ``parser``:
  the face parser (training and evaluation).
* ``inference``: the method's inference contract (``SPInference``), what
  every caller uses; ``job``: what demo.py writes per sketch.

Modules are imported on use, so importing this package does not start
Jittor.
"""
