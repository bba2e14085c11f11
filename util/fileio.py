"""Writing files so that a crash never leaves half of one (no Jittor, no
project imports: everything may use it)."""

import contextlib
import os
import tempfile
import time

TMP_PREFIX = ".tmp-"


def atomic_write(path, data):
    """Write bytes so that a crash leaves either the old file or the new one.

    The bytes go to a temporary file in the same folder (``.tmp-*``), are
    flushed to disk, then renamed over ``path``. A process killed before the
    rename leaves that temporary file behind; ``remove_stale_temporaries``
    clears such leftovers."""
    with atomic_file(path) as f:
        f.write(data)


@contextlib.contextmanager
def atomic_file(path):
    """``atomic_write`` for a file written piece by piece (too large to hold
    in memory at once): yields a binary file object; when the block ends
    without an error the file is flushed to disk and renamed over ``path``,
    otherwise it is removed and ``path`` stays as it was."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=os.path.basename(path), dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def remove_stale_temporaries(folder, older_than=60.0, recursive=True):
    """Delete ``.tmp-*`` files that an interrupted ``atomic_write`` left in
    ``folder`` (and its subfolders), if older than ``older_than`` seconds (so
    a write in progress in another process is left alone). Returns the
    number of bytes freed."""
    freed = 0
    if not os.path.isdir(folder):
        return 0
    now = time.time()
    walker = os.walk(folder) if recursive else [(folder, [], os.listdir(folder))]
    for root, _, files in walker:
        for name in files:
            if not name.startswith(TMP_PREFIX):
                continue
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
                if now - st.st_mtime >= older_than:
                    os.remove(path)
                    freed += st.st_size
            except OSError:
                continue
    return freed
