"""util/threads.py: the thread count a conversion gets from the cores other
processes leave free, the user's OMP_NUM_THREADS kept, /proc/stat read."""

import os

import pytest

from util import threads


@pytest.fixture
def fresh(monkeypatch):
    """The module's state as before any setup, restored afterwards."""
    saved = dict(threads._t)
    yield threads._t
    threads._t.clear()
    threads._t.update(saved)


@pytest.mark.parametrize("cores,busy,expected", [
    (2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 2.0, 1), (2, 5.0, 1),
    (16, 3.2, 13), (16, 0.0, 16), (1, 0.0, 1), (4, -1.0, 4)])
def test_threads_for(cores, busy, expected):
    assert threads.threads_for(cores, busy) == expected


def test_others_busy_subtracts_own_time():
    last = (100.0, 50.0, 10.0)
    # 2 s: 3 busy core-seconds on the machine, 1 of them ours -> 1 core busy elsewhere
    assert threads.others_busy(last, (102.0, 53.0, 11.0)) == pytest.approx(1.0)
    # ours was all of it -> nobody else
    assert threads.others_busy(last, (102.0, 52.0, 12.0)) == 0.0
    # too short a window to tell, or no sample
    assert threads.others_busy(last, (100.1, 51.0, 10.0)) is None
    assert threads.others_busy(None, (102.0, 53.0, 11.0)) is None


def test_cpu_sample_reads_per_cpu_lines(tmp_path):
    stat = tmp_path / "stat"
    cpus = sorted(os.sched_getaffinity(0))[:1]
    stat.write_text("cpu  9 9 9 9 9 0 0 0 0 0\n"
                    f"cpu{cpus[0]} 100 0 50 1000 20 5 5 0 0 0\n"
                    "intr 1 2 3\n")
    t, busy, own = threads.cpu_sample(str(stat))
    tick = os.sysconf("SC_CLK_TCK")
    assert busy == pytest.approx((100 + 50 + 5 + 5) / tick)      # idle and iowait left out
    assert own >= 0 and t > 0
    assert threads.cpu_sample(str(tmp_path / "missing")) is None
    stat.write_text("cpu0 x y\n")
    assert threads.cpu_sample(str(stat)) is None


def test_user_thread_count_is_kept(fresh, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    threads.prepare(gpu=False)
    fresh["sample"] = (0.0, 0.0, 0.0)            # a long window with every core busy elsewhere
    assert threads.adapt() == 3
    assert "OMP_NUM_THREADS" in threads.note()


def test_adaptive_count_follows_load(fresh, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 4)
    threads.prepare(gpu=False)
    assert fresh["n"] == 4 and fresh["fixed"] is None
    now = [(10.0, 0.0, 0.0)]
    monkeypatch.setattr(threads, "cpu_sample", lambda *a: now[0])
    fresh["sample"] = (9.0, 0.0, 0.0)
    monkeypatch.setattr(threads, "_omp", lambda: False)
    now[0] = (10.0, 3.0, 0.0)                   # 3 cores busy elsewhere over the last second
    assert threads.adapt() == 1
    now[0] = (10.1, 3.0, 0.0)                   # 0.1 s later: too soon, the choice stays
    assert threads.adapt() == 1
    now[0] = (12.0, 3.5, 0.0)                   # quiet again: 0.5 core-s in 2 s
    assert threads.adapt() == 4
    assert "adaptive" in threads.note() and "4 OpenMP threads of 4 cores" in threads.note()


def test_gpu_run_is_left_alone(fresh, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    threads.prepare(gpu=True)
    n = fresh["n"]
    fresh["sample"] = (0.0, 0.0, 0.0)
    assert threads.adapt() == n and threads.note() == "threads: GPU run"


def test_spin_policy_respects_the_user(fresh, monkeypatch):
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv(threads.SPIN_MARK, raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    threads.prepare()
    assert "GOMP_SPINCOUNT" not in os.environ and fresh["spin"] == "active"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    threads.prepare()
    assert os.environ["GOMP_SPINCOUNT"] == threads.SPIN_COUNT


def test_training_keeps_libgomps_spin_and_children_choose_again(fresh, monkeypatch):
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv(threads.SPIN_MARK, raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    threads.prepare(work="train")
    assert os.environ["GOMP_SPINCOUNT"] == threads.TRAIN_SPIN_COUNT == fresh["spin"]
    # a process set up for conversions starts train.py: the child's choice wins
    ours = {"GOMP_SPINCOUNT": threads.SPIN_COUNT, threads.SPIN_MARK: threads.SPIN_COUNT}
    assert threads.spin_for("train", ours) == threads.TRAIN_SPIN_COUNT
    assert threads.spin_for("convert", ours) == threads.SPIN_COUNT
    # the user's count (unmarked, or changed after we marked ours) and wait policy stay
    assert threads.spin_for("train", {"GOMP_SPINCOUNT": "5"}) is None
    assert threads.spin_for("train", dict(ours, GOMP_SPINCOUNT="5")) is None
    assert threads.spin_for("convert", {"OMP_WAIT_POLICY": "passive"}) is None
    with pytest.raises(ValueError, match="work must be one of"):
        threads.spin_for("serve", {})
