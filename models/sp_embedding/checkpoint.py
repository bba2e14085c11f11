"""Checkpoint files of the sketch embedding, three kinds, all read strictly
(every tensor name and shape checked, a missing or extra tensor is an error
naming it) and without running code from the file:

* the authors' ``model.pt`` (``torch.save`` of a dict: ``state_dict`` with
  the groups ``encoder_sketch_coarse.``, ``encoder_sketch_fine.``,
  ``encoder_face_fine.``, ``decoder.``; ``latent_avg`` (n_latent x D);
  ``opts``, a plain dict of the training options), read through
  ``models.torch_file`` tensor by tensor, so it never sits in memory twice;
* a rosinality StyleGAN2 file (``g_ema``: the generator's state dict;
  ``latent_avg`` of shape D; optionally ``g``, ``d``);
* our own folder (``config.json`` naming the method and its options, and
  ``SPEmbedding/{epoch}_net_{name}.pkl`` per network plus
  ``SPEmbedding/{epoch}_latent_avg.pkl``, Jittor's format).

PyTorch's BatchNorm ``num_batches_tracked`` counters have no Jittor
counterpart: they are skipped on load and written as int64 zeros.
"""

import os

import numpy as np

from models.files import CheckpointError, check_names_and_shapes, read_params, write_params
from models.torch_file import TorchArchive, is_tensor, write_torch_file

FOLDER = "SPEmbedding"
GROUPS = ("encoder_sketch_coarse", "encoder_sketch_fine", "encoder_face_fine", "decoder")
TORCH_ONLY = "num_batches_tracked"
WHERE_FROM = ("The sketch embedding's checkpoints: the authors' model.pt, a folder written "
              "by `python train.py --method sp_embedding ...`, or the bundled "
              "params/sp_embedding.")


# ---------------------------------------------------------------- our folder
def net_path(root, name, epoch="latest"):
    return os.path.join(root, FOLDER, f"{epoch}_net_{name}.pkl")


def latent_avg_path(root, epoch="latest"):
    return os.path.join(root, FOLDER, f"{epoch}_latent_avg.pkl")


def write_latent_avg(root, latent_avg, epoch="latest"):
    write_params(latent_avg_path(root, epoch), {"latent_avg": np.asarray(latent_avg, np.float32)})


def read_latent_avg(root, shape, epoch="latest"):
    path = latent_avg_path(root, epoch)
    params = read_params(path)
    arr = params.get("latent_avg")
    if arr is None or tuple(arr.shape) != tuple(shape):
        got = "nothing" if arr is None else f"shape {list(arr.shape)}"
        raise CheckpointError(f"{path}: holds {got} for latent_avg, the model expects "
                              f"{list(shape)}")
    return arr.astype(np.float32)


# ---------------------------------------------------------------- expected tensors
def torch_names(net):
    """name -> shape of ``net`` as a PyTorch state dict has it: Jittor's
    tensors plus a ``num_batches_tracked`` beside every BatchNorm."""
    out = {}
    for name, var in net.state_dict().items():
        out[name] = tuple(var.shape)
        if name.endswith(".running_var"):
            out[name[:-len("running_var")] + TORCH_ONLY] = ()
    return out


def _check_group(path, group, found, expected):
    """Every expected tensor present with its shape, nothing else."""
    odd = [k for k, v in found.items() if not is_tensor(v)]
    if odd:
        raise CheckpointError(f"{path}: {group}{odd[0]!r} is a {type(found[odd[0]]).__name__}, "
                              f"not a tensor")
    check_names_and_shapes(path, found, expected, "tensor", group,
                           "is this checkpoint of another configuration?")


def read_budget(nets, extra=0):
    """Bytes a reader may unpack and copy out of a file holding ``nets``
    (float32): their weights, read and copied, twice over (a storage may be
    shared with tensors not read), plus ``extra`` and 64 MB."""
    weights = sum(4 * int(np.prod(shape, dtype=np.int64))
                  for net in nets for shape in torch_names(net).values())
    return 4 * weights + extra + 64 * 2 ** 20


def _load_group(archive, prefix, found, net):
    """Copy the tensors of one group into ``net`` one at a time."""
    from models.base_model import jt, materialize
    state = net.state_dict()
    for name, var in state.items():
        arr = archive.read(found[name], f"{prefix}{name}")
        if not np.all(np.isfinite(arr)):
            raise CheckpointError(f"{archive.path}: tensor {prefix}{name!r} holds NaN or "
                                  f"infinite values")
        frozen = var.is_stop_grad()
        var.update(jt.array(arr.astype(np.float32, copy=False)))
        if frozen:
            var.stop_grad()
    materialize(net)


