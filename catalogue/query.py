"""Read functions over the SQLite index: list, show, search, where, model maps, citations, stats.

No pydantic here: each answer is the JSON the index stored for a validated object, decoded to plain
``dict``s (a head type as ``HeadType.model_dump(mode="json", exclude_defaults=True)``, so absent keys
mean the field's default). Bad arguments raise :class:`~catalogue.errors.UsageError` with a hint.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from catalogue.errors import UnknownHeadError, UnknownModelError, UsageError
from catalogue.headmap import HeadMap, build
from catalogue.index import Index
from catalogue.vocab import (
    MAX_INDEX,
    METHODS,
    SOURCE_KINDS,
    STAGES,
    STANDINGS,
    STATUSES,
    SUBCATEGORIES,
    location_problem,
    normalize_name,
    parse_location,
    stage_id,
    suggest,
)

__all__ = [
    "Filters",
    "Hit",
    "Stats",
    "all_heads",
    "cite",
    "list_heads",
    "list_rows",
    "model_map",
    "models",
    "models_to_check",
    "parse_head_ref",
    "head_scores",
    "parse_range",
    "references",
    "resolve_model",
    "score_tables",
    "search",
    "show",
    "stats",
    "taxonomy",
    "where",
]

#: A decoded JSON object from the index.
Record = dict[str, Any]

_ARXIV_RE = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5})(?:v\d+)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Filters:
    """What ``heads list`` keeps. Several values of one filter are a union (``--stage KR --stage EP``: either
    stage); different filters all apply, and the evidence filters (method, model, family, paper, year,
    layers, source kind) must all hold for one evidence record.

    ``year`` and ``layers`` take ranges: ``2023``, ``2023-2025``, ``2023-`` (from), ``-2022`` (until).
    """

    stage: tuple[str, ...] = ()
    subcategory: tuple[str, ...] = ()
    method: tuple[str, ...] = ()
    model: tuple[str, ...] = ()
    family: tuple[str, ...] = ()
    paper: tuple[str, ...] = ()
    year: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    source_kind: tuple[str, ...] | str = ()  # some evidence record has this source kind
    in_survey: bool | None = None
    #: claims' measured statuses: confirmed, below-threshold, contradicted, or unchecked (located, no verdict)
    status: tuple[str, ...] | str | None = None
    #: the head type's standing: established, single-source or contested
    standing: tuple[str, ...] | str | None = None

    def statuses(self) -> tuple[str, ...]:
        """``status`` as a tuple (one value may be given as a string)."""
        return (self.status,) if isinstance(self.status, str) else tuple(self.status or ())

    def standings(self) -> tuple[str, ...]:
        """``standing`` as a tuple (one value may be given as a string)."""
        return (self.standing,) if isinstance(self.standing, str) else tuple(self.standing or ())


def parse_range(text: str, option: str, lo: int, hi: int) -> tuple[int, int]:
    """``5`` -> (5, 5); ``0-5`` -> (0, 5); ``3-`` -> (3, hi); ``-5`` -> (lo, 5). Bounds are inclusive.

    Raises :class:`UsageError` naming ``option`` and the accepted forms."""
    m = re.fullmatch(r"\s*(\d{0,9})\s*(-?)\s*(\d{0,9})\s*", text)
    if m is None or not (m.group(1) or m.group(3)) or (not m.group(2) and not m.group(1)):
        raise UsageError(f"{option} {text!r}: write one number or a range, e.g. {lo}, {lo}-{lo + 5}, {lo}- or -{hi}")
    first = int(m.group(1)) if m.group(1) else lo
    last = int(m.group(3)) if m.group(3) else (hi if m.group(2) else first)
    if first > last:
        raise UsageError(f"{option} {text!r}: the range is empty ({first} > {last}); write LOW-HIGH")
    return first, last


def _json(value: object) -> Any:
    return json.loads(str(value))


def _check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    v = value.strip().lower()
    matches = [c for c in choices if c == v or c.startswith(v)]
    if len(matches) == 1:
        return matches[0]
    raise UsageError(f"{option} {value!r} is not one of: {', '.join(choices)}")


def resolve_stage(value: str, index: Index) -> str:
    """A stage id from its id, name or abbreviation (KR, ICI, LR, EP)."""
    found = stage_id(value)
    if found is not None:
        return found
    for s in taxonomy(index)["stages"]:
        if value.strip().lower() == str(s["name"]).lower():
            return str(s["id"])
    raise UsageError(f"--stage {value!r} is not one of: {', '.join(STAGES)} (or KR, ICI, LR, EP)")


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


def resolve_model(value: str, index: Index) -> Record:
    """A registry model from its id or Hugging Face id (any case; an id wins over a Hugging Face id).

    Raises :class:`~catalogue.errors.UnknownModelError` with close matches."""
    v = value.strip().lower()
    rows = index.raw("SELECT data FROM model WHERE id = ?", (v,)) or index.raw(
        "SELECT data FROM model WHERE hf_id = ?", (v,)
    )
    if rows:
        found: Record = _json(rows[0][0])
        return found
    names = {str(i): str(i) for (i,) in index.raw("SELECT id FROM model")}
    names.update({str(h): str(i) for i, h in index.raw("SELECT id, hf_id FROM model WHERE hf_id IS NOT NULL")})
    raise UnknownModelError(value, suggest(value, names))


def list_heads(index: Index, f: Filters = Filters()) -> list[Record]:
    """Head types matching every given filter, sorted by stage order then id. With a ``status`` filter each
    head type keeps only its evidence records (claims) of that status."""
    heads = [_json(r[0]) for r in index.raw(*_list_sql(index, f, "h.data"))]
    return claims(heads, f.statuses()) if f.statuses() else heads


_ROW_COLUMNS = ("id", "name", "stages", "in_survey", "standing", "evidence", "models", "years", "summary")


def list_rows(index: Index, f: Filters = Filters()) -> list[Record]:
    """Like :func:`list_heads`, as flat records (id, name, stages, in_survey, standing, evidence, models, years,
    summary)."""
    sql, params = _list_sql(index, f, ", ".join(f"h.{c}" for c in _ROW_COLUMNS))
    return [{**dict(zip(_ROW_COLUMNS, r, strict=True)), "in_survey": bool(r[3])} for r in index.raw(sql, params)]


class _Sql:
    """Numbered parameters for a query built from parts."""

    def __init__(self) -> None:
        self.params: dict[str, object] = {}

    def one(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return ":" + name

    def any_of(self, column: str, values: list[object]) -> str:
        return f"{column} IN ({', '.join(self.one(v) for v in dict.fromkeys(values))})"

    def ranges(self, column: str, spans: list[tuple[int, int]]) -> str:
        return "(" + " OR ".join(f"{column} BETWEEN {self.one(a)} AND {self.one(b)}" for a, b in spans) + ")"


def resolve_family(value: str, index: Index) -> str:
    """A model family of the registry (any case); unknown ones raise with the close matches."""
    families = {
        str(f).lower(): str(f)
        for (f,) in index.raw("SELECT DISTINCT json_extract(data, '$.family') FROM model")
        if f is not None
    }
    found = families.get(value.strip().lower())
    if found is not None:
        return found
    hint = suggest(value, families)
    extra = f" Did you mean: {', '.join(hint)}?" if hint else ""
    raise UsageError(f"--family {value!r} is not a model family of the registry (`heads models` lists them).{extra}")


def resolve_subcategory(value: str) -> str:
    """A sub-category id of the survey's taxonomy (``heads taxonomy stages`` lists them)."""
    v = value.strip().lower().replace(" ", "-")
    if v in SUBCATEGORIES:
        return v
    hint = suggest(value, {c: c for c in SUBCATEGORIES})
    extra = f" Did you mean: {', '.join(hint)}?" if hint else ""
    raise UsageError(f"--subcategory {value!r} is not a sub-category (`heads taxonomy stages` lists them).{extra}")


