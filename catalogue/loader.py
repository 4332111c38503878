"""YAML + BibTeX -> a validated :class:`Catalogue`. Every error is gathered, each with file:line.

The data lives in one folder (``data/`` by default)::

    heads.yaml       head types and their evidence (the file contributors edit)
    models.yaml      the model registry
    taxonomy.yaml    stages, sub-categories, methods and benchmarks
    references.bib   every cited work

Reading is defensive: a missing file, a file over :data:`MAX_BYTES`, bytes that are not
UTF-8, YAML syntax errors, anchors/aliases (a YAML "billion laughs" bomb), custom tags and
duplicate mapping keys are each reported as a :class:`Problem` with the file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
import yaml_rs
from pydantic import BaseModel, ValidationError

from catalogue.errors import CatalogueError, Problem
from catalogue.paths import DataPaths, data_paths, default_data_dir
from catalogue.refs import parse_references
from catalogue.schema import (
    Catalogue,
    HeadType,
    ModelInfo,
    Reference,
    Taxonomy,
    normalize_name,
)

__all__ = ["MAX_BYTES", "DataPaths", "check", "data_paths", "default_data_dir", "load", "read_text"]

#: Largest data file accepted (bytes). A 100x catalogue is about 15 MB.
MAX_BYTES = 40 * 1024 * 1024

M = TypeVar("M", bound=BaseModel)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- reading files


def read_text(path: Path, problems: list[Problem], read: dict[Path, bytes] | None = None) -> str | None:
    """The file's text, or None with a problem recorded (missing, too big, not UTF-8).

    ``read``, if given, collects the bytes read, so the content hash covers exactly what was validated."""
    name = _display(path)
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
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem(name, line, "", f"byte 0x{data[exc.start]:02x} is not UTF-8", "save the file as UTF-8"))
        return None


_NO_ALIASES = yaml_rs.AliasLimits(max_total_replayed_events=0, max_alias_expansions_per_anchor=0)
_DUPLICATES = yaml_rs.DuplicateKeyPolicy.Error
_TAG = re.compile(r"(?:^|[\s\[{,])!!?[A-Za-z/<]", re.MULTILINE)


def _has_tag(text: str) -> bool:
    """Whether the text may hold a YAML tag (``!name``, ``!!type``); cheap substring scans first."""
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


def _parse_yaml(text: str, name: str, problems: list[Problem]) -> Any:
    """Parse with yaml-rs (fast, YAML 1.2, aliases and duplicate keys refused); on any error re-parse
    with PyYAML's strict loader, whose marks give the line and our own message."""
    fallback = ""
    if not _has_tag(text):  # yaml-rs ignores tags on collections; PyYAML refuses unknown ones
        try:
            return yaml_rs.loads(text, parse_datetime=False, alias_limits=_NO_ALIASES, duplicate_key_policy=_DUPLICATES)
        except yaml_rs.YAMLDecodeError as fast_error:
            fallback = str(fast_error)
    try:
        yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
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


def _where(path: Sequence[str | int], label: Callable[[int], str]) -> str:
    out = ""
    for i, part in enumerate(path):
        if isinstance(part, int):
            out += f"[{part}]"
            if i == 1:
                out += label(part)
        else:
            out += ("." if out else "") + part
    return out


def _validate_list(
    model: type[M], items: Any, key: str, name: str, lines: _Lines, problems: list[Problem]
) -> list[tuple[int, M]]:
    """Validate ``items`` (the list under ``key``) item by item; returns (index, object) pairs."""
    if not isinstance(items, list):
        problems.append(
            Problem(name, lines([key]), key, f"`{key}:` must be a list", f"write `{key}:` then `- ...` items")
        )
        return []
    out: list[tuple[int, M]] = []

    def label(i: int) -> str:
        item = items[i] if i < len(items) else None
        return f" ({item['id']})" if isinstance(item, dict) and isinstance(item.get("id"), str) else ""

    for i, item in enumerate(items):
        try:
            out.append((i, model.model_validate(item)))
        except ValidationError as exc:
            for err in exc.errors():
                loc = (key, i, *err["loc"])
                msg = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    msg, hint = "unknown field", "remove it or fix its spelling (`heads schema` lists the fields)"
                elif err["type"] == "missing":
                    msg, hint = "required field is missing", "add it"
                elif err["type"] == "literal_error":
                    hint = "use one of the listed values"
                else:
                    hint = ""
                problems.append(Problem(name, lines(loc), _where(loc, label), msg, hint))
    return out


