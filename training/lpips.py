"""LPIPS-VGG (Zhang et al., CVPR 2018, v0.1 linear heads) in Jittor, and
where its weights come from.

The distance between images x and y (RGB in [-1, 1]): VGG16 relu1_2,
relu2_2, relu3_3, relu4_3, relu5_3 features of each; every feature vector
divided by its Euclidean norm over the channels (+ 1e-10); the squared
difference; a learnt non-negative 1x1 linear head per tap (no bias); the
spatial mean; the sum over the five taps. One number per image pair.

Two backbones:

* ``LPIPS*`` (default): the heads over the project's Caffe-converted
  ImageNet VGG16 (``models.vgg.load_vgg("vgg16")``, Caffe input convention).
  The heads were calibrated on torchvision's VGG16, whose features differ,
  so this is an LPIPS-like perceptual distance, not calibrated LPIPS; logs
  and help call it LPIPS*.
* ``LPIPS``: a user-supplied torchvision VGG16 state dict (``features.N``
  layout, ``--lpips_backbone FILE``) with torchvision's input normalisation,
  which is exactly LPIPS's own input scaling ((x - shift) / scale with shift
  = 2 mean - 1, scale = 2 std): the published metric.

The heads: ``lpips/weights/v0.1/vgg.pth`` inside the ``lpips==0.1.4`` wheel
(7 KB; keys ``lin{k}.model.1.weight``, shapes 1 x C x 1 x 1 for C = 64, 128,
256, 512, 512). ``scripts/get_lpips.py`` downloads the wheel with ``pip
download --no-deps`` into a temporary folder (nothing installed, nothing of
it run), checks the wheel's and the file's SHA-256, reads the .pth with our
restricted reader and writes ``params/lpips_vgg_v0.1.npz`` (reproducible
bytes, weights digest pinned). The loss makes that file on first use (from
an installed ``lpips`` package, else by that download) and, when neither
works, fails in one line naming the command to run.
"""

import hashlib
import importlib.util
import os
import sys
import tempfile

import numpy as np

from models.files import CheckpointError, weights_digest
from util.fileio import atomic_write
from util.jittor_env import get_jittor

jt = get_jittor()
from jittor import nn  # noqa: E402  (Jittor must be configured first)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_HEADS_PATH = os.path.join(REPO_ROOT, "params", "lpips_vgg_v0.1.npz")
GET_COMMAND = "python scripts/get_lpips.py"

SOURCE_WHEEL = "lpips==0.1.4"
WHEEL_GLOB = "lpips-0.1.4-*.whl"
WHEEL_SHA256 = "fd537af5828b69d2e6ffc0a397bd506dbc28ca183543617690844c08e102ec5e"
PTH_MEMBER = "lpips/weights/v0.1/vgg.pth"
PTH_SHA256 = "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868"
FORMAT = "sketch-embedding-lpips-heads-npz/1"
TAP_CHANNELS = (64, 128, 256, 512, 512)
HEAD_NAMES = tuple(f"lin{k}" for k in range(len(TAP_CHANNELS)))
# weights_digest of the published heads (lin0 .. lin4, each 1 x C x 1 x 1)
HEADS_SHA256 = "5aa151250f1c44265328d8a5721057b28e2bb485bbe9066d9ba815a1c43aee92"
EPS = 1e-10
HEADS_MAX_BYTES = 16 * 2 ** 20          # the heads .pth: 7 KB
BACKBONE_MAX_BYTES = 2 ** 30           # a torchvision VGG16 .pth: 528 MB
# torchvision VGG16: index of each conv in ``features`` (conv, relu; pool after blocks)
_VGG16_BLOCKS = (2, 2, 3, 3, 3)


class LPIPSWeightsError(CheckpointError):
    """The LPIPS heads or backbone are missing, damaged or of another layout."""


# ---------------------------------------------------------------- heads file
def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def heads_from_state(state, source="state dict"):
    """{lin0..lin4: float32 1 x C x 1 x 1} from the published .pth's state
    dict (keys ``lin{k}.model.1.weight``), checked."""
    if not isinstance(state, dict):
        raise LPIPSWeightsError(f"{source}: holds a {type(state).__name__}, not a state dict")
    out = {}
    for name, c in zip(HEAD_NAMES, TAP_CHANNELS):
        key = f"{name}.model.1.weight"
        if key not in state:
            raise LPIPSWeightsError(f"{source}: no {key!r}; not the LPIPS-VGG v0.1 heads")
        arr = np.asarray(state[key], np.float32)
        if arr.shape != (1, c, 1, 1):
            raise LPIPSWeightsError(f"{source}: {key} has shape {list(arr.shape)}, expected "
                                    f"[1, {c}, 1, 1]")
        if not np.all(np.isfinite(arr)):
            raise LPIPSWeightsError(f"{source}: {key} holds NaN or infinite values")
        out[name] = arr
    extra = [k for k in state if k not in {f"{n}.model.1.weight" for n in HEAD_NAMES}]
    if extra:
        raise LPIPSWeightsError(f"{source}: unexpected tensor {extra[0]!r}; not the "
                                f"LPIPS-VGG v0.1 heads")
    return out


