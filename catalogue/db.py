"""The SQLite index's tables and its build. The only module that imports sqlmodel.

:func:`build` writes a complete index of a validated catalogue to a temporary file and renames
it into place, so a crash never leaves a half-written index. Reading is :mod:`catalogue.index`'s job
(plain sqlite3, so that a query does not pay for importing SQLAlchemy or pydantic): every answer a
query gives is stored here ready-made, as the JSON of the validated object.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy import Engine, Index, event
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import Field, SQLModel, create_engine

from catalogue.files import pid_alive
from catalogue.paths import SCHEMA_VERSION
from catalogue.schema import Catalogue, HeadType, Reference
from catalogue.scores import ranks
from catalogue.vocab import MAX_INDEX, normalize_name, stage_label

__all__ = [
    "EvidenceRow",
    "HeadRow",
    "LocationRow",
    "MetaRow",
    "ModelRow",
    "NameRow",
    "ReferenceRow",
    "ScoreRow",
    "ScoreTableRow",
    "StageRow",
    "build",
]


class HeadRow(SQLModel, table=True):
    __tablename__ = "head"
    id: str = Field(primary_key=True)
    name: str
    in_survey: bool = Field(index=True)
    first_year: int | None = None
    summary: str = ""
    stages: str = ""  # stage abbreviations in stage order, e.g. "ICI,LR"
    models: str = ""  # model ids of the evidence, sorted, comma-separated
    years: str = ""  # years of the cited works, sorted, comma-separated
    evidence: int = 0
    standing: str = Field(index=True)  # catalogue.vocab.standing of its evidence
    data: str  # the validated HeadType as JSON, plus its "standing"


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
    key: str | None = Field(default=None, index=True)  # the permanent evidence id (ev-...)
    deprecated: bool = False  # withdrawn: kept, but its locations are not indexed
    cite: str = Field(index=True)
    model: str | None = Field(default=None, index=True)
    method: str = Field(index=True)
    year: int = Field(index=True)
    source_kind: str = Field(index=True)
    stance: str
    scores: str | None = None  # path of its score table
    located: bool = Field(default=False, index=True)  # gives concrete heads: a claim a check can measure
    verdict: str | None = Field(default=None, index=True)  # the checked block's verdict; NULL: not checked


class ScoreTableRow(SQLModel, table=True):
    __tablename__ = "score_table"
    path: str = Field(primary_key=True)  # data/scores/<cite>/<model>[.<score>].csv
    cite: str = Field(index=True)
    model: str = Field(index=True)
    name: str  # the score's name within the work ("" when it releases one per model)
    head_unit: str  # head | kv_head
    rows: int
    low: float
    high: float
    data: str  # definition, selection rule, source as JSON


class ScoreRow(SQLModel, table=True):
    __tablename__ = "score"
    table_path: str = Field(foreign_key="score_table.path", primary_key=True)
    layer: int = Field(primary_key=True)
    head: int = Field(primary_key=True)
    score: float
    rank: int  # 1 = highest score in its table; ties share the best rank


class LocationRow(SQLModel, table=True):
    """One head a record places (withdrawn records place none). Its head type and model are the record's:
    join ``evidence`` (indexed on both); the covering index answers the joins without reading the table."""

    __tablename__ = "location"
    __table_args__ = (Index("ix_location_evidence", "evidence_id", "layer", "head"),)
    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id")
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
    hf_id: str | None = Field(default=None, index=True)  # lower case, for lookups
    data: str


class MetaRow(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


def _fts_text(*parts: str | None) -> str:
    return " ".join(p for p in parts if p)


def build(cat: Catalogue, target: Path) -> None:
    """Write a complete index of ``cat`` to ``target`` (atomically: temp file, then rename).

    The temporary file is named ``.index-<pid>-*.tmp`` so that one left by a killed process can be
    recognised and removed (:func:`remove_stale`). The index gets the umask's mode, like any new file,
    so users who share a cache folder can read it. Raises ``OSError`` (disk full, no permission)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".index-{os.getpid()}-", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        engine = create_engine(f"sqlite:///{tmp}")
        event.listen(engine, "connect", _new_file_pragmas)
        collecting = gc.isenabled()
        gc.disable()  # rows are built and dropped by the million, none in cycles (as in loader.check)
        try:
            _create_tables(engine)
            _fill(engine, cat)
            _create_indexes(engine)
        finally:
            if collecting:
                gc.enable()
            engine.dispose()
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except BaseException:
        for leftover in (tmp, tmp + "-journal"):
            Path(leftover).unlink(missing_ok=True)
        raise


def _new_file_pragmas(connection: sqlite3.Connection, _record: object) -> None:
    """16 KiB pages (SQLite's default is 4 KiB): fewer, fuller B-tree pages for a file written once in bulk
    (about 9% less build time at the reference size). Takes effect as the file is first written."""
    connection.execute("PRAGMA page_size=16384")