def _load_yaml(path: Path, key: str, problems: list[Problem], read: dict[Path, bytes]) -> tuple[Any, _Lines, str]:
    name = _display(path)
    text = read_text(path, problems, read)
    if text is None:
        return None, _Lines(""), name
    lines = _Lines(text)
    doc = _parse_yaml(text, name, problems)
    if doc is None and not any(p.file == name for p in problems):
        problems.append(Problem(name, 1, "", "file is empty", f"it must hold a mapping with `{key}:`"))
    elif doc is not None and (not isinstance(doc, dict) or key not in doc):
        problems.append(
            Problem(name, 1, "", f"expected a mapping with a `{key}:` list at the top", f"start the file with `{key}:`")
        )
        return None, lines, name
    return doc, lines, name


def _check(paths: DataPaths) -> tuple[Catalogue | None, list[Problem]]:
    problems: list[Problem] = []
    read: dict[Path, bytes] = {}  # every byte validated, for the content hash

    # references
    ref_name = _display(paths.references)
    bib_text = read_text(paths.references, problems, read)
    references: dict[str, Reference] = {}
    cite_keys: set[str] = set()  # every entry's key, rejected ones too: one bad entry is one error
    if bib_text is not None:
        bibliography = parse_references(bib_text, file=ref_name)
        references, cite_keys = bibliography.references, bibliography.keys
        problems += bibliography.problems

    # taxonomy
    tax_doc, tax_lines, tax_name = _load_yaml(paths.taxonomy, "stages", problems, read)
    taxonomy: Taxonomy | None = None
    if isinstance(tax_doc, dict):
        try:
            taxonomy = Taxonomy.model_validate(tax_doc)
        except ValidationError as exc:
            for err in exc.errors():
                problems.append(
                    Problem(
                        tax_name,
                        tax_lines(err["loc"]),
                        _where(err["loc"], lambda i: ""),
                        err["msg"].removeprefix("Value error, "),
                    )
                )

    # models
    mod_doc, mod_lines, mod_name = _load_yaml(paths.models, "models", problems, read)
    models = (
        _validate_list(ModelInfo, mod_doc["models"], "models", mod_name, mod_lines, problems)
        if isinstance(mod_doc, dict)
        else []
    )
    model_ids: dict[str, ModelInfo] = {}
    for i, m in models:
        if m.id in model_ids:
            problems.append(
                Problem(
                    mod_name,
                    mod_lines(("models", i, "id")),
                    f"models[{i}]",
                    f"duplicate model id {m.id!r}",
                    "remove one",
                )
            )
        model_ids[m.id] = m

    # heads
    heads_doc, lines, name = _load_yaml(paths.heads, "heads", problems, read)
    heads = (
        _validate_list(HeadType, heads_doc["heads"], "heads", name, lines, problems)
        if isinstance(heads_doc, dict)
        else []
    )
    # ids of entries that failed validation still count as known, so one error does not cascade
    raw_ids = (
        {x["id"] for x in heads_doc["heads"] if isinstance(x, dict) and isinstance(x.get("id"), str)}
        if (isinstance(heads_doc, dict) and isinstance(heads_doc["heads"], list))
        else set()
    )
    problems += list(_cross_check(heads, raw_ids, model_ids, cite_keys, name, lines))

    if taxonomy is not None:
        if taxonomy.cite not in cite_keys:
            problems.append(
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
                problems.append(
                    Problem(
                        tax_name,
                        tax_lines(("benchmarks", i, "cite")),
                        f"benchmarks[{i}] ({b.id})",
                        f"unknown cite key {b.cite!r}",
                        f"add it to {ref_name}",
                    )
                )

    errors = [p for p in problems if p.severity == "error"]
    if errors or taxonomy is None:
        return None, problems
    cat = Catalogue(
        heads=[h for _, h in heads],
        models=list(model_ids.values()),
        taxonomy=taxonomy,
        references=references,
        digest=paths.digest(read),
    )
    for key in sorted(set(references) - cat.cited_keys()):
        problems.append(
            Problem(
                ref_name, None, f"@{key}", "nothing cites this entry", "cite it from heads.yaml or remove it", "warning"
            )
        )
    return cat, problems


def _cross_check(
    heads: list[tuple[int, HeadType]],
    known_ids: set[str],
    models: dict[str, ModelInfo],
    cite_keys: set[str],
    name: str,
    lines: _Lines,
) -> Iterator[Problem]:
    ids: dict[str, int] = {}
    names: dict[str, str] = {}
    for i, h in heads:
        where = f"heads[{i}] ({h.id})"
        if h.id in ids:
            yield Problem(
                name,
                lines(("heads", i, "id")),
                where,
                f"duplicate id {h.id!r} (also heads[{ids[h.id]}])",
                "merge the two entries or rename one",
            )
            continue
        ids[h.id] = i
        for j, n in enumerate(h.names):
            key = normalize_name(n)
            owner = names.setdefault(key, h.id)
            if owner != h.id:
                path = ("heads", i, "aliases", j - 2) if j >= 2 else ("heads", i, "name")
                yield Problem(
                    name,
                    lines(path),
                    where,
                    f"name {n!r} is already used by {owner!r}",
                    "an alias may belong to one head type only",
                )
    for i, h in heads:
        where = f"heads[{i}] ({h.id})"
        for j, r in enumerate(h.related):
            if r.head not in ids and r.head not in known_ids:
                yield Problem(
                    name,
                    lines(("heads", i, "related", j, "head")),
                    f"{where} related[{j}].head",
                    f"unknown head type {r.head!r}",
                    "use the id of a head type in this file",
                )
            elif r.head == h.id:
                yield Problem(
                    name,
                    lines(("heads", i, "related", j, "head")),
                    f"{where} related[{j}].head",
                    "a head type cannot relate to itself",
                )
        for j, e in enumerate(h.evidence):
            ew = f"{where} evidence[{j}]"
            if e.cite not in cite_keys:
                yield Problem(
                    name,
                    lines(("heads", i, "evidence", j, "cite")),
                    f"{ew}.cite",
                    f"unknown cite key {e.cite!r}",
                    "add the entry to references.bib or fix the key",
                )
            for model in filter(None, (e.model, e.reproduced.model if e.reproduced else None)):
                if model not in models:
                    yield Problem(
                        name,
                        lines(("heads", i, "evidence", j, "model")),
                        f"{ew}.model",
                        f"unknown model {model!r}",
                        "add it to models.yaml or use a registry id",
                    )
            m = models.get(e.model or "")
            for k, loc in enumerate(e.locations):
                if m is None:
                    break
                if (m.layers is not None and loc.layer >= m.layers) or (m.heads is not None and loc.head >= m.heads):
                    yield Problem(
                        name,
                        lines(("heads", i, "evidence", j, "locations", k)),
                        f"{ew}.locations[{k}]",
                        f"{loc} is outside {m.id} ({m.layers} layers x {m.heads} heads, 0-indexed)",
                        "layers and heads count from 0; check the source's convention",
                    )
                elif m.layers is None or m.heads is None:
                    yield Problem(
                        name,
                        lines(("heads", i, "evidence", j, "locations", k)),
                        f"{ew}.locations[{k}]",
                        f"{m.id} has no recorded dimensions, so {loc} cannot be checked",
                        "add layers/heads (and their source) to models.yaml",
                    )
                    break


def check(path: str | Path | None = None) -> tuple[Catalogue | None, list[Problem]]:
    """Load and cross-check the data; returns the catalogue (None on any error) and all problems, warnings included."""
    return _check(data_paths(path))


def load(path: str | Path | None = None) -> Catalogue:
    """The validated catalogue. Raises :class:`CatalogueError` listing every error."""
    cat, problems = check(path)
    if cat is None:
        raise CatalogueError([p for p in problems if p.severity == "error"])
    return cat
