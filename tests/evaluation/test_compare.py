"""evaluation/compare.py: the table and the grid of side-by-side evaluations
(built here from evaluation folders written by hand)."""

import os

import numpy as np
import pytest
from PIL import Image

from evaluation import compare


def _png(path, value, size=32):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path)


def _evaluation(root, looks):
    for i in range(3):
        name = f"face{i:04d}"
        for s in ("clean", "hand_like"):
            _png(os.path.join(root, s, f"{name}.png"), 10 + i)
            _png(os.path.join(root, s, f"{name}_sketch.png"), 250)
        _png(os.path.join(root, "target", f"{name}.png"), 200)
        if looks:
            for kind in ("look0", "look1", "with_reference", "reference"):
                _png(os.path.join(root, "looks", kind, f"{name}.png"), 100)


def test_grid_has_a_column_per_face_look_and_reference(tmp_path):
    _evaluation(str(tmp_path / "old"), looks=False)
    _evaluation(str(tmp_path / "new"), looks=True)
    path = str(tmp_path / "grid.png")
    compare.grid(str(tmp_path), ["old", "new"], path, rows=2, sets=("clean", "hand_like"),
                 reference=True, cell=16)
    grid = np.asarray(Image.open(path).convert("RGB"))
    # sketch, old, new, new look0, new look1, new with reference, reference, target
    assert grid.shape == (18 + 4 * 16, 8 * 16, 3)
    row = lambda i: grid[18 + i * 16 + 8]                      # noqa: E731
    assert row(0)[8 + 16 * 3][0] == 100                        # a clean row has the looks
    assert row(2)[8 + 16 * 3][0] == 255                        # a hand-like row does not
    assert row(2)[8 + 16 * 2][0] == 10                         # but has the new face
    assert row(3)[8 + 16 * 7][0] == 200                        # and the target


def test_table_rows_for_each_set_and_the_appearance():
    sets = {"clean": {"kid": 351.8, "ssim": 0.45}, "hand_like": {"edge_f1": 0.55}}
    app = {k: {"hair": 0.1, "skin": 0.2, "background": 0.3}
           for k in ("to_reference", "without_reference", "own_photo")}
    app["look_diversity"] = 0.05
    lines = compare.table({"old": {"sets": sets}, "new": {"sets": sets, "appearance": app}})
    assert lines[0] == "| set | metric | old | new |"
    assert "| clean | KID* | 351.8 | 351.8 |" in lines
    assert "| hand_like | edge F1 | 0.55 | 0.55 |" in lines
    assert "| appearance | hair colour distance, with the reference | - | 0.1 |" in lines
    assert not any(line.startswith("| rough") for line in lines)


def test_table_gives_what_the_hand_drawn_style_costs():
    old = {"clean": {"edge_f1": 0.8, "line_f1": 0.8, "target_edge_f1": 0.82},
           "hand_like": {"edge_f1": 0.7, "line_f1": 0.78, "target_edge_f1": 0.77}}
    new = {"clean": {"edge_f1": 0.6}, "hand_like": {"edge_f1": 0.5}}
    lines = compare.table({"old": {"sets": old}, "new": {"sets": new}})
    rows = {line.split(" | ")[1]: line.split(" | ")[2:] for line in lines
            if line.startswith("| hand_like - clean |")}
    assert set(rows) == {"edge F1", "edge F1 of the target photo (ceiling)", "edge F1, clean lines"}
    assert [float(v) for v in rows["edge F1"][0:1]] == [pytest.approx(-0.1)]
    assert rows["edge F1"][1].rstrip(" |") == compare.fmt(0.5 - 0.6)
    assert float(rows["edge F1, clean lines"][0]) == pytest.approx(-0.02)
    assert rows["edge F1, clean lines"][1].rstrip(" |") == "-"     # the new one has none
    assert "| clean | edge F1, clean lines | 0.8 | - |" in lines


@pytest.mark.slow
def test_before_after_script_end_to_end(tiny_params, tmp_path):
    from tests.conftest import run_script
    out = tmp_path / "ba"
    argv = ["--old", tiny_params, "--new", tiny_params, "--out", str(out), "--n_test", "2",
            "--looks", "1", "--feature_net", "random", "--grid_rows", "1", "--parser", ""]
    assert run_script("scripts/before_after.py", argv) == 0
    md = (out / "before_after.md").read_text()
    for row in ("| clean | edge F1 |", "| hand_like | edge F1, clean lines |",
                "| hand_like - clean | edge F1 of the target photo (ceiling) |"):
        assert row in md, row
    assert "hair IoU" not in md                       # no parser given
    old = [line for line in md.splitlines() if line.startswith("| rough | SSIM |")][0]
    cells = old.strip("| ").split(" | ")
    assert cells[2] == cells[3]                       # the same checkpoint twice: the same numbers
    with Image.open(out / "grid.png") as grid:
        assert grid.size[1] == 18 + 2 * 128           # a clean and a hand-like row
    assert run_script("scripts/before_after.py", argv[:1] + [str(tmp_path / "nope")]
                      + argv[2:]) == 2
