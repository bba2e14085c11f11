"""The Inception-v3 network of the standard FID (the TensorFlow FID graph as
ported to PyTorch in the ``pt_inception-2015-12-05`` weights), for FID/KID
comparable with published numbers when the user has those weights:

    python scripts/evaluate.py ... --feature_net inception \\
        --inception_path pt_inception-2015-12-05-6726825d.pth

Layer names follow torchvision's Inception3, so the .pth loads by name
(``fc``/``AuxLogits`` entries are ignored). The FID variant differs from
torchvision's classifier in its pooling: average pools exclude padding, and
the last block max-pools. Input: RGB in [-1, 1], resized bilinearly to
299x299; output: the 2048-d pool3 features.
"""

import numpy as np

from util.jittor_env import get_jittor

jt = get_jittor()
nn = jt.nn

class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def execute(self, x):
        return nn.relu(self.bn(self.conv(x)))


def _avg3(x):
    """3x3 average pool, stride 1, over the valid pixels only (padding not
    counted). Jittor 1.3 ignores ``count_include_pad=False``, so the
    zero-padded mean is divided by the mean of a ones map."""
    pool = nn.AvgPool2d(3, stride=1, padding=1)
    return pool(x) / pool(jt.ones((1, 1) + tuple(x.shape[2:])))


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features):
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def execute(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return jt.concat([self.branch1x1(x), b5, b3, self.branch_pool(_avg3(x))], 1)


class InceptionB(nn.Module):
    def __init__(self, cin):
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def execute(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return jt.concat([self.branch3x3(x), b3, nn.MaxPool2d(3, stride=2)(x)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7):
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def execute(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for i in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{i}")(d)
        return jt.concat([self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def execute(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return jt.concat([b3, b7, nn.MaxPool2d(3, stride=2)(x)], 1)


class InceptionE(nn.Module):
    """``max_pool``: the FID graph's last block max-pools its pool branch."""

    def __init__(self, cin, max_pool=False):
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def execute(self, x):
        b3 = self.branch3x3_1(x)
        b3 = jt.concat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = jt.concat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        pooled = nn.MaxPool2d(3, stride=1, padding=1)(x) if self.max_pool else _avg3(x)
        return jt.concat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    def __init__(self):
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048, max_pool=True)

    def execute(self, x):
        """RGB (B, 3, H, W) in [-1, 1] -> (B, 2048) pool3 features."""
        x = nn.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = nn.MaxPool2d(3, stride=2)(x)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = nn.MaxPool2d(3, stride=2)(x)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean(dims=(2, 3))


IGNORED_PREFIXES = ("fc.", "AuxLogits.")
MAX_BYTES = 256 * 2 ** 20          # the most its .pth may unpack (pytorch-fid's: 95 MB)


def load_fid_inception(path):
    """The FID Inception-v3 with the weights of a PyTorch .pth (the
    pytorch-fid ``pt_inception-2015-12-05`` file or a compatible state dict).
    Raises a CheckpointError naming the file and the first missing or
    mis-shaped parameter."""
    from models.files import CheckpointError
    from models.torch_file import read_torch_state_dict
    net = FIDInceptionV3()
    state = read_torch_state_dict(path, MAX_BYTES)
    ours = net.state_dict()
    for name, var in ours.items():
        if name not in state:
            raise CheckpointError(f"{path}: not an FID Inception-v3 state dict "
                                  f"(no parameter {name!r})")
        value = np.asarray(state[name], np.float32)
        if tuple(value.shape) != tuple(var.shape):
            raise CheckpointError(f"{path}: parameter {name!r} has shape {list(value.shape)}, "
                                  f"expected {list(var.shape)}")
        var.update(jt.array(value))
    extra = [k for k in state if k not in ours and not k.startswith(IGNORED_PREFIXES)
             and not k.endswith("num_batches_tracked")]
    if extra:
        raise CheckpointError(f"{path}: unexpected parameter {extra[0]!r} for the FID "
                              f"Inception-v3 ({len(extra)} in all)")
    net.eval()
    return net
