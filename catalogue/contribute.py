"""Add a head type or an evidence record to heads.yaml, keeping the file's comments, order and style.

heads.yaml is parsed with ruamel.yaml's round-trip loader, which keeps every comment and records where
each node sits. The new entry is rendered by ruamel in the file's own indentation and spliced into the
text right after the last item of its list, so no other line of the file changes: a full re-dump would
re-wrap every long line the contributors (or PyYAML) wrapped differently. Before anything is replaced the
new text is parsed again (the list must have grown by exactly the new entry) and validated with
:func:`catalogue.loader.check` in a temporary copy of the data folder; only a valid result is written,
atomically (:func:`catalogue.exporting.write_atomic`). A bad request raises
:class:`~catalogue.errors.UsageError`; data that was already invalid raises :class:`CatalogueError`.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from catalogue.errors import CatalogueError, UsageError
from catalogue.exporting import write_atomic
from catalogue.loader import check
from catalogue.paths import DataPaths, data_paths
from catalogue.schema import Catalogue, Evidence, HeadType

__all__ = ["add_evidence", "new_head", "render_entry"]

M = TypeVar("M", bound=BaseModel)

#: New text is wrapped at this width, like the rest of the file.
WIDTH = 120
_FLOW_LISTS = {"aliases", "list_badges", "locations", "heads"}


# --------------------------------------------------------------------------- public surface


def new_head(fields: dict[str, Any], *, data: str | Path | None = None) -> HeadType:
    """Append a new head type (with at least one evidence record) to heads.yaml and return it."""
    paths, cat = _load(data)
    fields = {**fields, "stages": [_stage_names(cat, dict(p)) for p in fields.get("stages") or []]}
    head = _validated(HeadType, fields, "head type")
    clash = [n for n in head.names if _owner(cat, n) is not None]
    if head.id in cat.heads:
        raise UsageError(f"a head type with id {head.id!r} already exists: use `heads add-evidence {head.id}`")
    if clash:
        raise UsageError(f"the name {clash[0]!r} already belongs to {_owner(cat, clash[0])!r}: choose another")
    for r in head.related:
        if r.head not in cat.heads:
            raise UsageError(f"--related: no head type has id {r.head!r} (`heads list` shows them)")
    head = head.model_copy(update={"evidence": [_checked_evidence(cat, e) for e in head.evidence]})

    _write(paths, render_entry(head), lambda doc: ["heads"])
    return head


def add_evidence(name: str, fields: dict[str, Any], *, data: str | Path | None = None) -> tuple[HeadType, Evidence]:
    """Append an evidence record to the head type with this id, name or alias; returns both."""
    paths, cat = _load(data)
    head = cat.resolve(name)
    ev = _checked_evidence(cat, _validated(Evidence, fields, "evidence record"))
    if ev in head.evidence:
        raise UsageError(f"{head.id} already has this evidence record: nothing to add")

    def where(doc: Any) -> list[str | int]:
        for i, item in enumerate(doc["heads"]):
            if isinstance(item, dict) and item.get("id") == head.id:
                return ["heads", i, "evidence"]
        raise UsageError(f"{head.id} is not written in {paths.heads} itself")  # pragma: no cover - split files

    _write(paths, render_entry(ev), where)
    return head, ev


def render_entry(obj: BaseModel) -> CommentedMap:
    """A validated head type or evidence record as ruamel nodes, in schema field order, as a person writes it.

    Defaults and empty values are left out and locations are written ``L5H5`` in a flow list.
    """
    data = obj.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    node: CommentedMap = _node(data, "")
    return node


# --------------------------------------------------------------------------- steps


def _load(data: str | Path | None) -> tuple[DataPaths, Catalogue]:
    paths = data_paths(data)
    cat, problems = check(paths.heads)
    if cat is None:
        errors = [p for p in problems if p.severity == "error"]
        raise CatalogueError(errors or problems)
    return paths, cat


def _stage_names(cat: Catalogue, placement: dict[str, Any]) -> dict[str, Any]:
    """Accept a stage's abbreviation (KR, ICI, LR, EP) or name for its id, and a sub-category's name."""
    value = str(placement.get("stage", "")).strip().lower()
    for s in cat.taxonomy.stages:
        if value in (s.id, s.abbreviation.lower(), s.name.lower()):
            placement["stage"] = s.id
            sub = str(placement.get("subcategory") or "").strip().lower()
            for c in s.subcategories:
                if sub and sub in (c.id, c.name.lower()):
                    placement["subcategory"] = c.id
    return placement


def _owner(cat: Catalogue, name: str) -> str | None:
    try:
        return cat.resolve(name).id
    except UsageError:
        return None


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


def _checked_evidence(cat: Catalogue, ev: Evidence) -> Evidence:
    """Check the cite key, resolve the model (id or Hugging Face id) and check locations against its size."""
    if ev.cite not in cat.references:
        raise UsageError(
            f"unknown cite key {ev.cite!r}: add the work to references.bib first (`heads cite` shows entries)"
        )
    if ev.model is None:
        return ev
    model = cat.model(ev.model)  # raises UnknownModelError with suggestions
    for loc in ev.locations:
        if (model.layers is not None and loc.layer >= model.layers) or (
            model.heads is not None and loc.head >= model.heads
        ):
            raise UsageError(
                f"{loc} is outside {model.id}: it has {model.layers} layers (0-{(model.layers or 1) - 1}) and "
                f"{model.heads} heads per layer (0-{(model.heads or 1) - 1}); locations are 0-indexed"
            )
    return ev.model_copy(update={"model": model.id}) if model.id != ev.model else ev


def _yaml(text: str) -> YAML:
    """A round-trip ruamel.yaml set to the file's own indentation (default: lists not indented, like PyYAML)."""
    from ruamel.yaml.util import load_yaml_guess_indent

    try:
        _, indent, offset = load_yaml_guess_indent(text)
    except Exception:  # noqa: BLE001 - the real parse reports syntax errors
        indent, offset = None, None
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
    again = _yaml(out).load(out)
    for key in path:
        again = again[key]
    if len(again) != len(seq) + 1 or again[-1] != entry:  # pragma: no cover - a guard, not a path
        raise UsageError("could not place the new entry in heads.yaml without changing other lines: add it by hand")
    return out