def _entries(archive, obj, key, what):
    """``obj[key]``, a dict of named tensors (a state dict)."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        raise CheckpointError(f"{archive.path}: no '{key}' entry; not {what}")
    if not isinstance(value, dict):
        raise CheckpointError(f"{archive.path}: '{key}' is a {type(value).__name__}, not a "
                              f"state dict; not {what}")
    odd = [k for k in value if not isinstance(k, str)]
    if odd:
        raise CheckpointError(f"{archive.path}: '{key}' has a key {odd[0]!r:.40} that is not "
                              f"a tensor name")
    return value


# ---------------------------------------------------------------- the authors' model.pt
ENCODER_DEPTHS = {8: 18, 24: 50, 49: 100, 50: 152}      # body units -> IR-SE depth
# options not visible in the tensors: taken from the file's opts when there,
# else the authors' values
HIDDEN_OPTIONS = {"break_layer": 8, "w_scale": 60.0, "wplus_scale": 6.0}


def _generator_channels(shapes):
    """{resolution: channels} of a rosinality generator's state dict."""
    out = {4: shapes["decoder.conv1.conv.weight"][1]}
    k = 0
    while f"decoder.convs.{2 * k}.conv.weight" in shapes:
        out[2 ** (k + 3)] = shapes[f"decoder.convs.{2 * k}.conv.weight"][1]
        k += 1
    return out


def _channel_options(path, channels):
    """(channel_multiplier, channel_max) that give ``channels``."""
    from models.sp_embedding.stylegan2 import channel_table
    for cm in (2, 1, 4, 0.5, 0.25, 8):
        for cmax in sorted({c for c in channels.values()} | {512}):
            table = channel_table(cm, cmax)
            if all(table[r] == c for r, c in channels.items()):
                return cm, cmax
    raise CheckpointError(f"{path}: its generator's channels {channels} fit no StyleGAN2 "
                          f"configuration")


