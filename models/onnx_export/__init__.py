"""Either method's trained model as ONNX graphs, built from our own module
tree (no tracing through another framework):

* ``graph``: a small builder over ``onnx.helper`` (inputs, constants named
  after the parameters they hold, operators, scopes);
* ``ops``: each layer type once as ONNX operators (convolutions, transposed
  convolutions, norms, padding, resampling, the modulated convolution, the
  FIR filters, ...);
* ``emitters``: our module classes -> ops, reading their parameters;
* ``dfd``, ``sp``: what each method exports;
* ``write``: the files (``onnx.checker`` on each, external data over the
  limit, atomic writes) and the manifest.

``export_checkpoint(opt, out)`` is what ``scripts/export_onnx.py`` calls;
the exported folder runs without Jittor (``models/onnx_runtime``). Needs
the ``onnx`` package (``pip install -e '.[onnx]'``) and Jittor (to read the
checkpoint into our modules)."""

import os

from models.onnx_export.write import DEFAULT_EXTERNAL_OVER, Exporter

EXPORTERS = {"deepfacedrawing": "models.onnx_export.dfd:export_dfd",
             "sp_embedding": "models.onnx_export.sp:export_sp"}


def export_checkpoint(opt, out, config, arch_keys, external_over=DEFAULT_EXTERNAL_OVER,
                      say=None, verify=True):
    """Export the checkpoint ``opt.params`` of method ``opt.method`` to the
    folder ``out``: one .onnx per network, the method's arrays, ``config``
    (its options, as config.json) and manifest.json; with ``verify`` each
    network is run once by ONNX Runtime and by its Jittor module on seeded
    inputs, and the manifest keeps the difference. Returns the manifest."""
    import importlib
    module, _, name = EXPORTERS[opt.method].partition(":")
    exporter = Exporter(out, external_over, say, verify)
    extra = getattr(importlib.import_module(module), name)(opt, exporter, config)
    exporter.json("config.json", config)
    source = {"params": os.path.abspath(opt.params), "options_from": opt.preset_source}
    return exporter.finish(opt.method, source, config, arch_keys, extra)
