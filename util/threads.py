"""OpenMP threads for a conversion, from the cores other processes leave free.

Jittor's CPU kernels and oneDNN run on GNU OpenMP. A parallel region whose
threads share their cores with a busy process waits at every barrier for
the thread that is not running: on 2 cores with two trainings running, a
128 px DeepFaceDrawing conversion took 0.18-0.21 s (90th percentile
1.3-1.6 s) with two threads and 0.04-0.05 s with one.

* ``prepare(gpu, work)`` (``util.jittor_env.setup`` calls it before Jittor
  starts): the usable cores, the user's ``OMP_NUM_THREADS`` if set (then the
  count is never changed), and how long an idle OpenMP thread spins before
  it sleeps (``GOMP_SPINCOUNT``, unless the user set it or
  ``OMP_WAIT_POLICY``). Conversions (``work="convert"``) spin briefly:
  libgomp's default spins about a millisecond, which under load takes the
  core from the thread that has the work. Training (``work="train"``, what
  train.py asks for) keeps libgomp's default: a step is hundreds of short
  kernels back to back, and waking sleeping threads for each made the tiny
  DeepFaceDrawing combine step 7 % slower (267 against 249 ms, 2 threads,
  quiet machine, two runs each; the ae step: 56.5 against 56.2 ms).
* ``conversion_threads()``: a context around one conversion (the inference
  contracts use it). It counts the cores other processes kept busy since the
  last call (``/proc/stat``, minus this process's own CPU time) and gives
  OpenMP the rest, at least one (``threads_for``).
* ``note()``: one line on what is in effect.
"""

import ctypes
import os
import time

# GNU OpenMP's spins before an idle thread sleeps: for a conversion, and for
# training (libgomp's own default)
SPIN_COUNT = "10000"
TRAIN_SPIN_COUNT = "300000"
WORKS = ("convert", "train")
# set beside GOMP_SPINCOUNT when this module chose it: a child process (a
# benchmark worker, train.py run by a script) may choose again; a value the
# user set is kept
SPIN_MARK = "DFD_GOMP_SPIN_CHOSEN"
# a shorter window since the last sample keeps the last choice (too few ticks to tell)
MIN_WINDOW_S = 0.25

_t = {"cores": None, "fixed": None, "n": None, "sample": None, "others": 0.0,
      "omp": None, "spin": None, "gpu": False, "adaptive": True}


def usable_cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_for(cores, others_busy):
    """The thread count for ``cores`` usable cores of which other processes
    keep ``others_busy`` (a fraction of cores) busy: the free ones, rounded,
    at least one."""
    return max(1, min(int(cores), int(cores - max(0.0, others_busy) + 0.5)))


def spin_for(work, environ):
    """The GOMP_SPINCOUNT to set for ``work`` given the environment, or None
    to leave it as it is (the user chose a spin count or a wait policy)."""
    if work not in WORKS:
        raise ValueError(f"work must be one of {', '.join(WORKS)}, not {work!r}")
    if "OMP_WAIT_POLICY" in environ:
        return None
    if "GOMP_SPINCOUNT" in environ and environ.get(SPIN_MARK) != environ["GOMP_SPINCOUNT"]:
        return None
    return TRAIN_SPIN_COUNT if work == "train" else SPIN_COUNT


def prepare(gpu=False, work="convert"):
    """Before OpenMP starts: the thread count and the spin policy."""
    cores = usable_cores()
    fixed = os.environ.get("OMP_NUM_THREADS", "").strip()
    _t.update(cores=cores, gpu=bool(gpu),
              fixed=int(fixed) if fixed.isdigit() and int(fixed) > 0 else None)
    _t["n"] = _t["fixed"] or cores
    spin = spin_for(work, os.environ)
    if spin is not None:
        os.environ["GOMP_SPINCOUNT"] = os.environ[SPIN_MARK] = spin
    _t["spin"] = os.environ.get("GOMP_SPINCOUNT") or os.environ.get("OMP_WAIT_POLICY") \
        or "default"
    _t["sample"] = cpu_sample()


def cpu_sample(stat_path="/proc/stat"):
    """(monotonic seconds, busy core-seconds of the usable cores since boot,
    this process's CPU seconds), or None without a readable ``stat_path``."""
    try:
        allowed = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        allowed = None
    busy = 0.0
    try:
        with open(stat_path) as f:
            for line in f:
                if not line.startswith("cpu") or line.startswith("cpu "):
                    continue
                name, *vals = line.split()
                if allowed is not None and int(name[3:]) not in allowed:
                    continue
                vals = [int(v) for v in vals[:8]]
                busy += sum(vals) - vals[3] - vals[4]          # all but idle and iowait
    except (OSError, ValueError, IndexError):
        return None
    t = os.times()
    return time.monotonic(), busy / os.sysconf("SC_CLK_TCK"), t.user + t.system


def others_busy(last, now):
    """Cores other processes kept busy between two ``cpu_sample``s, or None
    when the window is too short to tell."""
    if last is None or now is None or now[0] - last[0] < MIN_WINDOW_S:
        return None
    return max(0.0, (now[1] - last[1]) - (now[2] - last[2])) / (now[0] - last[0])


def _omp():
    """GNU OpenMP as loaded in this process, or False."""
    if _t["omp"] is None:
        try:
            lib = ctypes.CDLL("libgomp.so.1")
            lib.omp_set_num_threads.argtypes = [ctypes.c_int]
            _t["omp"] = lib
        except OSError:
            _t["omp"] = False
    return _t["omp"]


def adapt():
    """Give OpenMP (in the calling thread) the cores other processes leave
    free; the user's OMP_NUM_THREADS stays. Returns the thread count."""
    if _t["cores"] is None or _t["gpu"]:
        return _t["n"]
    if _t["fixed"] is None and not _t["adaptive"]:
        _t["n"] = _t["cores"]
    elif _t["fixed"] is None:
        now = cpu_sample()
        busy = others_busy(_t["sample"], now)
        if busy is not None:
            _t["sample"], _t["others"] = now, busy
            _t["n"] = threads_for(_t["cores"], busy)
    lib = _omp()
    if lib:
        lib.omp_set_num_threads(int(_t["n"]))
    return _t["n"]


def set_adaptive(flag):
    """Adapt to the load (the default), or give every conversion all the
    cores (what OpenMP does by itself; the benchmark compares the two)."""
    _t["adaptive"] = bool(flag)


class conversion_threads:
    """``with conversion_threads():`` around one conversion (``adapt`` first)."""

    def __enter__(self):
        self.threads = adapt()
        return self

    def __exit__(self, *exc):
        return False


def note():
    """One line: the threads in use, why, and the wait policy."""
    if _t["cores"] is None:
        return "threads: not set up"
    if _t["gpu"]:
        return "threads: GPU run"
    n, cores = _t["n"], _t["cores"]
    why = "OMP_NUM_THREADS" if _t["fixed"] else \
        f"adaptive: other processes kept {_t['others']:.1f} cores busy"
    return f"{n} OpenMP thread{'s' if n != 1 else ''} of {cores} cores ({why}); " \
           f"GOMP spin {_t['spin']}"
