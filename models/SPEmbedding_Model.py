"""The sketch embedding as a model: networks, checkpoints (the authors'
model.pt or our folder), inputs, and conversion of sketch files to faces."""

import os

import numpy as np

from models.base_model import BaseModel, jt
from models.checkpoint import CheckpointError
from models.sp_embedding import checkpoint as sp_ckpt
from models.sp_embedding import inputs
from models.sp_embedding.psp import SketchEmbedding


def to_uint8_truncated(x):
    """The authors' image conversion: clamp((x + 1) / 2, 0, 1) * 255,
    truncated (not rounded) to uint8; NaN becomes 0."""
    x = np.nan_to_num(np.asarray(x, np.float32), nan=-1.0)
    return (np.clip((x + 1.0) / 2.0, 0.0, 1.0) * 255.0).astype(np.uint8)


def pool_to(images, size):
    """Mean-pool (B, C, N, N) images to (B, C, size, size) (N a multiple of size)."""
    n = images.shape[-1]
    if n <= size:
        return images
    f = n // size
    b, c = images.shape[:2]
    return images.reshape(b, c, size, f, size, f).mean(axis=(3, 5))


class SPEmbeddingModel(BaseModel):
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
            self.net.latent_avg, self.authors_opts = sp_ckpt.load_authors_checkpoint(
                root, self.networks(), self.opt.n_latent, self.opt.style_dim)
        else:
            super().load(root, epoch, names)
            self.net.latent_avg = sp_ckpt.read_latent_avg(
                root, (self.opt.n_latent, self.opt.style_dim), epoch)
        self.net.ready(loaded=True)
        self.root = root
        return self.eval()

    def save(self, root, epoch="latest"):
        super().save(root, epoch)
        sp_ckpt.write_latent_avg(root, self.net.latent_avg, epoch)

    def load_for_inference(self, opt):
        self.load(opt.params)
        from models.sp_embedding.labelers import make_labeler
        self.labeler = make_labeler(opt, self.root)
        return self

    # ---------------------------------------------------------- conversion
    def encode(self, labels, appearance=None, z=None, mix=None):
        """W+ codes (B, n_latent, D) numpy from label maps (B, S, S) uint8 and
        appearance arrays (B, 3, S, S) or random latents z (B, D); ``mix`` =
        (z (B, D), rows, alpha) for style mixing."""
        with jt.no_grad():
            x = jt.array(inputs.one_hot(labels, self.opt.label_nc))
            y = jt.array(np.asarray(appearance, np.float32)) if appearance is not None else None
            codes = self.net.codes(x, y, z)
            if mix is not None:
                codes = self.net.mix(codes, *mix)
            return codes.numpy()

    def synthesize(self, codes, resize=False):
        """uint8 faces (B, N, N, 3) from W+ codes (N = 256 with ``resize``)."""
        with jt.no_grad():
            img = self.net.synthesize(jt.array(np.asarray(codes, np.float32))).numpy()
        if resize:
            img = pool_to(img, 256)
        return to_uint8_truncated(img).transpose(0, 2, 3, 1)

    def convert(self, labels, appearance=None, z=None, mix=None, resize=False):
        codes = self.encode(labels, appearance, z, mix)
        return self.synthesize(codes, resize), codes

    def convert_drawing(self, gray, reference=None, seed=0):
        """One plain sketch (uint8 512 x 512, black on white) -> (face uint8
        (N, N, 3), label map (512, 512)): labelled by the model's labeller,
        with the appearance of ``reference`` (a PIL image) or, without one,
        the random appearance of ``seed``. What the drawing app calls."""
        labels512 = self.labeler(gray)
        labels = inputs.resize_labels(labels512, self.opt.encoder_size)[None]
        if reference is not None:
            look = inputs.appearance_array(reference, self.opt.encoder_size)[None]
            faces, _ = self.convert(labels, look)
        else:
            faces, _ = self.convert(labels, z=self.random_z(seed, 1))
        return faces[0], labels512

    has_appearance = True

    @property
    def size(self):
        return self.opt.output_size

    def faces(self, sketches, opt, references=None, seed=None, key=0):
        """uint8 faces (B, N, N, 3) of plain sketches (B, S, S) uint8 (labelled
        by the model's labeller at 512 first), with the appearance of reference
        photos (B, H, W, 3) uint8, else the random one of (seed or 0, key):
        the same call as DeepFaceDrawing's, for evaluation and comparisons."""
        from PIL import Image
        labels = []
        for sketch in sketches:
            gray = Image.fromarray(np.asarray(sketch, np.uint8))
            if gray.size != (512, 512):
                gray = gray.resize((512, 512), Image.BILINEAR)
            labels.append(inputs.resize_labels(self.labeler(np.asarray(gray)),
                                               self.opt.encoder_size))
        labels = np.stack(labels)
        if references is not None:
            looks = np.stack([inputs.appearance_array(Image.fromarray(r), self.opt.encoder_size)
                              for r in references])
            return self.convert(labels, looks)[0]
        z = self.random_z(0 if seed is None else seed, len(labels), key)
        return self.convert(labels, z=z)[0]

    def random_z(self, seed, batch, key=0):
        """The latent (the same for all ``batch`` rows, B x D) of the random
        appearance drawn from (seed, key): demo.py's output k of --appearance_seed
        N uses (N, k), the drawing app's 'new appearance' button the next seed."""
        z = np.random.default_rng([seed, key]).standard_normal(self.opt.style_dim)
        return np.repeat(z[None].astype(np.float32), batch, axis=0)

    def notes(self, opt):
        return []

    def check_params(self, opt):
        if not os.path.exists(opt.params):
            raise CheckpointError(f"{opt.params}: not found. {sp_ckpt.WHERE_FROM}")
