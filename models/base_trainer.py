"""The training loop every stage shares: epochs, learning-rate schedule,
loss log, result page, atomic checkpoints and exact resumption.

A stage subclass provides ``networks()`` (name -> module to save),
``optimizers()`` (name -> Adam), ``step(batch)`` (-> {loss name: float}),
``visuals(batch)`` (-> [(label, uint8 image)]) and ``export(tag)`` (write
the authors' layout files for ``tag`` = 'latest' or an epoch number).

Resuming: the full state (weights, optimiser moments, epoch, iteration) is
one file, ``train_state/<stage>.pkl``, written atomically; data order and
augmentation depend only on (seed, epoch, sample), so a resumed run gives
the same losses as an uninterrupted one.
"""

import os
import pickle
import sys
import time

import numpy as np
from tqdm import tqdm

from data.datasets import create_dataset
from data.loader import BatchLoader
from models.checkpoint import atomic_write, write_config
from models.optim import lr_at
from options.base_options import arch_dict
from util.html import ResultPage
from util.jittor_env import get_jittor

jt = get_jittor()


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


class BaseTrainer:
    stage = "base"

    def __init__(self, opt):
        self.opt = opt
        jt.set_global_seed(opt.seed)          # same seed, same initial weights
        self.rank = jt.rank if jt.in_mpi else 0
        self.world = jt.world_size if jt.in_mpi else 1
        self.main = self.rank == 0
        self.dir = opt.expr_dir
        self.state_file = os.path.join(self.dir, "train_state", f"{self.stage}.pkl")
        os.makedirs(os.path.dirname(self.state_file), exist_ok=True)
        self.dataset = create_dataset(opt, "train")
        self.loader = BatchLoader(self.dataset, opt.batch_size, opt.seed,
                                  shuffle=not opt.serial_batches, jitter=opt.jitter,
                                  flip=opt.flip, rank=self.rank, world_size=self.world)
        self.history = []          # every step's losses (for tests and plots)
        if self.main:
            write_config(self.dir, arch_dict(opt))
            self._write_opt_file()
            self.log = LossLog(os.path.join(self.dir, "loss_log.txt"), f"stage {self.stage}")
            self.page = ResultPage(os.path.join(self.dir, "web", self.stage),
                                   f"{opt.name}: stage {self.stage}")

    def _write_opt_file(self):
        lines = [f"{k}: {v}" for k, v in sorted(vars(self.opt).items())]
        with open(os.path.join(self.dir, f"opt_{self.stage}.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")

    # ---------------------------------------------------------- state
    def save_state(self, epoch, it, steps):
        """Everything needed to resume, in one atomically written file."""
        if not self.main:
            return
        state = {"stage": self.stage, "epoch": epoch, "iter": it, "steps": steps,
                 "nets": {n: {k: v.numpy() for k, v in net.state_dict().items()}
                          for n, net in self.networks().items()},
                 "optim": {n: o.state_dict() for n, o in self.optimizers().items()}}
        atomic_write(self.state_file, pickle.dumps(state, 4))

    def load_state(self):
        if not os.path.isfile(self.state_file):
            raise FileNotFoundError(f"{self.state_file}: no saved state to continue from "
                                    f"(run without --continue_train first)")
        with open(self.state_file, "rb") as f:
            state = pickle.load(f)
        for name, net in self.networks().items():
            params = state["nets"][name]
            for k, v in net.state_dict().items():
                v.update(jt.array(params[k]))
            jt.sync(list(net.state_dict().values()))
        for name, o in self.optimizers().items():
            o.load_state_dict(state["optim"][name])
        return state["epoch"], state["iter"], state["steps"]

    # ---------------------------------------------------------- loop
    def run(self):
        opt = self.opt
        epoch, it, steps = 1, 0, 0
        if opt.continue_train:
            epoch, it, steps = self.load_state()
            if self.main:
                print(f"resuming stage {self.stage} at epoch {epoch}, iteration {it}")
        n_epochs = opt.niter + opt.niter_decay
        per_epoch = len(self.loader)
        if opt.max_iters and steps >= opt.max_iters:     # resumed a finished run: no extra step
            return self.finish(steps)
        display_every = opt.display_freq or per_epoch
        start = time.time()
        while epoch <= n_epochs:
            for o in self.optimizers().values():
                o.lr = lr_at(epoch, opt)
            bar = tqdm(self.loader.epoch(epoch, it), total=per_epoch, initial=it,
                       desc=f"{self.stage} epoch {epoch}/{n_epochs}", unit="step",
                       disable=not self.main, file=sys.stderr, leave=False)
            for batch in bar:
                losses = self.step(batch)
                self.history.append(losses)
                it += 1
                steps += 1
                if self.main:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in list(losses.items())[:3]})
                    if steps % opt.print_freq == 0:
                        self.log.write(epoch, it, (time.time() - start) / steps, losses)
                    if steps % display_every == 0:
                        self.page.add_row(f"epoch {epoch:03d} iter {it:05d}", self.visuals(batch))
                done = opt.max_iters and steps >= opt.max_iters
                if steps % opt.save_latest_freq == 0 or done:
                    self._save(epoch, it, steps, per_epoch)
                if done:
                    bar.close()
                    return self.finish(steps)
            bar.close()
            epoch, it = epoch + 1, 0
            self._save(epoch, it, steps, per_epoch)
            if self.main and (epoch - 1) % opt.save_epoch_freq == 0:
                self.export(str(epoch - 1))
        return self.finish(steps)

    def _save(self, epoch, it, steps, per_epoch):
        if it >= per_epoch:                 # the epoch is complete: resume at the next
            epoch, it = epoch + 1, 0
        self.save_state(epoch, it, steps)
        if self.main:
            self.export("latest")

    def finish(self, steps):
        if self.main:
            print(f"stage {self.stage}: {steps} steps done; checkpoints in {self.dir}")
        return 0

    # ---------------------------------------------------------- helpers
    @staticmethod
    def losses_to_floats(losses):
        vals = list(losses.values())
        jt.sync(vals)
        return {k: float(v.item()) for k, v in losses.items()}

    @staticmethod
    def sketch_image(arr):
        """(1, S, S) array in [-1, 1] -> uint8 image."""
        return np.clip((np.asarray(arr)[0] + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8)
