"""Add a head type (a new file) or an evidence record (to a head type's file), keeping comments and style.

``heads new`` writes ``data/heads/<id>.yaml``; ``heads add-evidence`` appends to the ``evidence:`` list of
that head type's own file. The file is parsed with ruamel.yaml's round-trip loader, which keeps every
comment and records where each node sits; the new record is rendered by ruamel in the file's own
indentation and spliced into the text right after the last item of the list, so no other line of the
file changes. Names, the cite key and the model are resolved through the index (no parse of the data);
the edited data is then validated once, with the new text in place of the file
(:func:`catalogue.loader.check` with ``overrides``), and written only when valid, atomically. Writers hold
a lock on the data folder for the whole read-check-write, so two concurrent edits both land.

A bad request raises :class:`~catalogue.errors.UsageError`; data that was already invalid raises
:class:`~catalogue.errors.CatalogueError`.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout
from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from catalogue import query
from catalogue.errors import UsageError
from catalogue.evidence_ids import assign, new_id
from catalogue.files import remove_stale_temps, write_atomic
from catalogue.index import Index
from catalogue.loader import check
from catalogue.numbering import describe, head_id
from catalogue.paths import DataPaths, NotACheckoutError, editable_data_paths
from catalogue.schema import Evidence, HeadType
from catalogue.vocab import format_location, location_problem, normalize_name, stage_id

__all__ = [
    "ANSWERS",
    "Edit",
    "add_evidence",
    "answer_problem",
    "fill_evidence_ids",
    "locked",
    "new_head",
    "render_entry",
    "set_key",
]

M = TypeVar("M", bound=BaseModel)

#: New text is wrapped at this width, like the rest of the files.
WIDTH = 120
_FLOW_LISTS = {"aliases", "list_badges", "locations", "heads", "seeds"}
#: How long a writer waits for another one to finish (seconds).
LOCK_TIMEOUT = 60.0

HEADER = (
    "# yaml-language-server: $schema=../heads.schema.json\n"
    "# One head type of the Attention Head Catalogue; the file name is its id. Rules: CONTRIBUTING.md.\n"
    "# Locations are 0-indexed L<layer>H<head>; every evidence record says in `source` where it was read.\n"
)


@dataclass(frozen=True)
class Edit:
    """What an edit wrote: the head type as it now is, the new evidence record, and the file."""

    head: HeadType
    evidence: Evidence
    path: Path


# --------------------------------------------------------------------------- public surface


def new_head(
    fields: dict[str, Any],
    *,
    convention: str | None = None,
    data: str | Path | None = None,
    cache: str | Path | None = None,
) -> Edit:
    """Write a new head type (with at least one evidence record) to ``heads/<id>.yaml``.

    With ``convention`` (:data:`catalogue.numbering.CONVENTIONS`), locations are read as the paper wrote
    them (``8-10``, ``(8, 10)``, a flattened index, ...) and converted to 0-indexed ``L<layer>H<head>``;
    the record's ``source`` then says how they were written. The data folder is ``data``, else the checkout
    the working directory is in (never the data installed inside the package:
    :func:`catalogue.paths.editable_data_paths`)."""
    paths = _editable(data)
    with locked(paths):
        index = _index(paths, cache)
        fields = {**fields, "evidence": [_converted(index, dict(e), convention) for e in fields.get("evidence") or []]}
        tax = query.taxonomy(index)
        fields = {**fields, "stages": [_stage_names(tax, dict(p)) for p in fields.get("stages") or []]}
        head = _validated(HeadType, fields, "head type")
        target = paths.head_file(head.id)
        if target.exists() or _owner(index, head.id) is not None:
            raise UsageError(f"a head type with id {head.id!r} already exists: use `heads add-evidence {head.id}`")
        for n in head.names:
            owner = _owner(index, n)
            if owner is not None:
                raise UsageError(f"the name {n!r} already belongs to {owner!r}: choose another")
        for r in head.related:
            if _owner(index, r.head) != r.head:
                raise UsageError(f"--related: no head type has id {r.head!r} (`heads list` shows them)")
        taken = _taken_ids(index)
        evidence = []
        for e in head.evidence:
            e = _checked_evidence(index, e)
            if e.id is None:
                e = e.model_copy(update={"id": new_id(head.id, e.model_dump(mode="json"), taken)})
            taken.add(str(e.id))
            evidence.append(e)
        head = head.model_copy(update={"evidence": evidence})
        buf = io.StringIO()
        _yaml("").dump(render_entry(head), buf)
        written = _commit(paths, target, HEADER + buf.getvalue(), cache)
        return Edit(head, head.evidence[0], written)


def add_evidence(
    name: str,
    fields: dict[str, Any],
    *,
    convention: str | None = None,
    data: str | Path | None = None,
    cache: str | Path | None = None,
) -> Edit:
    """Append an evidence record to the file of the head type with this id, name or alias (the data folder
    as for :func:`new_head`).

    ``convention``: as in :func:`new_head`, the locations are converted from the paper's numbering."""
    paths = _editable(data)
    with locked(paths):
        index = _index(paths, cache)
        hid = query.show(index, name)["id"]
        fields = _converted(index, fields, convention)
        ev = _checked_evidence(index, _validated(Evidence, fields, "evidence record"))
        target = paths.head_file(hid)
        text = target.read_text(encoding="utf-8")
        current = HeadType.model_validate(_fast_load(text))
        if any(ev == e.model_copy(update={"id": ev.id}) for e in current.evidence):
            raise UsageError(f"{hid} already has this evidence record: nothing to add")
        if ev.id is None:
            same = [e for e in current.evidence if (e.cite, e.model, e.method) == (ev.cite, ev.model, ev.method)]
            rank = sum(1 for e in same if sorted(map(str, e.locations)) == sorted(map(str, ev.locations)))
            ev = ev.model_copy(update={"id": new_id(hid, ev.model_dump(mode="json"), _taken_ids(index), rank=rank)})
        _commit(paths, target, _splice(text, ["evidence"], render_entry(ev)), cache)
        head = current.model_copy(update={"evidence": [*current.evidence, ev]})
        return Edit(head, ev, target)


