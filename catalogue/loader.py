"""YAML + BibTeX -> a validated :class:`Catalogue`. Every error is gathered in a :class:`Report`, each with file:line.

The data lives in one folder (``data/`` by default, see :mod:`catalogue.paths`)::

    heads/<id>.yaml  one head type per file; the file name is its id (the files contributors edit)
    models.yaml      the model registry
    taxonomy.yaml    stages, sub-categories, methods and benchmarks
    references.bib   every cited work

Reading is defensive: a missing file, a file over :data:`MAX_BYTES`, bytes that are not UTF-8 or
are NUL, nesting deeper than :data:`MAX_DEPTH`, YAML syntax errors, anchors/aliases (a YAML
"billion laughs" bomb), custom tags and duplicate mapping keys are each reported as a
:class:`Problem` with the file and line. Each file is read and parsed once.
"""

from __future__ import annotations

import functools
import gc
import operator
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
import yaml_rs
from pydantic import BaseModel, ValidationError

from catalogue.errors import CatalogueError, Problem, Report
from catalogue.files import remove_stale_temps
from catalogue.paths import DataPaths, data_paths, default_data_dir
from catalogue.refs import parse_references
from catalogue.schema import (
    Catalogue,
    HeadType,
    ModelInfo,
    Reference,
    Reread,
    Taxonomy,
)
from catalogue.scores import ScoreTable, evidence_problem, parse_table, selection_of
from catalogue.vocab import location_problem, normalize_name, score_manifest

__all__ = ["MAX_BYTES", "MAX_DEPTH", "DataPaths", "check", "data_paths", "default_data_dir", "load", "read_text"]

#: Largest data file accepted (bytes). A 100x catalogue's references.bib is about 15 MB.
MAX_BYTES = 40 * 1024 * 1024
#: Deepest YAML nesting accepted, in columns of indentation or open brackets (the data needs about 10).
MAX_DEPTH = 200

M = TypeVar("M", bound=BaseModel)


def _display(path: Path) -> str:
    """How a data file is named in messages: relative to the working directory when inside it."""
    parent, name = os.path.split(os.fspath(path))  # str work: pathlib's .parent builds a new Path per call
    folder = _display_folder(parent, os.getcwd())
    return name if folder == "." else os.path.join(folder, name)


@functools.lru_cache(maxsize=256)
def _display_folder(folder: str, cwd: str) -> str:
    """``folder`` resolved once (thousands of head-type files share one folder), relative to ``cwd`` if inside."""
    try:
        return str(Path(folder).resolve().relative_to(cwd))
    except ValueError:
        return folder


# --------------------------------------------------------------------------- reading files


def read_text(
    path: Path,
    problems: Report,
    read: dict[Path, bytes] | None = None,
    overrides: Mapping[Path, str] | None = None,
) -> str | None:
    """The file's text, or None with a problem recorded (missing, too big, not UTF-8, a NUL byte).

    ``read``, if given, collects the bytes read, so the content hash covers exactly what was validated.
    ``overrides`` gives the text of files not yet written (an edit being checked before it is saved)."""
    name = _display(path)
    if overrides is not None and path in overrides:
        data = overrides[path].encode("utf-8")
        if read is not None:
            read[path] = data
        return _decode(data, name, problems)
    try:
        size = path.stat().st_size
    except OSError:
        problems.append(Problem(name, None, "", "file not found", "check the path, or run from the repository root"))
        return None
    if size > MAX_BYTES:
        problems.append(
            Problem(
                name,
                None,
                "",
                f"file is {size / 2**20:.1f} MiB, over the {MAX_BYTES // 2**20} MiB limit",
                "split it or remove what does not belong",
            )
        )
        return None
    data = path.read_bytes()
    if read is not None:
        read[path] = data
    return _decode(data, name, problems)


