"""Shared fixtures: a tiny checkpoint folder with random weights, option objects."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
MANIFEST = os.path.join(ROOT, "tests", "data", "official_checkpoint_manifest.json")  # from the reference notes


def run_script(module_path, argv):
    """Run a script's main(argv) in this process (Jittor is already warm)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("script_under_test", os.path.join(ROOT, module_path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


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
