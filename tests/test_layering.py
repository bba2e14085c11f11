"""The rooms of the code and what each may import (docs/architecture.md):
every import statement of every module, at module level or inside a
function, points down, never up."""

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


def modules(room):
    for folder, _, files in os.walk(os.path.join(ROOT, room)):
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def imported_rooms(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_imports_point_down(room):
    bad = []
    for path in modules(room):
        for target, line in imported_rooms(path):
            if target in FORBIDDEN[room] or target in ENTRY_POINTS or target == "scripts":
                bad.append(f"{os.path.relpath(path, ROOT)}:{line} imports {target}")
    assert not bad, "; ".join(bad)


def test_library_code_never_loads_a_file_by_path():
    bad = [os.path.relpath(path, ROOT) for room in FORBIDDEN for path in modules(room)
           if "spec_from_file_location" in open(path).read()]
    assert not bad, bad


def test_scripts_do_not_edit_sys_path():
    bad = [name for name in os.listdir(os.path.join(ROOT, "scripts"))
           if name.endswith(".py") and "sys.path" in open(os.path.join(ROOT, "scripts", name)).read()]
    assert not bad, bad