#: The answers `heads new` / `add-evidence` check one by one when asked interactively.
ANSWERS = ("id", "stage", "subcategory", "cite", "method", "model", "locations", "source_kind")


def answer_problem(
    field: str, value: str, answers: dict[str, str], *, data: str | Path | None = None, cache: str | Path | None = None
) -> str | None:
    """Why ``value`` cannot stand as the answer for ``field`` of a new record (None when it can).

    ``answers`` holds the earlier answers (the stage for a sub-category, the model for locations). The same
    rules as the final validation, checked as each answer is given: a kebab-case id no head type uses, a
    stage (KR, ICI, LR, EP or id), a sub-category of that stage, a cite key in references.bib, a method id,
    a registry model, and heads inside that model.
    """
    from catalogue.schema import HEAD_ID_PATTERN
    from catalogue.vocab import METHODS, SOURCE_KINDS, SUBCATEGORY_STAGE, parse_location

    v = value.strip()
    if field == "id":
        if not re.fullmatch(HEAD_ID_PATTERN, v):
            return f"{v!r} is not an id: write lowercase words joined by hyphens, e.g. name-mover-head"
        owner = _owner(_answer_index(data, cache), v)
        return f"{v!r} already names {owner!r}: choose another id" if owner else None
    if field == "stage":
        return None if stage_id(v) else f"{v!r} is not a stage: answer KR, ICI, LR or EP"
    if field == "subcategory":
        sub = v.lower().replace(" ", "-")
        stage = stage_id(answers.get("stage", "")) or ""
        if sub not in SUBCATEGORY_STAGE:
            return f"{v!r} is not a sub-category (`heads taxonomy stages` lists them)"
        if stage and SUBCATEGORY_STAGE[sub] != stage:
            return f"{sub!r} belongs to stage {SUBCATEGORY_STAGE[sub]!r}, not {stage!r}"
        return None
    if field == "cite":
        if _answer_index(data, cache).raw("SELECT 1 FROM reference WHERE key = ?", (v,)):
            return None
        return f"unknown cite key {v!r}: add its BibTeX entry to references.bib first"
    if field == "method":
        return None if v in METHODS else f"{v!r} is not a method: one of {', '.join(METHODS)}"
    if field == "source_kind":
        return None if v in SOURCE_KINDS else f"{v!r} is not a source kind: one of {', '.join(SOURCE_KINDS)}"
    if field == "model":
        try:
            query.resolve_model(v, _answer_index(data, cache))
        except UsageError as exc:
            return str(exc)
        return None
    if field == "locations":
        model = query.resolve_model(answers["model"], _answer_index(data, cache)) if answers.get("model") else None
        for part in v.replace(",", " ").split():
            try:
                layer, head = parse_location(part)
            except ValueError as exc:
                return str(exc)
            if model is None:
                return "locations need a model: give the model first"
            why = location_problem(
                layer, head, model["id"], model.get("layers"), model.get("heads"), model.get("attention_layers")
            )
            if why is not None:
                return why
        return None
    raise ValueError(f"no check for the answer {field!r}")


