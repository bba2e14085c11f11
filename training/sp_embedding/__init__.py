"""The sketch embedding's training stages: ``stylegan`` (``stylegan``),
``parser`` and ``labeler`` (``segmenters``), ``encoder`` (``encoder``), on
what they share (``base``: the step counter and seeded draws, tensor
helpers); the discriminator's differentiable augmentation is shared with
DeepFaceDrawing (``training.diffaug``).
Their options are finished before a stage starts
(``options.sp_embedding_train.finish_training``)."""
