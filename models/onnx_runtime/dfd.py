"""DeepFaceDrawing on its exported networks (ONNX Runtime, no Jittor): the
pass of ``models/deepfacedrawing/pipeline.py`` with the encoders, sketch decoders, FM
decoders, generator and appearance encoder as ONNX graphs, the feature
banks read from the exported .npy files."""

import numpy as np

from models.deepfacedrawing.manifold import load_bank
from models.deepfacedrawing.pipeline import DFDPipeline, paste_feature_maps
from models.onnx_runtime.manifest import check_options
from models.onnx_runtime.session import ExportedModel
from util.arrays import photo_to_array
from util.components import PART_NAMES, pipeline_parts


class OnnxDeepFaceDrawing(DFDPipeline):
    def __init__(self, opt):
        self.opt = opt
        self.root = None
        self.model = None
        self._banks = {}
        self._init_pipeline()

    def load_for_inference(self, opt):
        """Open ``opt.params`` (an exported folder, checked) and the banks
        for ``opt.gender`` (errors early)."""
        self.model = ExportedModel(opt.params, "deepfacedrawing", opt.gpu)
        check_options(opt.params, self.model.manifest, opt)
        self.root = opt.params
        self._banks.clear()
        self._decoded.clear()
        self.check_banks(opt.gender)
        return self

    # -------------------------------------------------------------- networks
    @property
    def direct(self):
        return self.opt.pipeline == "direct"

    @property
    def has_appearance(self):
        return self.model is not None and self.model.has("appearance")

    def part_keys(self):
        return pipeline_parts(self.opt.pipeline)

    def bank(self, part, gender="all"):
        key = (part, gender)
        if key not in self._banks:
            self._banks[key] = load_bank(self.root, part, gender, self.opt.latent_dim)
        return self._banks[key]

    def encode_crops(self, part, crops):
        return self.model[f"encoder_{PART_NAMES[part]}"](sketch=crops)

    def decode_latents(self, part, latents):
        return self.model[f"decoder_{PART_NAMES[part]}"](latent=latents)

    def generate(self, latents, codes=None):
        if self.direct:
            feed = {"sketch": latents}
            batch = len(latents)
        else:
            maps = {p: self.model[f"fm_{PART_NAMES[p]}"](latent=z) for p, z in latents.items()}
            feed = {"feature_map": paste_feature_maps(maps, self.opt.image_size)}
            batch = len(next(iter(latents.values())))
        if self.opt.appearance_dim:
            feed["code"] = (np.zeros((batch, self.opt.appearance_dim), np.float32)
                            if codes is None else np.asarray(codes, np.float32))
        return self.model["generator"](**feed)

    def appearance_codes(self, photos):
        """Appearance codes (B, D) of reference photos (B, H, W, 3) uint8 at the
        model's size: the encoder's mean."""
        if not self.has_appearance:
            raise ValueError("this model has no appearance code")
        return self.model["appearance"](photo=photo_to_array(photos))
