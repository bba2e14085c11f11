"""metrics.md: the tables of an evaluation's results (``evaluation/run.py``
writes them beside metrics.json)."""


def fmt(v):
    if isinstance(v, float):
        return "inf" if v == float("inf") else f"{v:.4g}"
    return str(v)


def attribute_table(results):
    """What was drawn, carried over (``evaluation/attributes.py``): per set,
    the share of faces drawn with it whose output has it / of the others
    whose output has it anyway; with random looks, also the clean set's
    faces in a look each; the true photos' column is the parser's."""
    sets = {}
    for name, s in results["sets"].items():
        if "attributes" in s:
            sets[name] = s["attributes"]
        if "attributes_looks" in s:
            sets[f"{name}, a look each"] = s["attributes_looks"]
    if not sets:
        return []
    if "attributes_photos" in results:
        sets["true photos"] = results["attributes_photos"]
    first = next(iter(sets.values()))
    names = list(first)
    lines = ["", "Drawn attributes carried over (the face parser's reading of each output "
             "against the test face's own map; shown when drawn / invented when not; \"a look "
             "each\": the faces of kid_looks; the true photos' column is the parser's own "
             "ceiling):", "",
             "| attribute | faces with it | " + " | ".join(sets) + " |",
             "|---" * (len(sets) + 2) + "|"]
    for a in names:
        cells = [" / ".join("-" if v != v else fmt(v) for v in (s[a]["shown"], s[a]["invented"]))
                 for s in sets.values()]
        lines.append(f"| {a} | {first[a]['n']} | " + " | ".join(cells) + " |")
    from data.parsing_attributes import ATTRIBUTES
    return lines + ["", "Read from a map as: " + "; ".join(
        f"{a}: {ATTRIBUTES[a][0]}" for a in names if a in ATTRIBUTES) + "."]


def markdown(results):
    """Overall table (rows: sets) and per-part table."""
    sets = results["sets"]
    cols = ["n", "l1", "psnr", "ssim", "vgg", "lpips", "fid", "kid", "fid_looks", "kid_looks",
            "kid_each_look", "likeness_top1", "likeness_top5", "chamfer", "edge_f1",
            "line_chamfer", "line_f1", "target_edge_f1", "to_clean", "diversity",
            "semantic_miou", "hair_iou"]
    cols = [c for c in cols if any(c in s for s in sets.values())]
    opts = results["options"]
    knobs = ", ".join(f"{k}={opts[k]}" for k in ("k", "refine", "gender") if k in opts)
    lines = [f"# {results['label']}", "",
             f"{results['method']} checkpoint `{results['params']}`"
             f"{'; ' + knobs if knobs else ''}; test set {results['test_set']} at "
             f"{opts['image_size']} px (model {opts['model_size']} px).", "",
             results["feature_note"], ""]
    if "normalised" in results:
        changed = ", ".join(f"{name} {n} of {sets[name]['n']}"
                            for name, n in results["normalised"].items())
        lines += [f"Sketches normalised (data/sketch_norm.py; --no_sketch_norm keeps them as "
                  f"drawn): {changed} changed.", ""]
    lines += ["| set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    rows = list(sets.items())
    if results.get("gap"):
        rows.append(("rough - clean", results["gap"]))
    for name, s in rows:
        lines.append(f"| {name} | " + " | ".join(fmt(s.get(c, "")) for c in cols) + " |")
    if "line_f1" in cols:
        lines += ["", "chamfer and edge_f1 score the output's edges against the input strokes; "
                  "line_chamfer and line_f1 against the face's clean lines (equal on the clean "
                  "set); target_edge_f1 is the target photo's own edge_f1, the set's ceiling."]
    if "kid_looks" in cols:
        lines += ["", "fid_looks and kid_looks: the clean set's faces with a random look each "
                  "(face i the look of seed, i), against the same photos; fid and kid are the "
                  "faces in the mean look (the sketch embedding, which has none, gives every "
                  "face the look of seed 0)."]
    each = sets.get("clean", {}).get("kid_each_look_all")
    if each:
        lines += ["", "kid_each_look: the mean KID* of the clean set's faces in one random look "
                  "for all, over the looks of the appearance table (looks 0.."
                  f"{len(each) - 1} of seed 0: {', '.join(fmt(k) for k in each)}): one look "
                  "for all is a single draw, and its KID* moves with the draw."]
    lines += attribute_table(results)
    app = results.get("appearance")
    if app:
        regions = list(app["to_reference"])
        lines += ["", "Appearance control (clean set; each face with its neighbour's photo as the "
                  "reference): mean RGB distance (0-255) of each region to the reference's.", "",
                  "| faces | " + " | ".join(regions) + " |", "|---" * (len(regions) + 1) + "|"]
        for key, label in (("to_reference", "with the reference"),
                           ("without_reference", "without (mean look)"),
                           ("own_photo", "their own photos (chance)")):
            lines.append(f"| {label} | " + " | ".join(fmt(app[key][r]) for r in regions) + " |")
        lines += ["", f"Look diversity (mean L1 between random looks of one sketch): "
                      f"{fmt(app['look_diversity'])}"]
    part_keys = sorted({k for s in sets.values() for k in s if "/" in k})
    if part_keys:
        parts = sorted({k.split("/")[0] for k in part_keys}, key=lambda p: p)
        metrics = sorted({k.split("/")[1] for k in part_keys})
        lines += ["", "Per part (inside the component boxes):", "",
                  "| set | part | " + " | ".join(metrics) + " |",
                  "|---" * (len(metrics) + 2) + "|"]
        for name, s in sets.items():
            for p in parts:
                lines.append(f"| {name} | {p} | " + " | ".join(
                    fmt(s.get(f"{p}/{m}", "")) for m in metrics) + " |")
    return "\n".join(lines) + "\n"
