"""Train a method stage by stage (see README, "Training").

    python train.py --stage ae      --preset tiny --name faces
    python train.py --stage banks   --preset tiny --name faces
    python train.py --stage combine --preset tiny --name faces
    python demo.py --params checkpoints/faces

Multi-GPU / multi-node: mpirun -np 4 python train.py ... (Jittor's MPI).
Exit status: 0 done, 2 bad options, data, checkpoints or weights, a stage trained
already (see --continue_train, --overwrite), or a loss or weight that became
NaN (nothing saved then: the last good checkpoint stays).
"""

import sys

from util.entry import require_dependencies

require_dependencies()

from options.train_options import TrainOptions  # noqa: E402


def main(argv=None):
    opt = TrainOptions().parse(argv)
    from util import jittor_env
    try:
        jittor_env.setup(opt.gpu, work="train")
    except jittor_env.JittorSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    jt = jittor_env.get_jittor()
    jt.set_global_seed(opt.seed)
    print(f"{opt.method} stage {opt.stage}: {jittor_env.describe()}; "
          f"checkpoints in {opt.expr_dir}", flush=True)

    from data.datasets import DatasetError
    from models.files import CheckpointError
    from training import create_stage
    from training.base_trainer import StageError, TrainingStopped
    try:
        return create_stage(opt).run()
    except (DatasetError, CheckpointError, FileNotFoundError, StageError, TrainingStopped) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
