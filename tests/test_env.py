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


def test_first_run_says_at_once_that_jittor_compiles_and_shows_progress(monkeypatch, tmp_path):
    """On a machine where Jittor's core is not compiled yet: one line at once
    (what happens, how long), then progress lines while it compiles."""
    import io
    import time
    from util import jittor_env
    monkeypatch.setattr(jittor_env, "core_is_compiled", lambda: False)
    monkeypatch.setattr(jittor_env, "core_source_count", lambda: 164)
    counts = iter([3, 40, 90, 164, 164, 164])
    monkeypatch.setattr(jittor_env.CoreCompileProgress, "_count", lambda self: next(counts, 164))
    out = io.StringIO()
    monkeypatch.setattr(jittor_env, "_say", lambda msg: out.write(msg + "\n"))
    with jittor_env.CoreCompileProgress(interval=0.05, stream=out):
        first = out.getvalue()
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert "compiles its C++ core once" in first and "minutes" in first
    progress = [line for line in lines if "compiling Jittor's core:" in line]
    assert len(progress) >= 2 and "/164 files" in progress[-1]
    assert "compiled in" in lines[-1]
    monkeypatch.setattr(jittor_env, "core_is_compiled", lambda: True)
    quiet = io.StringIO()
    with jittor_env.CoreCompileProgress(interval=0.05, stream=quiet):
        time.sleep(0.1)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize("script", ["demo.py", "train.py", "draw.py"])
def test_entry_points_without_their_dependencies_say_so_in_one_line(script):
    """Run with a Python that has no site-packages (as the system Python
    lacks the venv's): exit 2 and one line naming the fix, no traceback."""
    import subprocess
    import sys
    from tests.conftest import ROOT
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    run = subprocess.run([sys.executable, "-S", "-E", os.path.join(ROOT, script)],
                         capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "numpy" in lines[0]
    assert ".venv/bin/python" in lines[0] or "pip install" in lines[0]
