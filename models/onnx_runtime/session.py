"""The exported networks under ONNX Runtime: a folder opened once (manifest
read, every file checked against its size and SHA-256, one inference
session per network), each network called with NumPy arrays.

No Jittor here, nor in anything this package imports: it runs where only
numpy, pillow, opencv-python, tqdm and onnxruntime are installed."""

import os

import numpy as np

from models.files import CheckpointError
from models.onnx_runtime.manifest import read_manifest, verify_files
from util.cli import UsageError

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def onnxruntime():
    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError("the onnx backend needs onnxruntime: pip install onnxruntime") from None
    return ort


def providers(gpu="auto"):
    """ONNX Runtime's execution providers for ``--gpu auto|on|off``: CUDA
    first when this onnxruntime has it (onnxruntime-gpu) and it is wanted."""
    available = onnxruntime().get_available_providers()
    if gpu != "off" and CUDA in available:
        return [CUDA, CPU]
    if gpu == "on":
        raise UsageError("--gpu on: this onnxruntime has no CUDA provider (install "
                         "onnxruntime-gpu, or use --gpu auto|off)")
    return [CPU]


def describe(gpu="auto"):
    """One line saying how the networks run (the entry point's first line)."""
    ort = onnxruntime()
    where = "CUDA GPU" if providers(gpu)[0] == CUDA else "CPU"
    return f"ONNX Runtime {ort.__version__} on {where}"


def session_options():
    """Threads as OMP_NUM_THREADS says when set (else ONNX Runtime's choice)."""
    ort = onnxruntime()
    so = ort.SessionOptions()
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return so


class Network:
    """One exported network: ``net(name=array, ...)`` -> its first output,
    ``net.run(...)`` -> {output name: array}."""

    def __init__(self, name, path, entry, provider_list):
        ort = onnxruntime()
        self.name, self.path = name, path
        try:
            self.session = ort.InferenceSession(path, sess_options=session_options(),
                                                providers=provider_list)
        except Exception as exc:                  # noqa: BLE001 - ORT raises its own types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path}: ONNX Runtime cannot load it ({first[:300]})") from None
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        want = ([n for n, _ in entry.get("inputs", [])],
                [n for n, _ in entry.get("outputs", [])])
        if want != (self.inputs, self.outputs):
            raise CheckpointError(f"{path}: inputs {self.inputs} and outputs {self.outputs}, the "
                                  f"manifest says {want[0]} and {want[1]}")

    def run(self, **arrays):
        feed = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
        return dict(zip(self.outputs, self.session.run(self.outputs, feed)))

    def __call__(self, **arrays):
        return self.run(**arrays)[self.outputs[0]]


class ExportedModel:
    """An exported folder: ``manifest``, ``networks`` {name: Network},
    ``path(rel)`` of its other files. Files are checked before any
    network is loaded (``digests``: their SHA-256 too)."""

    def __init__(self, root, method, gpu="auto", digests=True):
        self.root = root
        self.manifest = read_manifest(root, method)
        verify_files(root, self.manifest, digests)
        chosen = providers(gpu)
        self.networks = {}
        for name, entry in self.manifest["networks"].items():
            self.networks[name] = Network(name, self.path(entry["file"]), entry, chosen)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def has(self, name):
        return name in self.networks

    def __getitem__(self, name):
        return self.networks[name]
