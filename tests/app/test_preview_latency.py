"""scripts/preview_latency.py: the drawing replayed stroke by stroke, the
page's own delays read from app.js, and a short run through the app's
request path for both bundled models (timings are printed, not asserted)."""

import importlib.util
import os

import numpy as np
import pytest

from tests.conftest import ROOT


def load_script():
    spec = importlib.util.spec_from_file_location(
        "preview_latency", os.path.join(ROOT, "scripts", "preview_latency.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_strokes_reveal_the_drawing_top_to_bottom():
    pl = load_script()
    canvases = pl.stroke_canvases(pl.DEFAULT_SKETCH, 5)
    assert len(canvases) == 5 and canvases[0].shape == (pl.CANVAS, pl.CANVAS, 4)
    ink = [int((c[..., 3] > 64).sum()) for c in canvases]
    assert all(a < b for a, b in zip(ink, ink[1:])) and ink[0] > 0      # each adds lines
    assert (canvases[-1][..., :3] == 0).all()                            # dark strokes
    rows = np.nonzero(canvases[0][..., 3].max(axis=1))[0]
    assert rows.max() < pl.CANVAS // 2 + 60                              # the top first
    url = pl.png_data_url(canvases[2])
    back = np.asarray(pl.decode_data_url(url))
    assert np.array_equal(back, canvases[2])


def test_page_delays_come_from_app_js():
    settle, stroke = load_script().page_delays()
    assert isinstance(settle, int) and isinstance(stroke, int) and 0 < settle <= stroke


@pytest.mark.slow
def test_a_short_run_through_the_app(capsys):
    pl = load_script()
    results = pl.run(strokes=2, warmup=1)
    assert set(results) == {"deepfacedrawing", "sp_embedding"}
    for r in results.values():
        assert r["total"]["n"] == 2 and r["total"]["median"] >= r["server"]["median"] > 0
    text = pl.report(results)
    assert sum(line.startswith("| ") for line in text.splitlines()) == 3   # header, 2 rows
    assert "SETTLE_MS" in text