def _decode(data: bytes, name: str, problems: Report) -> str | None:
    nul = data.find(b"\0")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        problems.append(Problem(name, line, "", "the file holds a NUL byte (0x00)", "remove it: data files are text"))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem(name, line, "", f"byte 0x{data[exc.start]:02x} is not UTF-8", "save the file as UTF-8"))
        return None


_DEEP_PREFIX = re.compile(rf"\n[ \-?:\t]{{{MAX_DEPTH + 1}}}")
_BRACKET = re.compile(r"[\[\]{}]")


def _too_deep(text: str) -> int | None:
    """The first line nested deeper than :data:`MAX_DEPTH` (indentation, ``- - -`` prefixes or open brackets).

    Checked before any parser runs: a parser's recursion on deeply nested YAML can crash the process.
    Brackets count wherever they are (in quoted text too: the check errs on the safe side); a closing bracket
    never takes the depth below 0. Regex and count scans, not a loop over every character."""
    found: list[int] = []
    deep = _DEEP_PREFIX.search("\n" + text)  # a literal "\n" lets the regex engine skip to line starts
    if deep:
        found.append(deep.start())  # the position of the line's first character in `text`
    depth = 0
    if text.count("[") + text.count("{") <= MAX_DEPTH:  # too few openings to nest too deep
        return text.count("\n", 0, found[0]) + 1 if found else None
    for m in _BRACKET.finditer(text):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                found.append(m.start())
                break
        else:
            depth = max(0, depth - 1)
    return text.count("\n", 0, min(found)) + 1 if found else None


_NO_ALIASES = yaml_rs.AliasLimits(max_total_replayed_events=0, max_alias_expansions_per_anchor=0)
_DUPLICATES = yaml_rs.DuplicateKeyPolicy.Error
_TAG = re.compile(r"(?:^|[\s\[{,])!!?[A-Za-z/<]", re.MULTILINE)


def _has_tag(text: str) -> bool:
    """Whether the text may hold a YAML tag (``!name``, ``!!type``); cheap substring scans first."""
    if "!" not in text:  # one scan settles most files
        return False
    if not any(c + "!" in text for c in " \n\t[{,") and not text.startswith("!"):
        return False
    return _TAG.search(text) is not None


class _StrictLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML without anchors/aliases (no alias bombs) and without duplicate keys."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                "YAML anchors and aliases (&name / *name) are not allowed in catalogue data; write the value out",
                node.start_mark,
            )
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = key_node.value
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}: keep one", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


_KEY_TAB = re.compile(r"^( *)(?:- +)?([^\s#:'\"][^:#\t]*):\t", re.MULTILINE)
_INDENT_TAB = re.compile(r"^ *\t", re.MULTILINE)


def _tab_problem(text: str) -> tuple[int, str, str] | None:
    """(line, what, how to fix) for the first tab YAML does not allow: after ``key:`` or in indentation."""
    if "\t" not in text:
        return None
    found = []
    m = _KEY_TAB.search(text)
    if m:
        found.append((m.start(2), f"YAML error: a tab after `{m.group(2).strip()}:`", "replace the tab with a space"))
    m = _INDENT_TAB.search(text)
    if m:
        found.append((m.start(), "YAML error: a tab in the indentation", "indent with spaces only"))
    if not found:
        return None
    pos, what, hint = min(found)
    return text.count("\n", 0, pos) + 1, what, hint


