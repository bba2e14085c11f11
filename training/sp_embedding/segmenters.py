"""The sketch embedding's training stages (``train.py --method sp_embedding
--stage NAME``); the authors released no training code, so this is ours,
built from what their release names (reference notes, section 9).

* ``stylegan`` (``stylegan.py``): StyleGAN2 on the photos; its
  EMA generator and mean W are the frozen decoder and latent_avg of the
  encoders.
* ``parser``: a small UNet (``models/sp_embedding/unet.py``) from photos to
  19-class CelebAMask-HQ parsing maps, cross-entropy; its decoder features
  serve the encoders' semantic feature-matching loss (and a semantics
  metric). Exported as ``SPEmbedding/latest_net_parser.pkl``.
* ``labeler``: the stroke labeller (``labelers.define_labeler``) from grey
  sketches at ``LABELER_SIZE`` in [-1, 1] to the 22-class edge label of
  every stroke pixel, cross-entropy on stroke pixels only; exported where
  ``make_labeler`` finds it (``labelers.labeler_path``).
* ``encoder`` (``encoder.py``): the three encoders in two steps,
  ``--encoder_step coarse`` (E_c) then ``fine`` (E_s and E_a, E_c frozen).

Quick recipe on the procedural faces (64 px, the ``tiny`` preset)::

    python train.py --method sp_embedding --preset tiny --name sg  --stage stylegan
    python train.py --method sp_embedding --preset tiny --name par --stage parser
    python train.py --method sp_embedding --preset tiny --name lab --stage labeler \
        --sketch_style random
    python train.py --method sp_embedding --preset tiny --name sk --stage encoder \
        --encoder_step coarse --stylegan_from checkpoints/sg --sketch_style random
    python train.py --method sp_embedding --preset tiny --name sk --stage encoder \
        --encoder_step fine --stylegan_from checkpoints/sg --parser_from checkpoints/par \
        --mask_feat_lambda 1 --labeler_from checkpoints/lab --sketch_style random
    python demo.py --params checkpoints/sk --input SKETCH.png --appearance PHOTO.png

On a small shared CPU, OMP_NUM_THREADS=1 per training process was 5-10x
faster than two OpenMP threads (measured on 2 loaded cores); run two stages
side by side instead (the parser and the labeller need no generator).
"""

import numpy as np

from models.base_model import save_network
from models.sp_embedding.inputs import colour_labels
from models.sp_embedding.labelers import define_labeler, labeler_path
from models.sp_embedding.parser import PARSER_NAME, define_parser, parser_path
from training.base_trainer import StageError, jt
from training.optim import Adam
from training.sp_embedding.base import SPTrainer, accuracy, cross_entropy
from util.arrays import photo_to_array, sketch_to_array


class ParserTrainer(SPTrainer):
    stage = "parser"

    def __init__(self, opt, loader=None, files=None):
        super().__init__(opt, loader, files)
        self.net = define_parser().train()
        self.optim = Adam(self.net.parameters(), opt.lr, (opt.beta1, opt.beta2), opt.eps)

    def networks(self):
        return {PARSER_NAME: self.net}

    def optimizers(self):
        return {PARSER_NAME: self.optim}

    def step(self, batch):
        self.next_step()
        logits = self.net(jt.array(photo_to_array(batch["photo"])))
        loss = cross_entropy(logits, batch["parsing"])
        self.optim.step(loss)
        out = self.losses_to_floats({"CE": loss})
        out["acc"] = accuracy(logits.numpy(), batch["parsing"])
        return out

    def visuals(self, batch):
        self.net.eval()
        with jt.no_grad():
            pred = self.net(jt.array(photo_to_array(batch["photo"][:1]))).numpy()
        self.net.train()
        return [("photo", batch["photo"][0]),
                ("parsing", colour_labels(pred[0].argmax(axis=0))),
                ("target", colour_labels(batch["parsing"][0]))]

    def export(self, tag):
        save_network(self.net, parser_path(self.dir, tag))

    def network_files(self, root, tag="latest"):
        return {PARSER_NAME: parser_path(root, tag)}


class LabelerTrainer(SPTrainer):
    stage = "labeler"

    def __init__(self, opt, loader=None, files=None):
        super().__init__(opt, loader, files)
        self.net = define_labeler(opt.label_nc).train()
        self.optim = Adam(self.net.parameters(), opt.lr, (opt.beta1, opt.beta2), opt.eps)

    def networks(self):
        return {"labeler": self.net}

    def optimizers(self):
        return {"labeler": self.optim}

    def step(self, batch):
        self.next_step()
        target = np.asarray(batch["semantic"])
        if target.max(initial=0) > self.opt.label_nc:
            raise StageError(f"semantic sketch labels go up to {int(target.max())}, above "
                             f"--label_nc {self.opt.label_nc}")
        strokes = target > 0
        logits = self.net(jt.array(sketch_to_array(batch["sketch"])))
        loss = cross_entropy(logits, target, strokes)
        self.optim.step(loss)
        out = self.losses_to_floats({"CE": loss})
        out["acc"] = accuracy(logits.numpy(), target, strokes)
        return out

    def visuals(self, batch):
        from models.sp_embedding.labelers import NetworkLabeler
        self.net.eval()
        labels = NetworkLabeler(self.net)(batch["sketch"][0])
        self.net.train()
        return [("sketch", batch["sketch"][0]), ("labels", colour_labels(labels)),
                ("target", colour_labels(batch["semantic"][0]))]

    def export(self, tag):
        save_network(self.net, labeler_path(self.dir, tag))

    def network_files(self, root, tag="latest"):
        return {"labeler": labeler_path(root, tag)}
