"""Reports of scripts/run_ablations.py: the comparison table (Markdown, CSV),
the image grid and the refinement-sweep plot (PNG, drawn with Pillow)."""

import csv
import os

import numpy as np
from PIL import Image, ImageDraw

# (set, metric, column title) in the Markdown table; the CSV has every metric
TABLE = [("clean", "psnr", "PSNR"), ("clean", "ssim", "SSIM"), ("clean", "vgg", "VGG"),
         ("clean", "fid", "FID*"), ("clean", "kid", "KID*"), ("clean", "chamfer", "chamfer"),
         ("rough", "psnr", "PSNR"), ("rough", "ssim", "SSIM"), ("rough", "vgg", "VGG"),
         ("rough", "fid", "FID*"), ("rough", "kid", "KID*"), ("rough", "chamfer", "chamfer"),
         ("rough", "to_clean", "L1 to clean output"),
         ("gap", "ssim", "dSSIM"), ("gap", "vgg", "dVGG"), ("gap", "fid", "dFID*"),
         ("hand", "fid", "FID*"), ("hand", "chamfer", "chamfer")]
SWEEP_PANELS = [("ssim", "SSIM to target (higher = closer)"), ("fid", "FID* (lower = more realistic)"),
                ("chamfer", "chamfer to input sketch, px (lower = more faithful)")]


def _value(result, where, metric):
    source = result.get("gap", {}) if where == "gap" else result["sets"].get(where, {})
    return source.get(metric)


def fmt_value(v):
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def table_rows(results):
    """(header, rows) of the Markdown table: one row per method."""
    present = [(w, m, t) for w, m, t in TABLE
               if any(_value(r, w, m) is not None for r in results.values())]
    header = ["method", "pipeline", "K", "t"] + [f"{w} {t}" if w != "gap" else t
                                                  for w, _, t in present]
    rows = []
    for name, r in results.items():
        o = r["options"]
        direct = o.get("pipeline", "direct") == "direct"      # no K, t: pix2pixHD, other methods
        refine = "-" if direct else o["refine"]
        k = "-" if direct else o["k"]
        cells = []
        for w, m, _ in present:
            cell = fmt_value(_value(r, w, m))
            std = _value(r, w, "kid_std") if m == "kid" and w != "gap" else None
            cells.append(f"{cell} ± {std:.2g}" if cell and std else cell)
        rows.append([name, o.get("pipeline", r.get("method", "-")), k, refine] + cells)
    return header, rows


def flat_rows(results):
    """(header, rows) with every metric of every set (for the CSV)."""
    keys = []
    for r in results.values():
        for s, vals in list(r["sets"].items()) + [("gap", r.get("gap", {}))]:
            keys += [f"{s}:{k}" for k, v in vals.items()
                     if f"{s}:{k}" not in keys and not isinstance(v, dict)]   # tables apart
    rows = []
    for name, r in results.items():
        sets = dict(r["sets"], gap=r.get("gap", {}))
        o = r["options"]
        rows.append([name, o.get("pipeline", r.get("method", "-")), o.get("k", "-"),
                     o.get("refine", "-")] +
                    [fmt_value(sets.get(k.split(":")[0], {}).get(k.split(":", 1)[1])) for k in keys])
    return ["method", "pipeline", "k", "refine"] + keys, rows


def write_csv(path, header, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)


def write_markdown(path, title, header, rows, notes=()):
    lines = [f"# {title}", ""] + [n for n in notes if n] + [""]
    lines += ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


# ------------------------------------------------------------------ images
def _load(path, cell):
    if not os.path.isfile(path):
        return Image.new("RGB", (cell, cell), (200, 200, 200))
    with Image.open(path) as im:
        return im.convert("RGB").resize((cell, cell), Image.BILINEAR)


