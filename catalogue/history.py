"""What changed in heads.yaml since a git revision: head types and evidence added, removed or changed.

For reviewers of a pull request: ``heads diff origin/main`` reads ``heads.yaml`` at that revision with
``git show REV:path`` and compares it with the working copy. Records are compared after normalisation
(a valid record goes through the schema, so ``9.9`` and ``L9H9`` are the same location); a record that
does not validate is compared as written. Evidence records are matched by (cite, model), in order.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from catalogue.errors import UsageError
from catalogue.paths import data_paths
from catalogue.schema import Evidence, HeadType

__all__ = ["Diff", "EvidenceChange", "HeadChange", "diff", "diff_texts", "read_at"]


@dataclass(frozen=True)
class EvidenceChange:
    status: str  # added | removed | changed
    cite: str
    model: str | None
    fields: list[str] = field(default_factory=list)  # changed fields, for "changed"

    def __str__(self) -> str:
        what = f"{self.cite}" + (f" on {self.model}" if self.model else "")
        return f"evidence {self.status}: {what}" + (f" ({', '.join(self.fields)})" if self.fields else "")


@dataclass(frozen=True)
class HeadChange:
    id: str
    status: str  # added | removed | changed
    fields: list[str] = field(default_factory=list)  # changed fields other than evidence
    evidence: list[EvidenceChange] = field(default_factory=list)


@dataclass(frozen=True)
class Diff:
    rev: str
    path: str
    changes: list[HeadChange]

    @property
    def empty(self) -> bool:
        return not self.changes

    def text(self) -> str:
        if not self.changes:
            return f"no head type or evidence changed in {self.path} since {self.rev}"
        counts = {s: sum(1 for c in self.changes if c.status == s) for s in ("added", "removed", "changed")}
        out = [f"{self.path} since {self.rev}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)]
        sign = {"added": "+", "removed": "-", "changed": "~"}
        for c in self.changes:
            extra = f" ({', '.join(c.fields)})" if c.fields else ""
            n_ev = f", {len(c.evidence)} evidence" if c.status != "changed" and c.evidence else ""
            out.append(f"{sign[c.status]} {c.id}: {c.status}{extra}{n_ev}")
            if c.status == "changed":
                out += [f"    {sign[e.status]} {e}" for e in c.evidence]
        return "\n".join(out)

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


def read_at(rev: str, path: Path) -> str | None:
    """The text of ``path`` at git revision ``rev``; None if the file did not exist there."""
    if rev.startswith("-"):
        raise UsageError(f"{rev!r} is not a git revision")
    folder = path.resolve().parent
    top = _git(["rev-parse", "--show-toplevel"], folder)
    if top.returncode != 0:
        raise UsageError(f"{folder} is not in a git repository: `heads diff` compares against git history")
    root = Path(top.stdout.strip())
    rel = path.resolve().relative_to(root.resolve()).as_posix()
    if _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root).returncode != 0:
        raise UsageError(f"unknown git revision {rev!r}: give a branch, tag or commit (e.g. origin/main, HEAD~1)")
    shown = _git(["show", f"{rev}:{rel}"], root)
    if shown.returncode != 0:
        return None
    return shown.stdout


# --------------------------------------------------------------------------- comparing


def _records(text: str | None, label: str) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"heads.yaml at {label} is not valid YAML: {exc}") from None
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
                out.append(EvidenceChange("changed", cite, model, changed))
        out += [EvidenceChange("removed", cite, model) for _ in olds[len(news) :]]
        out += [EvidenceChange("added", cite, model) for _ in news[len(olds) :]]
    return out


def diff_texts(old_text: str | None, new_text: str | None, *, rev: str = "old", path: str = "heads.yaml") -> Diff:
    """Compare two versions of heads.yaml."""
    old, new = _records(old_text, rev), _records(new_text, "the working copy")
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
    return Diff(rev, path, changes)


def diff(rev: str, *, data: str | Path | None = None) -> Diff:
    """Head types and evidence changed in the working copy's heads.yaml since git revision ``rev``."""
    heads = data_paths(data).heads
    old = read_at(rev, heads)
    try:
        new = heads.read_text(encoding="utf-8")
    except FileNotFoundError:
        new = None
    return diff_texts(old, new, rev=rev, path=str(heads))
