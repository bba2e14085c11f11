"""Shared fixtures: a tiny checkpoint folder with random weights, option objects."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
MANIFEST = os.path.join(ROOT, "tests", "data", "official_checkpoint_manifest.json")  # from the reference notes


def pytest_sessionstart(session):
    """A crash says where it happened. Jittor's import replaces the fault
    handler pytest installs with its own, which writes to file descriptor 2:
    during a test that is pytest's capture file, lost when the process dies,
    so a segfault ended CI with no more than "Segmentation fault" after the
    last test's dot. Import Jittor first, then hand SIGSEGV and the other
    fatal signals back to Python's faulthandler, writing (with the
    traceback of every thread) to the terminal pytest keeps for it."""
    import faulthandler
    from _pytest.faulthandler import fault_handler_stderr_fd_key
    from util.jittor_env import get_jittor
    get_jittor()
    fd = session.config.stash.get(fault_handler_stderr_fd_key, None)
    if fd is not None:                   # absent under -p no:faulthandler
        faulthandler.disable()           # enable() on an enabled handler changes nothing
        faulthandler.enable(file=fd, all_threads=True)


def face_sketch(size=512, mode="L"):
    """A simple face drawn in black on white (outline, eyes, nose, mouth)."""
    from PIL import Image, ImageDraw
    img = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(img)
    s = size / 512
    d.ellipse([100 * s, 60 * s, 412 * s, 470 * s], outline=0, width=max(1, int(3 * s)))
    for cx in (172, 319):
        d.ellipse([(cx - 30) * s, 205 * s, (cx + 30) * s, 235 * s], outline=0, width=2)
    d.line([256 * s, 250 * s, 246 * s, 330 * s, 266 * s, 330 * s], fill=0, width=2)
    d.arc([206 * s, 350 * s, 306 * s, 410 * s], 10, 170, fill=0, width=3)
    return img.convert(mode)


def assert_same_history(full, resumed, start, rel=1e-4, abs_tol=1e-6):
    """A run resumed after step ``start`` logged the losses the
    uninterrupted run logged from there (every step, every loss)."""
    assert len(resumed) == len(full) - start
    for a, b in zip(full[start:], resumed):
        assert set(a) == set(b)
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=rel, abs=abs_tol), k


def run_script(module_path, argv):
    """Run a script's main(argv) in this process (Jittor is already warm)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("script_under_test", os.path.join(ROOT, module_path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    try:
        return mod.main(argv)
    except SystemExit as exc:          # what the process would exit with
        return exc.code


@pytest.fixture(scope="session")
def tiny_params(tmp_path_factory):
    """A tiny random checkpoint folder in the authors' layout (with config.json)."""
    out = str(tmp_path_factory.mktemp("tiny_params"))
    assert run_script("scripts/make_random_params.py",
                      ["--preset", "tiny", "--out", out, "--bank_size", "40", "--seed", "3"]) == 0
    return out


@pytest.fixture(scope="session")
def tiny_opt():
    from options.test_options import TestOptions
    return TestOptions().parse(["--preset", "tiny"])


@pytest.fixture(scope="session")
def official_opt():
    from options.test_options import TestOptions
    return TestOptions().parse(["--preset", "official"])
