"""The one place where Jittor is configured for this machine.

Call ``setup(gpu=...)`` before anything imports Jittor (the entry points do
it right after parsing their options); ``get_jittor()`` returns the configured
module and configures it with ``gpu='auto'`` (or ``$DFD_GPU``) if nobody did.

What it does, before ``import jittor``:

* GPU: ``auto`` uses CUDA when a GPU is usable (an NVIDIA device node, the
  ``nvcc`` compiler and a loadable CUDA runtime), ``on`` insists on it,
  ``off`` never tries. When CUDA is not used, ``nvcc_path`` is set empty so
  Jittor does not try to load ``libcudart`` (these machines ship nvcc and no
  GPU).
* oneDNN, Jittor's fast CPU path ("mkl"): Jittor wants to download oneDNN
  2.2 on first import, which fails offline. We point it at a oneDNN 2.x
  that is already installed instead: the ``onednn-cpu-gomp`` wheel in this
  Python environment (a dependency of the project) or Debian's ``libdnnl``.
  Jittor looks for ``~/.cache/jittor/mkl/dnnl_lnx_2.2.0_cpu_gomp`` holding
  ``include/`` and ``lib/libmkldnn.so``; we make that folder out of links.
  Without any oneDNN we set ``use_mkl=0`` and say once that the slow path is
  in use.

Variables the user has set themselves (``use_mkl``, ``nvcc_path``) are
respected.
"""

import ctypes
import glob
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

from util import threads

GPU_CHOICES = ("auto", "on", "off")
_MKL_DIR_NAME = "dnnl_lnx_2.2.0_cpu_gomp"
_MARKER = ".made_by_deepfacedrawing"

_state = {"jt": None, "gpu": None, "onednn": None}


class JittorSetupError(RuntimeError):
    """Jittor cannot be configured as asked (for example --gpu on, no GPU)."""


def _say(msg):
    print(msg, file=sys.stderr, flush=True)


def jittor_home():
    """Jittor's home folder, read the way Jittor reads it (without importing)."""
    if os.environ.get("JITTOR_HOME"):
        return os.path.abspath(os.environ["JITTOR_HOME"])
    cfg = Path.home() / ".cache" / "jittor" / "config.json"
    try:
        return json.loads(cfg.read_text()).get("JITTOR_HOME", str(Path.home()))
    except (OSError, ValueError):
        return str(Path.home())


def gpu_usable():
    """True when CUDA can actually run here (device, compiler and runtime)."""
    if not (glob.glob("/dev/nvidia[0-9]*") or os.path.exists("/dev/nvidiactl")):
        return False
    nvcc = os.environ.get("nvcc_path") or shutil.which("nvcc")
    if not nvcc:
        return False
    lib_dirs = [os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))), d)
                for d in ("lib64", "lib", "targets/x86_64-linux/lib")]
    for d in lib_dirs:
        for path in glob.glob(os.path.join(d, "libcudart.so*")):
            try:
                ctypes.CDLL(path)
                return True
            except OSError:
                continue
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=10)
        return out.returncode == 0 and b"GPU" in out.stdout
    except (OSError, subprocess.SubprocessError):
        return False


def find_onednn():
    """(include_dir, library) of an installed oneDNN 2.x, or None."""
    prefixes = [sys.prefix, sys.base_prefix, "/usr/local", "/usr"]
    lib_dirs = ["lib", "lib64", "lib/x86_64-linux-gnu", "lib/aarch64-linux-gnu"]
    for prefix in prefixes:
        inc = os.path.join(prefix, "include")
        if not os.path.isfile(os.path.join(inc, "dnnl.hpp")):
            continue
        for d in lib_dirs:   # the 2.x API Jittor compiles against is soname .so.2
            lib = os.path.join(prefix, d, "libdnnl.so.2")
            if os.path.isfile(lib):
                return inc, lib
    return None