def _parse_yaml(text: str, name: str, problems: Report) -> Any:
    """Parse with yaml-rs (fast, YAML 1.2, aliases and duplicate keys refused); on any error re-parse
    with PyYAML's strict loader, whose marks give the line and our own message."""
    deep = _too_deep(text)
    if deep is not None:
        problems.append(
            Problem(name, deep, "", f"nesting deeper than {MAX_DEPTH} levels", "catalogue data needs a few levels only")
        )
        return None
    fallback = ""
    if not _has_tag(text):  # yaml-rs ignores tags on collections; PyYAML refuses unknown ones
        try:
            return yaml_rs.loads(text, parse_datetime=False, alias_limits=_NO_ALIASES, duplicate_key_policy=_DUPLICATES)
        except yaml_rs.YAMLDecodeError as fast_error:
            fallback = str(fast_error)
    tab = _tab_problem(text)
    at = re.search(r"line (\d+)", fallback)
    # the tab is what the parser refused (yaml-rs may name the line before, scanning a scalar into it)
    if tab is not None and (at is None or 0 <= tab[0] - int(at.group(1)) <= 1):
        problems.append(Problem(name, tab[0], "", tab[1], tab[2]))
        return None
    try:
        yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        if exc.problem == "could not find expected ':'" and exc.context_mark is not None:
            # PyYAML notices the missing colon on the next line; the key without one is at the context mark
            key_line = exc.context_mark.line + 1
            all_lines = text.splitlines()
            bad = all_lines[key_line - 1].strip() if key_line <= len(all_lines) else ""
            problems.append(
                Problem(
                    name,
                    key_line,
                    "",
                    f"YAML error: no ':' after the key in {bad[:60]!r}",
                    "write `key: value` (a colon and a space after the key)",
                )
            )
            return None
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        ours = isinstance(exc, yaml.constructor.ConstructorError) and exc.context is None
        hint = "" if ours else "fix the syntax (indentation, quotes, colons)"
        problems.append(Problem(name, line, "", f"YAML error: {what}", hint))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(name, None, "", f"YAML error: {exc}", "fix the syntax"))
        return None
    if not fallback:  # tags, all of them standard: PyYAML's reading stands
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506
    m = re.search(r"line (\d+)", fallback)
    first = fallback.strip().splitlines()[0] if fallback.strip() else "unparseable YAML"
    problems.append(Problem(name, int(m.group(1)) if m else None, "", f"YAML error: {first}", "fix the syntax"))
    return None


class _Lines:
    """Maps a path like ('heads', 3, 'evidence', 0, 'cite') to its line; composes the YAML only when asked."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._root: yaml.Node | None = None
        self._composed = False

    def __call__(self, path: Sequence[str | int]) -> int | None:
        if not self._composed:
            self._composed = True
            try:
                self._root = yaml.compose(
                    self._text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader
                )
            except yaml.YAMLError:
                self._root = None
        node = self._root
        line = node.start_mark.line + 1 if node is not None else None
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value if k.value == part), None)
                if child is None:  # point at the key when the value is missing
                    child = next((k for k, _ in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line


# --------------------------------------------------------------------------- validation


def _where(path: Sequence[str | int], label: Callable[[int], str] = lambda i: "") -> str:
    out = ""
    for i, part in enumerate(path):
        if isinstance(part, int):
            out += f"[{part}]"
            if i == 1:
                out += label(part)
        else:
            out += ("." if out else "") + part
    return out


def _pydantic_problems(
    exc: ValidationError,
    prefix: tuple[str | int, ...],
    name: str,
    lines: _Lines,
    label: Callable[[int], str],
    fields: Iterable[str] | None = None,
) -> Iterator[Problem]:
    """One problem per validation error; ``fields``: the fields of a flat record, named in an unknown field's hint
    (otherwise the hint points at `heads schema`, the head-type files' schema)."""
    known = f"the fields are {', '.join(fields)}" if fields is not None else "`heads schema` lists the fields"
    for err in exc.errors():
        loc = (*prefix, *err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg, hint = "unknown field", f"remove it or fix its spelling ({known})"
        elif err["type"] == "missing":
            msg, hint = "required field is missing", "add it"
        elif err["type"] == "literal_error":
            hint = "use one of the listed values"
        elif err["type"].startswith(("date_", "datetime_")):
            hint = "write the date as YYYY-MM-DD, for example 2026-12-01"
        elif err["type"].startswith("int_"):
            hint = "write a whole number, without quotes"
        else:
            hint = ""
        yield Problem(name, lines(loc), _where(loc, label), msg, hint)


def _validate_list(
    model: type[M], items: Any, key: str, name: str, lines: _Lines, problems: Report
) -> list[tuple[int, M]]:
    """Validate ``items`` (the list under ``key``) item by item; returns (index, object) pairs."""
    if not isinstance(items, list):
        problems.add(Problem(name, lines([key]), key, f"`{key}:` must be a list", f"write `{key}:` then `- ...` items"))
        return []
    out: list[tuple[int, M]] = []

    def label(i: int) -> str:
        item = items[i] if i < len(items) else None
        return f" ({item['id']})" if isinstance(item, dict) and isinstance(item.get("id"), str) else ""

    for i, item in enumerate(items):
        try:
            out.append((i, model.model_validate(item)))
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, (key, i), name, lines, label, model.model_fields))
    return out


