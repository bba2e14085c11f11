"""What a training stage is, and the loop every trained stage shares.

``Stage``: anything ``train.py --stage NAME`` runs; it has ``run()`` and
returns an exit status. ``BaseTrainer`` is the stage with a training loop:
epochs, learning-rate schedule, loss log, result page, atomic checkpoints
and exact resumption. A trainer must supply (abstract methods):

* ``networks()`` -> {name: module}: what the training state holds;
* ``optimizers()`` -> {name: Adam};
* ``step(batch)`` -> {loss name: float}: one optimisation step;
* ``visuals(batch)`` -> [(label, uint8 image)]: a row of the result page;
* ``export(tag)``: write the checkpoint files for ``tag`` ('latest' or an
  epoch number) in the method's layout;
* ``network_files(root, tag)`` -> {name: file}: where ``export`` puts each
  network in a model folder (what ``--load_pretrain`` reads).

Starting from a trained model (``--load_pretrain ROOT``, as pix2pixHD's
option): every network whose file (``network_files``) ROOT holds is loaded;
the others (a discriminator, which the bundled models leave out), the
optimisers and the schedule start fresh.

Resuming: the full state (weights, optimiser moments, epoch, iteration) is
one file, ``train_state/<stage>.pkl``, written atomically and read through
the restricted reader (it runs no code); data order and augmentation depend
only on (seed, epoch, sample), so a resumed run gives the same losses as an
uninterrupted one.

A trainer is built from parts: the options, its networks, the data
(``training_data.make_loader``) and the logger (``run_files.RunFiles``);
``create(opt)`` makes them as train.py runs a stage.

Good work is never overwritten: a stage already trained in the folder is
not started again without ``--continue_train`` (resume) or ``--overwrite``;
a resumed state must fit the networks and hold finite values; a step whose
losses, or a save whose weights or optimiser moments, are not finite stops
the run before anything is written (``TrainingStopped``, one line), so the
last good checkpoint stays.
"""

import abc
import math
import os
import sys
import time

from tqdm import tqdm

import numpy as np

from models.base_model import load_network
from models.files import CheckpointError, read_state, write_state
from training.optim import lr_at
from training.run_files import RunFiles, TrainingStopped
from training.training_data import make_loader
from util.jittor_env import get_jittor

jt = get_jittor()


class StageError(ValueError):
    """A stage that does not apply to the chosen options."""


class StepClock:
    """Seconds per step, and once (after a few steps, past the compiling
    first one) an estimate of the time the run will take."""

    WARMUP, MEASURED = 2, 5

    def __init__(self, total):
        self.total, self.count = total, 0
        self.start = self.marked = time.time()

    def seconds_per_step(self):
        return (time.time() - self.start) / max(1, self.count)

    def tick(self):
        """Count a step; returns the estimate line once, else None."""
        self.count += 1
        if self.count == self.WARMUP:
            self.marked = time.time()
        if self.count != self.WARMUP + self.MEASURED:
            return None
        per = (time.time() - self.marked) / self.MEASURED
        left = per * (self.total - self.count)
        hours, rest = divmod(int(left), 3600)
        return (f"{per:.2f} s per step; about {hours}:{rest // 60:02d} h for the remaining "
                f"{self.total - self.count} steps")


class Stage(abc.ABC):
    """One ``--stage`` of a method."""

    stage = "base"

    def __init__(self, opt):
        self.opt = opt
        self.dir = opt.expr_dir

    @classmethod
    def create(cls, opt):
        """The stage as train.py runs it (``training.create_stage``); a stage
        without a training loop has no network to start from a folder."""
        if getattr(opt, "load_pretrain", ""):
            raise StageError(f"--load_pretrain: stage {cls.stage} trains no network; the "
                             f"option is for the stages that do")
        return cls(opt)

    @abc.abstractmethod
    def run(self):
        """Do the stage's work; return the exit status (0)."""

    def config(self):
        """What config.json holds for this experiment (the method's options)."""
        return stage_config(self.opt)