def grid_image(folders, labels, n_faces, path, cell=128, sets=("clean", "rough")):
    """Rows: the first ``n_faces`` test faces, each clean then rough; columns:
    input sketch, target photo, then each method's output."""
    first = folders[0]
    names = sorted(f[:-4] for f in os.listdir(os.path.join(first, sets[0]))
                   if f.endswith(".png") and not f.endswith("_sketch.png"))[:n_faces]
    rows = [(s, n) for n in names for s in sets if os.path.isdir(os.path.join(first, s))]
    head = 18
    cols = ["sketch", "target"] + list(labels)
    canvas = Image.new("RGB", (cell * len(cols), head + cell * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    for j, label in enumerate(cols):
        draw.text((j * cell + 4, 3), label[:20], fill="black")
    for i, (s, n) in enumerate(rows):
        y = head + i * cell
        canvas.paste(_load(os.path.join(first, s, f"{n}_sketch.png"), cell), (0, y))
        canvas.paste(_load(os.path.join(first, "target", f"{n}.png"), cell), (cell, y))
        for j, folder in enumerate(folders):
            canvas.paste(_load(os.path.join(folder, s, f"{n}.png"), cell), ((j + 2) * cell, y))
        draw.text((4, y + 4), s, fill=(200, 0, 0))
    canvas.save(path)
    return path


def sweep_rows(sweep):
    """(header, rows): one row per refinement weight."""
    cols = [(s, m) for s in ("clean", "rough") for m in
            ("l1", "psnr", "ssim", "vgg", "fid", "kid", "chamfer", "edge_f1", "to_clean")
            if any(m in r["sets"].get(s, {}) for r in sweep.values())]
    header = ["t"] + [f"{s} {m}" for s, m in cols]
    rows = [[f"{t:g}"] + [fmt_value(r["sets"].get(s, {}).get(m)) for s, m in cols]
            for t, r in sorted(sweep.items())]
    return header, rows


def sweep_plot(sweep, path, width=300, height=220):
    """One panel per metric in SWEEP_PANELS: value against t, clean and rough."""
    ts = sorted(sweep)
    panels = [(m, title) for m, title in SWEEP_PANELS
              if any(m in sweep[t]["sets"].get("clean", {}) for t in ts)]
    canvas = Image.new("RGB", (width * max(len(panels), 1), height), "white")
    draw = ImageDraw.Draw(canvas)
    colours = {"clean": (30, 90, 200), "rough": (220, 60, 30)}
    left, right, top, bottom = 46, 12, 30, 34
    for i, (metric, title) in enumerate(panels):
        x0 = i * width
        series = {s: [sweep[t]["sets"].get(s, {}).get(metric) for t in ts] for s in colours}
        vals = [v for ys in series.values() for v in ys if v is not None and np.isfinite(v)]
        if not vals:
            continue
        lo, hi = min(vals), max(vals)
        if hi - lo < 1e-12:
            lo, hi = lo - 0.5, hi + 0.5

        def xy(t, v):
            px = x0 + left + (t - ts[0]) / max(ts[-1] - ts[0], 1e-12) * (width - left - right)
            py = top + (hi - v) / (hi - lo) * (height - top - bottom)
            return px, py

        draw.text((x0 + 6, 4), title, fill="black")
        draw.rectangle([x0 + left, top, x0 + width - right, height - bottom], outline="grey")
        draw.text((x0 + 2, top - 6), f"{hi:.3g}", fill="black")
        draw.text((x0 + 2, height - bottom - 6), f"{lo:.3g}", fill="black")
        for t in ts:
            px, _ = xy(t, lo)
            draw.text((px - 6, height - bottom + 4), f"{t:g}", fill="black")
        draw.text((x0 + width // 2 - 30, height - 14), "refinement t", fill="black")
        for k, (s, ys) in enumerate(series.items()):
            pts = [xy(t, v) for t, v in zip(ts, ys) if v is not None and np.isfinite(v)]
            if len(pts) > 1:
                draw.line(pts, fill=colours[s], width=2)
            for px, py in pts:
                draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colours[s])
            draw.text((x0 + width - right - 44, top + 4 + 12 * k), s, fill=colours[s])
    canvas.save(path)
    return path
