"""The speed and memory benchmark behind ``scripts/benchmark.py``.

The script holds the command line and the measurement plan (which worker
runs for which configuration, batch size and device); this package holds
the pieces it plans with:

* ``flops``: FLOPs counted analytically over a Jittor module tree
  (``count_flops``) and per configuration (``model_flops``,
  ``training_flops``); a network family adds its layers with ``@counts``;
* ``inputs``: seeded weights (the same in Jittor and PyTorch), seeded
  sketches, latents and feature maps, the encoders' crops, output diffs;
* ``timing``: timed calls, matrix-product rates, peak memory, the machine;
* ``workers``: the process protocol: ``run_worker`` starts one measurement
  in a fresh process, ``worker_main`` runs it there and prints its result;
* ``jittor_workers``: the measurements in Jittor (matrix-product rate,
  inference latency and memory, one training step);
* ``torch_twin`` and ``torch_worker``: the same networks in PyTorch (torch
  imported on use) and the peer's measurement;
* ``sp``, ``sp_twin``, ``sp_peer``: the sketch embedding's FLOPs and Jittor
  worker, its networks in PyTorch (the authors' CPU fallbacks) and the
  peer's worker; ``sp_train``, ``sp_train_peer``: one step of each of its
  training stages in Jittor and in PyTorch;
* ``report``: the Markdown tables and the target lines.

Nothing here imports Jittor or torch at import time: each worker process
imports the one framework it measures.
"""
