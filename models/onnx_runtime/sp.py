"""The sketch embedding on its exported networks (ONNX Runtime, no
Jittor): the pass of ``models/sp_embedding/pipeline.py`` with the three
encoders, the mapping network, the generator (its stored noise inside) and
the stroke labeller as ONNX graphs, and the composition of the W+ code
(``models/sp_embedding/psp.py``) in NumPy."""

import os

import numpy as np

from models.files import CheckpointError
from models.onnx_runtime.manifest import check_options
from models.onnx_runtime.session import ExportedModel
from models.sp_embedding import inputs
from models.sp_embedding.labelers import (PRIOR_PATH, NetworkLabeler, RegionLabeler,
                                          load_prior)
from models.sp_embedding.pipeline import SPPipeline, mix_weights

LATENT_AVG = "latent_avg.npy"
LABEL_PRIOR = "label_prior.png"


class OnnxLabeler(NetworkLabeler):
    """The stroke labeller, its UNet run by ONNX Runtime."""

    def logits(self, x):
        return self.net(sketch=x)[0]


def make_labeler(opt, model):
    """The labeller ``opt.labeler`` asks for, as ``labelers.make_labeler``
    chooses it: auto = the network when the export has one, else regions
    (the prior map exported with the model, else the project's)."""
    kind = getattr(opt, "labeler", "auto")
    if kind == "network" or (kind == "auto" and model.has("labeler")):
        if not model.has("labeler"):
            raise CheckpointError(f"--labeler network: {model.root} has no stroke labeller "
                                  f"(export a model that has one, or use --labeler regions)")
        return OnnxLabeler(model["labeler"])
    prior = model.path(LABEL_PRIOR)
    return RegionLabeler(load_prior(prior if os.path.isfile(prior) else PRIOR_PATH))


class OnnxSPEmbedding(SPPipeline):
    def __init__(self, opt):
        self.opt = opt
        self.root = None
        self.model = None
        self.labeler = None
        self.latent_avg = None

    def load_for_inference(self, opt):
        self.model = ExportedModel(opt.params, "sp_embedding", opt.gpu)
        check_options(opt.params, self.model.manifest, opt)
        self.root = opt.params
        path = self.model.path(LATENT_AVG)
        avg = np.load(path, allow_pickle=False)
        if avg.shape != (opt.n_latent, opt.style_dim):
            raise CheckpointError(f"{path}: shape {list(avg.shape)}, expected "
                                  f"{[opt.n_latent, opt.style_dim]}")
        self.latent_avg = avg.astype(np.float32)
        self.labeler = make_labeler(opt, self.model)
        return self

    def _random_w(self, z):
        """M(z) as B x n_latent x D (the same W in every row)."""
        w = self.model["mapping"](z=np.asarray(z, np.float32))
        return np.broadcast_to(w[:, None, :], (w.shape[0], self.opt.n_latent, w.shape[1]))

    def encode(self, labels, appearance=None, z=None, mix=None):
        """W+ codes (B, n_latent, D) as ``SketchEmbedding.codes`` composes
        them: repeat(M(E_c(x))) + latent_avg, the sketch rows plus E_s(x),
        the appearance rows plus E_a(y) (or M(z) alone); then style mixing."""
        m, b = self.model, self.opt.break_layer
        x = inputs.one_hot(labels, self.opt.label_nc)
        w = m["mapping"](z=m["encoder_sketch_coarse"](sketch=x))
        base = w[:, None, :] + self.latent_avg[None]
        # E_s and E_a give their own rows (older exports: all n_latent rows)
        top = base[:, :b] + m["encoder_sketch_fine"](sketch=x)[:, :b]
        if z is not None:
            bottom = self._random_w(z)[:, b:]
        else:
            e_a = m["encoder_face_fine"](photo=appearance)
            bottom = base[:, b:] + (e_a[:, b:] if e_a.shape[1] == self.opt.n_latent else e_a)
        codes = np.concatenate([top, bottom], axis=1)
        if mix is not None:
            mz, rows, alpha = mix
            if rows:
                keep = mix_weights(self.opt.n_latent, rows, alpha)
                codes = codes * keep + self._random_w(mz) * (1.0 - keep)
        return np.ascontiguousarray(codes, dtype=np.float32)

    def generate(self, codes):
        return self.model["generator"](wplus=codes)
