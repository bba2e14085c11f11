"""Differentiable augmentation (Zhao et al., "Differentiable Augmentation for
Data-Efficient GAN Training", NeurIPS 2020): the same random transforms
applied to real and generated images before the discriminator, in every D
and G step, so that a discriminator trained on a few thousand photos cannot
memorise them and the generator still learns the un-augmented images
(every transform is differentiable, and none leaks: the generator never
sees an augmented target).

Policies (``--diffaug``, comma separated, applied in this order):

* ``color``: brightness + U(-0.5, 0.5); saturation: each pixel's distance
  to its channel mean x U(0, 2); contrast: the distance to the image mean
  x U(0.5, 1.5);
* ``translation``: a shift by up to 1/8 of the side in x and y, zeros
  coming in;
* ``cutout``: a square of half the side set to zero at a random place.

Images are (B, C, H, W) in [-1, 1]. The draws come from a NumPy generator
(the trainer's per-step one), so a resumed run repeats them exactly.
StyleGAN2 (``augment``) draws anew for every image batch D sees;
DeepFaceDrawing's conditional D (``augment_pair``) sees a step's real and
generated photos under the same draws, each beside its sketch.
"""

import numpy as np

POLICIES = ("color", "translation", "cutout")


def parse_policy(text):
    """'color,translation' -> ('color', 'translation'); ValueError otherwise."""
    names = tuple(p.strip() for p in str(text).split(",") if p.strip())
    for name in names:
        if name not in POLICIES:
            raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(POLICIES)}")
    return tuple(p for p in POLICIES if p in names)


def stage_policy(text):
    """``parse_policy`` for a training stage: a bad --diffaug is the stage's
    one-line error (StageError)."""
    from training.base_trainer import StageError
    try:
        return parse_policy(text)
    except ValueError as exc:
        raise StageError(f"--diffaug: {exc}") from None


def draw(policy, rng, b, h, w):
    """The random parameters of ``policy``'s transforms for a batch of ``b``
    images of ``h`` x ``w``, drawn from ``rng`` (in the order of ``augment``)."""
    p = {"policy": tuple(policy), "h": h, "w": w}
    if "color" in policy:
        p["brightness"] = rng.uniform(-0.5, 0.5, (b, 1, 1, 1)).astype(np.float32)
        p["saturation"] = rng.uniform(0.0, 2.0, (b, 1, 1, 1)).astype(np.float32)
        p["contrast"] = rng.uniform(0.5, 1.5, (b, 1, 1, 1)).astype(np.float32)
    if "translation" in policy:
        sh, sw = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
        p["shift"] = (sh, sw, rng.integers(-sh, sh + 1, b), rng.integers(-sw, sw + 1, b))
    if "cutout" in policy:
        ch, cw = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
        cy = rng.integers(0, h + (1 - ch % 2), b)
        cx = rng.integers(0, w + (1 - cw % 2), b)
        mask = np.ones((b, 1, h, w), np.float32)
        for i in range(b):
            y0, x0 = max(0, int(cy[i]) - ch // 2), max(0, int(cx[i]) - cw // 2)
            mask[i, :, y0:int(cy[i]) - ch // 2 + ch, x0:int(cx[i]) - cw // 2 + cw] = 0
        p["mask"] = mask
    return p


def color(x, p, jt):
    """The colour transforms of the draws ``p`` (unchanged without them)."""
    if "brightness" not in p:
        return x
    x = x + jt.array(p["brightness"])
    mean = x.mean(dim=1, keepdims=True)
    x = (x - mean) * jt.array(p["saturation"]) + mean
    mean = x.mean(dims=[1, 2, 3], keepdims=True)
    return (x - mean) * jt.array(p["contrast"]) + mean


def spatial(x, p, jt):
    """The translation and cutout of the draws ``p``, the same for every
    channel of ``x`` (a condition concatenated with an image stays aligned)."""
    h, w = p["h"], p["w"]
    if "shift" in p:
        sh, sw, dy, dx = p["shift"]
        padded = jt.nn.pad(x, [sw, sw, sh, sh])
        x = jt.concat([padded[i:i + 1, :, sh - int(dy[i]):sh - int(dy[i]) + h,
                              sw - int(dx[i]):sw - int(dx[i]) + w]
                       for i in range(x.shape[0])], dim=0)
    if "mask" in p:
        x = x * jt.array(p["mask"])
    return x


def augment(x, policy, rng, jt):
    """``x`` with every transform of ``policy`` applied, per sample."""
    if not policy:
        return x
    b, _, h, w = x.shape
    p = draw(policy, rng, b, h, w)
    return spatial(color(x, p, jt), p, jt)


def augment_pair(cond, images, p, jt):
    """A conditional discriminator's input, augmented by the draws ``p``:
    the colour transforms on ``images`` alone, translation and cutout on
    ``concat(cond, images)`` together (the condition stays aligned with the
    image; a real and a generated image given the same ``p`` are moved
    alike, so feature matching compares like with like)."""
    return spatial(jt.concat([cond, color(images, p, jt)], 1), p, jt)
