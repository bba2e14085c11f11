"""The benchmark report's Markdown pieces: number formatting, tables,
sections, and the machine's best measured rate (the floor's divisor), shared
by the report's sections (report.py, sp_report.py)."""


# ---------------------------------------------------------------- formatting
def fmt(x, digits=None):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, int):
        return str(x)
    if digits is not None:
        return f"{x:.{digits}f}"
    ax = abs(x)
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    if ax >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def section(title, header, rows, *notes):
    """A '## title' section: the table, then each note as a paragraph."""
    lines = [f"## {title}", "", table(header, rows), ""]
    for note in notes:
        lines += [note, ""]
    return lines


# ---------------------------------------------------------------- rates
def best_rate(R, dev, dtype="float32"):
    """(GFLOP/s, source) of the fastest float32 matrix product measured on ``dev``."""
    best = (0.0, "none")
    for res in R["peak"].get(dev, []):
        for src in ([f"jittor_{dtype}"] + (["numpy"] if dev == "cpu" else [])):
            for n, rate in (res.get(src) or {}).items():
                if rate > best[0]:
                    best = (rate, f"{src.split('_')[0]} {n}x{n}")
    if dev == "cpu" and dtype == "float32":
        for key, res in R["torch_runs"].items():
            if key.startswith("cpu/"):
                for n, rate in (res.get("matmul") or {}).items():
                    if rate > best[0]:
                        best = (rate, f"pytorch {n}x{n}")
    return best
