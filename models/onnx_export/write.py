"""Writing exported networks: one graph per network (checked with
``onnx.checker``), the weights of a large one in a ``.onnx.data`` file
beside it (ONNX's external data: a protobuf file stops at 2 GB), every file
written atomically, and the manifest."""

import json
import os
import time

import numpy as np

from models.onnx_export.graph import BATCH, Graph
from models.onnx_runtime.manifest import (FORMAT, FORMAT_VERSION, MANIFEST, file_entry)
from util.fileio import atomic_file, atomic_write

EXTERNAL_MIN_BYTES = 1024        # tensors smaller than this stay inside the graph
DEFAULT_EXTERNAL_OVER = 1900 * 2 ** 20


def shape_of(shape):
    """JSON form of a value's shape: 'batch' for the batch axis."""
    return [d if isinstance(d, str) else int(d) for d in shape]


def sample_input(name, shape, rng):
    """A seeded input of the kind a network gets under ``name``: sketches
    (white with dark strokes; one-hot label maps when several channels),
    photos in [-1, 1], latents, codes and feature maps ~ N(0, 1)."""
    if name == "sketch" and shape[1] == 1:
        return np.where(rng.random(shape) < 0.06, -1.0, 1.0).astype(np.float32)
    if name == "sketch":
        labels = rng.integers(1, shape[1] + 1, (shape[0], 1) + tuple(shape[2:]))
        labels[rng.random(labels.shape) < 0.9] = 0
        return (labels == np.arange(1, shape[1] + 1).reshape(1, -1, 1, 1)).astype(np.float32)
    if name == "photo":
        return rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