_INDEXES: dict[tuple[str, str], Index] = {}


def _answer_index(data: str | Path | None, cache: str | Path | None) -> Index:
    key = (str(data), str(cache))
    if key not in _INDEXES:
        _INDEXES[key] = Index.open(_editable(data), cache=cache)
    return _INDEXES[key]


def _editable(data: str | Path | None) -> DataPaths:
    try:
        return editable_data_paths(data)
    except NotACheckoutError as exc:
        raise UsageError(str(exc)) from None


def render_entry(obj: BaseModel) -> CommentedMap:
    """A validated head type or evidence record as ruamel nodes, in schema field order, as a person writes it.

    Defaults and empty values are left out and locations are written ``L5H5`` in a flow list.
    """
    data = obj.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    node: CommentedMap = _node(data, "")
    return node


def fill_evidence_ids(*, data: str | Path | None = None) -> dict[Path, list[str]]:
    """Give every evidence record that has no ``id:`` a permanent one; never change an existing id.

    Deterministic and re-runnable: the same data gets the same ids (:func:`catalogue.evidence_ids.assign`,
    files in name order), and a second run changes nothing. Each ``id:`` line is inserted after the first
    line of its record (normally ``cite:``); no other line of a file changes. Files are written atomically,
    under the data folder's edit lock. Returns ``{file: [new ids]}`` for the files that changed. Raises
    :class:`~catalogue.errors.UsageError` when a file cannot be parsed (run ``heads validate``)."""
    paths = _editable(data)
    out: dict[Path, list[str]] = {}
    with locked(paths):
        files = paths.head_files()
        docs: dict[Path, tuple[str, Any]] = {}
        taken: set[str] = set()
        for f in files:
            text = f.read_text(encoding="utf-8")
            try:
                doc = YAML().load(text)
            except Exception as exc:  # noqa: BLE001 - ruamel raises many kinds
                raise UsageError(f"{f}: not valid YAML ({exc}): fix it (`heads validate`) and run again") from None
            docs[f] = (text, doc)
            for e in _evidence_list(doc):
                if isinstance(e, dict) and e.get("id"):
                    taken.add(str(e["id"]))
        for f in files:
            text, doc = docs[f]
            records = [e for e in _evidence_list(doc) if isinstance(e, CommentedMap)]
            new = assign(str(doc.get("id") or f.stem), records, taken)
            lines = text.split("\n")
            inserts = []
            for rec, ev_id in zip(records, new, strict=True):
                if ev_id is None:
                    continue
                keys = list(rec)
                row, col = (int(x) for x in rec.lc.key(keys[1])) if len(keys) > 1 else (int(rec.lc.line) + 1, 0)
                if len(keys) < 2:
                    col = int(rec.lc.key(keys[0])[1])
                inserts.append((row, " " * col + f"id: {ev_id}", ev_id))
                taken.add(ev_id)
            if not inserts:
                continue
            for row, line, _ in sorted(inserts, reverse=True):
                lines.insert(row, line)
            new_text = "\n".join(lines)
            check_ids = [e.get("id") for e in _evidence_list(_fast_load(new_text))]
            if [str(i) for i in check_ids] != [str(r.get("id") or n) for r, n in zip(records, new, strict=True)]:
                raise UsageError(f"{f}: could not insert the ids without changing other lines: add them by hand")
            write_atomic(f, new_text)
            out[f] = [i for _, _, i in inserts]
    return out