def convert_heads(pth_path, out_path, expected_pth_sha256=PTH_SHA256,
                  expected_heads_sha256=HEADS_SHA256):
    """Check the heads .pth (SHA-256), read it with the restricted reader and
    write the .npz; returns the heads. ``expected_*`` None skips a pin (for
    stand-in files)."""
    from models.torch_file import TorchFileError, read_torch_file
    from models.vgg16_weights import npz_bytes
    with open(pth_path, "rb") as f:
        digest = sha256_bytes(f.read())
    if expected_pth_sha256 is not None and digest != expected_pth_sha256:
        raise LPIPSWeightsError(f"{pth_path}: SHA-256 {digest[:16]}... is not the pinned "
                                f"{expected_pth_sha256[:16]}... of {SOURCE_WHEEL}'s {PTH_MEMBER}")
    try:
        heads = heads_from_state(read_torch_file(pth_path, HEADS_MAX_BYTES), pth_path)
    except TorchFileError as exc:
        raise LPIPSWeightsError(str(exc)) from None
    wdigest = weights_digest(heads, HEAD_NAMES)
    if expected_heads_sha256 is not None and wdigest != expected_heads_sha256:
        raise LPIPSWeightsError(f"{pth_path}: heads digest {wdigest[:16]}... is not the pinned "
                                f"{expected_heads_sha256[:16]}...")
    meta = {"format": FORMAT, "source": f"{SOURCE_WHEEL}: {PTH_MEMBER}",
            "source_sha256": digest, "names": list(HEAD_NAMES), "weights_sha256": wdigest,
            "calibrated_on": "torchvision VGG16 (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3)"}
    atomic_write(out_path, npz_bytes(heads, meta))
    return heads


def read_heads(path, expected_sha256=HEADS_SHA256):
    """{lin0..lin4: 1 x C x 1 x 1} from a heads .npz, its recorded and (unless
    ``expected_sha256`` is None) pinned digest checked."""
    from models.vgg16_weights import read_npz
    hint = f"delete it and run `{GET_COMMAND}` again"
    arrays, meta = read_npz(path, LPIPSWeightsError, hint)
    if meta.get("format") != FORMAT or sorted(arrays) != sorted(HEAD_NAMES):
        raise LPIPSWeightsError(f"{path}: not an LPIPS heads file of {FORMAT}; {hint}")
    heads = heads_from_state({f"{k}.model.1.weight": v for k, v in arrays.items()}, path)
    digest = weights_digest(heads, HEAD_NAMES)
    if digest != meta.get("weights_sha256"):
        raise LPIPSWeightsError(f"{path}: heads do not match their recorded checksum; {hint}")
    if expected_sha256 is not None and digest != expected_sha256:
        raise LPIPSWeightsError(f"{path}: not the published LPIPS-VGG v0.1 heads "
                                f"({digest[:16]}... != {expected_sha256[:16]}...); {hint}")
    return heads


def find_installed_pth():
    """The heads .pth of an installed ``lpips`` package, or None (found by
    the import machinery's spec only: the package, which imports torch, is
    never run)."""
    try:
        spec = importlib.util.find_spec("lpips")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, "weights", "v0.1", "vgg.pth")
        if os.path.isfile(path):
            return path
    return None


def fetch_heads_pth(workdir, python=None):
    """Download the lpips wheel (``pip download --no-deps``) into ``workdir``,
    check it, extract the heads .pth there; returns its path."""
    from util.wheels import WheelError, fetch_wheel_member
    try:
        data = fetch_wheel_member(SOURCE_WHEEL, WHEEL_GLOB, PTH_MEMBER, workdir, WHEEL_SHA256,
                                  python, timeout=300)
    except WheelError as exc:
        raise LPIPSWeightsError(str(exc)) from None
    out = os.path.join(workdir, "vgg.pth")
    with open(out, "wb") as f:
        f.write(data)
    return out


def get_heads(out_path=DEFAULT_HEADS_PATH, pth_path=None, say=print):
    """Make the heads .npz from ``pth_path``, an installed lpips package, or
    the downloaded wheel (deleted afterwards); returns the heads."""
    src = pth_path or find_installed_pth()
    if src is not None:
        say(f"converting {src}")
        return convert_heads(src, out_path)
    with tempfile.TemporaryDirectory(prefix="lpips-") as tmp:
        say(f"downloading {SOURCE_WHEEL} with pip (54 KB; not installed, only read)...")
        return convert_heads(fetch_heads_pth(tmp), out_path)


