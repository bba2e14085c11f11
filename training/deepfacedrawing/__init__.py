"""DeepFaceDrawing's three training stages, selected by ``--stage``:

* ``ae`` (``autoencoders.AETrainer``): the five component autoencoders, on
  sketches alone.
* ``banks`` (``banks.BanksStage``): encode every training sketch into the
  per-part feature banks (split by gender when the dataset has genders).
* ``combine`` (``combine.CombineTrainer``): FM decoders + generator trained
  as a conditional GAN (multi-scale LSGAN, feature matching, VGG
  perceptual, total variation and L1 losses) with the encoders frozen.
"""

from training.base_trainer import StageError
from util.components import pipeline_parts


def model_parts(opt, stage):
    """The parts with autoencoders in ``opt.pipeline``; a clear error when the
    stage has nothing to train (the direct pipeline has no autoencoders)."""
    parts = pipeline_parts(opt.pipeline)
    if not parts:
        raise StageError(f"--pipeline {opt.pipeline} has no autoencoders: there is no "
                         f"'{stage}' stage; train --stage combine only")
    return parts
