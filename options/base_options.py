"""Options shared by every entry point (pix2pixHD-style option classes).

An option class declares the options of its entry point (``initialize``);
the method's own options (architecture, losses, inference knobs) come from
the method's option module (``models/methods.py`` names it), added once the
method is known: ``--method``, else the checkpoint folder's ``config.json``,
else DeepFaceDrawing.

Defaults come in three layers, later wins: the values declared, then a
preset (``--preset``: a name in the method's presets folder under
``configs/``, or a JSON file; ``auto`` takes the ``config.json`` saved in
the checkpoint folder, or ``official`` when there is none, as in the
authors' Params), then what is given on the command line.
"""

import argparse
import math
import os
import sys

from configs import available, load_preset, preset_dir
from models.files import CheckpointError, read_config
from models.methods import DEFAULT_METHOD, get_method, method_for, method_names

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKPOINTS_DIR = os.path.join(REPO_ROOT, "checkpoints")


def bundled_params(method):
    """The bundled model of ``method`` (``--params``' default for it, set
    by ``make_parser`` once the method is known)."""
    return os.path.join(REPO_ROOT, "params", get_method(method).bundled)


# What --help says about architecture defaults under --preset auto.
AUTO_NOTE = ("defaults shown are the 'official' preset's; under --preset auto the checkpoint "
             "folder's config.json sets them (--verbose prints the values in effect)")


def str2bool(v):
    if isinstance(v, bool):
        return v
    if v.lower() in ("1", "true", "yes", "on"):
        return True
    if v.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {v!r}")


class OptionError(ValueError):
    """Options that do not fit together."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help with its default, unless it has none ('' or None:
    the help says what happens then)."""

    def _get_help_string(self, action):
        if isinstance(action.default, str) and action.default == "" or action.default is None:
            return action.help
        return super()._get_help_string(action)


SEED_MAX = 2 ** 32 - 1


