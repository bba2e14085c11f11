"""Whether what was drawn comes through: the attributes of
``data/parsing_attributes.py`` in the test face's own map (what was drawn:
its sketch was made from it) against the face parser's reading of the
output (what came out). The same reading of the true photos is the
parser's own ceiling."""

import numpy as np

from data.parsing_attributes import ATTRIBUTES, present


def carried(drawn_maps, made_maps):
    """Per attribute: ``n`` faces drawn with it, ``shown`` the share of those
    whose output has it (nan when none was drawn), ``invented`` the share of
    the others whose output has it anyway."""
    if len(drawn_maps) != len(made_maps):
        raise ValueError(f"{len(drawn_maps)} drawn maps against {len(made_maps)} outputs")
    drawn = [present(m) for m in drawn_maps]
    made = [present(m) for m in made_maps]
    out = {}
    for name in ATTRIBUTES:
        d = np.array([x[name] for x in drawn], bool)
        m = np.array([x[name] for x in made], bool)
        out[name] = {"n": int(d.sum()),
                     "shown": float(m[d].mean()) if d.any() else float("nan"),
                     "invented": float(m[~d].mean()) if (~d).any() else float("nan")}
    return out
