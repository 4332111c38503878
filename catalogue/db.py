"""The SQLite index: tables, build and refresh. The only module that imports sqlmodel.

The index is a cache of the validated catalogue, kept in a user cache folder
(``--cache-dir`` / ``$HEADS_CACHE_DIR``, else ``$XDG_CACHE_HOME/attention-head-catalogue``).
Its file name carries the content hash of the data files, so an edit to heads.yaml or
references.bib makes the next query rebuild it: an answer is never stale. A build writes a
temporary file and renames it into place, so a crash never leaves a half-written index.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, create_engine, text

from catalogue.paths import DataPaths
from catalogue.schema import Catalogue

__all__ = [
    "EvidenceRow",
    "HeadRow",
    "Index",
    "LocationRow",
    "ModelRow",
    "NameRow",
    "ReferenceRow",
    "StageRow",
    "build",
    "cache_dir",
]

SCHEMA_VERSION = "1"


class HeadRow(SQLModel, table=True):
    __tablename__ = "head"
    id: str = Field(primary_key=True)
    name: str
    in_survey: bool = Field(index=True)
    first_year: int | None = None
    data: str  # the validated HeadType as JSON


class NameRow(SQLModel, table=True):
    __tablename__ = "name"
    name: str = Field(primary_key=True)  # normalized id, name or alias
    head_id: str = Field(foreign_key="head.id", index=True)


class StageRow(SQLModel, table=True):
    __tablename__ = "stage"
    head_id: str = Field(foreign_key="head.id", primary_key=True)
    stage: str = Field(primary_key=True, index=True)
    subcategory: str | None = None


class EvidenceRow(SQLModel, table=True):
    __tablename__ = "evidence"
    id: int | None = Field(default=None, primary_key=True)
    head_id: str = Field(foreign_key="head.id", index=True)
    ordinal: int
    cite: str = Field(index=True)
    model: str | None = Field(default=None, index=True)
    method: str = Field(index=True)
    year: int = Field(index=True)


class LocationRow(SQLModel, table=True):
    __tablename__ = "location"
    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id")
    head_id: str = Field(index=True)
    model: str = Field(index=True)
    layer: int
    head: int


class ReferenceRow(SQLModel, table=True):
    __tablename__ = "reference"
    key: str = Field(primary_key=True)
    eprint: str | None = Field(default=None, index=True)
    year: int
    data: str


class ModelRow(SQLModel, table=True):
    __tablename__ = "model"
    id: str = Field(primary_key=True)
    data: str


class MetaRow(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


def cache_dir(override: str | Path | None = None) -> Path:
    """Where index files live: the override, ``$HEADS_CACHE_DIR``, or the user cache folder."""
    if override:
        return Path(override)
    env = os.environ.get("HEADS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "attention-head-catalogue"


def _fts_text(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def build(cat: Catalogue, target: Path) -> None:
    """Write a complete index of ``cat`` to ``target`` (atomically: temp file, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        engine = create_engine(f"sqlite:///{tmp}")
        SQLModel.metadata.create_all(engine)
        _fill(engine, cat)
        engine.dispose()
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fill(engine: Engine, cat: Catalogue) -> None:
    from catalogue.schema import normalize_name

    with Session(engine) as s:
        s.exec(text("PRAGMA journal_mode=OFF"))  # type: ignore[call-overload]
        s.exec(text("PRAGMA synchronous=OFF"))  # type: ignore[call-overload]
        s.exec(
            text(  # type: ignore[call-overload]
                "CREATE VIRTUAL TABLE head_fts USING fts5(head_id UNINDEXED, name, aliases, summary, body, "
                "tokenize='porter unicode61')"
            )
        )
        refs = cat.references
        heads, names, stages, fts = [], [], [], []
        for h in cat.heads.values():
            years = [refs[e.cite].year for e in h.evidence if e.cite in refs]
            heads.append(
                HeadRow(
                    id=h.id,
                    name=h.name,
                    in_survey=h.in_survey,
                    first_year=min(years, default=None),
                    data=h.model_dump_json(exclude_defaults=True),
                )
            )
            for n in {normalize_name(x) for x in h.names}:
                names.append(NameRow(name=n, head_id=h.id))
            stages += [StageRow(head_id=h.id, stage=p.stage, subcategory=p.subcategory) for p in h.stages]
            body = _fts_text(
                h.mechanism,
                h.notes,
                *(
                    _fts_text(e.task, e.method_detail, e.note, e.model, refs[e.cite].title if e.cite in refs else None)
                    for e in h.evidence
                ),
            )
            fts.append({"i": h.id, "n": h.name, "a": " ".join(h.aliases), "s": h.summary, "b": body})
        s.add_all(heads)
        s.add_all(names)
        s.add_all(stages)
        s.flush()
        conn = s.connection().connection.driver_connection
        assert isinstance(conn, sqlite3.Connection)
        conn.executemany("INSERT INTO head_fts(head_id, name, aliases, summary, body) VALUES (:i, :n, :a, :s, :b)", fts)
        ev_rows, loc_rows = [], []
        next_id = 1
        for h in cat.heads.values():
            for k, e in enumerate(h.evidence):
                year = refs[e.cite].year
                ev_rows.append((next_id, h.id, k, e.cite, e.model, e.method, year))
                loc_rows += [(next_id, h.id, e.model, loc.layer, loc.head) for loc in e.locations]
                next_id += 1
        conn.executemany(
            "INSERT INTO evidence(id, head_id, ordinal, cite, model, method, year) VALUES (?,?,?,?,?,?,?)", ev_rows
        )
        conn.executemany("INSERT INTO location(evidence_id, head_id, model, layer, head) VALUES (?,?,?,?,?)", loc_rows)
        conn.executemany(
            "INSERT INTO reference(key, eprint, year, data) VALUES (?,?,?,?)",
            [(r.key, r.eprint, r.year, r.model_dump_json()) for r in refs.values()],
        )
        conn.executemany(
            "INSERT INTO model(id, data) VALUES (?,?)", [(m.id, m.model_dump_json()) for m in cat.models.values()]
        )
        conn.executemany(
            "INSERT INTO meta(key, value) VALUES (?,?)",
            [
                ("digest", cat.digest),
                ("schema", SCHEMA_VERSION),
                ("taxonomy", cat.taxonomy.model_dump_json()),
            ],
        )
        s.commit()


class Index:
    """A read-only handle on a built index file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")

    @classmethod
    def open(cls, paths: DataPaths, *, cache: str | Path | None = None, rebuild: bool = False) -> Index:
        """The index for these data files, (re)built first if the data changed since the last build.

        Raises :class:`catalogue.errors.CatalogueError` when the data does not validate.
        """
        digest = paths.digest()
        folder = cache_dir(cache)
        stem = "index-" + hashlib.sha256(str(paths.heads.resolve()).encode()).hexdigest()[:8]
        target = folder / f"{stem}-{digest[:16]}-v{SCHEMA_VERSION}.sqlite"
        if rebuild or not target.is_file():
            from catalogue.load import load

            build(load(paths.heads), target)
            for old in folder.glob(f"{stem}-*.sqlite"):
                if old != target:
                    old.unlink(missing_ok=True)
        return cls(target)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine) as s:
            yield s

    def raw(self, sql: str, params: dict[str, object] | tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run a read-only SQL query (used by the query module for FTS5 and aggregates)."""
        with self.engine.connect() as c:
            conn = c.connection.driver_connection
            assert isinstance(conn, sqlite3.Connection)
            return list(conn.execute(sql, params).fetchall())

    def meta(self, key: str) -> str:
        rows = self.raw("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else ""

    def dispose(self) -> None:
        self.engine.dispose()


def taxonomy_json(index: Index) -> dict[str, object]:
    return dict(json.loads(index.meta("taxonomy")))
