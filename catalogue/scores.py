"""The per-head score tables under ``data/scores/``: read, check, rank. Standard library and PyYAML only.

A table is ``data/scores/<cite>/<model>[.<score>].csv`` with columns ``layer,head,score`` (0-indexed, one
row per head) and a manifest ``.yaml`` beside it (written by ``scripts/import_scores.py``) naming the cite,
the model, the source file and commit, the score's definition and the authors' selection rule.
Evidence records point at a table with ``scores:``; :func:`evidence_problem` says when one does not fit.
"""

from __future__ import annotations

import csv
import io
import math
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml_rs

__all__ = ["ScoreTable", "evidence_problem", "parse_table", "ranks", "selection_of"]


@dataclass(frozen=True)
class ScoreTable:
    """One released per-head score file.

    ``path`` is how evidence names it (``data/scores/<cite>/<file>.csv``); ``cite`` is the work's key, or the
    manifest's ``source:`` for a third-party measurement (``neuronpedia``); ``name`` is the score's name
    within the work (``""`` when the work releases one score per model); ``rows`` are
    ``(layer, head, score)``; ``head_unit`` is ``head`` (query heads) or ``kv_head`` (key/value heads)."""

    path: str
    cite: str
    model: str
    name: str
    definition: str
    selection_rule: str
    source: str
    head_unit: str
    rows: tuple[tuple[int, int, float], ...] = field(repr=False)
    #: the manifest's head lists (``selected``, ``masked``, ``streaming_sp0.4_kv_heads``, ...) as written there:
    #: ``L3H7`` for a query head, ``L3KV1`` for a key/value head; the selections the import script computed
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)
    #: the (layer, head) pairs of ``rows``, computed once
    heads: frozenset[tuple[int, int]] = field(init=False, repr=False, compare=False)
    #: :attr:`lists` as query-head sets, per KV group size, computed on first use (:func:`selection_of`)
    _as_heads: dict[int, list[tuple[str, frozenset[tuple[int, int]]]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "heads", frozenset(map(operator.itemgetter(0, 1), self.rows)))

    def covers(self, layer: int, head: int, group: int | None = None) -> bool:
        """Whether the table has a row for this query head (``group`` = query heads per KV head, for kv tables)."""
        if self.head_unit == "kv_head":
            if group is None:
                return any(r[0] == layer for r in self.heads)
            head //= group
        return (layer, head) in self.heads


def parse_table(csv_text: str, manifest_text: str, rel: str) -> tuple[ScoreTable | None, list[str]]:
    """A table from its CSV and manifest text; ``rel`` is its path ``data/scores/<cite>/<file>.csv``.

    Returns the table (None when unusable) and what is wrong, one message per problem."""
    problems: list[str] = []
    try:
        # yaml-rs, as for the head-type files (PyYAML's pure-Python parser took 25x as long on the manifests)
        meta = yaml_rs.loads(manifest_text, parse_datetime=False)
    except yaml_rs.YAMLDecodeError as exc:
        return None, [f"its manifest is not valid YAML: {exc}"]
    # a work's table names its `cite:`; a third-party measurement (Neuronpedia) names its `source:` instead
    owner = meta.get("cite") or meta.get("source") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not owner or not meta.get("model"):
        return None, ["its manifest must be a mapping with `model:` and `cite:` (or `source:`)"]
    cite, model = str(owner), str(meta["model"])
    stem = rel.rsplit("/", 1)[-1].removesuffix(".csv")
    if rel.split("/")[2] != cite:
        problems.append(f"its manifest names cite {cite!r} but the table sits in folder {rel.split('/')[2]!r}")
    if stem != model and not stem.startswith(model + "."):
        problems.append(f"its file name does not start with its manifest's model {model!r}")
    rows: list[tuple[int, int, float]] = []
    reader = csv.reader(io.StringIO(csv_text))
    header = next(reader, None)
    if header != ["layer", "head", "score"]:
        return None, [*problems, f"its header is {header!r}: it must be layer,head,score"]
    body = list(reader)
    try:  # the usual, well-formed table in one comprehension; any doubt and the loop below says which line
        rows = [(int(a), int(b), float(c)) for a, b, c in body]
        clean = all(la >= 0 and he >= 0 and math.isfinite(sc) for la, he, sc in rows)
    except ValueError:  # a field that is not a number, or a row that is not three fields long
        clean = False
    if not clean:
        rows = []
        for n, row in enumerate(body, start=2):
            try:
                layer, head, score = int(row[0]), int(row[1]), float(row[2])
            except (ValueError, IndexError):
                problems.append(f"line {n} is not `layer,head,score` with integers and a number: {row!r}")
                continue
            if layer < 0 or head < 0 or not math.isfinite(score):
                problems.append(f"line {n}: negative index or non-finite score: {row!r}")
                continue
            rows.append((layer, head, score))
    if meta.get("source_repository"):
        source = f"{meta.get('source_path', '?')} @ {meta['source_repository']} {meta.get('source_commit', '?')}"
    else:
        source = f"{meta.get('export', cite)} (sha256 {meta.get('export_sha256', '?')})"
    table = ScoreTable(
        path=rel,
        cite=cite,
        model=model,
        name=stem[len(model) + 1 :] if stem != model else "",
        definition=str(meta.get("score", "")),
        selection_rule=str(meta.get("selection_rule", "")),
        source=source,
        head_unit=str(meta.get("head_unit", "head")),
        rows=tuple(rows),
        lists={
            str(key): tuple(value)
            for key, value in meta.items()
            if isinstance(value, list) and value and all(isinstance(v, str) and _LISTED.fullmatch(v) for v in value)
        },
    )
    return table, problems


#: One head of a manifest's list: ``L3H7`` (query head) or ``L3KV1`` (key/value head).
_LISTED = re.compile(r"L(\d+)(H|KV)(\d+)")


def selection_of(
    table: ScoreTable, placed: Iterable[tuple[int, int]], layers: int, heads: int, group: int = 1
) -> str | None:
    """The manifest list whose heads are exactly ``placed`` (query heads), or ``"not <list>"`` when ``placed`` is
    every other head of the model (a complement, such as the streaming heads beside DuoAttention's retrieval
    heads); None when neither. A key/value head stands for the ``group`` query heads that share it.

    This is the machine's re-read of a record on a score table: its heads must be a selection the import script
    computed from the authors' file under their rule (data/scores/README.md)."""
    want = frozenset(placed)
    lists = table._as_heads.get(group)
    if lists is None:  # once per table and group size: a table serves many records (and copies of them)
        lists = table._as_heads[group] = [
            (key, _query_heads(table, listed, group)) for key, listed in table.lists.items()
        ]
    for key, found in lists:
        if found == want:
            return key
        if len(found) + len(want) == layers * heads and want.isdisjoint(found):
            return f"not {key}"  # disjoint and together as many as the model's heads: exactly the rest
    return None


def _query_heads(table: ScoreTable, listed: Iterable[str], group: int) -> frozenset[tuple[int, int]]:
    """A manifest list as query heads: a key/value head stands for the ``group`` query heads that share it."""
    found: set[tuple[int, int]] = set()
    for text in listed:
        m = _LISTED.fullmatch(text)
        assert m is not None  # parse_table keeps only matching lists
        layer, index = int(m[1]), int(m[3])
        if m[2] == "KV" or table.head_unit == "kv_head":
            found.update((layer, index * group + i) for i in range(group))
        else:
            found.add((layer, index))
    return frozenset(found)


def evidence_problem(
    table: ScoreTable | None,
    path: str,
    cite: str,
    model: str | None,
    locations: Iterable[tuple[int, int]],
    group: int | None = None,
) -> str | None:
    """Why an evidence record may not point at this table (None when it may).

    The table must exist, name the record's cite and model, and cover each of its locations
    (``group``: query heads per KV head, to map locations onto a ``kv_head`` table)."""
    if table is None:
        return f"no score table {path}: give the path of a .csv under data/scores/ (with its .yaml beside it)"
    if table.cite != cite:
        return f"{path} holds scores of {table.cite!r}, not of this record's cite {cite!r}"
    if table.model != model:
        return f"{path} holds scores for model {table.model!r}, not for this record's model {model!r}"
    wanted = list(locations)
    if table.head_unit != "kv_head" and table.heads.issuperset(wanted):
        return None  # the usual case, checked as one set operation
    if table.head_unit == "kv_head" and group and table.heads.issuperset({(la, he // group) for la, he in wanted}):
        return None  # the same for a table of key/value heads: each query head's KV head has a row
    missing = [f"L{layer}H{head}" for layer, head in wanted if not table.covers(layer, head, group)]
    if missing:
        return f"{path} has no row for {', '.join(missing)}: locations must be heads the table scores"
    return None


def ranks(rows: Iterable[tuple[int, int, float]]) -> list[tuple[int, int, float, int]]:
    """``(layer, head, score, rank)`` per row: rank 1 is the highest score; tied scores share the best rank."""
    ordered = sorted(rows, key=lambda r: (-r[2], r[0], r[1]))
    out: list[tuple[int, int, float, int]] = []
    for i, (layer, head, score) in enumerate(ordered):
        rank = out[-1][3] if out and out[-1][2] == score else i + 1
        out.append((layer, head, score, rank))
    return sorted(out, key=lambda r: (r[0], r[1]))
