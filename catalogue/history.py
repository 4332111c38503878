"""What changed in the data since a git revision: head types and evidence, models and works.

For reviewers of a pull request: ``heads diff origin/main`` asks git which data files differ from that
revision (``git diff --name-only``, plus files git does not track yet), reads each at the revision with
``git show REV:path`` and compares it with the working copy. Head-type records are compared after
normalisation (a valid record goes through the schema, so ``9.9`` and ``L9H9`` are the same location);
a record that does not validate is compared as written. Evidence records are matched by (cite, model), in
order. A revision from before the split into ``heads/<id>.yaml`` is read from its single ``heads.yaml``.
Models are compared by id, works (references.bib entries) by key.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from catalogue.errors import UsageError
from catalogue.paths import data_paths
from catalogue.schema import Evidence, HeadType

__all__ = [
    "Diff",
    "EvidenceChange",
    "HeadChange",
    "ItemChange",
    "changelog",
    "diff",
    "diff_revisions",
    "diff_texts",
    "read_at",
]


@dataclass(frozen=True)
class EvidenceChange:
    status: str  # added | removed | changed | withdrawn (``deprecated`` set) | restored (``deprecated`` cleared)
    cite: str
    model: str | None
    fields: list[str] = field(default_factory=list)  # changed fields, for "changed"
    id: str | None = None  # the permanent evidence id, when the record has one
    verdict: str = ""  # "unchecked -> confirmed" when the measured status of the claim changed

    def __str__(self) -> str:
        what = f"{self.cite}" + (f" on {self.model}" if self.model else "") + (f" [{self.id}]" if self.id else "")
        verdict = f"; verdict {self.verdict}" if self.verdict else ""
        return f"evidence {self.status}: {what}" + (f" ({', '.join(self.fields)}{verdict})" if self.fields else "")


@dataclass(frozen=True)
class HeadChange:
    id: str
    status: str  # added | removed | changed
    fields: list[str] = field(default_factory=list)  # changed fields other than evidence
    evidence: list[EvidenceChange] = field(default_factory=list)


@dataclass(frozen=True)
class ItemChange:
    """A model (by id) or a work (by cite key) added, removed or changed."""

    kind: str  # model | work
    id: str
    status: str  # added | removed | changed


@dataclass(frozen=True)
class Diff:
    rev: str
    path: str
    changes: list[HeadChange]
    items: list[ItemChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.items

    def text(self) -> str:
        if self.empty:
            return f"no head type, evidence, model or work changed in {self.path} since {self.rev}"
        sign = {"added": "+", "removed": "-", "changed": "~"}
        others = [f"{sign[i.status]} {i.kind} {i.id}: {i.status}" for i in self.items]
        if not self.changes:
            return "\n".join([f"{self.path} since {self.rev}: no head type changed", *others])
        counts = {s: sum(1 for c in self.changes if c.status == s) for s in ("added", "removed", "changed")}
        out = [f"{self.path} since {self.rev}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)]
        for c in self.changes:
            extra = f" ({', '.join(c.fields)})" if c.fields else ""
            n_ev = f", {len(c.evidence)} evidence" if c.status != "changed" and c.evidence else ""
            out.append(f"{sign[c.status]} {c.id}: {c.status}{extra}{n_ev}")
            if c.status == "changed":
                out += [f"    {sign[e.status]} {e}" for e in c.evidence]
        return "\n".join(out + others)

    def json(self) -> str:
        return json.dumps(asdict(self), indent=2)


# --------------------------------------------------------------------------- git


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, encoding="utf-8", errors="replace"
        )
    except FileNotFoundError:
        raise UsageError("git is not installed: `heads diff` needs it") from None


def _root(folder: Path, rev: str) -> Path:
    """The top of the git work tree holding ``folder``, after checking that ``rev`` is a commit there."""
    if rev.startswith("-"):
        raise UsageError(f"{rev!r} is not a git revision")
    top = _git(["rev-parse", "--show-toplevel"], folder)
    if top.returncode != 0:
        raise UsageError(f"{folder} is not in a git repository: `heads diff` compares against git history")
    root = Path(top.stdout.strip())
    if _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root).returncode != 0:
        raise UsageError(f"unknown git revision {rev!r}: give a branch, tag or commit (e.g. origin/main, HEAD~1)")
    return root


def _rel(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root.resolve()).as_posix()


def read_at(rev: str, path: Path) -> str | None:
    """The text of ``path`` at git revision ``rev``; None if the file did not exist there."""
    root = _root(path.resolve().parent, rev)
    shown = _git(["show", f"{rev}:{_rel(path, root)}"], root)
    if shown.returncode != 0:
        return None
    return shown.stdout


def _changed(rev: str, folder: Path, root: Path) -> list[Path]:
    """Files below ``folder`` that differ from ``rev`` (tracked or not yet tracked), as absolute paths."""
    rel = _rel(folder, root)
    diffed = _git(["diff", "--name-only", "--no-renames", rev, "--", rel], root).stdout.split("\n")
    untracked = _git(["ls-files", "--others", "--exclude-standard", "--", rel], root).stdout.split("\n")
    return sorted({root / p for p in [*diffed, *untracked] if p})


# --------------------------------------------------------------------------- comparing


def _records(text: str | None, label: str) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"a head-type file at {label} is not valid YAML: {exc}") from None
    if isinstance(doc, dict) and "heads" not in doc:
        doc = [doc]  # one head-type file
    items = doc.get("heads") if isinstance(doc, dict) else doc
    out: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        key = str(item.get("id", f"<heads[{i}] without id>"))
        out.setdefault(key, _normal(item))
    return out


def _normal(item: dict[str, Any]) -> dict[str, Any]:
    try:
        return HeadType.model_validate(item).model_dump(mode="json", exclude_defaults=True)
    except ValidationError:
        pass
    out = dict(item)
    evs = []
    for e in item.get("evidence") or []:
        try:
            evs.append(Evidence.model_validate(e).model_dump(mode="json", exclude_defaults=True))
        except ValidationError:
            evs.append(e)
    out["evidence"] = evs
    return out


def _ev_key(e: Any) -> tuple[str, str]:
    if not isinstance(e, dict):
        return (str(e), "")
    return (str(e.get("cite", "")), str(e.get("model") or ""))


def _ev_id(e: Any) -> str | None:
    return str(e["id"]) if isinstance(e, dict) and e.get("id") else None


def _verdict(e: Any) -> str:
    checked = e.get("checked") if isinstance(e, dict) else None
    return str(checked.get("verdict")) if isinstance(checked, dict) else "unchecked"


def _verdict_change(old: Any, new: Any) -> str:
    a, b = _verdict(old), _verdict(new)
    return f"{a} -> {b}" if a != b else ""


def _evidence_changes(old: list[Any], new: list[Any]) -> list[EvidenceChange]:
    """Records are matched by permanent id; records without one (older data) by (cite, model), in order."""
    new_ids = {i for i in map(_ev_id, new) if i}
    old_by_id = {i: e for e in old if (i := _ev_id(e)) and i in new_ids}
    out: list[EvidenceChange] = []
    for n in new:
        i = _ev_id(n)
        if i is not None and i in old_by_id:
            out += _compare(old_by_id[i], n)
    rest_old = [e for e in old if _ev_id(e) not in old_by_id]
    rest_new = [e for e in new if _ev_id(e) not in old_by_id]

    def bucket(items: list[Any]) -> dict[tuple[str, str], list[Any]]:
        b: dict[tuple[str, str], list[Any]] = {}
        for e in items:
            b.setdefault(_ev_key(e), []).append(e)
        return b

    ob, nb = bucket(rest_old), bucket(rest_new)
    for key in sorted(set(ob) | set(nb)):
        olds, news = ob.get(key, []), nb.get(key, [])
        cite, model = key[0], key[1] or None
        for o, n in zip(olds, news, strict=False):
            out += _compare(o, n)
        out += [EvidenceChange("removed", cite, model, id=_ev_id(o)) for o in olds[len(news) :]]
        out += [EvidenceChange("added", cite, model, id=_ev_id(n)) for n in news[len(olds) :]]
    return sorted(out, key=lambda c: (c.cite, c.model or "", c.id or "", c.status))


def _compare(o: Any, n: Any) -> list[EvidenceChange]:
    if o == n:
        return []
    cite, model = _ev_key(n)
    if not (isinstance(o, dict) and isinstance(n, dict)):
        return [EvidenceChange("changed", cite, model or None)]
    changed = sorted(k for k in set(o) | set(n) if o.get(k) != n.get(k))
    status = "changed"
    if "deprecated" in changed:
        status = "withdrawn" if n.get("deprecated") else "restored"
    return [EvidenceChange(status, cite, model or None, changed, _ev_id(n) or _ev_id(o), _verdict_change(o, n))]


def _head_changes(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[HeadChange]:
    changes: list[HeadChange] = []
    for hid in sorted(set(old) | set(new)):
        o, n = old.get(hid), new.get(hid)
        if o is None and n is not None:
            changes.append(HeadChange(hid, "added", evidence=_evidence_changes([], n.get("evidence") or [])))
        elif n is None and o is not None:
            changes.append(HeadChange(hid, "removed", evidence=_evidence_changes(o.get("evidence") or [], [])))
        elif o is not None and n is not None and o != n:
            fields = sorted(k for k in set(o) | set(n) if k != "evidence" and o.get(k) != n.get(k))
            ev = _evidence_changes(o.get("evidence") or [], n.get("evidence") or [])
            changes.append(HeadChange(hid, "changed", fields, ev))
    return changes


def diff_texts(old_text: str | None, new_text: str | None, *, rev: str = "old", path: str = "heads") -> Diff:
    """Compare two texts that each hold a list of head types (a ``heads:`` list) or one head type."""
    return Diff(rev, path, _head_changes(_records(old_text, rev), _records(new_text, "the working copy")))


def _items(kind: str, old: str | None, new: str | None) -> list[ItemChange]:
    def split(text: str | None) -> dict[str, Any]:
        if not text:
            return {}
        if kind == "work":  # BibTeX entries by key, compared as written
            parts = re.split(r"(?m)^@", text)
            out: dict[str, Any] = {}
            for part in parts[1:]:
                m = re.match(r"\s*(\w+)\s*[{(]\s*([^,\s]+)\s*,", part)
                if m and m.group(1).lower() not in ("string", "preamble", "comment"):
                    out[m.group(2)] = part.strip()
            return out
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            return {}
        models = doc.get("models") if isinstance(doc, dict) else None
        return {str(m.get("id")): m for m in models or [] if isinstance(m, dict)}

    o, n = split(old), split(new)
    out = []
    for key in sorted(set(o) | set(n)):
        status = "added" if key not in o else "removed" if key not in n else "changed" if o[key] != n[key] else ""
        if status:
            out.append(ItemChange(kind, key, status))
    return out


def diff(rev: str, *, data: str | Path | None = None) -> Diff:
    """Head types, evidence, models and works changed in the working copy's data since git revision ``rev``."""
    paths = data_paths(data)
    root = _root(paths.folder.resolve(), rev)
    heads_rel = _rel(paths.heads, root) if paths.heads.exists() else None
    old: dict[str, dict[str, Any]] = {}
    new: dict[str, dict[str, Any]] = {}
    split_at_rev = heads_rel is not None and bool(_git(["ls-tree", rev, "--", heads_rel + "/"], root).stdout.strip())
    if split_at_rev:
        for p in _changed(rev, paths.heads, root):
            if p.suffix not in (".yaml", ".yml"):
                continue
            before = _git(["show", f"{rev}:{_rel(p, root)}"], root)
            old.update(_records(before.stdout if before.returncode == 0 else None, rev))
            new.update(_records(p.read_text(encoding="utf-8") if p.is_file() else None, "the working copy"))
    else:  # the revision predates the split: one heads.yaml
        old = _records(read_at(rev, paths.folder / "heads.yaml"), rev)
        for p in paths.head_files():
            new.update(_records(p.read_text(encoding="utf-8"), "the working copy"))
    items = _items("model", read_at(rev, paths.models), _read(paths.models))
    items += _items("work", read_at(rev, paths.references), _read(paths.references))
    return Diff(rev, str(paths.folder), _head_changes(old, new), items)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None