def _link(target, link):
    if os.path.islink(link) or os.path.exists(link):
        if os.path.islink(link) and os.readlink(link) == target:
            return
        os.remove(link)
    os.symlink(target, link)


def _prepare_onednn():
    """Make Jittor's oneDNN folder point at an installed oneDNN; return the
    library path, or None when no oneDNN is to be had."""
    mkl_home = os.path.join(jittor_home(), ".cache", "jittor", "mkl", _MKL_DIR_NAME)
    jittors_own = (os.path.isfile(os.path.join(mkl_home, "lib", "libmkldnn.so"))
                   and not os.path.exists(os.path.join(mkl_home, _MARKER)))
    if jittors_own:                     # downloaded by Jittor itself: use it
        return os.path.realpath(os.path.join(mkl_home, "lib", "libmkldnn.so"))
    found = find_onednn()
    if found is None:
        return None
    inc, lib = found
    try:
        os.makedirs(os.path.join(mkl_home, "lib"), exist_ok=True)
        Path(mkl_home, _MARKER).write_text("links to an installed oneDNN; safe to delete\n")
        _link(inc, os.path.join(mkl_home, "include"))
        _link(lib, os.path.join(mkl_home, "lib", "libmkldnn.so"))
    except OSError as exc:
        _say(f"deepfacedrawing: cannot prepare Jittor's oneDNN folder {mkl_home}: {exc}")
        return None
    return lib


def setup(gpu="auto", work="convert"):
    """Configure and import Jittor; return the module. Idempotent. ``work``
    ("convert" or "train") sets OpenMP's spin (``util/threads.py``)."""
    if gpu not in GPU_CHOICES:
        raise JittorSetupError(f"--gpu must be one of {', '.join(GPU_CHOICES)}, not {gpu!r}")
    if _state["jt"] is not None:
        if gpu == "on" and not _state["gpu"]:
            raise JittorSetupError("--gpu on: Jittor was already set up without a GPU")
        _state["jt"].flags.use_cuda = int(bool(_state["gpu"]) and gpu != "off")
        return _state["jt"]
    if "jittor" in sys.modules:          # imported by someone else: just use it
        jt = sys.modules["jittor"]
        _state.update(jt=jt, gpu=bool(jt.has_cuda) and gpu != "off")
        jt.flags.use_cuda = int(_state["gpu"])
        return jt

    use_gpu = gpu != "off" and gpu_usable()
    if gpu == "on" and not use_gpu:
        raise JittorSetupError("--gpu on was given but no usable CUDA GPU was found "
                               "(need an NVIDIA device, nvcc and libcudart)")
    if not use_gpu:
        os.environ.setdefault("nvcc_path", "")

    onednn = None
    if os.environ.get("use_mkl", "1") == "1":
        lib = _prepare_onednn()
        if lib is not None:
            try:
                ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
                onednn = lib
            except OSError as exc:
                _say(f"deepfacedrawing: cannot load oneDNN from {lib}: {exc}")
        if onednn is None:
            os.environ["use_mkl"] = "0"
            if not use_gpu:
                _say("deepfacedrawing: oneDNN not found, so Jittor runs convolutions on its "
                     "slow CPU path (about 100x slower); `pip install onednn-cpu-gomp==2022.2.1 "
                     "onednn-devel-cpu-gomp==2022.2.1` or `apt-get install libdnnl-dev` fixes it")
    threads.prepare(use_gpu, work)              # before OpenMP starts (util/threads.py)
    os.environ.setdefault("log_silent", "1")   # Jittor's compile chatter
    # Jittor sets the CPU to flush subnormals, which makes NumPy warn on
    # every float32 limit query: noise for the user, not a problem.
    warnings.filterwarnings("ignore", message="The value of the smallest subnormal")
    with CoreCompileProgress():
        import jittor as jt

    jt.flags.use_cuda = int(use_gpu)
    _state.update(jt=jt, gpu=use_gpu, onednn=onednn)
    return jt


