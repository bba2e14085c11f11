"""Training: the loop every stage shares (``base_trainer``), the stages of
each method (``deepfacedrawing/``, ``sp_embedding/``), the optimiser
(``optim``) and the losses (``losses``, ``lpips``). Stages are found by name
through the method registry (``models/methods.py``):

    stage = create_stage(opt)      # opt.method, opt.stage
    stage.run()
"""


def create_stage(opt):
    """The stage ``opt.stage`` of method ``opt.method``, built from ``opt``
    (its files, data and parts: ``Stage.create``)."""
    from models.methods import get_method
    return get_method(opt.method).stage_class(opt.stage).create(opt)
