"""Checks shared by the folder-to-folder scripts."""

import os


class UsageError(Exception):
    """A bad command line or a missing dependency; the script exits 2."""


def check_folders(input_dir, output_dir):
    """The input must be a folder, the output a folder (or not yet there)
    other than the input, so that nothing is overwritten in place."""
    if not os.path.isdir(input_dir):
        raise UsageError(f"--input {input_dir}: not a folder")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise UsageError(f"--output {output_dir}: exists and is not a folder")
    if os.path.realpath(input_dir) == os.path.realpath(output_dir):
        raise UsageError("--output must differ from --input (outputs would overwrite inputs)")


def check_writable_folder(path, flag):
    """``path`` must be a folder (made when missing) where a file can be
    written: UsageError naming ``flag`` otherwise, before any work."""
    import tempfile
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{flag} {path}: exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write there ({exc.strerror or exc})") from None
