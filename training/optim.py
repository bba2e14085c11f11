"""Adam with an exportable state, and pix2pixHD's learning-rate schedule.

Our own few lines rather than Jittor's optimiser: its state can be saved and
restored exactly (resumed runs reproduce uninterrupted ones), epsilon follows
PyTorch's convention, and under MPI gradients are averaged across processes.
"""

import numpy as np

from util.jittor_env import get_jittor

jt = get_jittor()


def trainable(params):
    return [p for p in params if not p.is_stop_grad()]


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
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            if jt.in_mpi:
                g = g.mpi_all_reduce("mean")
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
