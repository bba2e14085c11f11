"""The contract every model class follows, and network file I/O.

A model owns named networks (``networks()`` -> {name: module}) and says
where each one lives in a checkpoint folder (``network_path(name, root,
epoch)``). Loading, saving and switching between training and inference
mode are written once, here, over those two (as CycleGAN-and-pix2pix's
``BaseModel`` does over its ``model_names``). Loading is strict: every
parameter must be there with its shape, or a CheckpointError names the file
and the parameter.
"""

import numpy as np

from models.files import check_params, read_params, write_params
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


def load_arrays(net, params):
    """Copy name -> array into ``net`` (names and shapes already checked);
    Vars that are not trained (buffers) stay untrained."""
    for name, var in net.state_dict().items():
        frozen = var.is_stop_grad()
        var.update(jt.array(params[name].astype(str(var.dtype), copy=False)))
        if frozen:
            var.stop_grad()
    materialize(net)
    return net


def load_network(net, path):
    """Load ``path`` into ``net``; every parameter must be there with its
    shape (a CheckpointError names the file and the parameter otherwise)."""
    params = read_params(path)
    check_params(path, params, network_shapes(net))
    return load_arrays(net, params)


def save_network(net, path):
    """Write ``net``'s parameters in Jittor's .pkl format, atomically."""
    write_params(path, {k: np.asarray(v.numpy()) for k, v in net.state_dict().items()})


def count_parameters(net):
    return int(sum(int(np.prod(v.shape)) for v in net.state_dict().values()))


class BaseModel:
    """Subclasses build their networks in ``__init__`` and implement
    ``networks()`` and ``network_path()``; ``load``, ``save``, ``eval`` and
    ``train`` then work for them. ``training_only`` names networks that
    ``load`` skips unless asked (a discriminator)."""

    training_only = ()

    def networks(self):
        """{name: module} of every network this model holds."""
        raise NotImplementedError

    def network_path(self, name, root, epoch="latest"):
        """The file of network ``name`` in checkpoint folder ``root``."""
        raise NotImplementedError

    def load(self, root, epoch="latest", names=None):
        """Load the networks ``names`` (default: all but ``training_only``)."""
        for name, net in self.networks().items():
            wanted = name not in self.training_only if names is None else name in names
            if wanted:
                load_network(net, self.network_path(name, root, epoch))
        return self

    def save(self, root, epoch="latest"):
        for name, net in self.networks().items():
            save_network(net, self.network_path(name, root, epoch))

    def eval(self):
        for net in self.networks().values():
            net.eval()
        return self

    def train(self):
        for net in self.networks().values():
            net.train()
        return self

    def count_parameters(self):
        return sum(count_parameters(n) for n in self.networks().values())