# --------------------------------------------------------------------------- release changelog


def _heads_at(rev: str | None, paths_folder: Path) -> tuple[dict[str, dict[str, Any]], str | None, str | None]:
    """Head-type records, models.yaml and references.bib at ``rev`` (None: nothing, the start of history)."""
    if rev is None:
        return {}, None, None
    paths = data_paths(paths_folder)
    root = _root(paths.folder.resolve(), rev)
    heads_rel = _rel(paths.folder, root) + "/heads"
    listed = _git(["ls-tree", "-r", "--name-only", rev, "--", heads_rel + "/"], root).stdout.split("\n")
    out: dict[str, dict[str, Any]] = {}
    files = [p for p in listed if p.endswith((".yaml", ".yml"))]
    if files:
        for p in files:
            out.update(_records(_git(["show", f"{rev}:{p}"], root).stdout, rev))
    else:
        out = _records(read_at(rev, paths.folder / "heads.yaml"), rev)
    return out, read_at(rev, paths.models), read_at(rev, paths.references)


def diff_revisions(old: str | None, new: str, *, data: str | Path | None = None) -> Diff:
    """What changed in the data between two git revisions (``old`` None: everything at ``new`` is added)."""
    folder = data_paths(data).folder
    o_heads, o_models, o_refs = _heads_at(old, folder)
    n_heads, n_models, n_refs = _heads_at(new, folder)
    items = _items("model", o_models, n_models) + _items("work", o_refs, n_refs)
    return Diff(old or "(nothing)", new, _head_changes(o_heads, n_heads), items)


