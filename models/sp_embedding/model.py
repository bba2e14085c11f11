"""The sketch embedding as a model: its networks and checkpoints (the
authors' model.pt or our folder). The pass around the networks is
``pipeline.py`` (NumPy, shared with the ONNX runtime) and what callers use
is ``inference.py``; this class runs the networks in Jittor."""

import os

import numpy as np

from models import graph_replay
from models.base_model import BaseModel, jt
from models.sp_embedding import checkpoint as sp_ckpt
from models.sp_embedding import inputs
from models.sp_embedding.pipeline import SPPipeline
from models.sp_embedding.psp import SketchEmbedding


class SPEmbeddingModel(BaseModel, SPPipeline):
    """The three encoders and the generator (``models/sp_embedding/psp.py``)."""

    def __init__(self, opt):
        self.opt = opt
        self.net = SketchEmbedding(opt)
        self.root = None
        self.labeler = None

    def networks(self):
        return self.net.networks()

    def network_path(self, name, root, epoch="latest"):
        return sp_ckpt.net_path(root, name, epoch)

    # ---------------------------------------------------------- files
    def load(self, root, epoch="latest", names=None):
        """An authors' model.pt (a file) or one of our folders."""
        if os.path.isfile(root):
            self.net.latent_avg, _ = sp_ckpt.load_authors_checkpoint(
                root, self.networks(), self.opt.n_latent, self.opt.style_dim)
        else:
            super().load(root, epoch, names)
            self.net.latent_avg = sp_ckpt.read_latent_avg(
                root, (self.opt.n_latent, self.opt.style_dim), epoch)
        self.net.ready(loaded=True)
        self.root = root
        graph_replay.reset(self)
        return self.eval()

    def save(self, root, epoch="latest"):
        super().save(root, epoch)
        sp_ckpt.write_latent_avg(root, self.net.latent_avg, epoch)

    def load_for_inference(self, opt):
        self.load(opt.params)
        from models.sp_embedding.labelers import make_labeler
        self.labeler = make_labeler(opt, self.root)
        return self.enable_replay()

    def enable_replay(self):
        """The weights are final: replay the encoders' and the generator's
        traced graphs from now on (``models/graph_replay.py``)."""
        graph_replay.enable(self)
        return self

    # ---------------------------------------------------------- networks
    def encode(self, labels, appearance=None, z=None, mix=None):
        """W+ codes (B, n_latent, D) numpy from label maps (B, S, S) uint8 and
        appearance arrays (B, 3, S, S) or random latents z (B, D); ``mix`` =
        (z (B, D), rows, alpha) for style mixing."""
        with jt.no_grad():
            x = jt.array(inputs.one_hot(labels, self.opt.label_nc))
            if appearance is not None:
                y = jt.array(np.asarray(appearance, np.float32))
                codes = graph_replay.run(self, "codes", lambda x, y: self.net.codes(x, y), x, y)
            else:
                z = jt.array(np.asarray(z, np.float32))
                codes = graph_replay.run(self, "codes_z", lambda x, z: self.net.codes(x, z=z), x, z)
            if mix is not None:
                codes = self.net.mix(codes, *mix)
            return codes.numpy()

    def generate(self, codes):
        """Images (B, 3, N, N), about [-1, 1], from W+ codes."""
        with jt.no_grad():
            codes = jt.array(np.asarray(codes, np.float32))
            return graph_replay.run(self, "synthesize", self.net.synthesize, codes).numpy()
