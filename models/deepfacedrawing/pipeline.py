"""DeepFaceDrawing's pass around its networks, in NumPy (no Jittor): the
same for the Jittor model (``model.py``) and the ONNX runtime
(``models/onnx_runtime/dfd.py``), which differ only in how a network runs;
what callers use is ``inference.py``.

    sketch -> crops -> encoders -> manifold projection -> FM decoders ->
    feature map (pasted) -> generator -> uint8 photo

A subclass holds ``opt`` and ``root`` and supplies the network calls:

* ``part_keys()``: the parts with an encoder (none for the direct pipeline);
* ``direct``: the generator takes the sketch itself (pix2pixHD baseline);
* ``bank(part, gender)``: the part's ``LatentBank``;
* ``encode_crops(part, crops)``: crops (B, 1, S, S) in [-1, 1] -> latents;
* ``decode_latents(part, latents)``: latents -> sketch crops (shadows);
* ``generate(latents, codes)``: {part: latents} (or, direct, the sketches
  (B, 1, H, W) in [-1, 1]) and appearance codes or None -> images
  (B, 3, H, W) in [-1, 1];
* ``appearance_codes(photos)`` and ``has_appearance``.
"""

from collections import OrderedDict

import numpy as np

from models.deepfacedrawing.manifold import project, shadow_weights
from util.arrays import crop_part, random_look, sketch_to_array, to_uint8
from util.components import PARTS, PASTE_ORDER, nose_paste_rows, scaled_boxes

DECODED_ROWS = 256         # decoded bank rows kept per part and gender (shadows)
SHADOW_WHITE_POINT = 0.8   # shadow greys lighter than this (0 black .. 1 white) show as white


def feather_mask(size, ramp=0.25):
    """A (size, size) mask: 1 in the middle, fading smoothly to 0 at the
    edges over ``ramp`` of the side (for seamless shadow pasting)."""
    u = (np.arange(size) + 0.5) / size
    edge = np.clip(np.minimum(u, 1.0 - u) / ramp, 0.0, 1.0)
    edge = 0.5 - 0.5 * np.cos(np.pi * edge)          # smooth step
    return np.outer(edge, edge).astype(np.float32)


def paste_rows(part, image_size):
    """Rows of ``part``'s FM map pasted onto the face map (the nose's top rows)."""
    return nose_paste_rows(image_size) if part == "nose" else scaled_boxes(image_size)[part][2]


def paste_feature_maps(maps, image_size):
    """{part: FM map (B, C, S, S)} -> the face map (B, C, H, W): the
    remainder's map, then mouth, nose (top rows), eye1, eye2 pasted over it
    (later pastes win), as ``CombineModel.feature_map`` composes it."""
    face = np.array(maps[""], dtype=np.float32, copy=True)
    boxes = scaled_boxes(image_size)
    for part in PASTE_ORDER:
        if part not in maps:
            continue
        x, y, s = boxes[part]
        rows = paste_rows(part, image_size)
        face[:, :, y:y + rows, x:x + s] = maps[part][:, :, :rows, :]
    return face


