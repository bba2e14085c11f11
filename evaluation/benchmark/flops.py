"""FLOPs counted analytically over a Jittor module tree: 2 x multiply-adds
of every Conv2d, ConvTranspose and Linear layer (norms, activations,
padding and additions are not counted). Nothing is computed, so the
official networks can be counted without running (or even materialising)
them.

Layers are counted by *counters*, ``counter(net, shape) -> (flops, output
shape)``, registered by class path with ``@counts("module:Class")``; the
classes are imported on the first count, so importing this module starts
no Jittor. A module without a counter is a container whose children run in
order, or an elementwise leaf (no parameter of two dimensions or more);
anything else is an error, never a silent zero.

To add a network family: register counters for its layers that are not
plain containers (those whose ``execute`` reshapes, branches or modulates),
then write a function like ``model_flops`` that builds its networks through
their factories and sums ``count_flops`` per row of the tables.
"""

import importlib
import math

from util.components import PARTS

# The figures of the official networks, batch 1 (issue 6).
REFERENCE_GFLOP = {"encoders": 23.0, "fm": 163.0, "G": 376.0}

_COUNTERS = {}      # "module:Class" -> counter
_RESOLVED = {}      # class -> counter, filled on the first count


def counts(*class_paths):
    """Register the decorated counter for the classes ``"module:Class"``."""
    def register(counter):
        for path in class_paths:
            _COUNTERS[path] = counter
        _RESOLVED.clear()
        return counter
    return register


def _counter_for(net):
    if not _RESOLVED:
        from util.jittor_env import get_jittor
        get_jittor()                         # Jittor configured before any import of it
        for path, counter in _COUNTERS.items():
            module, _, name = path.partition(":")
            _RESOLVED[getattr(importlib.import_module(module), name)] = counter
    for cls in type(net).__mro__:
        if cls in _RESOLVED:
            return _RESOLVED[cls]
    return None


def count_flops(net, shape):
    """FLOPs of one forward pass of ``net`` on an input of ``shape``.
    Returns ``(flops, output shape)``."""
    shape = tuple(int(s) for s in shape)
    counter = _counter_for(net)
    if counter is not None:
        return counter(net, shape)
    return _count_container(net, shape)


def _count_container(net, shape):
    from jittor import nn
    children = list(net) if isinstance(net, (nn.Sequential, nn.ModuleList)) else net.children()
    if children:                      # a container: its children run in order
        total = 0
        for child in children:
            f, shape = count_flops(child, shape)
            total += f
        return total, shape
    heavy = [k for k, v in net.state_dict().items() if len(v.shape) >= 2]
    if heavy:
        raise ValueError(f"count_flops does not know {type(net).__name__} (parameters {heavy})")
    return 0, shape                   # norms, activations, identity: elementwise


# ---------------------------------------------------------------- Jittor layers
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _check_channels(net, c, what):
    if c != net.in_channels:
        raise ValueError(f"{what} expects {net.in_channels} channels, gets {c}")