def seed_value(text):
    """argparse type of seeds: a whole number in 0..2**32-1 (what NumPy and
    Jittor take)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..{SEED_MAX}")
    return value


def check_limits(opt, limits):
    """OptionError for the first option of ``limits`` ({name: (lo, hi)})
    whose value in ``opt`` lies outside its range."""
    for key, (lo, hi) in limits.items():
        value = getattr(opt, key, None)
        if value is not None and not lo <= value <= hi:
            raise OptionError(f"--{key} {value} is outside {lo}..{hi}")


def value_problem(action, value, limits=None):
    """Why ``value``, read from a preset, a config.json or a checkpoint
    rather than typed, does not fit the option of ``action`` (its type, its
    choices, ``limits`` = (lo, hi)); None when it fits. (argparse checks
    typed values only.)"""
    kind = action.type
    flag = isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction))
    if value is None:
        return None if action.default is None else "is null"
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        return "is not a whole number"
    if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))
                          or not math.isfinite(value)):
        return "is not a finite number"
    if (flag or kind is str2bool) and not isinstance(value, bool):
        return "is not true or false"
    if kind in (None, str) and not flag and not isinstance(value, (str, int, float)):
        return "is not text"
    if kind not in (None, str, int, float, str2bool):       # seeds, id ranges: typed checks
        try:
            kind(str(value))
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            return f"is not valid ({exc})"
    if action.choices is not None and value not in action.choices:
        return f"is not one of {', '.join(map(str, action.choices))}"
    if limits is not None and not limits[0] <= value <= limits[1]:
        return f"is outside {limits[0]}..{limits[1]}"
    return None


# ------------------------------------------------------------------ shared declarations
def add_experiment_options(group, name_help):
    """--name and --checkpoints_dir (train, evaluate, scripts)."""
    group.add_argument("--name", default="", help=name_help)
    group.add_argument("--checkpoints_dir", default=CHECKPOINTS_DIR,
                       help="where experiments are kept (CHECKPOINTS_DIR/NAME)")


def id_ranges(text):
    """argparse type of --test_ids: ranges of face ids, checked, kept as text."""
    from data.celeba import parse_id_ranges
    try:
        parse_id_ranges(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_dataroot(group):
    """Where a dataset lives: --dataroot, and for celeba --test_ids and --sketch_dir."""
    group.add_argument("--dataroot", default="", help="dataset folder (paired, celeba)")
    group.add_argument("--test_ids", default="", type=id_ranges,
                       help="celeba: the ids of the test split, as ranges (4500-4799,12); the "
                            "train split is every other id (default: the official partition "
                            "files when the folder has them, else no split)")
    group.add_argument("--sketch_dir", default="",
                       help="celeba: the stroke files of the real sketches "
                            "(scripts/make_celeba_sketches.py; default DATAROOT/strokes); a "
                            "face without one is drawn on first use")


class BaseOptions:
    description = "Sketch-to-face"
    phase = "base"          # which of the method's option groups apply: base, test, train
    hidden = ()             # options accepted but left out of --help

    def initialize(self, parser):
        g = parser.add_argument_group("run")
        g.add_argument("--method", default="", choices=method_names(),
                       help=f"which method: {', '.join(method_names())} (default: the one the "
                            f"checkpoint folder's config.json names, else {DEFAULT_METHOD})")
        g.add_argument("--preset", default="auto",
                       help="option preset: a name in configs/ (for DeepFaceDrawing: "
                            f"{', '.join(available())}), a JSON file, or 'auto' (the "
                            "checkpoint folder's config.json, else 'official'); combine "
                            "with '+'")
        g.add_argument("--gpu", default=os.environ.get("DFD_GPU", "auto"),
                       choices=("auto", "on", "off"),
                       help="use a CUDA GPU: auto uses one when it is usable")
        g.add_argument("--seed", type=seed_value, default=0,
                       help="random seed (weight init, data order, sampling): same seed, "
                            "same result")
        g.add_argument("--verbose", action="store_true",
                       help="print the device in use, where the options came from, the "
                            "architecture in effect, and more detail")
        return parser

    # ------------------------------------------------------------------
    def preset_folder(self, opt):
        """The checkpoint folder whose config.json 'auto' reads (or None)."""
        return getattr(opt, "params", None)

    def make_parser(self, method=DEFAULT_METHOD, add_help=True):
        parser = argparse.ArgumentParser(
            description=self.description, add_help=add_help,
            formatter_class=HelpFormatter)
        parser = self.initialize(parser)
        self.add_method_options(parser, get_method(method))
        if any(a.dest == "params" for a in parser._actions):
            parser.set_defaults(params=bundled_params(method))
        for action in parser._actions:
            if action.dest in self.hidden:
                action.help = argparse.SUPPRESS
        return parser

    def add_method_options(self, parser, method):
        mod = method.option_module()
        mod.add_arch_options(parser.add_argument_group(
            f"architecture of {method.title} (set by --preset; flags override; {AUTO_NOTE})"))
        mod.add_common_options(parser)
        if self.phase == "test":
            mod.add_test_options(parser)
        elif self.phase == "train":
            mod.add_train_options(parser)

    def parse(self, args=None):
        """Parse ``args`` (default: sys.argv); exits with status 2 on bad input."""
        args = sys.argv[1:] if args is None else list(args)
        probe, _ = self.make_parser(add_help=False).parse_known_args(args)
        try:
            method = method_for(probe.method, self.preset_folder(probe))
            get_method(method)
        except CheckpointError as exc:
            self.checkpoint_error(exc)
        except ValueError as exc:
            self.make_parser().error(str(exc))
        parser = self.make_parser(method)
        first, _ = parser.parse_known_args(args)
        try:
            defaults, source = self.resolve_preset(first, method)
        except CheckpointError as exc:
            self.checkpoint_error(exc)
        except ValueError as exc:
            parser.error(str(exc))
        self.check_preset(parser, defaults, source, method)
        known = {a.dest for a in parser._actions}
        parser.set_defaults(**{k: v for k, v in defaults.items() if k in known})
        opt = parser.parse_args(args)
        opt.method = method
        opt.preset_source = source
        try:
            self.finish(opt)
        except OptionError as exc:
            parser.error(str(exc))
        return opt

    def check_preset(self, parser, defaults, source, method):
        """Every value the preset (a config.json, a checkpoint's shapes) sets
        must fit its option's type, choices and the method's ``LIMITS``:
        otherwise one line naming where it came from, exit 2 (a wrong type or
        a huge size would fail later with a traceback, or take the memory)."""
        limits = getattr(get_method(method).option_module(), "LIMITS", {})
        actions = {a.dest: a for a in parser._actions}
        for key, value in defaults.items():
            if key in actions:
                problem = value_problem(actions[key], value, limits.get(key))
                if problem:
                    where = source.split(" (")[0]
                    self.checkpoint_error(f"{where}: {key} {value!r:.40} {problem}")

    @staticmethod
    def checkpoint_error(exc):
        """A damaged or foreign checkpoint met while reading the options:
        one line, exit 2 (not a usage message)."""
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)

    def resolve_preset(self, first, method):
        folder_of_presets = preset_dir(get_method(method).presets)
        if first.preset != "auto":
            return load_preset(first.preset, folder_of_presets), f"preset {first.preset}"
        folder = self.preset_folder(first)
        cfg = read_config(folder) if folder and os.path.isdir(folder) else None
        if cfg is not None:
            return cfg, f"{os.path.join(folder, 'config.json')}"
        official = load_preset("official", folder_of_presets)
        from_file = getattr(get_method(method).option_module(), "preset_from_file", None)
        if folder and os.path.isfile(folder) and from_file is not None:
            return dict(official, **from_file(folder)), f"{folder} (its options and shapes)"
        return official, "preset official"

    def finish(self, opt):
        """Derived values and cross-option checks (the method's own first)."""
        get_method(opt.method).option_module().finish(opt, self.phase)
        return opt


def arch_summary(opt):
    """One line with the architecture options in effect (for --verbose)."""
    keys = get_method(opt.method).option_module().ARCH_KEYS
    return ", ".join(f"{k}={getattr(opt, k)}" for k in keys)
