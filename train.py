"""Train DeepFaceDrawing stage by stage (see README, "Training").

    python train.py --stage ae      --preset tiny --name faces
    python train.py --stage banks   --preset tiny --name faces
    python train.py --stage combine --preset tiny --name faces
    python demo.py --params checkpoints/faces

Multi-GPU / multi-node: mpirun -np 4 python train.py ... (Jittor's MPI).
"""

import sys

from options.train_options import TrainOptions


def main(argv=None):
    opt = TrainOptions().parse(argv)
    from util import jittor_env
    try:
        jittor_env.setup(opt.gpu)
    except jittor_env.JittorSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    jt = jittor_env.get_jittor()
    jt.set_global_seed(opt.seed)

    from data.datasets import DatasetError
    from models.checkpoint import CheckpointError
    from models.trainers import TRAINERS, StageError, build_banks
    try:
        from models.vgg import VGGWeightsError
    except ImportError:            # pragma: no cover - the module is part of the project
        VGGWeightsError = RuntimeError
    try:
        if opt.stage == "banks":
            return build_banks(opt)
        return TRAINERS[opt.stage](opt).run()
    except (DatasetError, CheckpointError, VGGWeightsError, FileNotFoundError,
            StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
