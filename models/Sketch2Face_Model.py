"""The whole inference pass: sketch -> component latents -> manifold
projection -> FM feature map -> photo (and, on request, shadow images)."""

import numpy as np

from models.AE_Model import AEModel
from models.base_model import BaseModel, jt
from models.Combine_Model import CombineModel
from models.manifold import project, shadow_weights
from util.arrays import sketch_to_array, to_uint8
from util.components import PART_NAMES, PARTS, PASTE_ORDER, pipeline_parts, scaled_boxes


SHADOW_WHITE_POINT = 0.8   # shadow greys lighter than this (0 black .. 1 white) show as white


def feather_mask(size, ramp=0.25):
    """A (size, size) mask: 1 in the middle, fading smoothly to 0 at the
    edges over ``ramp`` of the side (for seamless shadow pasting)."""
    u = (np.arange(size) + 0.5) / size
    edge = np.clip(np.minimum(u, 1.0 - u) / ramp, 0.0, 1.0)
    edge = 0.5 - 0.5 * np.cos(np.pi * edge)          # smooth step
    return np.outer(edge, edge).astype(np.float32)


class Sketch2FaceModel(BaseModel):
    """Five AEModels and a CombineModel, loaded from one checkpoint folder
    (one AEModel for the whole-face ablation, none for the direct one)."""

    def __init__(self, opt):
        self.opt = opt
        self.parts = {p: AEModel(opt, p) for p in pipeline_parts(opt.pipeline)}
        self.combine = CombineModel(opt)
        self.boxes = scaled_boxes(opt.image_size)
        self.root = None
        self._decoded = {}     # (part, gender) -> (neighbour indices, their decodes)
        self._owner = {}       # network name -> (member model, its name for it)
        for p, ae in self.parts.items():
            for name in ae.networks():
                self._owner[f"{name}_{PART_NAMES[p]}"] = (ae, name)
        for name in self.combine.networks():
            self._owner[name] = (self.combine, name)

    def networks(self):
        return {name: model.networks()[own] for name, (model, own) in self._owner.items()}

    def network_path(self, name, root, epoch="latest"):
        model, own = self._owner[name]
        return model.network_path(own, root, epoch)

    def eval(self):
        for model in list(self.parts.values()) + [self.combine]:
            model.eval()
        return self

    def train(self):
        for model in list(self.parts.values()) + [self.combine]:
            model.train()
        return self

    def load(self, root, epoch="latest", names=None):
        super().load(root, epoch, names)
        self.eval()
        self.root = root
        self._decoded.clear()
        return self

    def load_for_inference(self, opt):
        """Load ``opt.params`` and the banks for ``opt.gender`` (errors early)."""
        self.load(opt.params)
        self.check_banks(opt.gender)
        return self

    def k_max(self, gender="all"):
        """The largest K every part's bank allows (None: no banks, direct pipeline)."""
        sizes = [len(ae.bank(self.root, gender)) for ae in self.parts.values()]
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
        for ae in self.parts.values():
            ae.bank(self.root, gender)

    # -------------------------------------------------------------- pass
    def encode(self, sketches):
        """uint8 (B, H, W) sketches -> {part: latents (B, D)}."""
        x = sketch_to_array(sketches)
        return {p: ae.encode(ae.crop(x)) for p, ae in self.parts.items()}

    def project(self, latents, k, refine, gender="all"):
        """Manifold projection of every part's latents.

        ``refine`` is {part: t}. Returns ({part: blended latents},
        {part: (neighbour indices, weights)})."""
        out, found = {}, {}
        for p, z in latents.items():
            bank = self.parts[p].bank(self.root, gender)
            kk = min(int(k), len(bank))
            out[p], idx, w = project(z, bank, kk, refine[p])
            found[p] = (idx, w)
        return out, found

    def synthesize(self, latents, codes=None):
        """{part: latents} -> uint8 photos (B, H, W, 3); ``codes`` the
        appearance codes (B, appearance_dim) of a model that has them."""
        code = jt.array(np.asarray(codes, np.float32)) if codes is not None else None
        with jt.no_grad():
            img = self.combine.generate({p: jt.array(z) for p, z in latents.items()},
                                        code).numpy()
        return to_uint8(img).transpose(0, 2, 3, 1)

    # -------------------------------------------------------------- appearance
    def appearance_codes(self, photos):
        """Appearance codes (B, D) of reference photos (B, H, W, 3) uint8 at the
        model's size: the encoder's mean."""
        from util.arrays import photo_to_array
        if self.combine.netA is None:
            raise ValueError("this model has no appearance code")
        with jt.no_grad():
            mu, _ = self.combine.netA(jt.array(photo_to_array(photos)))
            return mu.numpy()

    @property
    def has_appearance(self):
        return self.combine.netA is not None

    @property
    def size(self):
        return self.opt.image_size

    def faces(self, sketches, opt, references=None, seed=None, key=0):
        """uint8 faces (B, S, S, 3) of sketches (B, S, S) at the model's size,
        with the inference options of ``opt``: the appearance of reference
        photos (B, S, S, 3), or the random one of (seed, key), or the mean one
        (what evaluation and comparisons call, for either method)."""
        codes = None
        if self.combine.netA is not None:
            if references is not None:
                codes = self.appearance_codes(references)
            elif seed is not None:
                codes = self.random_codes(seed, key, len(sketches))
        return self.convert(sketches, opt.k, opt.refine_by_part, opt.gender,
                            codes=codes)["images"]

    def random_codes(self, seed, key, batch):
        """A random appearance (the prior N(0, I)) of draw (seed, key), the
        same for every sketch of the batch."""
        z = np.random.default_rng([seed, key]).standard_normal(self.opt.appearance_dim)
        return np.repeat(z[None].astype(np.float32), batch, axis=0)

    def decoded_neighbours(self, part, idx, gender="all"):
        """The sketch decoder's crops (B*K, 1, S, S) of ``part``'s bank rows
        ``idx`` (B, K). The last decodes per part and gender are kept: while
        a drawing changes a little, most parts keep their K neighbours, and
        the same rows decoded in the same batch give the same crops."""
        hit = self._decoded.get((part, gender))
        if hit is not None and np.array_equal(hit[0], idx):
            return hit[1]
        ae = self.parts[part]
        decoded = ae.decode(ae.bank(self.root, gender).latents[idx.reshape(-1)])
        self._decoded[(part, gender)] = (np.array(idx, copy=True), decoded)
        return decoded

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
        if self.combine.direct:
            code = jt.array(np.asarray(codes, np.float32)) if codes is not None else None
            with jt.no_grad():
                img = self.combine.generate(jt.array(sketch_to_array(sketches)), code).numpy()
            return {"images": to_uint8(img).transpose(0, 2, 3, 1),
                    "shadows": None, "neighbours": {}}
        latents = self.encode(sketches)
        blended, found = self.project(latents, k, refine, gender)
        result = {"images": self.synthesize(blended, codes), "shadows": None,
                  "neighbours": found}
        if shadow:
            result["shadows"] = self.shadows(found, gender)
        return result