def stage_config(opt):
    """What config.json holds for an experiment: the method's options."""
    from models.methods import get_method
    return get_method(opt.method).option_module().config_dict(opt)


def ranks():
    """(rank, world size) of this process (Jittor's MPI; 0, 1 without it)."""
    return (jt.rank, jt.world_size) if jt.in_mpi else (0, 1)


class BaseTrainer(Stage):
    """A stage with a training loop (see the module docstring), built from
    parts as SPADE's trainer is: the options, its networks (made by the
    trainer from the options, or given: ``parts``), the data (``loader``, a
    ``BatchLoader``) and the logger (``files``, a ``RunFiles``). Without a
    loader and files a trainer can still ``step`` (the benchmark's use);
    ``create`` makes the whole stage from the options, as train.py runs it."""

    def __init__(self, opt, loader=None, files=None):
        super().__init__(opt)
        self.rank, self.world = ranks()
        self.main = self.rank == 0
        self.loader, self.files = loader, files
        self.history = []          # every step's losses (for tests and plots)
        self.global_step = 0
        self.stage = self.stage_name(opt)

    @classmethod
    def stage_name(cls, opt):
        """The name of this stage's state file, log header and result page."""
        return cls.stage

    @classmethod
    def check(cls, opt):
        """Refuse options this stage cannot train with (``StageError``),
        before anything is read or written."""

    @classmethod
    def parts(cls, opt):
        """{keyword: part} the constructor takes that come from files (the
        trained networks a stage starts from); none by default."""
        return {}

    @classmethod
    def create(cls, opt):
        """The stage as train.py runs it: checked, seeded (same seed, same
        initial weights), its files, data and parts."""
        cls.check(opt)
        jt.set_global_seed(opt.seed)
        rank, world = ranks()
        files = RunFiles(opt, cls.stage_name(opt), main=rank == 0)
        loader = make_loader(opt, rank, world)
        files.start(opt, stage_config(opt))
        return cls(opt, loader=loader, files=files, **cls.parts(opt))

    @property
    def state_file(self):
        return self.files.state_file

    @property
    def log(self):
        return self.files.log

    @property
    def page(self):
        return self.files.page

    # ---------------------------------------------------------- what a trainer supplies
    @abc.abstractmethod
    def networks(self):
        """{name: module} saved in the training state."""

    @abc.abstractmethod
    def optimizers(self):
        """{name: Adam}."""

    @abc.abstractmethod
    def step(self, batch):
        """One optimisation step on ``batch``; returns {loss name: float}."""

    @abc.abstractmethod
    def visuals(self, batch):
        """[(label, uint8 image)] for the result page."""

    @abc.abstractmethod
    def export(self, tag):
        """Write the method's checkpoint files for ``tag``."""

    @abc.abstractmethod
    def network_files(self, root, tag="latest"):
        """{network name: file} of this stage's networks in the model folder
        ``root``, as ``export`` writes them."""

    # ---------------------------------------------------------- state
    def load_pretrained(self, root):
        """--load_pretrain: load each network whose file ``root`` holds; the
        rest stay as initialised. Returns the names loaded; StageError when
        ``root`` holds none of the stage's networks (a network that does not
        fit is a CheckpointError naming its file and parameter)."""
        files = self.network_files(root)
        nets = self.networks()
        loaded = [name for name, path in files.items() if os.path.isfile(path)]
        if not loaded:
            raise StageError(f"--load_pretrain {root}: holds none of stage {self.stage}'s "
                             f"networks (no {os.path.relpath(next(iter(files.values())), root)})")
        for name in loaded:
            try:
                load_network(nets[name], files[name])
            except CheckpointError as exc:
                raise CheckpointError(f"{exc} (--load_pretrain needs the folder's architecture: "
                                      f"--preset auto reads its config.json)") from None
        if self.main:
            fresh = [name for name in nets if name not in loaded]
            print(f"stage {self.stage}: {', '.join(loaded)} from {root}"
                  f"{'; fresh: ' + ', '.join(fresh) if fresh else ''}", flush=True)
        return loaded

    def save_state(self, epoch, it, steps):
        """Everything needed to resume, in one atomically written file;
        TrainingStopped, before anything is written, when a weight or an
        optimiser moment is not finite."""
        if not self.main:
            return
        state = {"stage": self.stage, "epoch": epoch, "iter": it, "steps": steps,
                 "nets": {n: {k: v.numpy() for k, v in net.state_dict().items()}
                          for n, net in self.networks().items()},
                 "optim": {n: o.state_dict() for n, o in self.optimizers().items()}}
        bad = self.first_non_finite(state)
        if bad:
            raise TrainingStopped(f"stage {self.stage}: {bad} is not finite after step {steps}; "
                                  f"stopped without saving: the last good checkpoint in "
                                  f"{self.dir} is kept (lower --lr, or resume from it)")
        write_state(self.state_file, state)

    @staticmethod
    def first_non_finite(state):
        """The name of the first weight or optimiser moment of a state that
        holds NaN or infinity, or None."""
        def finite(value):
            arr = np.asarray(value)
            return arr.dtype.kind not in "fc" or bool(np.isfinite(arr).all())
        for name, params in state["nets"].items():
            for key, value in params.items():
                if not finite(value):
                    return f"weight {name}.{key}"
        for name, optim in state["optim"].items():
            for moment in ("m", "v"):
                for k, value in enumerate(optim.get(moment, [])):
                    if not finite(value):
                        return f"optimiser {name}'s moment {moment}[{k}]"
        return None

    def _check_state(self, state):
        """CheckpointError unless the state's counters are whole numbers in
        range and its weights and optimiser moments finite."""
        for key in ("epoch", "iter", "steps"):
            value = state.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < (1 if key == "epoch" else 0):
                raise CheckpointError(f"{self.state_file}: its {key} is {value!r:.40}, not a "
                                      f"count; the file is damaged")
        try:
            bad = self.first_non_finite(state)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.state_file}: does not hold a training state "
                                  f"({type(exc).__name__}: {exc})") from None
        if bad:
            raise CheckpointError(f"{self.state_file}: its {bad} is not finite (NaN or "
                                  f"infinity); resuming would spread it into every weight")

    def load_state(self):
        if not os.path.isfile(self.state_file):
            raise FileNotFoundError(f"{self.state_file}: no saved state to continue from "
                                    f"(run without --continue_train first)")
        state = read_state(self.state_file)
        self._check_state(state)
        try:
            for name, net in self.networks().items():
                params = state["nets"][name]
                for k, v in net.state_dict().items():
                    if tuple(params[k].shape) != tuple(v.shape):
                        raise ValueError(f"{name}.{k} has shape {list(params[k].shape)}, the "
                                         f"network {list(v.shape)}")
                    frozen = v.is_stop_grad()
                    v.update(jt.array(params[k]))
                    if frozen:
                        v.stop_grad()
                jt.sync(list(net.state_dict().values()))
            for name, o in self.optimizers().items():
                o.load_state_dict(state["optim"][name])
            return int(state["epoch"]), int(state["iter"]), int(state["steps"])
        except (KeyError, ValueError, TypeError, AttributeError, IndexError, RuntimeError) as exc:
            raise CheckpointError(f"{self.state_file}: does not fit this stage's networks "
                                  f"({type(exc).__name__}: {exc}); were the options changed "
                                  f"since it was written?") from None

    # ---------------------------------------------------------- loop
    def planned_steps(self, steps_done):
        """Steps this run will take: every epoch, or up to --max_iters."""
        opt = self.opt
        total = (opt.niter + opt.niter_decay) * len(self.loader)
        if opt.max_iters:
            total = min(total, opt.max_iters)
        return max(0, total - steps_done)

    def run(self):
        opt = self.opt
        epoch, it, steps = 1, 0, 0
        if opt.continue_train:
            epoch, it, steps = self.load_state()
            if self.main:
                print(f"resuming stage {self.stage} at epoch {epoch}, iteration {it}")
        elif getattr(opt, "load_pretrain", ""):
            self.load_pretrained(opt.load_pretrain)
        n_epochs = opt.niter + opt.niter_decay
        per_epoch = len(self.loader)
        todo = self.planned_steps(steps)
        if todo == 0:                      # resumed a finished run: no extra step
            return self.finish(steps)
        if self.main:
            print(f"stage {self.stage}: {todo} steps to go ({per_epoch} per epoch, epochs "
                  f"{epoch}..{n_epochs}{f', stopping at step {opt.max_iters}' if opt.max_iters else ''}"
                  f"); the first steps compile Jittor's kernels", flush=True)
        bar = tqdm(total=todo, desc=self.stage, unit="step", disable=not self.main,
                   file=sys.stderr, dynamic_ncols=True)
        clock = StepClock(todo)
        try:                        # the bar ends its line before any error is printed
            batch, epoch, it, steps = self._loop(bar, clock, epoch, it, steps, n_epochs,
                                                 per_epoch)
        finally:
            bar.close()
        if self.main and batch is not None and not self._shown:
            self._show(epoch, it, batch)          # every run leaves a result page
        return self.finish(steps)

    def _loop(self, bar, clock, epoch, it, steps, n_epochs, per_epoch):
        """The epochs of ``run``; returns (last batch, epoch, iteration, steps)."""
        opt = self.opt
        display_every = opt.display_freq or per_epoch
        batch, done = None, False
        while epoch <= n_epochs and not done:
            for o in self.optimizers().values():
                o.lr = lr_at(epoch, opt)
            bar.set_description(f"{self.stage} epoch {epoch}/{n_epochs}")
            for batch in self.loader.epoch(epoch, it):
                self.global_step = steps            # random draws of a step may use it
                losses = self.step(batch)
                self._check_losses(losses, steps + 1)
                self.history.append(losses)
                it += 1
                steps += 1
                bar.update(1)
                if self.main:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in list(losses.items())[:3]})
                    estimate = clock.tick()
                    if estimate:
                        bar.write(f"stage {self.stage}: {estimate}", file=sys.stderr)
                    if steps % opt.print_freq == 0:
                        self.log.write(epoch, it, clock.seconds_per_step(), losses)
                    if steps % display_every == 0:
                        self._show(epoch, it, batch)
                done = bool(opt.max_iters) and steps >= opt.max_iters
                if steps % opt.save_latest_freq == 0 or done:
                    self._save(epoch, it, steps, per_epoch)
                if done:
                    break
            if done:
                break
            epoch, it = epoch + 1, 0
            self._save(epoch, it, steps, per_epoch)
            if self.main and (epoch - 1) % opt.save_epoch_freq == 0:
                self.export(str(epoch - 1))
        return batch, epoch, it, steps

    _shown = False

    def _check_losses(self, losses, step):
        """TrainingStopped at the first loss that is NaN or infinite: the
        weights it moved are not saved."""
        bad = [k for k, v in losses.items()
               if isinstance(v, (int, float)) and not math.isfinite(v)]
        if bad:
            raise TrainingStopped(f"stage {self.stage}: loss {bad[0]} is {losses[bad[0]]} at "
                                  f"step {step}; stopped without saving: the last good "
                                  f"checkpoint in {self.dir} is kept (lower --lr, or resume "
                                  f"from it)")

    def _show(self, epoch, it, batch):
        self.page.add_row(f"epoch {epoch:03d} iter {it:05d}", self.visuals(batch))
        self._shown = True

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
