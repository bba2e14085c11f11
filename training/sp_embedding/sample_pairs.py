"""Sketch / code pairs from a trained StyleGAN2 and face parser, for the
encoder stage's ``--dataset_mode sp_samples`` (data/sample_pairs.py).

Why: the paper's encoder recipe learns the sketch only through the image
(pixel and perceptual losses through the frozen generator), and on a CPU
budget of a few thousand steps the coarse encoder settles on the mean face
(its losses stop falling after a few hundred steps). On the generator's own
samples the code that made each image is known, so the encoders can be
taught the code itself, a direct target that needs no pass through G.

Each pair: z1, z2 ~ N(0, I) through the mapping network, truncated towards
latent_avg by ``psi``; with probability ``mix`` the rows from
``break_layer`` on take w2 (the appearance rows: what E_a learns from the
photo while the sketch fixes the first rows), else every row takes w1. The
image G(W+) (fresh noise), the parser's map of it (logits resized
bilinearly to the drawing size, so region outlines are smooth curves, not
pixel steps), and the strokes drawn from both the way the real training
sketches are drawn (``data/photo_sketch.sketch_strokes``). A sample whose
map has no face to draw is skipped and counted.
"""

import io
import os

import numpy as np

from util.fileio import atomic_write

DRAW_SIZE = 512          # photo_sketch's canonical size


def sample_codes(rng, mapping, batch, n_latent, break_layer, latent_avg, psi=1.0, mix=0.5):
    """W+ codes (batch x n_latent x D, numpy) as the module docstring says."""
    import jittor as jt
    d = latent_avg.shape[-1]
    with jt.no_grad():
        w = mapping(jt.array(rng.standard_normal((2 * batch, d)).astype(np.float32))).numpy()
    avg = latent_avg[0]
    w = avg + psi * (w - avg)
    codes = np.repeat(w[:batch, None], n_latent, axis=1)
    mixed = rng.random(batch) < mix
    codes[mixed, break_layer:] = w[batch:][mixed, None]
    return codes.astype(np.float32)


def render(generator, codes, rng):
    """Images (B x 3 x S x S in [-1, 1], numpy) of ``codes`` with fresh noise."""
    import jittor as jt

    from training.sp_embedding.base import seeded_noise
    noise = seeded_noise(generator, rng, codes.shape[0])
    with jt.no_grad():
        image, _ = generator([jt.array(codes)], input_is_latent=True, noise=noise)
    return image.numpy()


def parse_large(parser, images, size=DRAW_SIZE):
    """The parser's label maps of ``images`` (B x 3 x S x S, [-1, 1]) at
    ``size``: its logits resized bilinearly, then the most likely class."""
    import jittor as jt
    with jt.no_grad():
        logits = parser(jt.array(images))
        big = jt.nn.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)
        return big.argmax(dim=1)[0].numpy().astype(np.uint8)


def to_uint8(images):
    """B x 3 x S x S in [-1, 1] -> B x S x S x 3 uint8."""
    x = np.clip((images.transpose(0, 2, 3, 1) + 1) * 127.5 + 0.5, 0, 255)
    return x.astype(np.uint8)


def draw(photo, labels):
    """Stroke ops of a generated photo (S x S x 3 uint8) and its label map at
    DRAW_SIZE; ValueError when there is no face to draw."""
    from PIL import Image

    from data.photo_sketch import sketch_strokes
    big = np.asarray(Image.fromarray(photo).resize((DRAW_SIZE, DRAW_SIZE), Image.BICUBIC))
    ops = sketch_strokes(big, labels)
    if not ops:
        raise ValueError("no strokes drawn")
    return ops


def write_pair(path, codes, photo, ops):
    from data.photo_sketch import ops_to_arrays
    buf = io.BytesIO()
    np.savez_compressed(buf, codes=codes.astype(np.float32), photo=photo, **ops_to_arrays(ops))
    atomic_write(path, buf.getvalue())


def make_pairs(generator, parser, latent_avg, out, count, break_layer, seed=0, batch=16,
               psi=1.0, mix=0.5, start=0, progress=None):
    """Write pairs ``start..count-1`` to ``out/<n>.npz`` (batch k is seeded
    by (seed, k), so a run stopped and started again with ``start`` at a
    whole batch makes the same files). Returns (written, skipped)."""
    os.makedirs(out, exist_ok=True)
    n_latent = generator.n_latent
    written = skipped = 0
    first = start // batch
    for k in range(first, (count + batch - 1) // batch):
        rng = np.random.default_rng([seed, k])
        codes = sample_codes(rng, generator.style, batch, n_latent, break_layer, latent_avg,
                             psi, mix)
        images = render(generator, codes, rng)
        labels = parse_large(parser, images)
        photos = to_uint8(images)
        for j in range(batch):
            n = k * batch + j
            if n >= count or n < start:
                continue
            try:
                ops = draw(photos[j], labels[j])
            except ValueError:
                skipped += 1
                continue
            write_pair(os.path.join(out, f"{n}.npz"), codes[j], photos[j], ops)
            written += 1
        if progress is not None:
            progress(min(batch, count - k * batch))
    return written, skipped