@counts("jittor.nn:Conv")
def _conv(net, shape):
    b, c, h, w = shape
    (kh, kw), (sh, sw) = _pair(net.kernel_size), _pair(net.stride)
    (ph, pw), (dh, dw) = _pair(net.padding), _pair(net.dilation)
    _check_channels(net, c, "Conv2d")
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    macs = b * net.out_channels * ho * wo * (c // net.groups) * kh * kw
    return 2 * macs, (b, net.out_channels, ho, wo)


@counts("jittor.nn:ConvTranspose")
def _conv_transpose(net, shape):
    b, c, h, w = shape
    (kh, kw), (sh, sw) = _pair(net.kernel_size), _pair(net.stride)
    (ph, pw), (dh, dw) = _pair(net.padding), _pair(net.dilation)
    oph, opw = _pair(net.output_padding)
    _check_channels(net, c, "ConvTranspose")
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    wo = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    macs = b * h * w * c * (net.out_channels // net.groups) * kh * kw
    return 2 * macs, (b, net.out_channels, ho, wo)


@counts("jittor.nn:Linear")
def _linear(net, shape):
    b, feats = shape[0], math.prod(shape[1:])
    if feats != net.in_features:
        raise ValueError(f"Linear expects {net.in_features} features, gets {feats}")
    return 2 * b * net.in_features * net.out_features, (b, net.out_features)


@counts("jittor.nn:ReflectionPad2d")
def _reflection_pad(net, shape):
    b, c, h, w = shape
    return 0, (b, c, h + net.pt + net.pb, w + net.pl + net.pr)


@counts("jittor.nn:AvgPool2d", "jittor.nn:Pool")
def _pool(net, shape):
    pool = getattr(net, "layer", net)          # AvgPool2d wraps a Pool
    b, c, h, w = shape
    k, s, p = _pair(pool.kernel_size), _pair(pool.stride), _pair(pool.padding)
    rnd = math.ceil if pool.ceil_mode else math.floor
    return 0, (b, c, rnd((h + 2 * p[0] - k[0]) / s[0]) + 1, rnd((w + 2 * p[1] - k[1]) / s[1]) + 1)


# ---------------------------------------------------------------- DeepFaceDrawing
@counts("models.deepfacedrawing.networks:ResnetBlock")
def _resnet_block(net, shape):
    flops, out = count_flops(net.conv_block, shape)
    if out != shape:
        raise ValueError(f"ResnetBlock changes the shape {shape} -> {out}")
    return flops, shape


@counts("models.deepfacedrawing.networks:ComponentEncoder")
def _component_encoder(net, shape):
    f1, h = count_flops(net.conv, shape)
    f2, out = count_flops(net.fc_mu, (h[0], math.prod(h[1:])))
    return f1 + f2, out


@counts("models.deepfacedrawing.networks:LatentDecoder")
def _latent_decoder(net, shape):
    f1, _ = count_flops(net.fc, shape)
    f2, out = count_flops(net.conv, (shape[0], net.top, net.grid, net.grid))
    return f1 + f2, out


@counts("models.deepfacedrawing.networks:NLayerDiscriminator")
def _nlayer_discriminator(net, shape):
    return count_flops(net.stages, shape)


@counts("models.deepfacedrawing.networks:MultiscaleDiscriminator")
def _multiscale_discriminator(net, shape):
    total, outs, x = 0, [], shape
    for i, d in enumerate(net.nets):
        if i:
            _, x = count_flops(net.down, x)
        f, out = count_flops(d, x)
        total += f
        outs.append(out)
    return total, outs


def part_flops(define, opt, batch, input_shape):
    """FLOPs of ``define(opt, part)`` summed over the five parts, each on
    ``(batch, *input_shape(crop size))``."""
    from models.deepfacedrawing.networks import crop_size
    return sum(count_flops(define(opt, p), (batch,) + input_shape(crop_size(opt, p)))[0]
               for p in PARTS)


def model_flops(opt, batch=1, k=None):
    """FLOPs of the networks of one configuration for ``batch`` sketches:
    {'encoders', 'fm', 'G', 'sketch_decoders', 'networks', 'pass', 'shadows',
    'pass_shadow'}. Builds the networks lazily (their weights are never
    computed)."""
    from models.deepfacedrawing.networks import (define_encoder, define_fm, define_G,
                                                 define_sketch_decoder)
    n = opt.image_size
    out = {"encoders": part_flops(define_encoder, opt, batch, lambda s: (1, s, s)),
           "fm": part_flops(define_fm, opt, batch, lambda s: (opt.latent_dim,)),
           "sketch_decoders": part_flops(define_sketch_decoder, opt, batch,
                                         lambda s: (opt.latent_dim,)),
           "G": count_flops(define_G(opt), (batch, opt.fm_nc, n, n))[0]}
    out["networks"] = out["encoders"] + out["fm"] + out["G"]
    out["pass"] = out["networks"]             # projection: B x bank x D, negligible
    out["pass_rebuilt"] = out["pass"]
    k = opt.k if k is None else k
    out["shadows"] = out["sketch_decoders"] * k    # K neighbours decoded per part
    out["pass_shadow"] = out["pass"] + out["shadows"]
    return out


def training_flops(opt, batch=1):
    """Forward FLOPs of the combine stage's networks (FM + G + D on three
    inputs + VGG on the two images); a training step costs about 3x that."""
    from models.deepfacedrawing.networks import define_D
    base = model_flops(opt, batch, k=0)
    n = opt.image_size
    return {"fm": base["fm"], "G": base["G"],
            "D": count_flops(define_D(opt), (batch, 1 + 3, n, n))[0]}
