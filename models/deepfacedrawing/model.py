"""DeepFaceDrawing's whole model in Jittor: sketch -> component latents ->
manifold projection -> FM feature map -> photo (and, on request, shadow
images). The pass itself is ``pipeline.py`` (NumPy, shared with the ONNX
runtime) and what callers use is ``inference.py``; this class loads and
runs the networks."""

import numpy as np

from models import graph_replay
from models.base_model import BaseModel, jt
from models.deepfacedrawing.autoencoder import AEModel
from models.deepfacedrawing.combine import CombineModel
from models.deepfacedrawing.pipeline import DFDPipeline
from util.components import PART_NAMES, pipeline_parts


class DeepFaceDrawingModel(BaseModel, DFDPipeline):
    """Five AEModels and a CombineModel, loaded from one checkpoint folder
    (one AEModel for the whole-face ablation, none for the direct one)."""

    def __init__(self, opt):
        self.opt = opt
        self.parts = {p: AEModel(opt, p) for p in pipeline_parts(opt.pipeline)}
        self.combine = CombineModel(opt)
        self.root = None
        self._init_pipeline()
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
        for model in (self, *self.parts.values()):
            graph_replay.reset(model)
        self.eval()
        self.root = root
        self._decoded.clear()
        return self

    def load_for_inference(self, opt):
        """Load ``opt.params`` and the banks for ``opt.gender`` (errors early)."""
        self.load(opt.params)
        self.check_banks(opt.gender)
        return self.enable_replay()

    def enable_replay(self):
        """The weights are final: replay the encoders' and the generator's
        traced graphs from now on (``models/graph_replay.py``)."""
        for model in (self, *self.parts.values()):
            graph_replay.enable(model)
        return self

    # -------------------------------------------------------------- networks
    @property
    def direct(self):
        return self.combine.direct

    def part_keys(self):
        return tuple(self.parts)

    def bank(self, part, gender="all"):
        return self.parts[part].bank(self.root, gender)

    def encode_crops(self, part, crops):
        return self.parts[part].encode(crops)

    def decode_latents(self, part, latents):
        return self.parts[part].decode(latents)

    def generate(self, latents, codes=None):
        parts = None if self.direct else tuple(latents)
        inputs = [jt.array(latents)] if self.direct else [jt.array(latents[p]) for p in parts]
        if codes is not None:
            inputs.append(jt.array(np.asarray(codes, np.float32)))

        def forward(*xs):
            code = xs[-1] if codes is not None else None
            return self.combine.generate(xs[0] if self.direct else dict(zip(parts, xs)), code)
        with jt.no_grad():
            key = ("generate", parts, codes is not None)
            return graph_replay.run(self, key, forward, *inputs).numpy()

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