def _list_sql(index: Index, f: Filters, columns: str) -> tuple[str, dict[str, object]]:
    q = _Sql()
    where = ["1=1"]
    if f.stage:
        stages: list[object] = [resolve_stage(s, index) for s in f.stage]
        where.append(f"h.id IN (SELECT head_id FROM stage WHERE {q.any_of('stage', stages)})")
    if f.subcategory:
        subs: list[object] = [resolve_subcategory(s) for s in f.subcategory]
        where.append(f"h.id IN (SELECT head_id FROM stage WHERE {q.any_of('subcategory', subs)})")
    ev = []
    if f.method:
        ev.append(q.any_of("e.method", [_check_choice(m, METHODS, "--method") for m in f.method]))
    if f.model:
        ev.append(q.any_of("e.model", [resolve_model(m, index)["id"] for m in f.model]))
    if f.family:
        families: list[object] = [resolve_family(x, index) for x in f.family]
        in_family = q.any_of("json_extract(data, '$.family')", families)
        ev.append(f"e.model IN (SELECT id FROM model WHERE {in_family})")
    if f.paper:
        ev.append(q.any_of("e.cite", [resolve_paper(p, index) for p in f.paper]))
    if f.year:
        ev.append(q.ranges("e.year", [parse_range(y, "--year", 1900, 2100) for y in f.year]))
    if f.layers:
        spans = [parse_range(x, "--layers", 0, MAX_INDEX) for x in f.layers]
        ev.append(f"e.id IN (SELECT evidence_id FROM location WHERE {q.ranges('layer', spans)})")
    if f.source_kind:
        given = (f.source_kind,) if isinstance(f.source_kind, str) else f.source_kind
        kinds: list[object] = [_check_choice(k, SOURCE_KINDS, "--source-kind") for k in given]
        ev.append(q.any_of("e.source_kind", kinds))
    if f.statuses():
        ev.append("(" + " OR ".join(_status_sql(x) for x in f.statuses()) + ")")
    if ev:
        where.append("h.id IN (SELECT e.head_id FROM evidence e WHERE " + " AND ".join(ev) + ")")
    if f.in_survey is not None:
        where.append(f"h.in_survey = {q.one(int(f.in_survey))}")
    if f.standings():
        standings: list[object] = [_check_choice(x, STANDINGS, "--standing") for x in f.standings()]
        where.append(q.any_of("h.standing", standings))
    order = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(STAGES))
    sql = (
        f"SELECT {columns} FROM head h WHERE "
        + " AND ".join(where)
        + f" ORDER BY (SELECT MIN(CASE st.stage {order} END) FROM stage st WHERE st.head_id = h.id), h.id"
    )
    return sql, q.params


