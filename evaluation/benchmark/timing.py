"""Timed calls, the rate of a matrix product, peak memory, and the machine
the figures were measured on (no Jittor, no torch)."""

import os
import platform
import resource
import statistics
import time

MATMUL_SIZES = (2048, 3072)      # the CPU products whose best rate makes the floor


def rss_mb():
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_once(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def timed(fn, repeats, warmup=1, budget=None, min_repeats=3):
    """Call ``fn`` ``warmup`` times untimed, then up to ``repeats`` times
    timed; with ``budget`` (seconds) the timed calls stop once they have
    taken that long, after at least ``min_repeats``. Returns the median,
    the minimum, the count, the first call (which compiles) and the second."""
    warm = [time_once(fn) for _ in range(warmup)]
    times = []
    for _ in range(repeats):
        times.append(time_once(fn))
        if budget and len(times) >= min_repeats and sum(times) > budget:
            break
    return {"median": statistics.median(times), "min": min(times), "n": len(times),
            "first": (warm or times)[0], "second": (warm[1:] + times)[0]}


def alternated(calls, repeats, budget=None, rounds=2):
    """The calls of {name: fn} timed in turn, ``rounds`` times over (they
    are warm: no warm-up), each name's best round (lowest median): two ways
    of doing one thing compared in the same stretch of the machine's time."""
    best = {}
    for _ in range(rounds):
        for name, fn in calls.items():
            t = timed(fn, repeats, 0, budget)
            if name not in best or t["median"] < best[name]["median"]:
                best[name] = t
    return best


def with_replay_alternated(times, name, call, repeats, budget=None):
    """``times[name]`` (timed before, with its first and second calls) and
    ``times[name + "_rebuilt"]``: ``call`` with graph replay and with Jittor's
    graph rebuilt each call (``models.graph_replay.rebuilt``), alternated."""
    from models import graph_replay

    def rebuilt():
        with graph_replay.rebuilt():
            return call()
    alt = alternated({name: call, f"{name}_rebuilt": rebuilt}, repeats, budget)
    first = times[name]
    times[name] = dict(alt[name], first=first["first"], second=first["second"])
    times[f"{name}_rebuilt"] = alt[f"{name}_rebuilt"]
    return times


def matmul_rate(n, run, tries=5):
    """GFLOP/s of an n x n matrix product: ``run()`` computes one, the best
    of ``tries`` calls counts."""
    return 2.0 * n ** 3 / min(time_once(run) for _ in range(tries)) / 1e9


def matmul_rates_numpy(sizes=MATMUL_SIZES, tries=5):
    import numpy as np
    rates = {}
    for n in sizes:
        a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
        b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
        rates[n] = matmul_rate(n, lambda: a @ b, tries)
    return rates


def machine_info():
    """{'python', 'cores', 'cpu', 'ram_gb'} of this machine."""
    info = {"python": platform.python_version(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor() or platform.machine()
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
        info["ram_gb"] = kb / 1024 ** 2
    except (OSError, StopIteration, ValueError):
        info["ram_gb"] = None
    return info


def loadavg():
    try:
        return "%.2f, %.2f, %.2f" % os.getloadavg()
    except OSError:
        return "n/a"