def _load_yaml(
    path: Path, key: str, problems: Report, read: dict[Path, bytes], overrides: Mapping[Path, str] | None
) -> tuple[Any, _Lines, str]:
    """A YAML file whose top level is a mapping with ``key`` (``key=""``: any mapping)."""
    name = _display(path)
    text = read_text(path, problems, read, overrides)
    if text is None:
        return None, _Lines(""), name
    lines = _Lines(text)
    doc = _parse_yaml(text, name, problems)
    what = f"a mapping with a `{key}:` list" if key else "a mapping of the head type's fields (`id:`, `name:`, ...)"
    if doc is None and not problems.about(name):
        problems.add(Problem(name, 1, "", "file is empty", f"it must hold {what}"))
    elif doc is not None and (not isinstance(doc, dict) or (key and key not in doc)):
        start = f"start the file with `{key}:`" if key else "start the file with `id: <the file name>`"
        problems.add(Problem(name, 1, "", f"expected {what} at the top", start))
        return None, lines, name
    return doc, lines, name


@dataclass(frozen=True)
class _HeadFile:
    """A validated head type and the file it was read from (for messages that point at lines)."""

    name: str
    lines: _Lines
    head: HeadType


def _read_heads(
    paths: DataPaths, problems: Report, read: dict[Path, bytes], overrides: Mapping[Path, str] | None
) -> tuple[list[_HeadFile], set[str]]:
    """Every head-type file, validated; also the ids of files that failed (they still count as known)."""
    files = paths.head_files()
    extra = [p for p in (overrides or {}) if p.parent == paths.heads and p not in files]
    if not paths.heads.is_dir() and not extra:
        problems.add(
            Problem(_display(paths.heads), None, "", "folder not found", "the data folder needs heads/<id>.yaml files")
        )
        return [], set()
    out: list[_HeadFile] = []
    known: set[str] = set()
    for path in sorted([*files, *extra]):
        name = _display(path)
        if path.suffix != ".yaml":
            problems.add(Problem(name, None, "", "head-type files end in .yaml", f"rename it to {path.stem}.yaml"))
            continue
        known.add(path.stem)
        doc, lines, name = _load_yaml(path, "", problems, read, overrides)
        if not isinstance(doc, dict):
            continue
        try:
            head = HeadType.model_validate(doc)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, (), name, lines, lambda i: ""))
            continue
        if head.id != path.stem:
            problems.add(
                Problem(
                    name,
                    lines(("id",)),
                    "id",
                    f"id {head.id!r} does not match the file name {path.name!r}",
                    f"name the file {head.id}.yaml, or make the id {path.stem!r}",
                )
            )
            continue
        out.append(_HeadFile(name, lines, head))
    return out, known


