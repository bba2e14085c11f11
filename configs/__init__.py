"""Experiment presets: JSON files of option defaults, chosen with --preset NAME.

Each method keeps its presets in a folder of its own, named as the method
(``models/methods.py`` says which); the functions below take that folder,
DeepFaceDrawing's by default.

* Size presets: DeepFaceDrawing's (``configs/deepfacedrawing/``)
  ``official`` (the authors' 512 model), ``small`` (256), ``tiny`` (128, the
  CPU configuration); the sketch embedding's (``configs/sp_embedding/``)
  ``official`` (1024), ``small``, ``tiny``.
* DeepFaceDrawing's ablation presets in ``configs/deepfacedrawing/ablations/``:
  what a method changes (pipeline, loss weights, K, refinement weight),
  without a size. Presets compose left to right with ``+``: ``--preset
  small+ablations/no_perceptual``.

Keys starting with ``_`` are notes for people and for ``run_ablations.py``
(``_model``: evaluate another method's trained model with these inference
options; ``_ae_from``: reuse another method's autoencoders and banks).
"""

import json
import os

CONFIG_DIR = os.path.dirname(os.path.abspath(__file__))
DFD_DIR = os.path.join(CONFIG_DIR, "deepfacedrawing")
ABLATION_DIR = os.path.join(DFD_DIR, "ablations")


def preset_dir(sub):
    """The presets folder of a method (``sub`` relative to configs/)."""
    return os.path.join(CONFIG_DIR, sub)


def available(folder=DFD_DIR):
    sizes = sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".json"))
    ablations = os.path.join(folder, "ablations")
    if not os.path.isdir(ablations):
        return sizes
    return sizes + [f"ablations/{name}" for name in ablation_names(ablations)]


# the paper's comparisons in reading order; other presets follow alphabetically
ABLATION_ORDER = ("full", "no_projection", "whole_face", "pix2pixhd", "no_perceptual",
                  "no_smoothness", "k1", "k3", "k5", "k10", "k15")


def ablation_names(folder=ABLATION_DIR):
    """The ablation presets, in ABLATION_ORDER, then any others."""
    names = sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".json"))
    rank = {n: i for i, n in enumerate(ABLATION_ORDER)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def _read(name_or_path, folder=DFD_DIR):
    path = name_or_path
    if not os.path.isfile(path):
        path = os.path.join(folder, f"{name_or_path}.json")
    if not os.path.isfile(path):
        raise ValueError(f"unknown preset {name_or_path!r}; choose one of "
                         f"{', '.join(available(folder))} or give a JSON file "
                         f"(combine presets with '+', e.g. small+ablations/full)")
    with open(path) as f:
        try:
            values = json.load(f)
        except ValueError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a JSON object of option defaults")
    return values


def load_preset(name_or_path, folder=DFD_DIR):
    """The option defaults of a preset name (``tiny``), a JSON file path, or
    several joined by ``+`` (later ones win)."""
    out = {}
    for part in str(name_or_path).split("+"):
        values = _read(part.strip(), folder)
        out.update({k: v for k, v in values.items() if not k.startswith("_")})
    return out


def preset_notes(name_or_path, folder=DFD_DIR):
    """The ``_``-keys of a preset (``_doc``, ``_model``, ``_ae_from``), merged
    like ``load_preset``."""
    out = {}
    for part in str(name_or_path).split("+"):
        out.update({k: v for k, v in _read(part.strip(), folder).items() if k.startswith("_")})
    return out