def load_heads(path=""):
    """The heads for the loss: ``path`` (default params/lpips_vgg_v0.1.npz,
    made on first use when missing, and checked against the published
    heads' digest; a file given by the user is only checked for damage);
    one-line LPIPSWeightsError naming the command otherwise."""
    default = not path or os.path.abspath(path) == os.path.abspath(DEFAULT_HEADS_PATH)
    path = path or DEFAULT_HEADS_PATH
    if not os.path.isfile(path):
        if os.path.abspath(path) != os.path.abspath(DEFAULT_HEADS_PATH):
            raise LPIPSWeightsError(f"{path}: LPIPS heads file not found; run `{GET_COMMAND}` "
                                    f"or train with --lpips_lambda 0")
        try:
            get_heads(path, say=lambda m: print(f"sp_embedding: LPIPS heads: {m}",
                                                file=sys.stderr))
        except LPIPSWeightsError as exc:
            raise LPIPSWeightsError(f"the LPIPS heads ({path}) are missing and could not be "
                                    f"fetched ({exc}); run `{GET_COMMAND}` where PyPI is "
                                    f"reachable, or train with --lpips_lambda 0") from None
    # the default file must be the published heads; a file of the user's only intact
    return read_heads(path, HEADS_SHA256 if default else None)


# ---------------------------------------------------------------- backbone
def vgg16_from_torchvision(state, source="state dict"):
    """Our names (conv1_1.weight ...) from a torchvision VGG16 state dict
    (``features.N.weight`` / ``.bias``; a ``module.`` prefix is accepted)."""
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    out, index = {}, 0
    for b, n in enumerate(_VGG16_BLOCKS, 1):
        for i in range(1, n + 1):
            for kind in ("weight", "bias"):
                key = f"features.{index}.{kind}"
                if key not in state:
                    raise LPIPSWeightsError(f"{source}: no {key!r}; not a torchvision VGG16 "
                                            f"state dict (vgg16_bn has other indices)")
                out[f"conv{b}_{i}.{kind}"] = np.asarray(state[key], np.float32)
            index += 2                      # conv, relu
        index += 1                          # max pool
    return out


def load_backbone(path=""):
    """(VGGFeatures, label): the torchvision VGG16 of ``path`` (real LPIPS) or
    the project's Caffe VGG16 (LPIPS*)."""
    from models.torch_file import TorchFileError, read_torch_state_dict
    from models.vgg import VGGFeatures, load_vgg
    if not path:
        return load_vgg("vgg16", quiet=True), "LPIPS*"
    net = VGGFeatures("vgg16", input_norm="torchvision")
    try:
        state = read_torch_state_dict(path, BACKBONE_MAX_BYTES)
    except TorchFileError as exc:
        raise LPIPSWeightsError(f"--lpips_backbone: {exc}") from None
    net.set_weights(vgg16_from_torchvision(state, path), f"torchvision VGG16 from {path}", path)
    return net, "LPIPS"


# ---------------------------------------------------------------- the distance
def normalize_channels(f):
    """f / (sqrt(sum over channels of f^2) + 1e-10), per position."""
    return f / (jt.sqrt((f * f).sum(dim=1, keepdims=True)) + EPS)


class LPIPS(nn.Module):
    """``execute(x, y)`` -> (B,) distances; ``label`` is 'LPIPS*' over the
    Caffe VGG16, 'LPIPS' over a torchvision one. Frozen: gradients reach
    ``x`` only (``y`` is the target, a constant to the loss)."""

    def __init__(self, heads, vgg, label="LPIPS*"):
        self.vgg = vgg
        self.label = label
        self.heads = [jt.array(np.asarray(heads[n], np.float32).reshape(1, -1, 1, 1)).stop_grad()
                      for n in HEAD_NAMES]

    def execute(self, x, y):
        if tuple(x.shape) != tuple(y.shape):
            raise ValueError(f"LPIPS: shapes differ, {list(x.shape)} vs {list(y.shape)}")
        with jt.no_grad():          # the target's features: no backward pass through them
            targets = self.vgg(y.detach())
        total = 0.0
        for w, f, t in zip(self.heads, self.vgg(x), targets):
            d = (normalize_channels(f) - normalize_channels(t.detach())) ** 2
            total = total + (d * w).sum(dim=1).mean(dims=[1, 2])
        return total


def make_lpips(heads_path="", backbone=""):
    """The LPIPS module the options ask for (LPIPSWeightsError in one line)."""
    heads = load_heads(heads_path)
    vgg, label = load_backbone(backbone)
    return LPIPS(heads, vgg, label)
