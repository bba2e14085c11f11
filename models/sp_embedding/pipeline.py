"""The sketch embedding's pass around its networks, in NumPy (no Jittor):
the same for the Jittor model (``model.py``) and the ONNX runtime
(``models/onnx_runtime/sp.py``), which differ only in how the networks run;
what callers use is ``inference.py``.

    label map -> one-hot -> W+ code (encoders, mapping, latent_avg) ->
    generator -> truncating uint8 (-> 256 px when asked)

A subclass holds ``opt`` and ``labeler`` and supplies ``encode(labels,
appearance, z, mix)`` (W+ codes, numpy) and ``generate(codes)`` (images
(B, 3, N, N) about [-1, 1]).
"""

import numpy as np

from util.arrays import random_look


def to_uint8_truncated(x):
    """The authors' image conversion: clamp((x + 1) / 2, 0, 1) * 255,
    truncated (not rounded) to uint8; NaN becomes 0."""
    x = np.nan_to_num(np.asarray(x, np.float32), nan=-1.0)
    return (np.clip((x + 1.0) / 2.0, 0.0, 1.0) * 255.0).astype(np.uint8)


def pool_to(images, size):
    """Mean-pool (B, C, N, N) images to (B, C, size, size) (N a multiple of size)."""
    n = images.shape[-1]
    if n <= size:
        return images
    f = n // size
    b, c = images.shape[:2]
    return images.reshape(b, c, size, f, size, f).mean(axis=(3, 5))


def mix_weights(n_latent, rows, alpha=None):
    """The share (1, n_latent, 1) of its own code each W+ row keeps in style
    mixing: 0 on ``rows`` (replaced by the random W), 1 - alpha with a
    blending weight ``alpha``, 1 elsewhere."""
    keep = np.ones((1, n_latent, 1), np.float32)
    keep[0, list(rows)] = 0.0 if alpha is None else 1.0 - float(alpha)
    return keep


class SPPipeline:
    opt = None
    labeler = None
    has_appearance = True

    def encode(self, labels, appearance=None, z=None, mix=None):
        raise NotImplementedError

    def generate(self, codes):
        raise NotImplementedError

    @property
    def size(self):
        return self.opt.output_size

    def synthesize(self, codes, resize=False):
        """uint8 faces (B, N, N, 3) from W+ codes (N = 256 with ``resize``)."""
        img = self.generate(np.asarray(codes, np.float32))
        if resize:
            img = pool_to(img, 256)
        return to_uint8_truncated(img).transpose(0, 2, 3, 1)

    def convert(self, labels, appearance=None, z=None, mix=None, resize=False):
        codes = self.encode(labels, appearance, z, mix)
        return self.synthesize(codes, resize), codes

    def random_z(self, seed, batch, key=0):
        """The latent (the same for all ``batch`` rows, B x D) of the random
        appearance drawn from (seed, key): demo.py's output k of --appearance_seed
        N uses (N, k), the drawing app's 'new appearance' button the next seed."""
        return random_look(seed, key, self.opt.style_dim, batch)

    def notes(self, opt):
        return []
