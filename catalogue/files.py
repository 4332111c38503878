"""Writing files safely: atomic replacement of regular files, in-place writes to streams and devices.

Used by every command that writes (``heads new``, ``add-evidence``, ``export -o``, ``schema -o``) and by
the index build, so a crash or a kill never leaves a half-written file where a reader looks.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, text: str | bytes) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends; or ``bytes`` as they are) to ``path``; returns the path written.

    - A symlink is followed: its target is written, the link stays.
    - A regular file (or a new one) is replaced atomically: a temporary file in the same folder, then a
      rename. An existing file keeps its mode; a new one gets the umask's.
    - A FIFO, a character device or another special file is written in place (a rename would replace it).

    Raises ``OSError`` (e.g. no such folder, permission denied, disk full); the target is then unchanged.
    """
    target = Path(path)
    if target.is_symlink():
        target = target.resolve()
    try:
        st = target.stat()
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            with open(target, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
        return target
    mode = stat.S_IMODE(st.st_mode) if st is not None else _umask_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