def _converted(index: Index, fields: dict[str, Any], convention: str | None) -> dict[str, Any]:
    """``fields`` with its locations read in ``convention`` and written as 0-indexed ``L<layer>H<head>``."""
    texts = [str(x) for x in fields.get("locations") or []]
    if convention is None or not texts:
        return fields
    layers = heads = None
    if fields.get("model"):
        m = query.resolve_model(str(fields["model"]), index)
        layers, heads = m.get("layers"), m.get("heads")
    locations = []
    for t in texts:
        try:
            r = head_id(t, convention=convention, layers=layers, heads=heads)
        except ValueError as exc:
            raise UsageError(f"--location {exc}") from None
        locations.append(r.assumed.canonical)
    written = ", ".join(texts)
    source = str(fields.get("source") or "")
    note = f"heads as written there, {convention} ({describe(convention)}): {written}; converted to 0-indexed"
    return {**fields, "locations": locations, "source": f"{source} ({note})" if source else source}


def _evidence_list(doc: Any) -> list[Any]:
    ev = doc.get("evidence") if isinstance(doc, dict) else None
    return list(ev) if isinstance(ev, list) else []


def _taken_ids(index: Index) -> set[str]:
    """Every evidence id the catalogue holds (withdrawn records included: an id is never reused)."""
    return {str(r[0]) for r in index.raw("SELECT key FROM evidence WHERE key IS NOT NULL")}


# --------------------------------------------------------------------------- steps


@contextmanager
def locked(paths: DataPaths) -> Iterator[None]:
    """An exclusive lock on the data folder's head-type files, held from reading to writing."""
    if not paths.heads.is_dir():
        raise UsageError(f"{paths.heads} is not a folder of head-type files: pass --data with a data folder")
    lock = FileLock(str(paths.heads / ".edit.lock"), timeout=LOCK_TIMEOUT)
    try:
        lock.acquire()
    except Timeout:
        raise UsageError(f"another edit of {paths.heads} held its lock for {LOCK_TIMEOUT:.0f} s: try again") from None
    try:
        remove_stale_temps(paths.heads, paths.folder)  # left by an edit that was killed
        yield
    finally:
        lock.release()


def _index(paths: DataPaths, cache: str | Path | None) -> Index:
    return Index.open(paths, cache=cache)


def _commit(paths: DataPaths, target: Path, text: str, cache: str | Path | None) -> Path:
    """Validate the data with ``text`` as ``target``, write it if valid, and index the new data."""
    cat, problems = check(paths.folder, overrides={target: text})
    if cat is None:
        shown = "\n  ".join(str(p) for p in problems.errors)
        raise UsageError(f"nothing was written: the edit would leave the data invalid:\n  {shown}")
    written = write_atomic(target, text)
    Index.open(paths, cache=cache, catalogue=cat).dispose()  # ready for the next query
    return written


def _stage_names(tax: dict[str, Any], placement: dict[str, Any]) -> dict[str, Any]:
    """Accept a stage's abbreviation (KR, ICI, LR, EP) or name for its id, and a sub-category's name."""
    value = str(placement.get("stage", "")).strip()
    for s in tax["stages"]:
        if stage_id(value) == s["id"] or value.lower() == str(s["name"]).lower():
            placement["stage"] = s["id"]
            sub = str(placement.get("subcategory") or "").strip().lower()
            for c in s["subcategories"]:
                if sub and sub in (c["id"], str(c["name"]).lower()):
                    placement["subcategory"] = c["id"]
    return placement


def _owner(index: Index, name: str) -> str | None:
    rows = index.raw("SELECT head_id FROM name WHERE name = ?", (normalize_name(name),))
    return str(rows[0][0]) if rows else None


