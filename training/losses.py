"""Training losses: LSGAN, GAN feature matching, total variation, L1, and
pix2pixHD's VGG perceptual loss."""

from util.jittor_env import get_jittor

jt = get_jittor()
from jittor import nn  # noqa: E402  (Jittor must be configured first)

from models.vgg import PERCEPTUAL_WEIGHTS, load_vgg  # noqa: E402


def mean(x):
    """The mean of every element, in two stages (the last axis, then the
    rest): Jittor reduces float32 in one running total, which drifts by 2 %
    over the 16.7 M elements of a 64x512x512 map; two stages keep it to 1e-5."""
    return x.mean(dims=(x.ndim - 1,)).mean() if x.ndim > 1 else x.mean()


def l1(a, b):
    return mean((a - b).abs())


def mse(a, b):
    return mean((a - b) ** 2)


def lsgan(outputs, target_real):
    """LSGAN over every scale's last output: mean (D(x) - 1)^2 or D(x)^2."""
    target = 1.0 if target_real else 0.0
    return sum(mean((scale[-1] - target) ** 2) for scale in outputs) / len(outputs)


def feature_matching(fake_outputs, real_outputs):
    """pix2pixHD's GAN feature matching: L1 between D's intermediate features
    of the fake and the (detached) real, averaged over scales and layers."""
    num_d = len(fake_outputs)
    total = 0.0
    for fake, real in zip(fake_outputs, real_outputs):
        layers = len(fake) - 1
        for f, r in zip(fake[:-1], real[:-1]):
            total = total + l1(f, r.detach()) * (4.0 / layers) / num_d
    return total


def total_variation(img):
    """Mean absolute difference of neighbouring pixels (the smoothness term)."""
    dx = mean((img[:, :, :, 1:] - img[:, :, :, :-1]).abs())
    dy = mean((img[:, :, 1:, :] - img[:, :, :-1, :]).abs())
    return dx + dy


class VGGLoss(nn.Module):
    """pix2pixHD's perceptual loss:
    sum_i w_i * mean|f_i(x) - f_i(y)|, w = (1/32, 1/16, 1/8, 1/4, 1),
    with the target's features detached. Both images RGB in [-1, 1]."""

    LAYER_WEIGHTS = PERCEPTUAL_WEIGHTS

    def __init__(self, vgg=None, layer_weights=PERCEPTUAL_WEIGHTS):
        if vgg is None:
            vgg = load_vgg()
        self.vgg = vgg
        self.layer_weights = tuple(float(w) for w in layer_weights)
        if len(self.layer_weights) != len(self.vgg.tap_names):
            raise ValueError(f"need {len(self.vgg.tap_names)} layer weights, "
                             f"got {len(self.layer_weights)}")

    def execute(self, x, y):
        if tuple(x.shape) != tuple(y.shape):
            raise ValueError(f"VGGLoss: shapes differ, {list(x.shape)} vs {list(y.shape)}")
        with jt.no_grad():          # the target's features: no backward pass through them
            targets = self.vgg(y.detach())
        loss = 0.0
        for w, f, t in zip(self.layer_weights, self.vgg(x), targets):
            loss = loss + w * mean((f - t.detach()).abs())
        return loss
