"""Experiment presets: JSON files of option defaults, chosen with --preset NAME."""

import json
import os

CONFIG_DIR = os.path.dirname(os.path.abspath(__file__))


def available():
    return sorted(f[:-5] for f in os.listdir(CONFIG_DIR) if f.endswith(".json"))


def load_preset(name_or_path):
    """The option defaults of a preset name (``tiny``) or a JSON file path."""
    path = name_or_path
    if not os.path.isfile(path):
        path = os.path.join(CONFIG_DIR, f"{name_or_path}.json")
    if not os.path.isfile(path):
        raise ValueError(f"unknown preset {name_or_path!r}; choose one of "
                         f"{', '.join(available())} or give a JSON file")
    with open(path) as f:
        try:
            values = json.load(f)
        except ValueError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from None
    return {k: v for k, v in values.items() if not k.startswith("_")}