def changelog(old: str | None, new: str, *, title: str, data: str | Path | None = None) -> str:
    """A CHANGELOG.md section (Markdown) for the data release ``new`` since ``old``: head types added,
    changed and removed; evidence added, changed, withdrawn (deprecated) and removed, each by permanent id;
    models and works added, changed and removed. Deterministic."""
    d = diff_revisions(old, new, data=data)
    since = f"Compared with `{old}`." if old else "The first data release: everything in it is new."
    lines = [f"## {title}", "", since, ""]

    def section(name: str, entries: list[str]) -> None:
        if entries:
            lines.extend([f"### {name} ({len(entries)})", "", *entries, ""])

    for status in ("added", "changed", "removed"):
        section(
            f"Head types {status}",
            [f"- `{c.id}`" + (f": {', '.join(c.fields)}" if c.fields else "") for c in d.changes if c.status == status],
        )
    evidence = [(c.id, e) for c in d.changes for e in c.evidence]
    for status, label in (
        ("added", "added"),
        ("changed", "changed"),
        ("withdrawn", "withdrawn"),
        ("restored", "restored"),
        ("removed", "removed (an id must never be removed: withdraw the record instead)"),
    ):
        section(
            f"Evidence {label}",
            [
                f"- `{e.id or 'no id'}` {hid}: {e.cite}"
                + (f" on {e.model}" if e.model else "")
                + (f" ({', '.join(e.fields)})" if e.fields else "")
                for hid, e in evidence
                if e.status == status
            ],
        )
    for kind in ("model", "work"):
        for status in ("added", "changed", "removed"):
            section(
                f"{'Models' if kind == 'model' else 'Works'} {status}",
                [f"- `{i.id}`" for i in d.items if i.kind == kind and i.status == status],
            )
    if d.empty:
        lines += ["No change to the data.", ""]
    return "\n".join(lines).rstrip() + "\n"