# ---------------------------------------------------------------- first run
# measured: 2:09 from a fresh home (empty caches) on 2 cores
FIRST_RUN_MINUTES = "it took 2:09 minutes from a fresh home on 2 cores, less with more cores"


def jittor_cache_root():
    return os.path.join(jittor_home(), ".cache", "jittor")


def core_is_compiled():
    """True when Jittor's C++ core is already in its cache (not a first run)."""
    return bool(glob.glob(os.path.join(jittor_cache_root(), "jt*", "**", "jittor_core*.so"),
                          recursive=True))


def core_source_count():
    """How many C++ files Jittor compiles into its core (for the progress)."""
    import importlib.util
    spec = importlib.util.find_spec("jittor")
    if spec is None or not spec.submodule_search_locations:
        return 0
    src = os.path.join(list(spec.submodule_search_locations)[0], "src")
    return len(glob.glob(os.path.join(src, "**", "*.cc"), recursive=True))


class CoreCompileProgress:
    """Around the first ``import jittor`` on a machine: one line saying that
    Jittor compiles its core once and how long that takes, then progress
    (files compiled, time so far) until the import returns. Silent when the
    core is already compiled."""

    def __init__(self, interval=None, stream=None):
        self.stream = stream or sys.stderr
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval or (2.0 if tty else 30.0)
        self.tty = tty
        self._stop = None

    def _count(self):
        return len(glob.glob(os.path.join(jittor_cache_root(), "jt*", "**", "obj_files",
                                          "*.o"), recursive=True))

    def _watch(self, start, total, stop):
        import time
        while not stop.wait(self.interval):
            done = self._count()
            mins, secs = divmod(int(time.time() - start), 60)
            what = f"{min(done, total)}/{total} files" if total and done else "preparing"
            line = f"deepfacedrawing: compiling Jittor's core: {what}, {mins}:{secs:02d} so far"
            print(("\r" + line) if self.tty else line, end="" if self.tty else "\n",
                  file=self.stream, flush=True)

    def __enter__(self):
        if core_is_compiled():
            return self
        import threading
        import time
        _say(f"deepfacedrawing: first run on this machine: Jittor compiles its C++ core once "
             f"({FIRST_RUN_MINUTES}); later runs start in seconds")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        args=(time.time(), core_source_count(), self._stop))
        self._thread.start()
        self._start = time.time()
        return self

    def __exit__(self, *exc):
        if self._stop is None:
            return False
        import time
        self._stop.set()
        self._thread.join(timeout=1)
        end = "\n" if self.tty else ""
        mins, secs = divmod(int(time.time() - self._start), 60)
        print(f"{end}deepfacedrawing: Jittor's core compiled in {mins}:{secs:02d}; its "
              f"operators compile on first use (shown as 'Compiling Operators')",
              file=self.stream, flush=True)
        return False


def get_jittor():
    """The configured Jittor module (configures it on first use)."""
    if _state["jt"] is None:
        return setup(os.environ.get("DFD_GPU", "auto"))
    return _state["jt"]


def describe_plan(gpu="auto"):
    """How ``setup(gpu)`` will run Jittor, said before importing it (so an
    entry point's first line can say it at once)."""
    if _state["jt"] is not None:
        return describe()
    if gpu != "off" and gpu_usable():
        return "Jittor on CUDA GPU"
    if os.environ.get("use_mkl", "1") == "1" and find_onednn() is not None:
        return "Jittor on CPU with oneDNN"
    return "Jittor on CPU, slow path (no oneDNN)"


def describe():
    """One line saying how Jittor runs here (device and CPU path)."""
    get_jittor()
    if _state["gpu"]:
        return "Jittor on CUDA GPU"
    if _state["onednn"]:
        return "Jittor on CPU with oneDNN"
    return "Jittor on CPU, slow path (no oneDNN)"