def _write(paths: DataPaths, entry: CommentedMap, where: Any) -> None:
    text = paths.heads.read_text(encoding="utf-8")
    doc = _yaml(text).load(text)
    if not isinstance(doc, dict) or not isinstance(doc.get("heads"), list):
        raise UsageError(f"{paths.heads} has no `heads:` list to add to")
    new = _splice(text, where(doc), entry)
    _validate_copy(paths, new)
    write_atomic(paths.heads, new)


def _validate_copy(paths: DataPaths, heads_text: str) -> None:
    """Run the full check on the new heads.yaml next to copies of the other files; raise on any error."""
    with tempfile.TemporaryDirectory(prefix="heads-edit-") as tmp:
        folder = Path(tmp)
        for src in (paths.models, paths.taxonomy, paths.references):
            if src.is_file():
                shutil.copyfile(src, folder / src.name)
        for schema in paths.heads.parent.glob("*.schema.json"):
            shutil.copyfile(schema, folder / schema.name)
        (folder / "heads.yaml").write_text(heads_text, encoding="utf-8")
        cat, problems = check(folder)
        errors = [p for p in problems if p.severity == "error"]
        if cat is None or errors:
            real = {str(folder / "heads.yaml"): str(paths.heads)}
            real.update({str(folder / src.name): str(src) for src in (paths.models, paths.taxonomy, paths.references)})
            shown = "\n  ".join(str(replace(p, file=real.get(p.file, p.file))) for p in errors)
            raise UsageError(
                f"nothing was written: the edit would leave the data invalid (lines of the edited file):\n  {shown}"
            )


# --------------------------------------------------------------------------- building nodes


def _node(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        if set(value) == {"layer", "head"}:
            return f"L{value['layer']}H{value['head']}"
        m = CommentedMap()
        for k, v in value.items():
            m[k] = _node(v, k)
        return m
    if isinstance(value, list):
        seq = CommentedSeq(_node(v, key) for v in value)
        if key in _FLOW_LISTS:
            seq.fa.set_flow_style()
        return seq
    return value
