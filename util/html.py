"""Result pages: an HTML table of image rows, newest first (the
pix2pixHD / CycleGAN convention), rebuilt from a JSON list so resumed runs
keep their history."""

import html
import json
import os

from util.fileio import atomic_write
from util.png import save_png


class ResultPage:
    def __init__(self, folder, title):
        self.folder, self.title = folder, title
        self.img_dir = os.path.join(folder, "images")
        self.rows_file = os.path.join(folder, "rows.json")
        os.makedirs(self.img_dir, exist_ok=True)
        self.rows = []
        if os.path.isfile(self.rows_file):
            with open(self.rows_file) as f:
                self.rows = json.load(f)

    def add_row(self, heading, images):
        """``images``: list of (label, uint8 array); saved as PNGs."""
        safe = "".join(c if c.isalnum() else "_" for c in heading)
        cells = []
        for label, arr in images:
            name = f"{safe}_{label}.png"
            save_png(os.path.join(self.img_dir, name), arr)
            cells.append([label, f"images/{name}"])
        self.rows = [r for r in self.rows if r["heading"] != heading] + \
            [{"heading": heading, "cells": cells}]
        atomic_write(self.rows_file, json.dumps(self.rows).encode())
        self.write()

    def write(self):
        out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}"
               "</title><style>body{font-family:sans-serif} td{padding:4px;text-align:center}"
               "img{width:192px;image-rendering:pixelated}</style></head><body>",
               f"<h1>{html.escape(self.title)}</h1>"]
        for row in reversed(self.rows):
            out.append(f"<h3>{html.escape(row['heading'])}</h3><table><tr>")
            for label, src in row["cells"]:
                out.append(f"<td><img src='{html.escape(src)}'><br>{html.escape(label)}</td>")
            out.append("</tr></table>")
        out.append("</body></html>\n")
        atomic_write(os.path.join(self.folder, "index.html"), "\n".join(out).encode())
