"""The SQLite index's build, with plain sqlite3 from ``catalogue/index.sql`` (the DDL of :mod:`catalogue.tables`).

:func:`build` writes a complete index of a validated catalogue to a temporary file and renames
it into place, so a crash never leaves a half-written index. Reading is :mod:`catalogue.index`'s job
(plain sqlite3, so that a query does not pay for importing SQLAlchemy or pydantic): every answer a
query gives is stored here ready-made, as the JSON of the validated object. Neither builds nor queries import
SQLAlchemy (about 0.3 s): the tables' DDL is generated from their SQLModel declarations and kept current.
"""

from __future__ import annotations

import gc
import json
import os
import sqlite3
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from catalogue.files import pid_alive
from catalogue.paths import SCHEMA_VERSION
from catalogue.schema import Catalogue, HeadType, Reference
from catalogue.scores import ranks
from catalogue.vocab import MAX_INDEX, normalize_name, stage_label

__all__ = ["DDL_FILE", "build", "ddl_statements"]

#: The index's DDL, generated from :mod:`catalogue.tables` (``bash scripts/generate``).
DDL_FILE = Path(__file__).with_name("index.sql")


def ddl_statements() -> tuple[list[str], list[str]]:
    """The ``CREATE TABLE`` and the ``CREATE INDEX`` statements of :data:`DDL_FILE`, in file order."""
    statements = [s.strip() for s in DDL_FILE.read_text(encoding="utf-8").split(";") if s.strip()]
    statements = ["\n".join(line for line in s.splitlines() if not line.startswith("--")).strip() for s in statements]
    tables = [s for s in statements if s.startswith("CREATE TABLE")]
    return tables, [s for s in statements if s.startswith("CREATE") and not s.startswith("CREATE TABLE")]


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
        collecting = gc.isenabled()
        gc.disable()  # rows are built and dropped by the million, none in cycles (as in loader.check)
        raw = sqlite3.connect(tmp, isolation_level=None)  # autocommit: the transactions below are explicit
        try:
            # 16 KiB pages (SQLite's default is 4 KiB): fewer, fuller B-tree pages for a file written once in
            # bulk (about 9% less build time at the reference size); set before the first write
            raw.execute("PRAGMA page_size=16384")
            raw.execute("PRAGMA synchronous=OFF")  # a temporary file, renamed into place only when complete
            raw.execute("PRAGMA cache_size=-131072")  # up to 128 MiB of pages: fewer spills while indexing at scale
            create_tables, create_indexes = ddl_statements()
            raw.execute("BEGIN")
            for statement in create_tables:  # secondary indexes come after the rows: sorting a finished column
                raw.execute(statement)  # is cheaper than growing each index row by row
            _fill(raw, cat)
            for statement in create_indexes:
                raw.execute(statement)
            raw.execute("COMMIT")
        finally:
            raw.close()
            if collecting:
                gc.enable()
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, target)
    except BaseException:
        for leftover in (tmp, tmp + "-journal"):
            Path(leftover).unlink(missing_ok=True)
        raise


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


def _fill(raw: sqlite3.Connection, cat: Catalogue) -> None:
    """Insert every row in bulk (sqlite3 executemany, inside the caller's transaction): the rows come from
    validated objects only, and their keys are the columns of :mod:`catalogue.tables`."""
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
    tables: list[tuple[str, list[dict[str, object]]]] = [
        ("head", heads),
        ("name", names),
        ("stage", stages),
        ("evidence", evidence),
        (
            "reference",
            [{"key": r.key, "eprint": r.eprint, "year": r.year, "data": reference_json(r)} for r in refs.values()],
        ),
        (
            "model",
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
            "score_table",
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
            "meta",
            [
                {"key": "digest", "value": cat.digest},
                {"key": "schema", "value": SCHEMA_VERSION},
                {"key": "taxonomy", "value": cat.taxonomy.model_dump_json()},
            ],
        ),
    ]
    raw.execute(
        "CREATE VIRTUAL TABLE head_fts USING fts5(head_id UNINDEXED, name, aliases, summary, body, "
        "tokenize='porter unicode61')"
    )
    for table, rows in tables:
        if rows:  # the rows' keys are the table's columns; sqlite3 binds the rows directly
            col_list, params = ", ".join(rows[0]), ", ".join(":" + c for c in rows[0])
            raw.executemany(f"INSERT INTO {table} ({col_list}) VALUES ({params})", rows)
    raw.executemany("INSERT INTO head_fts(head_id, name, aliases, summary, body) VALUES (:i, :n, :a, :s, :b)", fts)
    _insert_locations(raw, located)
    _insert_scores(raw, {t.path: t.rows for t in cat.scores.values()})
