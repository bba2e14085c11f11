"""What every entry point does first: make sure it runs in an environment
that has the project's dependencies, and say so in one line (exit 2) when
it does not, instead of a traceback (README: the commands run with the
virtual environment's Python, `.venv/bin/python` or after `source
.venv/bin/activate`). Standard library only."""

import importlib.util
import os
import sys

# import name -> what pip installs
REQUIRED = {"numpy": "numpy", "PIL": "pillow", "cv2": "opencv-python", "scipy": "scipy",
            "tqdm": "tqdm", "jittor": "jittor"}
# what running exported ONNX networks needs (demo.py --backend onnx): no Jittor, no SciPy
ONNX_REQUIRED = {"numpy": "numpy", "PIL": "pillow", "cv2": "opencv-python", "tqdm": "tqdm",
                 "onnxruntime": "onnxruntime"}


def missing_dependencies(required=REQUIRED):
    return [pip for name, pip in required.items() if importlib.util.find_spec(name) is None]


def require_dependencies(required=REQUIRED):
    """Exit with status 2 and one line if a dependency is missing."""
    missing = missing_dependencies(required)
    if not missing:
        return
    venv = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv")
    hint = (f"run it with {os.path.join(venv, 'bin', 'python')}, or `source "
            f"{os.path.join(venv, 'bin', 'activate')}` first" if os.path.isdir(venv) else
            "install the project first: python3 -m venv .venv && .venv/bin/pip install -e .")
    print(f"error: {sys.executable} lacks {', '.join(missing)}: {hint}", file=sys.stderr)
    sys.exit(2)
