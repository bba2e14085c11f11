"""OpenMP threads for a conversion, from the cores other processes leave free.

Jittor's CPU kernels and oneDNN run on GNU OpenMP. A parallel region whose
threads share their cores with a busy process waits at every barrier for
the thread that is not running: on 2 cores with two trainings running, a
128 px DeepFaceDrawing conversion took 0.18-0.21 s (90th percentile
1.3-1.6 s) with two threads and 0.04-0.05 s with one.

* ``prepare(gpu)`` (``util.jittor_env.setup`` calls it before Jittor
  starts): the usable cores, the user's ``OMP_NUM_THREADS`` if set (then the
  count is never changed), and a short spin before an idle OpenMP thread
  sleeps (``GOMP_SPINCOUNT``, unless the user set it or ``OMP_WAIT_POLICY``):
  libgomp's default spins about a millisecond, which under load takes the
  core from the thread that has the work.
* ``conversion_threads()``: a context around one conversion (the inference
  contracts use it). It counts the cores other processes kept busy since the
  last call (``/proc/stat``, minus this process's own CPU time) and gives
  OpenMP the rest, at least one (``threads_for``).
* ``note()``: one line on what is in effect.
"""

import ctypes
import os
import time

# GNU OpenMP's spins before an idle thread sleeps (its default is 300000)
SPIN_COUNT = "10000"
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


def prepare(gpu=False):
    """Before OpenMP starts: the thread count and the spin policy."""
    cores = usable_cores()
    fixed = os.environ.get("OMP_NUM_THREADS", "").strip()
    _t.update(cores=cores, gpu=bool(gpu),
              fixed=int(fixed) if fixed.isdigit() and int(fixed) > 0 else None)
    _t["n"] = _t["fixed"] or cores
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", SPIN_COUNT)
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
