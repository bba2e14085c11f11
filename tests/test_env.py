"""Jittor set-up: oneDNN found and used, the slow path announced once,
no CUDA where there is no GPU."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def run_py(code, **env):
    full = dict(os.environ, PYTHONPATH=ROOT, **env)
    for k in ("use_mkl", "nvcc_path"):
        full.pop(k, None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=full)


def test_onednn_is_found_and_used():
    from util import jittor_env
    assert jittor_env.find_onednn() is not None, "the onednn wheels are a dependency"
    jittor_env.get_jittor()
    assert jittor_env.describe() in ("Jittor on CPU with oneDNN", "Jittor on CUDA GPU")


def test_without_onednn_the_slow_path_is_announced_once():
    code = ("from util import jittor_env as e\n"
            "e._prepare_onednn = lambda: None       # as on a machine without any oneDNN\n"
            "jt = e.setup('off'); e.setup('off')\n"
            "x = jt.nn.Conv2d(1, 2, 3)(jt.ones((1, 1, 8, 8)))\n"
            "print(e.describe(), list(x.shape))\n")
    res = run_py(code)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "slow path (no oneDNN)" in res.stdout and "[1, 2, 6, 6]" in res.stdout
    assert res.stderr.count("oneDNN not found") == 1
    assert "Download" not in res.stderr and "libcudart" not in res.stderr


def test_gpu_choice():
    from util import jittor_env
    jt = jittor_env.get_jittor()
    if not jittor_env.gpu_usable():
        with pytest.raises(jittor_env.JittorSetupError, match="--gpu on"):
            jittor_env.setup("on")
        assert jt.flags.use_cuda == 0
    with pytest.raises(jittor_env.JittorSetupError, match="auto, on, off"):
        jittor_env.setup("maybe")
    jittor_env.setup("off")
    assert jt.flags.use_cuda == 0
