"""An exported model folder (``scripts/export_onnx.py``) and its
``manifest.json``: what the exporter writes and what the runtime checks
before it runs anything (standard library and NumPy only).

    DIR/manifest.json          method, sizes, component boxes, the options
                               that shape inference, every network's file,
                               inputs and outputs, every file's SHA-256
    DIR/config.json            the method's options (so the option classes
                               read DIR like a checkpoint folder)
    DIR/NAME.onnx              one graph per network (NAME.onnx.data beside
                               it: the weights of a network over the limit)
    DIR/AE_whole/*_feature.npy DeepFaceDrawing's feature banks (the authors'
                               names, as .npy)
    DIR/latent_avg.npy         the sketch embedding's average latent
    DIR/label_prior.png        its region labeller's prior map
"""

import hashlib
import json
import os

MANIFEST = "manifest.json"
FORMAT = "sketch-to-face-onnx"
FORMAT_VERSION = 1
HOW_TO_EXPORT = "make one with `python scripts/export_onnx.py --params CHECKPOINT --out DIR`"


def _error(msg):
    """A ``models.files.CheckpointError`` (imported on use: this module
    is read before the entry point has checked its dependencies)."""
    from models.files import CheckpointError as error
    return error(msg)


def manifest_path(root):
    return os.path.join(root, MANIFEST)


def is_export(path):
    """True for a folder holding an exported model's manifest."""
    return bool(path) and os.path.isfile(manifest_path(path))


def sha256_file(path, chunk=1 << 22):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                return h.hexdigest()
            h.update(block)


def file_entry(root, rel):
    path = os.path.join(root, rel)
    return {"bytes": os.path.getsize(path), "sha256": sha256_file(path)}


def read_manifest(root, method=None):
    """The manifest of the exported folder ``root`` (checked: its format, and
    ``method`` when given); CheckpointError naming the file otherwise."""
    path = manifest_path(root)
    if not os.path.isdir(root):
        raise _error(f"{root}: not a folder of exported ONNX networks; {HOW_TO_EXPORT}")
    if not os.path.isfile(path):
        raise _error(f"{path}: not found, {root} is not a folder of exported ONNX "
                              f"networks; {HOW_TO_EXPORT}")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise _error(f"{path}: not a readable manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _error(f"{path}: not a manifest of {FORMAT} (exported by "
                              f"scripts/export_onnx.py)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise _error(f"{path}: format version {manifest.get('format_version')}, this "
                              f"code reads {FORMAT_VERSION}; export the model again")
    if method and manifest.get("method") != method:
        raise _error(f"{path}: holds {manifest.get('method')}, not {method}")
    for key in ("networks", "files", "options"):
        if not isinstance(manifest.get(key), dict):
            raise _error(f"{path}: no '{key}' entry; export the model again")
    return manifest


def verify_files(root, manifest, digests=True):
    """Every file the manifest lists is there with its size (and, with
    ``digests``, its SHA-256); CheckpointError naming the first that is not."""
    for rel, entry in sorted(manifest["files"].items()):
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            raise _error(f"{path}: missing (listed in {manifest_path(root)}); copy the "
                                  f"whole exported folder")
        size = os.path.getsize(path)
        if size != entry.get("bytes"):
            raise _error(f"{path}: {size} bytes, the manifest says {entry.get('bytes')}; "
                                  f"the file is truncated or was changed, copy it again")
        if digests and sha256_file(path) != entry.get("sha256"):
            raise _error(f"{path}: SHA-256 differs from the manifest's; the file is "
                                  f"damaged or was changed, copy it again")


def check_options(root, manifest, opt):
    """The options in effect (``opt``) must be those the graphs were built
    with, for every architecture option the manifest lists (``arch_keys``);
    a one-line CheckpointError names the first that differs."""
    saved = manifest["options"]
    for key in manifest.get("arch_keys", ()):
        if key not in saved:
            continue
        want, got = saved[key], getattr(opt, key, None)
        if isinstance(got, (list, tuple)):
            got = ",".join(str(v) for v in got)
        if isinstance(want, (int, float)) and isinstance(got, (int, float)) \
                and not isinstance(want, bool):
            same = float(want) == float(got)
        else:
            same = want == got
        if not same:
            raise _error(f"{manifest_path(root)}: the networks were exported with "
                                  f"{key}={want}, the options say {got} (leave --preset auto "
                                  f"and the architecture flags alone, or export again)")