def read_authors_opts(path):
    """The architecture of an authors'-format model.pt, read from its tensor
    shapes (and, for what shapes do not show, its saved options), without
    reading any weights: a preset dict for the option classes."""
    with TorchArchive(path) as archive:
        root = archive.root
        state = _entries(archive, root, "state_dict", "an authors' model.pt")
        opts = root.get("opts") if isinstance(root.get("opts"), dict) else {}
        shapes = {k: tuple(v.shape) for k, v in state.items() if is_tensor(v)}
    enc = "encoder_sketch_coarse."
    try:
        first = shapes[enc + "input_layer.0.weight"]
        style = shapes["decoder.style.1.weight"]
        channels = _generator_channels(shapes)
        label_nc, style_dim = int(first[1]), int(style[0])
    except KeyError as exc:
        raise CheckpointError(f"{path}: not a sketch-embedding checkpoint (no tensor "
                              f"{exc.args[0]!r})") from None
    except IndexError:
        raise CheckpointError(f"{path}: not a sketch-embedding checkpoint (a tensor of the "
                              f"first layers has too few dimensions)") from None
    units = len({k.split(".")[2] for k in shapes if k.startswith(enc + "body.")})
    n_styles = sum(1 for k in shapes if k.startswith(enc + "styles.") and k.endswith("linear.weight"))
    head_convs = sum(1 for k in shapes if k.startswith(enc + "styles.0.convs.")
                     and k.endswith(".weight"))
    if units not in ENCODER_DEPTHS:
        raise CheckpointError(f"{path}: its encoders have {units} IR-SE units, not an IR-SE "
                              f"depth this code builds ({', '.join(map(str, ENCODER_DEPTHS))})")
    cm, cmax = _channel_options(path, channels)
    out = {"label_nc": label_nc, "style_dim": style_dim,
           "n_mlp": sum(1 for k in shapes if k.startswith("decoder.style.") and k.endswith(".weight")),
           "output_size": max(channels), "channel_multiplier": cm, "channel_max": cmax,
           "encoder_layers": ENCODER_DEPTHS[units], "encoder_width": first[0] / 64.0,
           "encoder_size": 16 * 2 ** head_convs}
    n_latent = 2 * (out["output_size"].bit_length() - 1) - 2
    if n_styles != n_latent:
        raise CheckpointError(f"{path}: its encoders give {n_styles} W+ rows, its "
                              f"{out['output_size']} generator takes {n_latent}")
    for key, default in HIDDEN_OPTIONS.items():
        value = opts.get(key, default)
        out[key] = value if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else default
    if out["break_layer"] >= n_latent:
        out["break_layer"] = max(1, n_latent // 2)
    return out


def load_authors_checkpoint(path, nets, n_latent, style_dim):
    """Load an authors' model.pt into ``nets`` ({group: module} of the four
    GROUPS); returns (latent_avg (n_latent, D) float32, opts dict)."""
    with TorchArchive(path, read_budget(nets.values(), 4 * n_latent * style_dim)) as archive:
        root = archive.root
        state = _entries(archive, root, "state_dict", "an authors' model.pt")
        ungrouped = [k for k in state if not any(k.startswith(g + ".") for g in GROUPS)]
        if ungrouped:
            raise CheckpointError(f"{path}: unexpected tensor {ungrouped[0]!r} (not in "
                                  f"{', '.join(GROUPS)})")
        by_group = {}
        for group in GROUPS:
            prefix = group + "."
            found = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            _check_group(path, prefix, found, torch_names(nets[group]))
            by_group[group] = found
        avg = root.get("latent_avg")
        if avg is None or not is_tensor(avg):
            raise CheckpointError(f"{path}: no latent_avg tensor (the model adds it to every "
                                  f"code; the authors' files have one)")
        if tuple(avg.shape) != (n_latent, style_dim):
            raise CheckpointError(f"{path}: latent_avg has shape {list(avg.shape)}, expected "
                                  f"{[n_latent, style_dim]}")
        for group in GROUPS:
            _load_group(archive, group + ".", by_group[group], nets[group])
        latent_avg = archive.read(avg, "latent_avg").astype(np.float32)
        opts = root.get("opts") if isinstance(root.get("opts"), dict) else {}
    return latent_avg, opts


def _torch_state(net, prefix=""):
    """A PyTorch-style state dict of ``net`` (with num_batches_tracked)."""
    out = {}
    for name, var in net.state_dict().items():
        out[prefix + name] = np.asarray(var.numpy(), np.float32)
        if name.endswith(".running_var"):
            out[prefix + name[:-len("running_var")] + TORCH_ONLY] = np.array(0, np.int64)
    return out


def authors_state(nets):
    """The ``state_dict`` of an authors' file for {group: module}, in their order."""
    state = {}
    for group in GROUPS:
        state.update(_torch_state(nets[group], group + "."))
    return state


def write_authors_checkpoint(path, nets, latent_avg, opts):
    """Write ``nets`` in the authors' model.pt format (loadable by their code
    and by ``torch.load(weights_only=True)``)."""
    write_torch_file(path, {"state_dict": authors_state(nets),
                            "latent_avg": np.asarray(latent_avg, np.float32),
                            "opts": dict(opts)})


# ---------------------------------------------------------------- rosinality StyleGAN2
def load_stylegan2(path, generator, discriminator=None):
    """Load a rosinality StyleGAN2 file's ``g_ema`` into ``generator`` (and
    ``d`` into ``discriminator`` when given); returns its latent_avg (D,)
    or None when the file has none."""
    nets = [generator] + ([discriminator] if discriminator is not None else [])
    with TorchArchive(path, read_budget(nets, 4 * generator.style_dim)) as archive:
        root = archive.root
        g = _entries(archive, root, "g_ema", "a StyleGAN2 checkpoint")
        pairs = [("g_ema.", g, generator)]
        if discriminator is not None:
            pairs.append(("d.", _entries(archive, root, "d", "a StyleGAN2 file with its "
                                                            "discriminator"), discriminator))
        for prefix, found, net in pairs:
            _check_group(path, prefix, found, torch_names(net))
        for prefix, found, net in pairs:
            _load_group(archive, prefix, found, net)
        avg = root.get("latent_avg")
        if avg is None:
            return None
        if not is_tensor(avg) or tuple(avg.shape) != (generator.style_dim,):
            raise CheckpointError(f"{path}: latent_avg has shape "
                                  f"{list(getattr(avg, 'shape', ()))}, expected "
                                  f"[{generator.style_dim}]")
        return archive.read(avg, "latent_avg").astype(np.float32)


def write_stylegan2(path, generator, latent_avg, discriminator=None):
    obj = {"g_ema": _torch_state(generator), "latent_avg": np.asarray(latent_avg, np.float32)}
    if discriminator is not None:
        obj["d"] = _torch_state(discriminator)
    write_torch_file(path, obj)

