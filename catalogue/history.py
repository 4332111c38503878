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

__all__ = ["Diff", "EvidenceChange", "HeadChange", "ItemChange", "diff", "diff_texts", "read_at"]


@dataclass(frozen=True)
class EvidenceChange:
    status: str  # added | removed | changed
    cite: str
    model: str | None
    fields: list[str] = field(default_factory=list)  # changed fields, for "changed"
    verdict: str = ""  # "unchecked -> confirmed" when the measured status of the claim changed

    def __str__(self) -> str:
        what = f"{self.cite}" + (f" on {self.model}" if self.model else "")
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


def _verdict(e: Any) -> str:
    checked = e.get("checked") if isinstance(e, dict) else None
    return str(checked.get("verdict")) if isinstance(checked, dict) else "unchecked"


def _verdict_change(old: Any, new: Any) -> str:
    a, b = _verdict(old), _verdict(new)
    return f"{a} -> {b}" if a != b else ""


def _evidence_changes(old: list[Any], new: list[Any]) -> list[EvidenceChange]:
    def bucket(items: list[Any]) -> dict[tuple[str, str], list[Any]]:
        b: dict[tuple[str, str], list[Any]] = {}
        for e in items:
            b.setdefault(_ev_key(e), []).append(e)
        return b

    ob, nb = bucket(old), bucket(new)
    out: list[EvidenceChange] = []
    for key in sorted(set(ob) | set(nb)):
        olds, news = ob.get(key, []), nb.get(key, [])
        cite, model = key[0], key[1] or None
        for o, n in zip(olds, news, strict=False):
            if o != n:
                changed = (
                    sorted(k for k in set(o) | set(n) if o.get(k) != n.get(k))
                    if isinstance(o, dict) and isinstance(n, dict)
                    else []
                )
                out.append(EvidenceChange("changed", cite, model, changed, _verdict_change(o, n)))
        out += [EvidenceChange("removed", cite, model) for _ in olds[len(news) :]]
        out += [EvidenceChange("added", cite, model) for _ in news[len(olds) :]]
    return out


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
