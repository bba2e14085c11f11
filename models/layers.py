"""Layers shared by every method's networks: BatchNorm and InstanceNorm
with a two-pass variance (Jittor's own compute E[x^2]-E[x]^2, which loses
precision when the mean is large against the spread), and ``make_norm``.
On the CPU the statistics, normalisation and affine map are one kernel
(``models.fused_norm``); the graph formula below is the same arithmetic."""

from util.jittor_env import get_jittor

jt = get_jittor()
from jittor import nn  # noqa: E402  (Jittor must be configured first)

from models import fused_norm  # noqa: E402

NORMS = ("batch", "instance", "none")


# ---------------------------------------------------------------- norms
class BatchNorm2d(nn.Module):
    """BatchNorm with parameter names ``weight``, ``bias``, ``running_mean``,
    ``running_var`` (Jittor's), a two-pass variance, and one extra mode:

    ``sample_stats=True`` normalises every sample with its own per-channel
    statistics, even in eval mode. That is what the authors' release does to
    its FM decoders at inference (they are never switched to eval, and a
    batch holds one sketch), so the official preset turns it on there.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.sample_stats = False
        self.weight = jt.ones(num_features)
        self.bias = jt.zeros(num_features)
        self.running_mean = jt.zeros(num_features).stop_grad()
        self.running_var = jt.ones(num_features).stop_grad()

    def execute(self, x):
        if (self.sample_stats or self.is_training()) and fused_norm.usable(x):
            y, mean, var = fused_norm.normalize(
                x, self.weight, self.bias, "instance" if self.sample_stats else "batch", self.eps)
            if not self.sample_stats:
                m = self.momentum
                self.running_mean.update(self.running_mean * (1 - m) + mean * m)
                self.running_var.update(self.running_var * (1 - m) + var * m)
            return y
        if self.sample_stats:
            mean = x.mean(dims=(2, 3), keepdims=True)
            var = ((x - mean) ** 2).mean(dims=(2, 3), keepdims=True)
        elif self.is_training():
            mean = x.mean(dims=(0, 2, 3), keepdims=True)
            var = ((x - mean) ** 2).mean(dims=(0, 2, 3), keepdims=True)
            m = self.momentum
            self.running_mean.update(self.running_mean * (1 - m) + mean.reshape(-1).detach() * m)
            self.running_var.update(self.running_var * (1 - m) + var.reshape(-1).detach() * m)
        else:
            mean = self.running_mean.reshape(1, -1, 1, 1)
            var = self.running_var.reshape(1, -1, 1, 1)
        scale = self.weight.reshape(1, -1, 1, 1) / jt.sqrt(var + self.eps)
        return (x - mean) * scale + self.bias.reshape(1, -1, 1, 1)


class InstanceNorm2d(nn.Module):
    """Instance norm (two-pass variance); affine like Jittor's default."""

    def __init__(self, num_features, eps=1e-5, affine=True):
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = jt.ones(num_features)
            self.bias = jt.zeros(num_features)

    def execute(self, x):
        if fused_norm.usable(x):
            c = x.shape[1]
            weight, bias = (self.weight, self.bias) if self.affine else \
                (jt.ones(c).stop_grad(), jt.zeros(c).stop_grad())
            return fused_norm.normalize(x, weight, bias, "instance", self.eps)[0]
        mean = x.mean(dims=(2, 3), keepdims=True)
        var = ((x - mean) ** 2).mean(dims=(2, 3), keepdims=True)
        y = (x - mean) / jt.sqrt(var + self.eps)
        if self.affine:
            y = y * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)
        return y


class ModulatedInstanceNorm(nn.Module):
    """Affine instance norm whose scale and shift are moved by a code (an
    appearance code, AdaIN-style): IN(x) * (1 + gamma(code)) + beta(code),
    gamma and beta from one linear layer initialised to zero (so a zero
    code is plain instance norm at the start). The code is set on the layer
    (``code``, B x D) by the network that owns it before each forward."""

    def __init__(self, num_features, code_dim):
        self.norm = InstanceNorm2d(num_features)
        self.style = nn.Linear(code_dim, 2 * num_features)
        self.style.weight.update(jt.zeros(self.style.weight.shape))
        self.style.bias.update(jt.zeros(self.style.bias.shape))
        self.code = None
        self.channels = num_features

    def execute(self, x):
        y = self.norm(x)
        if self.code is None:
            return y
        gb = self.style(self.code)
        gamma = gb[:, :self.channels].reshape(-1, self.channels, 1, 1)
        beta = gb[:, self.channels:].reshape(-1, self.channels, 1, 1)
        return y * (1.0 + gamma) + beta


def make_norm(kind, channels, momentum=0.1):
    """A norm layer by name ('batch', 'instance', 'none'), or made by
    ``kind(channels)`` when ``kind`` is a callable."""
    if callable(kind):
        return kind(channels)
    if kind == "batch":
        return BatchNorm2d(channels, momentum=momentum)
    if kind == "instance":
        return InstanceNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose one of {', '.join(NORMS)}")