def _create_tables(engine: Engine) -> None:
    """The tables of :data:`SQLModel.metadata`, without their secondary indexes (:func:`_create_indexes` adds
    them once the rows are in: sorting a finished column is cheaper than growing each index row by row)."""
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            conn.execute(CreateTable(table))


def _create_indexes(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for index in sorted(table.indexes, key=lambda i: str(i.name)):
                conn.execute(CreateIndex(index))


#: A head packed into one integer for the index build, ``layer * _PACK + head`` (heads stay below MAX_INDEX + 1).
_PACK = MAX_INDEX + 1


def _insert_locations(raw: sqlite3.Connection, located: list[tuple[int, str]]) -> None:
    """One ``location`` row per (record, head), in record order then list order.

    ``located`` holds one row per located record: its id and its heads as a JSON list of
    ``layer * _PACK + head``. SQLite's ``json_each`` expands them: the reference catalogue has about 700,000
    locations, and binding each from Python was most of the index build. Without SQLite's JSON functions the
    rows are bound one by one."""
    raw.execute("CREATE TEMP TABLE located (evidence_id INTEGER, heads TEXT)")
    raw.executemany("INSERT INTO temp.located VALUES (?, ?)", located)
    try:
        raw.execute(
            "INSERT INTO location (evidence_id, layer, head) "
            f"SELECT r.evidence_id, j.value / {_PACK}, j.value % {_PACK} "
            "FROM temp.located AS r, json_each(r.heads) AS j ORDER BY r.evidence_id, j.key"
        )
    except sqlite3.OperationalError:  # an SQLite built without JSON functions
        raw.executemany(
            "INSERT INTO location (evidence_id, layer, head) VALUES (?, ?, ?)",
            [(ev, *divmod(n, _PACK)) for ev, heads in located for n in json.loads(heads)],
        )
    raw.execute("DROP TABLE temp.located")


def _insert_scores(raw: sqlite3.Connection, tables: Mapping[str, Sequence[tuple[int, int, float]]]) -> None:
    """The ``score`` rows of ``tables`` (table path -> ``(layer, head, score)`` rows), each with its rank in its
    table: SQLite's ``RANK()`` (1 + the number of higher scores, as :func:`catalogue.scores.ranks`), or that
    function where SQLite has no window functions (before 3.25)."""
    raw.execute("CREATE TEMP TABLE scored (table_path TEXT, layer INTEGER, head INTEGER, score REAL)")
    flat = [(path, *row) for path, rows in tables.items() for row in rows]
    raw.executemany("INSERT INTO temp.scored VALUES (?, ?, ?, ?)", flat)
    try:
        raw.execute(
            "INSERT INTO score (table_path, layer, head, score, rank) SELECT table_path, layer, head, score, "
            "RANK() OVER (PARTITION BY table_path ORDER BY score DESC) FROM temp.scored"
        )
    except sqlite3.OperationalError:  # no window functions
        raw.executemany(
            "INSERT INTO score (table_path, layer, head, score, rank) VALUES (?, ?, ?, ?, ?)",
            [(path, *ranked) for path, rows in tables.items() for ranked in ranks(rows)],
        )
    raw.execute("DROP TABLE temp.scored")


def remove_stale(folder: Path) -> list[Path]:
    """Remove index temporary files (and their journals) left by processes that no longer run; returns them."""
    removed = []
    for p in folder.glob(".index-*.tmp*"):
        parts = p.name.split("-")
        if len(parts) > 2 and parts[1].isdigit() and not pid_alive(int(parts[1])):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def reference_json(r: Reference) -> str:
    """A reference as the index stores it: its fields and its ``short`` label (``Wang et al., 2022``)."""
    return json.dumps({**r.model_dump(mode="json", exclude_none=True), "short": r.short}, ensure_ascii=False)


def _rereads_json(h: HeadType, cat: Catalogue) -> str:
    """``,"rereads":{"ev-...":{...}}`` for the head type's records that were re-read by a reader, and
    ``,"selections":{"ev-...":"<manifest list>"}`` for those re-read by machine on their score table; else ``""``."""
    out = ""
    found = [(e.id, cat.rereads[e.id]) for e in h.evidence if e.id in cat.rereads]
    if found:
        items = ",".join(f"{json.dumps(k)}:{r.model_dump_json(exclude_none=True)}" for k, r in found)
        out += f',"rereads":{{{items}}}'
    chosen = {e.id: cat.selections[e.id] for e in h.evidence if e.id in cat.selections}
    if chosen:
        out += f',"selections":{json.dumps(chosen)}'
    return out


def _fill(engine: Engine, cat: Catalogue) -> None:
    """Insert every row in bulk (SQLAlchemy Core executemany): the rows come from validated objects only."""
    refs = cat.references
    heads: list[dict[str, object]] = []
    names: list[dict[str, object]] = []
    stages: list[dict[str, object]] = []
    fts: list[dict[str, object]] = []
    evidence: list[dict[str, object]] = []
    located: list[tuple[int, str]] = []
    ev_id = 0
    for h in cat.heads.values():
        years = [refs[e.cite].year for e in h.evidence if e.cite in refs]
        standing = cat.standing(h)
        heads.append(
            {
                "id": h.id,
                "name": h.name,
                "in_survey": h.in_survey,
                "first_year": min(years, default=None),
                "summary": h.summary,
                "stages": stage_label([p.stage for p in h.stages]),
                "models": ",".join(sorted({e.model for e in h.evidence if e.model})),
                "years": ",".join(str(y) for y in sorted(set(years))),
                "evidence": len(h.evidence),
                "standing": standing,
                # pydantic writes the JSON (in Rust); the standing and the re-reads of its records (data/audit.yaml,
                # by evidence id) are spliced in as the object's last keys
                "data": f'{h.model_dump_json(exclude_defaults=True)[:-1]},"standing":{json.dumps(standing)}'
                + _rereads_json(h, cat)
                + "}",
            }
        )
        names += [{"name": n, "head_id": h.id} for n in sorted({normalize_name(x) for x in h.names})]
        stages += [{"head_id": h.id, "stage": p.stage, "subcategory": p.subcategory} for p in h.stages]
        body = []
        for k, e in enumerate(h.evidence):
            ev_id += 1
            ref = refs[e.cite]
            evidence.append(
                {
                    "id": ev_id,
                    "head_id": h.id,
                    "ordinal": k,
                    "key": e.id,
                    "deprecated": e.deprecated is not None,
                    "cite": e.cite,
                    "model": e.model,
                    "method": e.method,
                    "year": ref.year,
                    "source_kind": e.source_kind,
                    "stance": e.stance,
                    "scores": e.scores,
                    "located": bool(e.locations),
                    "verdict": e.checked.verdict if e.checked else None,
                }
            )
            if e.locations and e.deprecated is None:  # a withdrawn claim places no head
                # one row per record; SQLite expands it to one row per head (see _insert_locations)
                located.append((ev_id, json.dumps([loc.layer * _PACK + loc.head for loc in e.locations])))
            body.append(_fts_text(e.task, e.method_detail, e.note, e.model, ref.title))
        fts.append(
            {
                "i": h.id,
                "n": h.name,
                "a": " ".join(h.aliases),
                "s": h.summary,
                "b": _fts_text(h.mechanism, h.notes, *body),
            }
        )
    tables: list[tuple[type[SQLModel], list[dict[str, object]]]] = [
        (HeadRow, heads),
        (NameRow, names),
        (StageRow, stages),
        (EvidenceRow, evidence),
        (
            ReferenceRow,
            [{"key": r.key, "eprint": r.eprint, "year": r.year, "data": reference_json(r)} for r in refs.values()],
        ),
        (
            ModelRow,
            [
                {
                    "id": m.id,
                    "hf_id": m.hf_id.lower() if m.hf_id else None,
                    "data": m.model_dump_json(exclude_none=True),
                }
                for m in cat.models.values()
            ],
        ),
        (
            ScoreTableRow,
            [
                {
                    "path": t.path,
                    "cite": t.cite,
                    "model": t.model,
                    "name": t.name,
                    "head_unit": t.head_unit,
                    "rows": len(t.rows),
                    "low": min((r[2] for r in t.rows), default=0.0),
                    "high": max((r[2] for r in t.rows), default=0.0),
                    "data": json.dumps(
                        {"definition": t.definition, "selection_rule": t.selection_rule, "source": t.source},
                        ensure_ascii=False,
                    ),
                }
                for t in cat.scores.values()
            ],
        ),
        (
            MetaRow,
            [
                {"key": "digest", "value": cat.digest},
                {"key": "schema", "value": SCHEMA_VERSION},
                {"key": "taxonomy", "value": cat.taxonomy.model_dump_json()},
            ],
        ),
    ]
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        raw.execute("PRAGMA synchronous=OFF")
        raw.execute("PRAGMA cache_size=-131072")  # up to 128 MiB of pages: fewer spills while indexing at scale
        raw.execute(
            "CREATE VIRTUAL TABLE head_fts USING fts5(head_id UNINDEXED, name, aliases, summary, body, "
            "tokenize='porter unicode61')"
        )
        for table, rows in tables:
            if rows:  # columns from the sqlmodel table; sqlite3 binds the rows directly (no per-row compiling)
                t = table.__table__  # type: ignore[attr-defined]
                cols = [c.name for c in t.columns if c.name in rows[0]]
                col_list, params = ", ".join(cols), ", ".join(":" + c for c in cols)
                raw.executemany(f"INSERT INTO {t.name} ({col_list}) VALUES ({params})", rows)
        raw.executemany("INSERT INTO head_fts(head_id, name, aliases, summary, body) VALUES (:i, :n, :a, :s, :b)", fts)
        _insert_locations(raw, located)
        _insert_scores(raw, {t.path: t.rows for t in cat.scores.values()})
