"""A read-only handle on the SQLite index of the catalogue, rebuilt whenever the data changes.

The index is a cache of the validated catalogue, kept in a user cache folder (:func:`catalogue.paths.cache_dir`).
Its file name carries the content hash of the data files, so an edit to a head-type file or to
references.bib makes the next query rebuild it (through :func:`catalogue.db.build`): an answer is never
stale. Reads use the standard library's sqlite3 only, and no pydantic: what a query returns is stored in
the index ready-made. The index is derived data: a corrupt or unreadable index file is rebuilt from the
data files (once, with a note on stderr).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catalogue.paths import DataPaths, cache_dir

if TYPE_CHECKING:
    from catalogue.schema import Catalogue

__all__ = ["Index", "fingerprint", "fresh_digest"]


class Index:
    """A read-only connection to the built index of one data folder."""

    def __init__(self, path: Path, paths: DataPaths | None = None, cache: str | Path | None = None) -> None:
        self.path = path
        self._paths = paths
        self._cache = cache
        self._conn: sqlite3.Connection | None = None
        self._repaired = False

    @classmethod
    def open(
        cls,
        paths: DataPaths,
        *,
        cache: str | Path | None = None,
        rebuild: bool = False,
        catalogue: Catalogue | None = None,
    ) -> Index:
        """The index for these data files, (re)built first if the data changed since the last build.

        ``catalogue``, if given, must be the validated catalogue of these files (saves loading it again).
        Raises :class:`catalogue.errors.CatalogueError` when the data does not validate, ``OSError`` when
        the cache folder cannot be written.
        """
        digest = catalogue.digest if catalogue is not None else fresh_digest(paths, cache)
        target = paths.index_file(digest, cache)
        if rebuild or not target.is_file():
            _build(paths, target, catalogue)
        return cls(target, paths, cache)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        return self._conn

    def raw(self, sql: str, params: dict[str, object] | tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only SQL query. A damaged index file is rebuilt once and the query run again."""
        try:
            return list(self.conn.execute(sql, params).fetchall())
        except sqlite3.DatabaseError as exc:
            if self._repaired or self._paths is None:
                raise
            print(f"note: the index {self.path} was unreadable ({exc}); rebuilding it from the data", file=sys.stderr)
            self.dispose()
            self.path.unlink(missing_ok=True)
            _build(self._paths, self.path, None)
            self._repaired = True
            return list(self.conn.execute(sql, params).fetchall())

    def meta(self, key: str) -> str:
        rows = self.raw("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else ""

    def dispose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


#: A file modified this recently (seconds) may change again within the clock's resolution without its size
#: or mtime changing: its fingerprint is not trusted yet (git's "racy clean" rule).
RACY_S = 2.0


def fingerprint(paths: DataPaths) -> tuple[str, bool]:
    """Every entry of the data folders and every data file, as (name, size, mtime_ns) from ``stat`` alone,
    in one sorted text (the freshness key, compared whole: no hash to collide); and whether it can be trusted
    (nothing changed in the last :data:`RACY_S` seconds).

    It covers more than :meth:`DataPaths.all` (any file in those folders), which can only cause a needless
    re-hash, never a stale answer. ``os.scandir`` rather than ``pathlib``: this runs before every query."""
    parts: list[str] = []
    newest = 0

    def add(path: str | os.PathLike[str], label: str) -> None:
        nonlocal newest
        try:
            st = os.stat(path)
        except OSError:
            parts.append(f"{label}:<missing>")
            return
        parts.append(f"{label}:{st.st_size}:{st.st_mtime_ns}")
        newest = max(newest, st.st_mtime_ns)

    def add_folder(folder: str | os.PathLike[str], prefix: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as entries:
                found = list(entries)
        except OSError:
            parts.append(f"{prefix}:<missing>")
            return []
        for entry in found:
            add(entry.path, prefix + entry.name)
        return found

    add_folder(paths.heads, "heads/")
    for file in (paths.models, paths.taxonomy, paths.references, paths.audit):
        add(file, file.name)
    for entry in add_folder(paths.scores, "scores/"):
        if entry.is_dir():
            add_folder(entry.path, f"scores/{entry.name}/")
    parts.sort()
    return "\n".join([str(paths.folder.resolve()), *parts]), newest < time.time_ns() - int(RACY_S * 1e9)


def fresh_digest(paths: DataPaths, cache: str | Path | None = None) -> str:
    """The data's content hash (:meth:`DataPaths.digest`) without reading the files when none changed.

    A small stamp file next to the index maps the files' (path, size, mtime_ns) fingerprint to the digest
    computed for it; the files are read and hashed only when the fingerprint is new."""
    stamp = cache_dir(cache) / f"{paths.index_stem()}.stamp"
    key, trusted = fingerprint(paths)
    try:
        stored = json.loads(stamp.read_text(encoding="utf-8"))
        if isinstance(stored, dict) and isinstance(stored.get(key), str):
            return str(stored[key])
    except (OSError, ValueError):
        pass
    digest = paths.digest()
    if trusted:
        from catalogue.files import write_atomic  # tempfile: only when a stamp is written

        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(stamp, json.dumps({key: digest}))
        except OSError:
            pass  # a read-only cache still answers, by hashing every time
    return digest


def _build(paths: DataPaths, target: Path, catalogue: Catalogue | None) -> None:
    """Build the index; when the disk is full, remove this data folder's older indexes and try once more."""
    from catalogue.db import build
    from catalogue.loader import load

    cat = catalogue if catalogue is not None else load(paths.folder)
    try:
        build(cat, target)
    except OSError:
        if not _remove_others(paths, target):
            raise
        build(cat, target)
    _remove_others(paths, target)


def _remove_others(paths: DataPaths, target: Path) -> list[Path]:
    """Remove the index files of other versions of this data folder; returns them."""
    old = [p for p in target.parent.glob(f"{paths.index_stem()}-*.sqlite") if p != target]
    for p in old:
        p.unlink(missing_ok=True)
    return old