def _status_sql(status: str) -> str:
    value = _check_choice(status, STATUSES, "--status")
    return "e.located AND e.verdict IS NULL" if value == "unchecked" else f"e.verdict = '{value}'"


def evidence_status(e: Record) -> str | None:
    """A claim's status: its checked verdict, ``unchecked`` for located evidence without one, else None."""
    checked = e.get("checked")
    if checked:
        return str(checked["verdict"])
    return "unchecked" if e.get("locations") else None


def claims(heads: list[Record], status: str | tuple[str, ...]) -> list[Record]:
    """These head types with only their evidence records of this status, or of any of these statuses
    (``heads list --status``)."""
    values = {_check_choice(x, STATUSES, "--status") for x in ((status,) if isinstance(status, str) else status)}
    out = []
    for h in heads:
        kept = [e for e in h["evidence"] if evidence_status(e) in values]
        if kept:
            out.append({**h, "evidence": kept})
    return out


def all_heads(index: Index) -> list[Record]:
    return [_json(r[0]) for r in index.raw("SELECT data FROM head ORDER BY id")]


def show(index: Index, name: str) -> Record:
    """The head type with this id, name or alias (any case); a typo raises with suggestions."""
    rows = index.raw(
        "SELECT h.data FROM name n JOIN head h ON h.id = n.head_id WHERE n.name = ?", (normalize_name(name),)
    )
    if rows:
        found: Record = _json(rows[0][0])
        return found
    names = {str(n): str(h) for n, h in index.raw("SELECT name, head_id FROM name")}
    raise UnknownHeadError(name, suggest(name, names))


@dataclass(frozen=True)
class Hit:
    head: Record
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
    return [Hit(_json(r[3]), -float(r[1]), str(r[2])) for r in rows]


