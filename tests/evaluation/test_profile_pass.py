"""scripts/profile_pass.py: where a network's time goes, kernel by kernel.
A smoke run on the bundled model's generator: the
table has the convolutions in it, every share is a percentage of the call,
and the most expensive kernels are listed. No timing is asserted."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "profile_pass.py")


def run(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=900)


def test_profile_of_the_bundled_generator():
    r = run("--method", "deepfacedrawing", "--config", "bundled", "--what", "G",
            "--calls", "2", "--warmup", "1", "--top", "3")
    assert r.returncode == 0, r.stderr[-2000:]
    out = r.stdout
    head = re.search(r"^# deepfacedrawing bundled G, batch 1: ([\d.]+) ms a call", out, re.M)
    assert head and float(head.group(1)) > 0, out
    rows = re.findall(r"^\| ([^|]+) \| ([\d.]+) \| (\d+) % \|$", out, re.M)
    kinds = {name.strip(): float(ms) for name, ms, _ in rows}
    assert kinds.get("oneDNN convolution", 0) > 0, out      # G is mostly convolutions
    assert "outside the kernels (Python, graph, scheduling)" in kinds
    assert len(re.findall(r"^\* [\d.]+ ms, ", out, re.M)) == 3


def test_unknown_part_is_refused():
    r = run("--method", "deepfacedrawing", "--config", "tiny", "--what", "nothing")
    assert r.returncode == 2 and "--what nothing: deepfacedrawing has pass" in r.stderr



def test_profile_of_a_training_step():
    """--what train_ae: one optimisation step of the ae stage (the benchmark's),
    its backward convolutions among the kernels."""
    r = run("--method", "deepfacedrawing", "--what", "train_ae", "--calls", "1",
            "--warmup", "1", "--top", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    assert re.search(r"^# deepfacedrawing bundled train_ae, batch 1: [\d.]+ ms a call",
                     r.stdout, re.M), r.stdout
    assert "| oneDNN conv backward-weights |" in r.stdout, r.stdout
