"""Training losses: LSGAN, GAN feature matching, total variation, L1."""

from util.jittor_env import get_jittor

jt = get_jittor()


def l1(a, b):
    return (a - b).abs().mean()


def mse(a, b):
    return ((a - b) ** 2).mean()


def lsgan(outputs, target_real):
    """LSGAN over every scale's last output: mean (D(x) - 1)^2 or D(x)^2."""
    target = 1.0 if target_real else 0.0
    return sum(((scale[-1] - target) ** 2).mean() for scale in outputs) / len(outputs)


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
    dx = (img[:, :, :, 1:] - img[:, :, :, :-1]).abs().mean()
    dy = (img[:, :, 1:, :] - img[:, :, :-1, :]).abs().mean()
    return dx + dy
