"""Writing files safely: atomic replacement of regular files, in-place writes to streams and devices.

Used by every command that writes (``heads new``, ``add-evidence``, ``export -o``, ``schema -o``) and by
the index build, so a crash or a kill never leaves a half-written file where a reader looks.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

__all__ = ["pid_alive", "remove_stale_temps", "write_atomic"]

#: ``.<name>.<pid>-<random>.tmp``: the temporary file of :func:`write_atomic`, named after its process.
_TEMP = re.compile(r"^\..+\.(\d+)-[^.]*\.tmp$")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temps(*folders: Path) -> list[Path]:
    """Remove the temporary files :func:`write_atomic` left in these folders when its process was killed
    (SIGKILL, power loss); files of running processes stay. Returns the files removed."""
    removed = []
    for folder in folders:
        try:
            names = [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
        except OSError:
            continue
        for p in names:
            m = _TEMP.match(p.name)
            if m and not pid_alive(int(m.group(1))):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


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
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".tmp", dir=target.parent)
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
