"""Data-parallel training through Jittor's MPI: a 2-process run on the CPU.

.ci/run installs OpenMPI (Debian's openmpi-bin + libopenmpi-dev); on a
machine without it this test fails in CI and is skipped elsewhere."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.mpi, pytest.mark.slow]


def test_two_process_training_run(tmp_path):
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        if os.environ.get("CI"):
            pytest.fail("mpirun not found: .ci/run should have installed OpenMPI")
        pytest.skip("OpenMPI is not installed (apt-get install openmpi-bin libopenmpi-dev)")
    cmd = [mpirun, "-np", "2", "--oversubscribe"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += [sys.executable, os.path.join(ROOT, "train.py"), "--stage", "ae", "--preset", "tiny",
            "--name", "mpi", "--checkpoints_dir", str(tmp_path), "--n_samples", "16",
            "--batch_size", "4", "--niter", "2", "--niter_decay", "0", "--print_freq", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_"))}
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    log = (tmp_path / "mpi" / "loss_log.txt").read_text()
    # 16 samples / (4 per process x 2 processes) = 2 steps per epoch: the data is sharded
    assert "(epoch: 1, iters: 2," in log and "(epoch: 2, iters: 2," in log
    assert "iters: 3," not in log
    assert (tmp_path / "mpi" / "AE_whole" / "latest_net_encoder_.pkl").is_file()
    assert res.stdout.count("stage ae: 4 steps done") == 1          # only rank 0 reports
