"""The rooms of the code and what each may import (docs/architecture.md):
every import statement of every module, at module level or inside a
function, points down, never up; each method's packages import the shared
code and never the other method's; the shared model code imports no
method."""

import ast
import os

import pytest

from tests.conftest import ROOT

# room -> rooms it must never import
FORBIDDEN = {
    "util": {"data", "models", "options", "training", "evaluation", "app", "configs"},
    "data": {"models", "options", "training", "evaluation", "app"},
    "configs": {"util", "data", "models", "options", "training", "evaluation", "app"},
    "models": {"options", "training", "evaluation", "app"},
    "options": {"training", "evaluation", "app"},
    "training": {"evaluation", "app"},
    "evaluation": {"app"},
}
ENTRY_POINTS = ("demo", "train", "draw")
# each method's own code, room by room: a package (or an option module)
METHOD_CODE = {
    "deepfacedrawing": ("models/deepfacedrawing", "training/deepfacedrawing",
                        "options/deepfacedrawing.py", "configs/deepfacedrawing"),
    "sp_embedding": ("models/sp_embedding", "training/sp_embedding", "options/sp_embedding.py",
                     "options/sp_embedding_train.py", "configs/sp_embedding"),
}
# shared model code that serves every method without naming one (the registry,
# ``models/methods.py``, names them as strings; the ONNX exporter and runtime
# and the evaluation serve both methods and may import both)
SHARED_MODELS = ("models/__init__.py", "models/base_model.py", "models/files.py",
                 "models/inference.py", "models/job.py", "models/layers.py", "models/methods.py",
                 "models/torch_file.py", "models/torch_writer.py", "models/vgg.py",
                 "models/vgg16_weights.py", "models/inception.py",
                 "training/base_trainer.py", "training/run_files.py", "training/training_data.py",
                 "training/optim.py", "training/losses.py", "training/lpips.py",
                 "training/__init__.py")


def modules(room):
    """Every .py file of ``room`` (a folder, or one file)."""
    if room.endswith(".py"):
        yield os.path.join(ROOT, room)
        return
    for folder, _, files in os.walk(os.path.join(ROOT, room)):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def imported_modules(path):
    """(module, line) of every import of ``path``; ``from a import b`` gives
    ``a.b`` too (b may be a module)."""
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def imported_rooms(path):
    for module, line in imported_modules(path):
        yield module.split(".")[0], line


def method_of(module):
    """The method whose own code ``module`` (dotted) is, or None."""
    path = module.replace(".", "/")
    for method, places in METHOD_CODE.items():
        for place in places:
            place = place[:-3] if place.endswith(".py") else place
            if path == place or path.startswith(place + "/"):
                return method
    return None


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_imports_point_down(room):
    bad = []
    for path in modules(room):
        for target, line in imported_rooms(path):
            if target in FORBIDDEN[room] or target in ENTRY_POINTS or target == "scripts":
                bad.append(f"{os.path.relpath(path, ROOT)}:{line} imports {target}")
    assert not bad, "; ".join(bad)


@pytest.mark.parametrize("method", sorted(METHOD_CODE))
def test_a_method_never_imports_the_other_methods_code(method):
    bad = []
    for place in METHOD_CODE[method]:
        for path in modules(place):
            for module, line in imported_modules(path):
                other = method_of(module)
                if other not in (None, method):
                    bad.append(f"{os.path.relpath(path, ROOT)}:{line} imports {module}")
    assert not bad, "; ".join(bad)


def test_shared_model_and_training_code_imports_no_method():
    bad = [f"{place}:{line} imports {module}" for place in SHARED_MODELS
           for path in modules(place) for module, line in imported_modules(path)
           if method_of(module) is not None]
    assert not bad, "; ".join(bad)


def test_every_method_package_is_known_here():
    """A new method's packages join METHOD_CODE (and so the rules above)."""
    from models.methods import method_names
    assert sorted(METHOD_CODE) == sorted(method_names())
    for places in METHOD_CODE.values():
        assert all(os.path.exists(os.path.join(ROOT, p)) for p in places), places


def test_library_code_never_loads_a_file_by_path():
    bad = [os.path.relpath(path, ROOT) for room in FORBIDDEN for path in modules(room)
           if "spec_from_file_location" in open(path).read()]
    assert not bad, bad


def test_scripts_do_not_edit_sys_path():
    bad = [name for name in os.listdir(os.path.join(ROOT, "scripts"))
           if name.endswith(".py") and "sys.path" in open(os.path.join(ROOT, "scripts", name)).read()]
    assert not bad, bad