class Exporter:
    """Collects the networks, banks and other files of one exported folder
    and writes its manifest last (a folder without a manifest is not an
    export, so an interrupted export is never taken for a finished one)."""

    def __init__(self, out, external_over=DEFAULT_EXTERNAL_OVER, say=None, verify=True):
        self.out = out
        self.external_over = external_over
        self.verify = verify
        self.networks, self.files = {}, []
        self.say = say or (lambda msg: None)
        os.makedirs(out, exist_ok=True)
        stale = os.path.join(out, MANIFEST)
        if os.path.isfile(stale):
            os.remove(stale)

    # -------------------------------------------------------------- networks
    def network(self, name, inputs, outputs, forward, doc="", reference=None):
        """Build the graph of one network and write it. ``inputs`` and
        ``outputs`` are [(name, shape)] (``BATCH`` for the batch axis);
        ``forward(g, *input_values)`` adds the network and returns its
        output value(s). With ``verify``, ``reference(*arrays)`` (the
        module's own forward pass, numpy in and out) is compared with ONNX
        Runtime's on seeded inputs; the manifest keeps the difference."""
        from models.onnx_export.emitters import ExportError
        g = Graph(name)
        values = [g.input(n, shape) for n, shape in inputs]
        result = forward(g, *values)
        result = result if isinstance(result, (list, tuple)) else [result]
        if len(result) != len(outputs):
            raise ExportError(f"{name}: {len(result)} outputs, {len(outputs)} declared")
        for value, (n, shape) in zip(result, outputs):
            g.output(value, n, shape)
        files = self.write_model(g.model(doc), name)
        self.networks[name] = {
            "file": files[0], "external_data": files[1] if len(files) > 1 else None,
            "inputs": [[n, shape_of(s)] for n, s in inputs],
            "outputs": [[n, shape_of(s)] for n, s in outputs],
            "parameters": g.parameter_count(),
        }
        self.files += files
        size = sum(os.path.getsize(os.path.join(self.out, f)) for f in files)
        check = ""
        if self.verify and reference is not None:
            diff = self.compare(files[0], inputs, reference)
            self.networks[name]["check"] = diff
            check = (f"; ONNX Runtime vs Jittor on seeded inputs: max |diff| "
                     f"{diff['max_abs_diff']:.2e} (outputs up to {diff['max_abs_output']:.3g})")
        self.say(f"  {files[0]}: {self.networks[name]['parameters']:,} parameters, "
                 f"{size / 2 ** 20:.1f} MB{check}")
        return self.networks[name]

    def compare(self, rel, inputs, reference):
        """ONNX Runtime against the module on seeded inputs (batch 2)."""
        import onnxruntime as ort
        rng = np.random.default_rng(0)
        arrays = [sample_input(n, [2 if d == BATCH else d for d in shape], rng)
                  for n, shape in inputs]
        sess = ort.InferenceSession(os.path.join(self.out, rel), providers=["CPUExecutionProvider"])
        got = sess.run(None, {n: a for (n, _), a in zip(inputs, arrays)})[0]
        want = np.asarray(reference(*arrays), np.float32)
        return {"inputs": "seeded, batch 2", "max_abs_diff": float(np.abs(got - want).max()),
                "max_abs_output": float(np.abs(want).max())}

    def write_model(self, model, name):
        """Write ``model`` as NAME.onnx (and NAME.onnx.data when its weights
        are over the limit), check it with onnx.checker; returns the files."""
        import onnx
        rel = f"{name}.onnx"
        path = os.path.join(self.out, rel)
        weights = sum(len(t.raw_data) for t in model.graph.initializer)
        files = [rel]
        if weights > self.external_over:
            data_rel = f"{name}.onnx.data"
            self._move_weights_out(model, data_rel)
            files.append(data_rel)
        elif os.path.isfile(path + ".data"):
            os.remove(path + ".data")          # a previous export's external weights
        atomic_write(path, model.SerializeToString())
        try:
            onnx.checker.check_model(path, full_check=True)
        except Exception as exc:              # noqa: BLE001 - the checker raises several types
            raise RuntimeError(f"{path}: onnx.checker rejects the exported graph: "
                               f"{str(exc).splitlines()[0]}") from exc
        return files

    def _move_weights_out(self, model, data_rel):
        """Move every initializer of EXTERNAL_MIN_BYTES or more into
        ``data_rel`` (written piece by piece, each tensor at an offset that
        is a multiple of 4096, as onnx does), leaving references."""
        from onnx import TensorProto
        from onnx.external_data_helper import set_external_data
        offset = 0
        with atomic_file(os.path.join(self.out, data_rel)) as f:
            for tensor in model.graph.initializer:
                if len(tensor.raw_data) < EXTERNAL_MIN_BYTES:
                    continue
                pad = (-offset) % 4096
                f.write(b"\0" * pad)
                offset += pad
                data = tensor.raw_data
                f.write(data)
                set_external_data(tensor, data_rel, offset, len(data))
                tensor.data_location = TensorProto.EXTERNAL
                tensor.ClearField("raw_data")
                offset += len(data)

    # -------------------------------------------------------------- other files
    def array(self, rel, arr):
        """A float32 array as .npy."""
        import io
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr, dtype="<f4"), allow_pickle=False)
        atomic_write(os.path.join(self.out, rel), buf.getvalue())
        self.files.append(rel)

    def copy(self, rel, src):
        with open(src, "rb") as f:
            atomic_write(os.path.join(self.out, rel), f.read())
        self.files.append(rel)

    def json(self, rel, obj):
        atomic_write(os.path.join(self.out, rel),
                     (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())
        self.files.append(rel)

    # -------------------------------------------------------------- the manifest
    def finish(self, method, source, options, arch_keys, extra):
        """Write manifest.json: the method, its options, the networks, every
        file's size and SHA-256, and ``extra`` (sizes, boxes, banks...)."""
        import onnx

        from models.onnx_export.graph import IR_VERSION, OPSET
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "method": method,
                    "exported": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                    "source": source, "onnx": {"opset": OPSET, "ir_version": IR_VERSION,
                                                "exported_with": onnx.__version__},
                    "batch_axis": BATCH, "options": options, "arch_keys": list(arch_keys),
                    "networks": self.networks,
                    "files": {rel: file_entry(self.out, rel) for rel in sorted(set(self.files))}}
        manifest.update(extra)
        atomic_write(os.path.join(self.out, MANIFEST),
                     (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        return manifest