def _check(paths: DataPaths, overrides: Mapping[Path, str] | None = None) -> tuple[Catalogue | None, Report]:
    problems = Report()
    read: dict[Path, bytes] = {}  # every byte validated, for the content hash

    # references
    ref_name = _display(paths.references)
    bib_text = read_text(paths.references, problems, read, overrides)
    references: dict[str, Reference] = {}
    cite_keys: set[str] = set()  # every entry's key, rejected ones too: one bad entry is one error
    if bib_text is not None:
        bibliography = parse_references(bib_text, file=ref_name)
        references, cite_keys = bibliography.references, bibliography.keys
        problems.extend(bibliography.problems)

    # taxonomy
    tax_doc, tax_lines, tax_name = _load_yaml(paths.taxonomy, "stages", problems, read, overrides)
    taxonomy: Taxonomy | None = None
    if isinstance(tax_doc, dict):
        try:
            taxonomy = Taxonomy.model_validate(tax_doc)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, (), tax_name, tax_lines, lambda i: ""))

    # models
    mod_doc, mod_lines, mod_name = _load_yaml(paths.models, "models", problems, read, overrides)
    models = (
        _validate_list(ModelInfo, mod_doc["models"], "models", mod_name, mod_lines, problems)
        if isinstance(mod_doc, dict)
        else []
    )
    model_ids: dict[str, ModelInfo] = {}
    for i, m in models:
        if m.id in model_ids:
            problems.add(
                Problem(
                    mod_name,
                    mod_lines(("models", i, "id")),
                    f"models[{i}]",
                    f"duplicate model id {m.id!r}",
                    "remove one",
                )
            )
        model_ids[m.id] = m

    # head types, one file each
    heads, known_ids = _read_heads(paths, problems, read, overrides)
    tables = _read_tables(paths, problems, read, overrides)
    # what other files may refer to: entries that failed validation still count, and a file that could not be
    # read at all checks nothing, so one broken file reports its own error instead of hundreds of unknown names
    model_names: set[str] | None = None
    if isinstance(mod_doc, dict) and isinstance(mod_doc.get("models"), list):
        model_names = {str(x["id"]) for x in mod_doc["models"] if isinstance(x, dict) and "id" in x}
    cite_names = cite_keys if bib_text is not None else None
    problems.extend(_cross_check(heads, known_ids, model_ids, cite_names, model_names))
    selections: dict[str, str] = {}
    problems.extend(_check_scores(heads, tables, model_ids, selections))
    rereads = _read_audit(paths, heads, known_ids, problems, read, overrides)

    if taxonomy is not None:
        if taxonomy.cite not in cite_keys:
            problems.add(
                Problem(
                    tax_name,
                    tax_lines(("cite",)),
                    "cite",
                    f"unknown cite key {taxonomy.cite!r}",
                    f"add it to {ref_name}",
                )
            )
        for i, b in enumerate(taxonomy.benchmarks):
            if b.cite and b.cite not in cite_keys:
                problems.add(
                    Problem(
                        tax_name,
                        tax_lines(("benchmarks", i, "cite")),
                        f"benchmarks[{i}] ({b.id})",
                        f"unknown cite key {b.cite!r}",
                        f"add it to {ref_name}",
                    )
                )

    if problems.has_errors() or taxonomy is None:
        return None, problems
    cat = Catalogue(
        heads=[f.head for f in heads],
        models=list(model_ids.values()),
        taxonomy=taxonomy,
        references=references,
        scores=list(tables.values()),
        rereads=rereads,
        selections=selections,
        digest=paths.digest(read),
    )
    for key in sorted(set(references) - cat.cited_keys()):
        problems.add(
            Problem(
                ref_name,
                None,
                f"@{key}",
                "nothing cites this entry",
                "cite it from a head type or remove it",
                "warning",
            )
        )
    return cat, problems


def _read_tables(
    paths: DataPaths, problems: Report, read: dict[Path, bytes], overrides: Mapping[Path, str] | None
) -> dict[str, ScoreTable]:
    """Every score table under ``scores/``, by the path evidence names it with (``data/scores/<cite>/<file>.csv``)."""
    tables: dict[str, ScoreTable] = {}
    for csv_path in (p for p in paths.score_files() if p.suffix == ".csv"):
        name, rel = _display(csv_path), f"data/{csv_path.relative_to(paths.folder).as_posix()}"
        manifest = csv_path.with_suffix(".yaml")
        if not manifest.exists():
            problems.add(
                Problem(name, None, "", "no manifest beside it", f"add {manifest.name} (scripts/import_scores.py)")
            )
            continue
        csv_text = read_text(csv_path, problems, read, overrides)
        meta_text = read_text(manifest, problems, read, overrides)
        if csv_text is None or meta_text is None:
            continue
        table, messages = parse_table(csv_text, meta_text, rel)
        problems.extend(Problem(name, None, "", m, "re-run scripts/import_scores.py") for m in messages)
        if table is not None and not messages:
            tables[rel] = table
    return tables


