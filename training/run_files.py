"""What a training run writes besides the method's checkpoints: the
trainer's logger (``RunFiles``) and its loss log (``LossLog``)."""

import os
import time

from models.files import write_config
from util.fileio import remove_stale_temporaries
from util.html import ResultPage


class TrainingStopped(RuntimeError):
    """A run refused or stopped before it could overwrite good work."""


class LossLog:
    """Appends one line per print interval to ``loss_log.txt``."""

    def __init__(self, path, header):
        self.path = path
        with open(path, "a") as f:
            f.write(f"================ {header} ({time.strftime('%c')}) ================\n")

    def write(self, epoch, it, seconds, losses):
        body = " ".join(f"{k}: {v:.5f}" for k, v in losses.items())
        line = f"(epoch: {epoch}, iters: {it}, time: {seconds:.3f}) {body}"
        with open(self.path, "a") as f:
            f.write(line + "\n")
        return line


class RunFiles:
    """What a stage's run writes besides the method's checkpoints (the
    trainer's logger), in the experiment folder ``opt.expr_dir``:
    ``config.json``, ``opt_STAGE.txt``, ``loss_log.txt``, the result page
    ``web/STAGE/`` and the resumable state ``train_state/STAGE.pkl``.

    Made before anything else of the run: it refuses a stage trained there
    already (without --continue_train or --overwrite) and removes the
    temporaries an interrupted save left; ``start`` then writes the files
    (on the main process only)."""

    def __init__(self, opt, stage, main=True):
        self.dir, self.stage, self.main = opt.expr_dir, stage, main
        self.state_file = os.path.join(self.dir, "train_state", f"{stage}.pkl")
        if (os.path.isfile(self.state_file) and not opt.continue_train
                and not getattr(opt, "overwrite", False)):
            raise TrainingStopped(f"{self.state_file}: stage {stage} was trained in "
                                  f"{self.dir} already; resume it with --continue_train, or "
                                  f"start it again with --overwrite (replacing its checkpoints)")
        os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
        self.log = self.page = None
        if main:
            freed = remove_stale_temporaries(self.dir)
            if freed:
                print(f"removed {freed / 2 ** 20:.1f} MB of temporary files left by an "
                      f"interrupted save in {self.dir}")

    def start(self, opt, config):
        """config.json, opt_STAGE.txt, the loss log and the result page."""
        if not self.main:
            return self
        write_config(self.dir, config)
        lines = [f"{k}: {v}" for k, v in sorted(vars(opt).items())]
        with open(os.path.join(self.dir, f"opt_{self.stage}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = LossLog(os.path.join(self.dir, "loss_log.txt"), f"stage {self.stage}")
        self.page = ResultPage(os.path.join(self.dir, "web", self.stage),
                               f"{opt.name}: stage {self.stage}")
        return self