class DFDPipeline:
    opt = None
    root = None
    direct = False
    has_appearance = False

    def _init_pipeline(self):
        self.boxes = scaled_boxes(self.opt.image_size)
        self._decoded = {}     # (part, gender) -> OrderedDict {bank row: its decoded crop}

    # -------------------------------------------------------------- supplied
    def part_keys(self):
        raise NotImplementedError

    def bank(self, part, gender="all"):
        raise NotImplementedError

    def encode_crops(self, part, crops):
        raise NotImplementedError

    def decode_latents(self, part, latents):
        raise NotImplementedError

    def generate(self, latents, codes=None):
        raise NotImplementedError

    def appearance_codes(self, photos):
        raise NotImplementedError

    # -------------------------------------------------------------- banks
    @property
    def size(self):
        return self.opt.image_size

    def k_max(self, gender="all"):
        """The largest K every part's bank allows (None: no banks, direct pipeline)."""
        sizes = [len(self.bank(p, gender)) for p in self.part_keys()]
        return min(sizes) if sizes else None

    def notes(self, opt):
        """One-line notes about how ``opt`` will be applied (K above the banks)."""
        k_max = self.k_max(opt.gender)
        if k_max is not None and opt.k > k_max:
            return [f"--k {opt.k} is more than the feature banks hold ({k_max} sketches): "
                    f"using K={k_max}"]
        return []

    def check_banks(self, gender):
        """Load (and cache) the banks for ``gender`` now, so errors come early."""
        for p in self.part_keys():
            self.bank(p, gender)

    # -------------------------------------------------------------- pass
    def encode(self, sketches):
        """uint8 (B, H, W) sketches -> {part: latents (B, D)}."""
        x = sketch_to_array(sketches)
        whole = self.opt.pipeline == "whole_face"
        return {p: self.encode_crops(p, crop_part(x, p, self.opt.image_size, whole))
                for p in self.part_keys()}

    def project(self, latents, k, refine, gender="all"):
        """Manifold projection of every part's latents.

        ``refine`` is {part: t}. Returns ({part: blended latents},
        {part: (neighbour indices, weights)})."""
        out, found = {}, {}
        for p, z in latents.items():
            bank = self.bank(p, gender)
            kk = min(int(k), len(bank))
            out[p], idx, w = project(z, bank, kk, refine[p])
            found[p] = (idx, w)
        return out, found

    def synthesize(self, latents, codes=None):
        """{part: latents} -> uint8 photos (B, H, W, 3); ``codes`` the
        appearance codes (B, appearance_dim) of a model that has them."""
        return to_uint8(self.generate(latents, codes)).transpose(0, 2, 3, 1)

    def random_codes(self, seed, key, batch):
        """A random appearance (the prior N(0, I)) of draw (seed, key), the
        same for every sketch of the batch."""
        return random_look(seed, key, self.opt.appearance_dim, batch)

    def decoded_neighbours(self, part, idx, gender="all"):
        """The sketch decoder's crops (B*K, 1, S, S) of ``part``'s bank rows
        ``idx`` (B, K). Decoded crops are kept per bank row (the last
        DECODED_ROWS of each part and gender): while a drawing changes a
        little, most of a part's K neighbours stay, and only the rows new
        to the cache are decoded (the decoder treats each row on its own, so
        a crop is the same, up to float rounding, whatever rows it was
        decoded with)."""
        cache = self._decoded.setdefault((part, gender), OrderedDict())
        rows = [int(r) for r in np.asarray(idx).reshape(-1)]
        new = [r for r in dict.fromkeys(rows) if r not in cache]
        if new:
            decoded = self.decode_latents(part, self.bank(part, gender).latents[new])
            cache.update(zip(new, np.asarray(decoded)))
        for r in rows:
            cache.move_to_end(r)
        while len(cache) > max(DECODED_ROWS, len(rows)):
            cache.popitem(last=False)
        return np.stack([cache[r] for r in rows])

    def shadows(self, found, gender="all"):
        """Shadow images (B, H, W) uint8: each part's neighbours decoded and
        blended (weights capped at 0.5, negatives dropped), laid over the
        remainder's shadow through feathered masks (darken: strokes of both
        show, white covers nothing)."""
        if not found:                      # direct pipeline: no components, no shadow
            return None
        n = self.opt.image_size
        batch = len(next(iter(found.values()))[0])
        canvas = np.ones((batch, n, n), np.float32)
        for p in ("",) + PASTE_ORDER:
            if p not in found:
                continue
            idx, w = found[p]
            decoded = self.decoded_neighbours(p, idx, gender)           # (B*K, 1, S, S)
            s = decoded.shape[-1]
            decoded = decoded.reshape(batch, -1, s, s)
            blend = np.einsum("bk,bkhw->bhw", shadow_weights(w), decoded).astype(np.float32)
            x, y, _ = self.boxes[p]
            if p == "":
                canvas = blend
            else:
                # darken through a feathered mask: white never covers strokes,
                # so the remainder's blank boxes leave no seams
                m = feather_mask(s)
                region = canvas[:, y:y + s, x:x + s]
                canvas[:, y:y + s, x:x + s] = np.minimum(region, m * blend + (1 - m))
        # levels: the light haze of averaged decodes (and the remainder's
        # blank boxes against it) turns white; strokes keep their darkness
        level = np.minimum(1.0, (canvas + 1.0) / (2.0 * SHADOW_WHITE_POINT))
        return to_uint8(level * 2.0 - 1.0)

    def convert(self, sketches, k=None, refine=None, gender="all", shadow=False, codes=None):
        """uint8 sketches (B, H, W) at the model's size -> dict with
        ``images`` (B, H, W, 3) uint8 and ``shadows`` (B, H, W) uint8 or None.
        ``codes``: appearance codes (B, D) for a model with an appearance code."""
        k = self.opt.k if k is None else k
        refine = refine if refine is not None else {p: 1.0 for p in PARTS}
        if self.direct:
            img = self.generate(sketch_to_array(sketches), codes)
            return {"images": to_uint8(img).transpose(0, 2, 3, 1),
                    "shadows": None, "neighbours": {}}
        latents = self.encode(sketches)
        blended, found = self.project(latents, k, refine, gender)
        result = {"images": self.synthesize(blended, codes), "shadows": None,
                  "neighbours": found}
        if shadow:
            result["shadows"] = self.shadows(found, gender)
        return result
