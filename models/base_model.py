"""What every model shares: loading and saving networks with strict checks."""

import numpy as np

from models.checkpoint import check_params, read_params, write_params
from util.jittor_env import get_jittor

jt = get_jittor()


def materialize(*nets):
    """Compute every parameter now. Jittor 1.3.11 miscompiles fused kernels in
    which a not-yet-executed one-element parameter (a PatchGAN's last bias, say)
    is broadcast ("op0_outputstride0 was not declared"); executed parameters
    are plain variables and never hit that path."""
    jt.sync([v for net in nets for v in net.state_dict().values()])


def network_shapes(net):
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def load_network(net, path):
    """Load ``path`` into ``net``; every parameter must be there with its
    shape (a CheckpointError names the file and the parameter otherwise)."""
    params = read_params(path)
    state = net.state_dict()
    check_params(path, params, {k: tuple(v.shape) for k, v in state.items()})
    for name, var in state.items():
        var.update(jt.array(params[name].astype(str(var.dtype), copy=False)))
    materialize(net)
    return net


def save_network(net, path):
    """Write ``net``'s parameters in Jittor's .pkl format, atomically."""
    write_params(path, {k: np.asarray(v.numpy()) for k, v in net.state_dict().items()})


def count_parameters(net):
    return int(sum(int(np.prod(v.shape)) for v in net.state_dict().values()))
