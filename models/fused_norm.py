"""BatchNorm's and instance norm's statistics, normalisation and affine map
in one CPU kernel, and their gradient in one more.

Jittor builds the two-pass formula of ``models.layers`` from about ten
graph operations (two means, a square, a square root, broadcasts; their
backward about fifteen more), each a pass over the map of its own on one
core, each built op by op in Python. At the small networks' sizes that was
the largest kernel share of a DeepFaceDrawing training step after the
convolutions (``scripts/profile_pass.py --what train_ae``: 18 % in
reductions). Here the forward is one kernel per layer: per group (a
channel over the batch, or a sample's channel) the mean, then the variance
around it (both accumulated in double precision, as two passes), then
``y = (x - mean) * weight / sqrt(var + eps) + bias``, the groups spread over
the OpenMP threads; the backward is one kernel for dx, dweight and dbias.

``usable(x)`` says when it applies: float32 on the CPU. On CUDA, and with
``DFD_FUSED_NORM=0`` (to compare), the layers keep the graph formula.
"""

import os

from util.jittor_env import get_jittor

jt = get_jittor()

STATS = ("batch", "instance")     # a channel over the batch; a sample's channel

_FORWARD = r"""
    const int N = in0_shape0, C = in0_shape1;
    const size_t HW = (size_t)in0_shape2 * in0_shape3;
    const float eps = data["eps"];
    const int per_sample = data["per_sample"];
    const int G = per_sample ? N * C : C;          // statistics groups
    const int R = per_sample ? 1 : N;              // planes per group
    const double count = (double)R * HW;
    #pragma omp parallel for schedule(static)
    for (int g = 0; g < G; g++) {
        const int c = per_sample ? g % C : g;
        double sum = 0;
        for (int r = 0; r < R; r++) {
            const float* s = in0_p + ((size_t)(per_sample ? g : r * C + c)) * HW;
            for (size_t j = 0; j < HW; j++) sum += s[j];
        }
        const double mean = sum / count;
        double sq = 0;
        for (int r = 0; r < R; r++) {
            const float* s = in0_p + ((size_t)(per_sample ? g : r * C + c)) * HW;
            for (size_t j = 0; j < HW; j++) { const double d = s[j] - mean; sq += d * d; }
        }
        const float m = (float)mean, v = (float)(sq / count);
        out1_p[g] = m;
        out2_p[g] = v;
        const float scale = in1_p[c] / std::sqrt(v + eps), shift = in2_p[c];
        for (int r = 0; r < R; r++) {
            const size_t at = ((size_t)(per_sample ? g : r * C + c)) * HW;
            const float* s = in0_p + at;
            float* d = out0_p + at;
            for (size_t j = 0; j < HW; j++) d[j] = (s[j] - m) * scale + shift;
        }
    }
"""

# in0 x, in1 weight, in2 mean, in3 var, in4 dy -> out0 dx, out1 dweight, out2 dbias
_BACKWARD = r"""
    const int N = in0_shape0, C = in0_shape1;
    const size_t HW = (size_t)in0_shape2 * in0_shape3;
    const float eps = data["eps"];
    const int per_sample = data["per_sample"];
    const int R = per_sample ? 1 : N;              // planes per statistics group
    const int S = per_sample ? N : 1;              // groups per channel
    const double count = (double)R * HW;
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double dweight = 0, dbias = 0;
        for (int k = 0; k < S; k++) {
            const int g = per_sample ? k * C + c : c;
            const float m = in2_p[g];
            const float rstd = 1.f / std::sqrt(in3_p[g] + eps);
            double sum_dy = 0, sum_dy_xhat = 0;
            for (int r = 0; r < R; r++) {
                const size_t at = ((size_t)(per_sample ? g : r * C + c)) * HW;
                const float* x = in0_p + at;
                const float* dy = in4_p + at;
                for (size_t j = 0; j < HW; j++) {
                    sum_dy += dy[j];
                    sum_dy_xhat += (double)dy[j] * ((x[j] - m) * rstd);
                }
            }
            dweight += sum_dy_xhat;
            dbias += sum_dy;
            const float a = (float)(sum_dy / count), b = (float)(sum_dy_xhat / count);
            const float k2 = in1_p[c] * rstd;
            for (int r = 0; r < R; r++) {
                const size_t at = ((size_t)(per_sample ? g : r * C + c)) * HW;
                const float* x = in0_p + at;
                const float* dy = in4_p + at;
                float* dx = out0_p + at;
                for (size_t j = 0; j < HW; j++)
                    dx[j] = k2 * (dy[j] - a - (x[j] - m) * rstd * b);
            }
        }
        out1_p[c] = (float)dweight;
        out2_p[c] = (float)dbias;
    }
"""


def usable(x):
    """True when the fused kernels take ``x``: float32 on the CPU, 4-D."""
    return (not jt.flags.use_cuda and os.environ.get("DFD_FUSED_NORM", "1") != "0"
            and x.dtype == "float32" and x.ndim == 4)


def _data(stats, eps):
    if stats not in STATS:
        raise ValueError(f"unknown statistics {stats!r}; choose one of {', '.join(STATS)}")
    return {"eps": float(eps), "per_sample": int(stats == "instance")}


def _forward(x, weight, bias, stats, eps):
    n, c = x.shape[:2]
    groups = (n * c,) if stats == "instance" else (c,)
    return jt.code([x.shape, groups, groups], ["float32"] * 3, [x, weight, bias],
                   cpu_src=_FORWARD, data=_data(stats, eps))


class _Norm(jt.Function):
    """The normalisation with its gradient (x, weight, bias)."""

    def __init__(self, stats, eps):
        self.stats, self.eps = stats, eps

    def execute(self, x, weight, bias):
        y, mean, var = _forward(x, weight, bias, self.stats, self.eps)
        self.stat_vars = (mean.stop_grad(), var.stop_grad())
        self.saved = (x, weight) + self.stat_vars
        return y

    def grad(self, dy):
        x, weight, mean, var = self.saved     # kept: a second jt.grad through the same
                                              # forward (DFD's D step, after G's) needs them
        if dy is None:
            return None, None, None
        c = x.shape[1]
        return tuple(jt.code([x.shape, (c,), (c,)], ["float32"] * 3,
                             [x, weight, mean, var, dy.float32()], cpu_src=_BACKWARD,
                             data=_data(self.stats, self.eps)))


def normalize(x, weight, bias, stats, eps=1e-5):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` with the statistics
    of ``stats`` ('batch': each channel over the batch; 'instance': each
    sample's channel), two-pass variance. ``weight``, ``bias``: (C,).
    Returns (y, mean, var); mean and var per group ((C,) or (N*C,)),
    without gradient (for the running averages)."""
    if jt.flags.no_grad or not any(v.requires_grad for v in (x, weight, bias)):
        y, mean, var = _forward(x, weight, bias, stats, eps)
        return y, mean.stop_grad(), var.stop_grad()
    fn = _Norm(stats, eps)
    y = fn(x, weight, bias)
    return (y,) + fn.stat_vars