def _validated(model: type[M], fields: dict[str, Any], what: str) -> M:
    clean = {k: v for k, v in fields.items() if v is not None and v != [] and v != ""}
    try:
        return model.model_validate(clean)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"]) or what
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "missing":
                msg = "is required"
            elif err["type"] == "extra_forbidden":
                msg = "is not a field of a " + what
            lines.append(f"{where}: {msg}")
        raise UsageError(f"the new {what} is not valid:\n  " + "\n  ".join(lines)) from None


def _checked_evidence(index: Index, ev: Evidence) -> Evidence:
    """Check the cite key, resolve the model (id or Hugging Face id) and check locations against its size."""
    if not index.raw("SELECT 1 FROM reference WHERE key = ?", (ev.cite,)):
        raise UsageError(
            f"unknown cite key {ev.cite!r}: add the work's BibTeX entry to references.bib first "
            "(`heads list --paper KEY` finds works already there)"
        )
    if ev.model is None:
        return ev
    model = query.resolve_model(ev.model, index)  # raises UnknownModelError with suggestions
    for loc in ev.locations:
        why = location_problem(
            loc.layer, loc.head, model["id"], model.get("layers"), model.get("heads"), model.get("attention_layers")
        )
        if why is not None:
            raise UsageError(why)
    return ev.model_copy(update={"model": model["id"]}) if model["id"] != ev.model else ev


_BLOCK_ITEM = re.compile(r"^( *)([^\s#][^:#]*):[ \t]*(?:#.*)?\n((?: *#.*\n| *\n)*)( *)- ", re.MULTILINE)


def _guess_indent(text: str) -> tuple[int | None, int | None]:
    """(sequence indent, dash offset) of the first block list under a key, read from the text itself (as
    ruamel's ``load_yaml_guess_indent`` does, without parsing the whole file): ``key:`` at column k and its
    first ``- `` at column d give offset d - k and indent offset + 2."""
    m = _BLOCK_ITEM.search(text)
    if m is None:
        return None, None
    offset = len(m.group(4)) - len(m.group(1))
    return offset + 2, offset


