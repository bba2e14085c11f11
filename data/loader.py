"""Deterministic batches with augmentation.

The order of epoch e is a permutation seeded by (seed, e) (with sample
weights, ``balance_weights``: as many draws with replacement, seeded the
same way) and the
augmentation of sample i in epoch e by (seed, e, i), so a resumed run sees
exactly the batches an uninterrupted one would. Under MPI each process takes
every world-th sample of the same order.

Semantic samples (``Sample.semantic``, ``Sample.parsing``) come in the batch
as ``semantic`` and ``parsing`` (None when the dataset has none), shifted
with the sketch and the photo (by the same fraction of their side when their
sizes differ) and, when flipped, with their left / right classes swapped
(the mirror image of a left eye is a right eye). Samples with known
generator codes (``Sample.codes``, data/sample_pairs.py) give ``codes``.
"""

import numpy as np

# Left / right class pairs swapped by a horizontal flip.
EDGE_MIRROR_PAIRS = ((1, 2), (4, 5), (11, 12))          # eyes, brows, ears (22-class edges)
PARSING_MIRROR_PAIRS = ((4, 5), (6, 7), (8, 9))         # l/r eye, brow, ear (CelebAMask-HQ)


def mirror_table(pairs):
    lut = np.arange(256, dtype=np.uint8)
    for a, b in pairs:
        lut[a], lut[b] = b, a
    return lut


EDGE_MIRROR = mirror_table(EDGE_MIRROR_PAIRS)
PARSING_MIRROR = mirror_table(PARSING_MIRROR_PAIRS)


def shift_image(img, dx, dy, fill):
    """Translate by whole pixels; uncovered pixels get ``fill`` (or the edge)."""
    if dx == 0 and dy == 0:
        return img
    h, w = img.shape[:2]
    out = np.empty_like(img)
    if fill == "edge":
        ys = np.clip(np.arange(h) - dy, 0, h - 1)
        xs = np.clip(np.arange(w) - dx, 0, w - 1)
        return img[ys][:, xs]
    out[...] = fill
    src = img[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def augment(sketch, photo, rng, jitter=0, flip=False, clean=None, semantic=None, parsing=None):
    """Small random translation (the same for sketch, photo and clean
    sketch) and optional horizontal flip. A flip mirrors the face, so the
    left eye's strokes move to the right eye's box: only use it when that
    is what you want. Returns (sketch, photo, clean), or with ``semantic``
    or ``parsing`` given (sketch, photo, clean, semantic, parsing): label
    maps shift with 0 / the edge filling, and swap left and right classes
    when flipped."""
    labelled = semantic is not None or parsing is not None
    if jitter:
        dx, dy = (int(v) for v in rng.integers(-jitter, jitter + 1, size=2))
        ref = sketch.shape[0]

        def move(a, fill):
            if a is None:
                return None
            f = a.shape[0] / ref
            return shift_image(a, int(round(dx * f)), int(round(dy * f)), fill)
        sketch = shift_image(sketch, dx, dy, 255)
        clean = move(clean, 255)
        photo = move(photo, "edge")
        semantic = move(semantic, 0)
        parsing = move(parsing, "edge")
    if flip and rng.random() < 0.5:
        sketch = sketch[:, ::-1]
        clean = clean[:, ::-1] if clean is not None else None
        photo = photo[:, ::-1] if photo is not None else None
        semantic = EDGE_MIRROR[semantic[:, ::-1]] if semantic is not None else None
        parsing = PARSING_MIRROR[parsing[:, ::-1]] if parsing is not None else None

    def c(a):
        return np.ascontiguousarray(a) if a is not None else None
    if labelled:
        return c(sketch), c(photo), c(clean), c(semantic), c(parsing)
    return c(sketch), c(photo), c(clean)


def balance_weights(labels, power=0.5):
    """Sampling weights (N,) summing to 1 that even out how often each
    value of each attribute is seen. ``labels`` has a tuple of attribute
    values per sample (``dataset.attributes``); sample i gets the product,
    over the attributes, of its value's share ``** -power`` (0: as the data
    comes; 1: with one attribute, every value equally often; 0.5, the
    square root, in between). Attributes are weighted each on its own, so
    a rare combination is not blown up beyond its parts."""
    if not 0 <= power <= 1:
        raise ValueError(f"the balancing power must be in [0, 1], got {power}")
    w = np.ones(len(labels), np.float64)
    for column in range(len(labels[0])):
        shares = label_shares(labels, column=column)
        w *= np.array([shares[l[column]] ** -power for l in labels])
    return w / w.sum()


def label_shares(labels, weights=None, column=0):
    """{value of attribute ``column``: share of the samples drawn} with
    ``weights`` (None: uniform)."""
    w = np.full(len(labels), 1.0 / len(labels)) if weights is None else np.asarray(weights)
    out = {}
    for l, v in zip(labels, w):
        out[l[column]] = out.get(l[column], 0.0) + float(v)
    return out


class BatchLoader:
    def __init__(self, dataset, batch_size, seed=0, shuffle=True, jitter=0, flip=False,
                 rank=0, world_size=1, weights=None):
        if len(dataset) < batch_size * world_size:
            raise ValueError(f"the dataset has {len(dataset)} samples, fewer than one batch "
                             f"({batch_size} x {world_size} processes)")
        self.ds, self.batch_size, self.seed = dataset, batch_size, seed
        self.shuffle, self.jitter, self.flip = shuffle, jitter, flip
        self.rank, self.world = rank, world_size
        self.weights = None if weights is None else np.asarray(weights, np.float64)
        if self.weights is not None and self.weights.shape != (len(dataset),):
            raise ValueError(f"{len(self.weights)} sample weights for {len(dataset)} samples")

    def __len__(self):
        """Batches per epoch (incomplete last batches are dropped)."""
        return len(self.ds) // (self.batch_size * self.world)

    def order(self, epoch):
        n = len(self.ds)
        if not self.shuffle:
            return np.arange(n)
        rng = np.random.default_rng([self.seed, epoch])
        if self.weights is not None:
            return rng.choice(n, size=n, replace=True, p=self.weights)
        return rng.permutation(n)

    def epoch(self, epoch, start=0):
        """Yield batches ``start..len-1`` of ``epoch`` as dicts of arrays."""
        order = self.order(epoch)
        per_step = self.batch_size * self.world
        for it in range(start, len(self)):
            chunk = order[it * per_step:(it + 1) * per_step][self.rank::self.world]
            sketches, photos, genders, cleans, semantics, parsings = [], [], [], [], [], []
            codes = []
            for i in chunk:
                sample = self.ds.get(int(i))
                rng = np.random.default_rng([self.seed, epoch, int(i)])
                semantic = getattr(sample, "semantic", None)
                parsing = getattr(sample, "parsing", None)
                out = augment(sample.sketch, sample.photo, rng, self.jitter, self.flip,
                              sample.clean, semantic, parsing)
                sketch, photo, clean = out[:3]
                semantic, parsing = out[3:] if len(out) == 5 else (None, None)
                sketches.append(sketch)
                photos.append(photo)
                genders.append(sample.gender)
                cleans.append(clean if clean is not None else sketch)
                semantics.append(semantic)
                parsings.append(parsing)
                codes.append(getattr(sample, "codes", None))

            def stack(arrays):
                return np.stack(arrays) if arrays[0] is not None else None
            yield {"sketch": np.stack(sketches), "photo": stack(photos),
                   "clean": np.stack(cleans), "gender": genders, "index": chunk,
                   "semantic": stack(semantics), "parsing": stack(parsings),
                   "codes": stack(codes)}
