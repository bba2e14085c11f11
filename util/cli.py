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