def _plain(node: Any) -> Any:
    """ruamel nodes as plain data (dicts, lists, scalars), to compare with a fast parse."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _fast_load(text: str) -> Any:
    """Plain data of a YAML text, parsed by yaml-rs (the loader's fast parser; no dates, no aliases)."""
    import yaml_rs

    return yaml_rs.loads(text, parse_datetime=False)


def _yaml(text: str) -> YAML:
    """A round-trip ruamel.yaml set to the file's own indentation (default: lists not indented, like PyYAML)."""
    indent, offset = _guess_indent(text)
    y = YAML()
    y.preserve_quotes = True
    seq = indent if isinstance(indent, int) and indent >= 2 else 2
    off = offset if isinstance(offset, int) and 0 <= offset < seq else seq - 2
    y.indent(mapping=2, sequence=seq, offset=off)
    y.width = WIDTH
    return y


def _end(chain: list[tuple[Any, Any]], n_lines: int) -> int:
    """The 0-based line where the node reached by ``chain`` (a list of (container, key) steps) ends."""
    if not chain:
        return n_lines
    parent, key = chain[-1]
    if isinstance(parent, CommentedMap):
        keys = list(parent)
        i = keys.index(key)
        if i + 1 < len(keys):
            return int(parent.lc.key(keys[i + 1])[0])
    elif key + 1 < len(parent):
        return int(parent.lc.item(key + 1)[0])
    return _end(chain[:-1], n_lines)


def _splice(text: str, path: list[str | int], entry: CommentedMap) -> str:
    """``text`` with ``entry`` appended to the block list at ``path``; every other line is left as it was."""
    y = _yaml(text)
    doc = y.load(text)
    lines = text.split("\n")
    chain: list[tuple[Any, Any]] = []
    node = doc
    for key in path:
        chain.append((node, key))
        node = node[key]
    seq = node
    if len(seq) == 0:  # `heads: []`: turn the empty flow list into a block list
        parent, key = chain[-1]
        row = int(parent.lc.key(key)[0])
        lines[row] = re.sub(r"\[\s*\]\s*$", "", lines[row]).rstrip()
        at, dash, spaced = row + 1, len(lines[row]) - len(lines[row].lstrip()) + y.sequence_dash_offset, False
    else:
        last_row, last_col = (int(x) for x in seq.lc.item(len(seq) - 1))
        dash = lines[last_row].rfind("-", 0, last_col)
        at = _end(chain, len(lines))
        while at - 1 > last_row and (not lines[at - 1].strip() or lines[at - 1].lstrip().startswith("#")):
            at -= 1
        above = last_row - 1
        while above > 0 and lines[above].lstrip().startswith("#"):  # a comment heading the last item
            above -= 1
        spaced = len(seq) > 1 and not lines[above].strip()
    y.width = max(60, WIDTH - dash)
    buf = io.StringIO()
    y.dump([entry], buf)
    dumped = textwrap.dedent(buf.getvalue().rstrip("\n"))  # a top-level list is dumped at its dash offset
    block = [(" " * dash + ln).rstrip() if ln.strip() else "" for ln in dumped.split("\n")]
    new = lines[:at] + ([""] if spaced else []) + block + lines[at:]
    out = "\n".join(new)
    again = _fast_load(out)
    for key in path:
        again = again[key]
    if len(again) != len(seq) + 1 or again[-1] != _plain(entry):  # pragma: no cover - a guard, not a path
        raise UsageError("could not place the new entry without changing other lines of the file: add it by hand")
    return out


def set_key(text: str, path: list[str | int], key: str, value: Any) -> str:
    """``text`` with ``key: value`` set in the block mapping at ``path`` (replaced where it exists, else added
    after the mapping's last key); every other line is left as it was. ``value`` is plain data or ruamel nodes.

    Raises :class:`UsageError` when the result would not read back as intended."""
    y = _yaml(text)
    doc = y.load(text)
    lines = text.split("\n")
    chain: list[tuple[Any, Any]] = []
    node = doc
    for k in path:
        chain.append((node, k))
        node = node[k]
    if not isinstance(node, CommentedMap) or not len(node):
        raise UsageError(f"cannot set {key!r}: the record at {path} is not a block mapping")
    col = int(node.lc.key(next(iter(node)))[1])
    if key in node:
        start = int(node.lc.key(key)[0])
        end = _end([*chain, (node, key)], len(lines))
    else:
        last = int(node.lc.key(list(node)[-1])[0])
        start = end = _end(chain, len(lines))
        while start - 1 > last and (not lines[start - 1].strip() or lines[start - 1].lstrip().startswith("#")):
            start -= 1
        end = start
    while end - 1 > start and not lines[end - 1].strip():  # keep the blank lines that separate records
        end -= 1
    y.width = max(60, WIDTH - col)
    buf = io.StringIO()
    y.dump({key: _node(value, key) if not isinstance(value, CommentedMap) else value}, buf)
    block = [(" " * col + ln).rstrip() if ln.strip() else "" for ln in buf.getvalue().rstrip("\n").split("\n")]
    out = "\n".join(lines[:start] + block + lines[end:])
    again = _fast_load(out)
    for k in path:
        again = again[k]
    if _fast_load(buf.getvalue())[key] != again.get(key):  # pragma: no cover - a guard, not a path
        raise UsageError(f"could not write {key!r} without changing other lines of the file")
    return out


# --------------------------------------------------------------------------- building nodes


def _node(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {"layer", "head"}:
            return format_location(value["layer"], value["head"])
        m = CommentedMap()
        for k, v in value.items():
            m[k] = _node(v, k)
        return m
    if isinstance(value, list):
        seq = CommentedSeq(_node(v, key) for v in value)
        if key in _FLOW_LISTS and all(not isinstance(v, (dict, list)) for v in seq):
            seq.fa.set_flow_style()
        elif key == "heads":  # a measurement's heads: one line each, {head: L5H5, score: ...}
            for item in seq:
                if isinstance(item, CommentedMap):
                    item.fa.set_flow_style()
        return seq
    return value
