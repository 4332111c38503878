"""A read-only handle on the SQLite index, and where index files live.

The index is a cache of the validated catalogue, kept in a user cache folder
(``--cache-dir`` / ``$HEADS_CACHE_DIR``, else ``$XDG_CACHE_HOME/attention-head-catalogue``).
Its file name carries the content hash of the data files, so an edit to heads.yaml or
references.bib makes the next query rebuild it (through :func:`catalogue.db.build`): an answer
is never stale. Reads use the standard library's sqlite3 only.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from catalogue.paths import DataPaths

if TYPE_CHECKING:
    from catalogue.schema import Catalogue

__all__ = ["SCHEMA_VERSION", "Index", "cache_dir"]

#: Bumped whenever the tables change, so old index files are never read.
SCHEMA_VERSION = "3"


def cache_dir(override: str | Path | None = None) -> Path:
    """Where index files live: the override, ``$HEADS_CACHE_DIR``, or the user cache folder."""
    if override:
        return Path(override)
    env = os.environ.get("HEADS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "attention-head-catalogue"


class Index:
    """A read-only connection to a built index file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

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
        Raises :class:`catalogue.errors.CatalogueError` when the data does not validate.
        """
        digest = catalogue.digest if catalogue is not None else paths.digest()
        folder = cache_dir(cache)
        stem = "index-" + hashlib.sha256(str(paths.heads.resolve()).encode()).hexdigest()[:8]
        target = folder / f"{stem}-{digest[:16]}-v{SCHEMA_VERSION}.sqlite"
        if rebuild or not target.is_file():
            from catalogue.db import build
            from catalogue.loader import load

            build(catalogue if catalogue is not None else load(paths.heads), target)
            for old in folder.glob(f"{stem}-*.sqlite"):
                if old != target:
                    old.unlink(missing_ok=True)
        return cls(target)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        return self._conn

    def raw(self, sql: str, params: dict[str, object] | tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run a read-only SQL query."""
        return list(self.conn.execute(sql, params).fetchall())

    def meta(self, key: str) -> str:
        rows = self.raw("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else ""

    def dispose(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