def _read_audit(
    paths: DataPaths,
    heads: list[_HeadFile],
    known_ids: set[str],
    problems: Report,
    read: dict[Path, bytes],
    overrides: Mapping[Path, str] | None,
) -> list[Reread]:
    """The second readings logged in ``audit.yaml`` (optional), each naming an evidence record of the data.

    A record whose locations changed since its re-read gets a warning: the entry no longer vouches for it."""
    if not (paths.audit.is_file() or (overrides and paths.audit in overrides)):
        return []
    doc, lines, name = _load_yaml(paths.audit, "rereads", problems, read, overrides)
    if not isinstance(doc, dict):
        return []
    entries = _validate_list(Reread, doc["rereads"], "rereads", name, lines, problems)
    records = {e.id: e for f in heads for e in f.head.evidence if e.id}
    complete = not known_ids - {f.head.id for f in heads}  # a head file that failed to load may hold the id
    seen: dict[str, int] = {}
    for i, r in entries:
        where = f"rereads[{i}] ({r.id})"
        if r.id in seen:
            first = lines(("rereads", seen[r.id], "id"))
            problems.add(
                Problem(
                    name,
                    lines(("rereads", i, "id")),
                    where,
                    f"re-read twice (also at line {first})",
                    "keep one entry per record: put the newer reading in place of the older one (git keeps it)",
                )
            )
        seen.setdefault(r.id, i)
        e = records.get(r.id)
        if e is None:
            if complete:
                problems.add(
                    Problem(
                        name,
                        lines(("rereads", i, "id")),
                        where,
                        f"unknown evidence id {r.id!r}",
                        f"use the `id:` of a record in {_display(paths.heads)}/",
                    )
                )
        elif not e.locations:
            problems.add(
                Problem(
                    name,
                    lines(("rereads", i, "id")),
                    where,
                    "the record places no heads: only located records are re-read here",
                    "remove the entry",
                )
            )
        elif r.heads != len(e.locations):
            problems.add(
                Problem(
                    name,
                    lines(("rereads", i, "heads")),
                    where,
                    f"re-read when it had {r.heads} heads; it has {len(e.locations)} now",
                    f"re-read the record at its pointer and update this entry (a new entry: set `heads: "
                    f"{len(e.locations)}`)",
                    "warning",
                )
            )
    return [r for _, r in entries]


def _check_scores(
    heads: list[_HeadFile],
    tables: dict[str, ScoreTable],
    models: dict[str, ModelInfo],
    selections: dict[str, str],
) -> Iterator[Problem]:
    """Each ``scores:`` names a table of the record's cite and model that scores each of its locations, and a
    located record's heads are one of the table's head lists (:func:`catalogue.scores.selection_of`, stored in
    ``selections`` by evidence id); a record placing other heads gets a warning."""
    for f in heads:
        for j, e in enumerate(f.head.evidence):
            if e.scores is None:
                continue
            m = models.get(e.model or "")
            group = m.heads // m.kv_heads if m is not None and m.heads and m.kv_heads else None
            placed = [(x.layer, x.head) for x in e.locations]
            table = tables.get(e.scores)
            why = evidence_problem(table, e.scores, e.cite, e.model, placed, group)
            path = ("evidence", j, "scores")
            if why is not None:
                yield Problem(f.name, f.lines(path), _where(path), why)
            elif placed and e.deprecated is None and table is not None and m is not None and m.layers and m.heads:
                found = selection_of(table, placed, m.layers, m.heads, group or 1)
                if found is not None:
                    if e.id:
                        selections[e.id] = found
                    continue
                yield Problem(
                    f.name,
                    f.lines(("evidence", j, "locations")),
                    _where(("evidence", j, "locations")),
                    f"its {len(placed)} heads are none of the head lists in {score_manifest(e.scores)} (nor the rest "
                    "of the model)",
                    "place the authors' selection: have scripts/import_scores.py write it into the manifest "
                    "(data/scores/README.md)",
                    "warning",
                )


