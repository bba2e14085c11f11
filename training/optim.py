"""Adam with an exportable state, and pix2pixHD's learning-rate schedule.

Our own few lines rather than Jittor's optimiser: its state can be saved and
restored exactly (resumed runs reproduce uninterrupted ones), epsilon follows
PyTorch's convention, and under MPI gradients are averaged across processes.

On the CPU each float32 parameter is updated by one fused kernel
(``FUSED_ADAM``: parameter, both moments in one pass; a tensor of 64 Ki
values or more over the OpenMP threads) instead of the dozen
element-wise operations the formula takes; Jittor builds its graph op by op
in Python, so at the small networks' sizes the update cost more than its
arithmetic: 120 ms against 21 ms a step for the 430 tensors of the tiny
component autoencoders (scripts/benchmark.py's training rows time it with
the rest of the step). The result is the same formula, equal to float
rounding (7e-9 after one step). With CUDA the element-wise form runs.
"""

import numpy as np

from util.jittor_env import get_jittor

jt = get_jittor()


def trainable(params):
    return [p for p in params if not p.is_stop_grad()]


# in0 parameter, in1 gradient, in2 first moment, in3 second moment,
# in4 = (beta1, beta2, lr / (1 - beta1^t), 1 / (1 - beta2^t), eps)
FUSED_ADAM = """
    const float* k = in4_p;
    const float b1 = k[0], b2 = k[1], step = k[2], rc2 = k[3], eps = k[4];
    const int n = in0->num;
    #pragma omp parallel for schedule(static) if (n >= 65536)
    for (int i = 0; i < n; i++) {
        const float g = in1_p[i];
        const float m = b1 * in2_p[i] + (1 - b1) * g;
        const float v = b2 * in3_p[i] + (1 - b2) * g * g;
        out1_p[i] = m;
        out2_p[i] = v;
        out0_p[i] = in0_p[i] - step * m / (std::sqrt(v * rc2) + eps);
    }
"""


def fused_update(p, g, m, v, constants):
    """One Adam update of ``p`` and its moments in one CPU kernel."""
    new = jt.code([p.shape] * 3, [p.dtype] * 3, [p, g, m, v, constants], cpu_src=FUSED_ADAM)
    for var, value in zip((p, m, v), new):
        var.update(value)


class Adam:
    def __init__(self, params, lr=2e-4, betas=(0.5, 0.999), eps=1e-8):
        self.params = trainable(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.t = 0
        self.m = [jt.zeros(p.shape, p.dtype).stop_grad() for p in self.params]
        self.v = [jt.zeros(p.shape, p.dtype).stop_grad() for p in self.params]
        jt.sync(self.m + self.v)      # see models.base_model.materialize

    def step(self, loss):
        grads = jt.grad(loss, self.params)
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        fused = not jt.flags.use_cuda
        if fused:
            constants = jt.array(np.array([b1, b2, self.lr / c1, 1 / c2, self.eps], np.float32))
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            if jt.in_mpi:
                g = g.mpi_all_reduce("mean")
            if fused and p.dtype == "float32" and g.dtype == "float32":
                fused_update(p, g, m, v, constants)
                continue
            m.update(b1 * m + (1 - b1) * g)
            v.update(b2 * v + (1 - b2) * g * g)
            p.update(p - self.lr * (m / c1) / (jt.sqrt(v / c2) + self.eps))
        jt.sync(self.params + self.m + self.v)

    def state_dict(self):
        return {"t": self.t, "lr": self.lr,
                "m": [x.numpy() for x in self.m], "v": [x.numpy() for x in self.v]}

    def load_state_dict(self, state):
        if len(state["m"]) != len(self.params):
            raise ValueError(f"optimizer state holds {len(state['m'])} tensors, "
                             f"the model has {len(self.params)}")
        if len(state["v"]) != len(self.params):
            raise ValueError(f"optimizer state holds {len(state['v'])} second moments, "
                             f"the model has {len(self.params)} tensors")
        self.t, self.lr = int(state["t"]), float(state["lr"])
        if self.t < 0:
            raise ValueError(f"optimizer step count {self.t}")
        moments = [np.asarray(src) for src in list(state["m"]) + list(state["v"])]
        for k, (dst, src) in enumerate(zip(self.m + self.v, moments)):
            if tuple(src.shape) != tuple(dst.shape):
                raise ValueError(f"optimizer moment {k % len(self.params)} has shape "
                                 f"{list(src.shape)}, its parameter {list(dst.shape)}")
        for dst, src in zip(self.m + self.v, moments):
            dst.update(jt.array(src))
        jt.sync(self.m + self.v)


def lr_at(epoch, opt):
    """Constant for ``niter`` epochs, then linear decay to zero over
    ``niter_decay`` (epochs counted from 1)."""
    if epoch <= opt.niter:
        return opt.lr
    return opt.lr * max(0.0, 1.0 - (epoch - opt.niter) / float(opt.niter_decay + 1))
