"""Read functions over the SQLite index: list, show, search, where, model maps, citations, stats."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from catalogue.errors import UnknownHeadError, UsageError
from catalogue.index import Index
from catalogue.schema import (
    METHODS,
    STAGES,
    Evidence,
    HeadType,
    Location,
    ModelInfo,
    Reference,
    Taxonomy,
    find_model,
    normalize_name,
    parse_location,
    suggest,
)

__all__ = [
    "Filters",
    "Hit",
    "ModelMap",
    "Stats",
    "all_heads",
    "cite",
    "list_heads",
    "list_rows",
    "model_map",
    "models",
    "references",
    "resolve_model",
    "search",
    "show",
    "stats",
    "taxonomy",
    "where",
]

_ARXIV_RE = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5})(?:v\d+)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Filters:
    stage: str | None = None
    method: str | None = None
    model: str | None = None
    paper: str | None = None
    year: int | None = None
    in_survey: bool | None = None


def _heads(index: Index, sql: str, params: dict[str, object]) -> list[HeadType]:
    rows = index.raw(sql, params)
    return [HeadType.model_validate_json(str(r[0])) for r in rows]


def _check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    v = value.strip().lower()
    matches = [c for c in choices if c == v or c.startswith(v)]
    if len(matches) == 1:
        return matches[0]
    raise UsageError(f"{option} {value!r} is not one of: {', '.join(choices)}")


def resolve_stage(value: str, index: Index) -> str:
    """A stage id from its id, name or abbreviation (KR, ICI, LR, EP)."""
    tax = taxonomy(index)
    for s in tax.stages:
        if value.strip().lower() in (s.id, s.name.lower(), s.abbreviation.lower()):
            return s.id
    return _check_choice(value, STAGES, "--stage")


def resolve_paper(value: str, index: Index) -> str:
    """A cite key from a key or an arXiv id (``2211.00593``, ``arXiv:2211.00593v2``)."""
    m = _ARXIV_RE.match(value.strip())
    if m:
        rows = index.raw("SELECT key FROM reference WHERE eprint = ?", (m.group(1),))
        if rows:
            return str(rows[0][0])
        raise UsageError(f"--paper {value!r}: no work in the catalogue has arXiv id {m.group(1)}")
    rows = index.raw("SELECT key FROM reference WHERE lower(key) = lower(?)", (value.strip(),))
    if rows:
        return str(rows[0][0])
    keys = {str(r[0]).lower(): str(r[0]) for r in index.raw("SELECT key FROM reference")}
    hint = suggest(value, keys)
    extra = f" Did you mean: {', '.join(hint)}?" if hint else ""
    raise UsageError(f"--paper {value!r} is neither a cite key nor an arXiv id in the catalogue.{extra}")


def resolve_model(value: str, index: Index) -> ModelInfo:
    """A registry model from its id or Hugging Face id (any case)."""
    return find_model(models(index), value)


def list_heads(index: Index, f: Filters = Filters()) -> list[HeadType]:
    """Head types matching every given filter, sorted by stage order then id."""
    return _heads(index, *_list_sql(index, f, "h.data"))


_ROW_COLUMNS = ("id", "name", "stages", "in_survey", "evidence", "models", "years", "summary")


def list_rows(index: Index, f: Filters = Filters()) -> list[dict[str, object]]:
    """Like :func:`list_heads`, as the flat records of ``formats.head_rows``, read from stored columns
    (no model validation: the fast path for tables and CSV)."""
    sql, params = _list_sql(index, f, ", ".join(f"h.{c}" for c in _ROW_COLUMNS))
    return [{**dict(zip(_ROW_COLUMNS, r, strict=True)), "in_survey": bool(r[3])} for r in index.raw(sql, params)]


def _list_sql(index: Index, f: Filters, columns: str) -> tuple[str, dict[str, object]]:
    where, params = ["1=1"], {}  # type: tuple[list[str], dict[str, object]]
    if f.stage:
        where.append("h.id IN (SELECT head_id FROM stage WHERE stage = :stage)")
        params["stage"] = resolve_stage(f.stage, index)
    ev = []
    if f.method:
        ev.append("e.method = :method")
        params["method"] = _check_choice(f.method, METHODS, "--method")
    if f.model:
        ev.append("e.model = :model")
        params["model"] = resolve_model(f.model, index).id
    if f.paper:
        ev.append("e.cite = :cite")
        params["cite"] = resolve_paper(f.paper, index)
    if f.year is not None:
        ev.append("e.year = :year")
        params["year"] = f.year
    if ev:
        where.append("h.id IN (SELECT e.head_id FROM evidence e WHERE " + " AND ".join(ev) + ")")
    if f.in_survey is not None:
        where.append("h.in_survey = :survey")
        params["survey"] = int(f.in_survey)
    order = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STAGES))
    sql = (
        f"SELECT {columns} FROM head h WHERE "
        + " AND ".join(where)
        + f" ORDER BY (SELECT MIN(CASE st.stage {order} END) FROM stage st WHERE st.head_id = h.id), h.id"
    )
    return sql, params


def all_heads(index: Index) -> list[HeadType]:
    return _heads(index, "SELECT data FROM head ORDER BY id", {})


def show(index: Index, name: str) -> HeadType:
    """The head type with this id, name or alias (any case); a typo raises with suggestions."""
    rows = index.raw(
        "SELECT h.data FROM name n JOIN head h ON h.id = n.head_id WHERE n.name = ?", (normalize_name(name),)
    )
    if rows:
        return HeadType.model_validate_json(str(rows[0][0]))
    names = {str(n): str(h) for n, h in index.raw("SELECT name, head_id FROM name")}
    raise UnknownHeadError(name, suggest(name, names))


@dataclass(frozen=True)
class Hit:
    head: HeadType
    score: float
    snippet: str


def search(index: Index, query: str, *, limit: int = 20) -> list[Hit]:
    """Full-text search (SQLite FTS5, BM25 ranking; names weigh most). Words are ANDed; a trailing * is a prefix."""
    words = re.findall(r"[\w*]+", query)
    if not words:
        raise UsageError("search TEXT has no words to search for: give one or more words")
    fts = " ".join('"' + w.rstrip("*").replace('"', "") + '"' + ("*" if w.endswith("*") else "") for w in words)
    rows = index.raw(
        "SELECT f.head_id, bm25(head_fts, 0, 10.0, 8.0, 3.0, 1.0) AS rank, "
        "snippet(head_fts, -1, '[', ']', ' … ', 12), h.data "
        "FROM head_fts f JOIN head h ON h.id = f.head_id WHERE head_fts MATCH ? ORDER BY rank, f.head_id LIMIT ?",
        (fts, limit),
    )
    return [Hit(HeadType.model_validate_json(str(r[3])), -float(str(r[1])), str(r[2])) for r in rows]


def parse_head_ref(text: str) -> Location:
    """``L9H9``, ``9.9`` or ``9:9`` -> Location, with a message saying the accepted forms otherwise."""
    try:
        layer, head = parse_location(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return Location(layer=layer, head=head)


def _check_range(m: ModelInfo, loc: Location) -> None:
    if (m.layers is not None and loc.layer >= m.layers) or (m.heads is not None and loc.head >= m.heads):
        raise UsageError(
            f"{loc} is outside {m.id}: it has {m.layers} layers (0-{(m.layers or 1) - 1}) and "
            f"{m.heads} heads per layer (0-{(m.heads or 1) - 1})"
        )


def where(index: Index, model: str, head: str) -> tuple[ModelInfo, Location, list[tuple[HeadType, list[Evidence]]]]:
    """Every head type recorded at this head of this model, with the evidence that places it there."""
    m = resolve_model(model, index)
    loc = parse_head_ref(head)
    _check_range(m, loc)
    rows = index.raw(
        "SELECT DISTINCT l.head_id, e.ordinal FROM location l JOIN evidence e ON e.id = l.evidence_id "
        "WHERE l.model = ? AND l.layer = ? AND l.head = ? ORDER BY l.head_id, e.ordinal",
        (m.id, loc.layer, loc.head),
    )
    found: dict[str, list[int]] = {}
    for hid, k in rows:
        found.setdefault(str(hid), []).append(int(str(k)))
    out = []
    for hid, ks in found.items():
        h = show(index, hid)
        out.append((h, [h.evidence[k] for k in ks]))
    return m, loc, out


@dataclass
class ModelMap:
    model: ModelInfo
    cells: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # (layer, head) -> head-type ids
    stages: dict[str, list[str]] = field(default_factory=dict)  # head-type id -> its stages


def model_map(index: Index, model: str) -> ModelMap:
    m = resolve_model(model, index)
    out = ModelMap(m)
    for hid, layer, head in index.raw(
        "SELECT DISTINCT head_id, layer, head FROM location WHERE model = ? ORDER BY layer, head, head_id", (m.id,)
    ):
        out.cells.setdefault((int(str(layer)), int(str(head))), []).append(str(hid))
    for hid, stage in index.raw(
        "SELECT s.head_id, s.stage FROM stage s WHERE s.head_id IN (SELECT head_id FROM location WHERE model = ?)",
        (m.id,),
    ):
        out.stages.setdefault(str(hid), []).append(str(stage))
    return out


def models(index: Index) -> list[ModelInfo]:
    return [ModelInfo.model_validate_json(str(r[0])) for r in index.raw("SELECT data FROM model ORDER BY id")]


def references(index: Index) -> list[Reference]:
    return [Reference.model_validate_json(str(r[0])) for r in index.raw("SELECT data FROM reference ORDER BY key")]


def cite(index: Index, names: list[str]) -> list[Reference]:
    """The works cited in the evidence of these head types, each once, sorted by key."""
    keys: set[str] = set()
    for n in names:
        keys |= {e.cite for e in show(index, n).evidence}
    rows = index.raw(f"SELECT data FROM reference WHERE key IN ({','.join('?' * len(keys))}) ORDER BY key", tuple(keys))
    return [Reference.model_validate_json(str(r[0])) for r in rows]


def taxonomy(index: Index) -> Taxonomy:
    return Taxonomy.model_validate_json(index.meta("taxonomy"))


@dataclass
class Stats:
    heads: int
    evidence: int
    located_evidence: int
    locations: int
    references: int
    models: int
    by_stage: Counter[str]
    by_method: Counter[str]
    by_model: Counter[str]
    by_year: Counter[str]


def stats(index: Index) -> Stats:
    def count(sql: str) -> int:
        return int(str(index.raw(sql)[0][0]))

    def counter(sql: str) -> Counter[str]:
        return Counter({str(k): int(str(v)) for k, v in index.raw(sql)})

    return Stats(
        heads=count("SELECT COUNT(*) FROM head"),
        evidence=count("SELECT COUNT(*) FROM evidence"),
        located_evidence=count("SELECT COUNT(DISTINCT evidence_id) FROM location"),
        locations=count("SELECT COUNT(*) FROM location"),
        references=count("SELECT COUNT(*) FROM reference"),
        models=count("SELECT COUNT(DISTINCT model) FROM evidence WHERE model IS NOT NULL"),
        by_stage=counter("SELECT stage, COUNT(*) FROM stage GROUP BY stage"),
        by_method=counter("SELECT method, COUNT(*) FROM evidence GROUP BY method"),
        by_model=counter("SELECT model, COUNT(*) FROM evidence WHERE model IS NOT NULL GROUP BY model"),
        by_year=counter("SELECT year, COUNT(DISTINCT cite) FROM evidence GROUP BY year"),
    )