_LAYER, _HEAD = operator.attrgetter("layer"), operator.attrgetter("head")


def _rough_key(e: Any) -> tuple[object, ...]:
    """Fields that two duplicate records (:func:`_evidence_key`) share: different here means not duplicates."""
    return (e.cite, e.model, e.method, e.task, e.source, len(e.locations))


def _evidence_key(e: Any) -> str:
    """Two records are duplicates when they are equal in every field but ``note`` and their ``id``."""
    return str(e.model_dump_json(exclude={"note", "id"}))


def _cross_check(
    heads: list[_HeadFile],
    known_ids: set[str],
    models: dict[str, ModelInfo],
    cite_keys: set[str] | None,
    model_names: set[str] | None,
) -> Iterator[Problem]:
    names: dict[str, str] = {}
    checks: dict[str, str] = {}
    evidence_ids: dict[str, str] = {}  # permanent evidence id -> "head-id evidence[j]" that holds it
    ids = {f.head.id for f in heads} | known_ids
    for f in heads:
        h, name, lines = f.head, f.name, f.lines
        for j, n in enumerate(h.names):
            owner = names.setdefault(normalize_name(n), h.id)
            if owner != h.id:
                path: tuple[str | int, ...] = ("aliases", j - 2) if j >= 2 else ("name",)
                yield Problem(
                    name,
                    lines(path),
                    _where(path),
                    f"name {n!r} is already used by {owner!r}",
                    "an alias may belong to one head type only",
                )
        if h.check is not None:
            owner = checks.setdefault(h.check, h.id)
            if owner != h.id:
                yield Problem(
                    name,
                    lines(("check",)),
                    "check",
                    f"check {h.check!r} already serves {owner!r}",
                    "a check serves one head type: remove one of the two `check:` lines",
                )
        for j, r in enumerate(h.related):
            path = ("related", j, "head")
            if r.head not in ids:
                yield Problem(
                    name,
                    lines(path),
                    _where(path),
                    f"unknown head type {r.head!r}",
                    "use the id of a head type (the name of a file in heads/)",
                )
            elif r.head == h.id:
                yield Problem(name, lines(path), _where(path), "a head type cannot relate to itself")
        seen: dict[str, int] = {}
        # the full key (a JSON dump) only where a cheap one collides: most records differ in cite, model or method
        rough = Counter(_rough_key(e) for e in h.evidence)
        for j, e in enumerate(h.evidence):
            key = _evidence_key(e) if rough[_rough_key(e)] > 1 else f"{j}"
            if key in seen:
                path = ("evidence", j)
                yield Problem(
                    name,
                    lines(path),
                    _where(path),
                    f"the same evidence as evidence[{seen[key]}]",
                    "remove the duplicate, or say in `task`/`method_detail` how the two differ",
                )
            seen.setdefault(key, j)
            if e.id is None:
                path = ("evidence", j)
                yield Problem(
                    name,
                    lines(path),
                    _where(path),
                    "this evidence record has no permanent `id:`",
                    "run `python scripts/assign_evidence_ids.py` (it fills missing ids and changes no other)",
                    "warning",
                )
            else:
                holder = evidence_ids.setdefault(e.id, f"{h.id} evidence[{j}]")
                if holder != f"{h.id} evidence[{j}]":
                    path = ("evidence", j, "id")
                    yield Problem(
                        name,
                        lines(path),
                        _where(path),
                        f"evidence id {e.id!r} is already used by {holder}",
                        "ids are never shared or reused: delete this `id:` line and run "
                        "`python scripts/assign_evidence_ids.py` to give the record a new one",
                    )
            if cite_keys is not None and e.cite not in cite_keys:
                path = ("evidence", j, "cite")
                yield Problem(
                    name,
                    lines(path),
                    _where(path),
                    f"unknown cite key {e.cite!r}",
                    "add the entry to references.bib or fix the key",
                )
            if e.reproduced is not None and e.reproduced.check != h.check:
                path = ("evidence", j, "reproduced", "check")
                yield Problem(
                    name,
                    lines(path),
                    _where(path),
                    f"check {e.reproduced.check!r} does not serve {h.id} (its check is {h.check!r})",
                    "record a reproduction under the head type its check serves",
                )
            if e.checked is not None:
                c = e.checked
                if c.check != h.check:
                    path = ("evidence", j, "checked", "check")
                    yield Problem(
                        name,
                        lines(path),
                        _where(path),
                        f"check {c.check!r} does not serve {h.id} (its check is {h.check!r})",
                        "re-run `heads verify --claims --record`; it writes this block",
                    )
                extra = sorted({str(x.head) for x in c.heads} - {str(loc) for loc in e.locations})
                if extra:
                    path = ("evidence", j, "checked", "heads")
                    yield Problem(
                        name,
                        lines(path),
                        _where(path),
                        f"checked heads {', '.join(extra)} are not among the record's locations",
                        "a measurement covers the claimed heads only: re-run `heads verify --claims --record`",
                    )
            for field in ("model", "reproduced"):
                model = e.model if field == "model" else (e.reproduced.model if e.reproduced else None)
                if model is not None and model_names is not None and model not in model_names:
                    path = ("evidence", j, field) if field == "model" else ("evidence", j, "reproduced", "model")
                    yield Problem(
                        name,
                        lines(path),
                        _where(path),
                        f"unknown model {model!r}",
                        "add it to models.yaml or use a registry id",
                    )
            m = models.get(e.model or "")
            if (
                m is not None
                and m.layers is not None
                and m.heads is not None
                and m.attention_layers is None
                and e.locations
                and max(map(_LAYER, e.locations)) < m.layers  # map + attrgetter: C loops, no generator frames
                and max(map(_HEAD, e.locations)) < m.heads
            ):
                continue  # every head lies inside the model (indices are >= 0 by the schema): nothing to report
            for k, loc in enumerate(e.locations):
                if m is None:
                    break
                why = location_problem(loc.layer, loc.head, m.id, m.layers, m.heads, m.attention_layers)
                if why is not None:
                    path = ("evidence", j, "locations", k)
                    hint = (
                        "add layers/heads (and their source) to models.yaml"
                        if m.layers is None or m.heads is None
                        else "check the source's convention (1-indexed numbers must be converted, and a hybrid "
                        "model's layers are counted over all of its layers)"
                    )
                    yield Problem(name, lines(path), _where(path), why, hint)
                    if m.layers is None or m.heads is None:
                        break


def check(
    path: str | Path | None = None, *, overrides: Mapping[Path, str] | None = None
) -> tuple[Catalogue | None, Report]:
    """Load and cross-check the data; returns the catalogue (None on any error) and a report of all problems.

    ``overrides`` maps data files to text to check in place of what is on disk (an edit before it is written).
    Temporary files of killed writers (``.<name>.<pid>-*.tmp``) are removed first.
    """
    paths = data_paths(path)
    remove_stale_temps(paths.heads, paths.folder)
    # Loading allocates millions of objects and frees none of them, so the cyclic collector's passes find
    # nothing: pausing it saves about 15% of a large check (the usual bulk-loading practice).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _check(paths, overrides)
    finally:
        if collecting:
            gc.enable()


def load(path: str | Path | None = None) -> Catalogue:
    """The validated catalogue. Raises :class:`CatalogueError` listing every error."""
    cat, problems = check(path)
    if cat is None:
        raise CatalogueError(problems.errors)
    return cat
