"""Reference photos the drawing app keeps: each decoded once, as the input
of every method that takes an appearance (the methods' ``photo_input``),
with a thumbnail, its notes and what a method computed from it (its
appearance code), in a cache bounded in count and bytes (least recently
used go first). A photo's token is a hash of its file's bytes."""

import collections
import hashlib
import threading

import numpy as np
from PIL import Image

REFERENCES_KEPT = 32           # reference photos kept (least recently used go first)...
REFERENCE_CACHE_BYTES = 64 << 20   # ...and the bytes they may take together
THUMB_SIZE = 96                # the thumbnail of a reference photo, pixels a side


def kept_bytes(x):
    if isinstance(x, np.ndarray):
        return x.nbytes
    if isinstance(x, Image.Image):
        return x.size[0] * x.size[1] * len(x.getbands())
    return len(x)


class Reference:
    """A kept reference photo: its token (a hash of the file), the input of
    each method that takes an appearance, a thumbnail (PNG), notes, and
    ``codes``, what a method computed from it (DeepFaceDrawing's
    appearance code, a few floats: the ``memo`` of ``Appearance``)."""

    def __init__(self, token, inputs, thumbnail, notes):
        self.token, self.inputs, self.thumbnail, self.notes = token, inputs, thumbnail, notes
        self.codes = {}
        self.nbytes = kept_bytes(thumbnail) + sum(kept_bytes(x) for x in inputs.values())


def reference_token(data):
    return hashlib.sha256(data).hexdigest()[:32]


class ReferenceCache:
    """The last ``kept`` reference photos, at most ``budget`` bytes together
    (least recently used go first; one photo is always kept)."""

    def __init__(self, kept=REFERENCES_KEPT, budget=REFERENCE_CACHE_BYTES):
        self.kept, self.budget = kept, budget
        self.nbytes = 0
        self._items = collections.OrderedDict()
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._items)

    def get(self, token):
        with self._lock:
            ref = self._items.get(token)
            if ref is not None:
                self._items.move_to_end(token)
            return ref

    def put(self, ref):
        with self._lock:
            old = self._items.pop(ref.token, None)
            if old is not None:
                self.nbytes -= old.nbytes
            self._items[ref.token] = ref
            self.nbytes += ref.nbytes
            while len(self._items) > self.kept or (self.nbytes > self.budget
                                                   and len(self._items) > 1):
                _, gone = self._items.popitem(last=False)
                self.nbytes -= gone.nbytes