def parse_head_ref(text: str) -> tuple[int, int]:
    """``L9H9``, ``9.9`` or ``9:9`` -> ``(layer, head)``; a :class:`UsageError` naming the accepted forms otherwise."""
    try:
        return parse_location(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def where(
    index: Index, model: str, head: str
) -> tuple[Record, tuple[int, int], list[tuple[Record, list[Record]]], list[Record]]:
    """Every head type recorded at this head of this model, with the evidence records that place it there,
    and the head's score and rank in every per-head score table of this model.

    Returns the model, ``(layer, head)``, ``[(head type, [evidence, ...]), ...]`` sorted by head-type id, and
    the scores (:func:`head_scores`)."""
    m = resolve_model(model, index)
    layer, h = parse_head_ref(head)
    why = location_problem(layer, h, m["id"], m.get("layers"), m.get("heads"), m.get("attention_layers"))
    if why is not None:
        raise UsageError(why)
    rows = index.raw(
        "SELECT DISTINCT e.head_id, e.ordinal, h.data FROM location l JOIN evidence e ON e.id = l.evidence_id "
        "JOIN head h ON h.id = e.head_id WHERE e.model = ? AND l.layer = ? AND l.head = ? "
        "ORDER BY e.head_id, e.ordinal",
        (m["id"], layer, h),
    )
    found: dict[str, tuple[Record, list[Record]]] = {}
    for hid, k, data in rows:
        if hid not in found:
            found[hid] = (_json(data), [])
        record, evidence = found[hid]
        evidence.append(record["evidence"][int(k)])
    return m, (layer, h), list(found.values()), head_scores(index, m, layer, h)


def head_scores(index: Index, model: Record, layer: int, head: int) -> list[Record]:
    """This head's row in every score table of ``model``: ``{table, cite, score_name, score, rank, rows, head_unit}``,
    sorted by table path. Rank 1 is the table's highest score. A ``kv_head`` table is read at the key/value
    head that serves this query head (``head // (heads / kv_heads)``)."""
    group = model["heads"] // model["kv_heads"] if model.get("heads") and model.get("kv_heads") else 1
    rows = index.raw(
        "SELECT t.path, t.cite, t.name, s.score, s.rank, t.rows, t.head_unit FROM score_table t "
        "JOIN score s ON s.table_path = t.path WHERE t.model = :model AND s.layer = :layer AND s.head = "
        "CASE t.head_unit WHEN 'kv_head' THEN :kv ELSE :head END ORDER BY t.path",
        {"model": model["id"], "layer": layer, "head": head, "kv": head // group},
    )
    keys = ("table", "cite", "score_name", "score", "rank", "rows", "head_unit")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def score_tables(index: Index, model: str) -> list[Record]:
    """The score tables of this model (any id or Hugging Face id), each with its rows: ``{path, cite, name,
    head_unit, low, high, definition, selection_rule, source, scores: {(layer, head): score}}``, sorted by path."""
    m = resolve_model(model, index)
    out = []
    for path, cite_key, name, unit, low, high, data in index.raw(
        "SELECT path, cite, name, head_unit, low, high, data FROM score_table WHERE model = ? ORDER BY path", (m["id"],)
    ):
        scores = {
            (int(la), int(he)): float(sc)
            for la, he, sc in index.raw("SELECT layer, head, score FROM score WHERE table_path = ?", (path,))
        }
        out.append(
            {"path": path, "cite": cite_key, "name": name, "head_unit": unit, "low": low, "high": high, **_json(data)}
            | {"scores": scores}
        )
    return out


def model_map(index: Index, model: str) -> tuple[Record, HeadMap]:
    """The model and its head map: which head types the evidence places at each of its heads."""
    m = resolve_model(model, index)
    records = [
        (str(hid), int(layer), int(head))
        for hid, layer, head in index.raw(
            "SELECT DISTINCT e.head_id, l.layer, l.head FROM location l JOIN evidence e ON e.id = l.evidence_id "
            "WHERE e.model = ?",
            (m["id"],),
        )
    ]
    stages: dict[str, list[str]] = {}
    for hid, stage in index.raw(
        "SELECT head_id, stage FROM stage WHERE head_id IN "
        "(SELECT e.head_id FROM location l JOIN evidence e ON e.id = l.evidence_id WHERE e.model = ?)",
        (m["id"],),
    ):
        stages.setdefault(str(hid), []).append(str(stage))
    return m, build(m["id"], m.get("layers"), m.get("heads"), records, stages, m.get("attention_layers"))


def models(index: Index) -> list[Record]:
    return [_json(r[0]) for r in index.raw("SELECT data FROM model ORDER BY id")]


def models_to_check(index: Index, *, max_parameters: float) -> list[Record]:
    """Hub models whose claims ``heads verify --claims --model M`` can measure on a CPU runner, sorted by id.

    A registry model qualifies when it is on the Hugging Face Hub (``hf_id``), its parameter count is
    recorded and at most ``max_parameters``, and it carries a claim: an evidence record with ``locations``
    on a head type that has a ``check`` (the rule :func:`catalogue.claims.claims_on` applies). A model
    whose size is not recorded is left out, never guessed. The scheduled workflow
    (.github/workflows/check-claims.yml) reads this list through ``heads models --claims``.

    Raises :class:`UsageError` when ``max_parameters`` is not a positive number."""
    if not max_parameters > 0:
        raise UsageError(f"--max-parameters {max_parameters!r} must be a positive number of parameters, e.g. 1.5e9")
    rows = index.raw(
        "SELECT m.data FROM model m WHERE m.hf_id IS NOT NULL "
        "AND json_extract(m.data, '$.parameters') IS NOT NULL AND json_extract(m.data, '$.parameters') <= ? "
        "AND EXISTS (SELECT 1 FROM evidence e JOIN head h ON h.id = e.head_id "
        "WHERE e.model = m.id AND e.located AND json_extract(h.data, '$.check') IS NOT NULL) ORDER BY m.id",
        (max_parameters,),
    )
    return [_json(r[0]) for r in rows]


def references(index: Index) -> list[Record]:
    return [_json(r[0]) for r in index.raw("SELECT data FROM reference ORDER BY key")]


def reference_labels(index: Index, heads: list[Record] | None = None) -> dict[str, str]:
    """Cite key -> short label (``Wang et al., 2022``), for the works these head types cite (default: all)."""
    rows = index.raw("SELECT key, json_extract(data, '$.short') FROM reference")
    if heads is not None:
        keys = {e["cite"] for h in heads for e in h["evidence"]}
        rows = [r for r in rows if r[0] in keys]
    return {str(k): str(v) for k, v in rows}


def cite(index: Index, names: list[str]) -> list[Record]:
    """The works cited in the evidence of these head types, each once, sorted by key."""
    keys: set[str] = set()
    for n in names:
        keys |= {e["cite"] for e in show(index, n)["evidence"]}
    rows = index.raw(f"SELECT data FROM reference WHERE key IN ({','.join('?' * len(keys))}) ORDER BY key", tuple(keys))
    return [_json(r[0]) for r in rows]


def taxonomy(index: Index) -> Record:
    found: Record = _json(index.meta("taxonomy"))
    return found


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
    by_source_kind: Counter[str]
    by_standing: Counter[str]
    scores: int
    score_tables: int

    def as_dict(self) -> dict[str, object]:
        """The figures as one mapping, in print order (counters most common first, years in order)."""
        return {
            "head_types": self.heads,
            "evidence": self.evidence,
            "evidence_with_locations": self.located_evidence,
            "locations": self.locations,
            "works": self.references,
            "models_with_evidence": self.models,
            "by_stage": dict(self.by_stage.most_common()),
            "by_method": dict(self.by_method.most_common()),
            "by_model": dict(self.by_model.most_common()),
            "works_by_year": dict(sorted(self.by_year.items())),
            "evidence_by_source_kind": dict(self.by_source_kind.most_common()),
            "head_types_by_standing": dict(self.by_standing.most_common()),
            "per_head_scores": self.scores,
            "score_tables": self.score_tables,
        }


def stats(index: Index) -> Stats:
    def count(sql: str) -> int:
        return int(index.raw(sql)[0][0])

    def counter(sql: str) -> Counter[str]:
        return Counter({str(k): int(v) for k, v in index.raw(sql)})

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
        by_source_kind=counter("SELECT source_kind, COUNT(*) FROM evidence GROUP BY source_kind"),
        by_standing=counter("SELECT standing, COUNT(*) FROM head GROUP BY standing"),
        scores=count("SELECT COUNT(*) FROM score"),
        score_tables=count("SELECT COUNT(*) FROM score_table"),
    )
