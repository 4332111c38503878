"""Permanent evidence ids: ``ev-`` + 8 lowercase base32 characters (RFC 4648 alphabet ``a-z2-7``).

An id names one claim (one evidence record) for good: papers and the site's anchors (``#ev-...``) cite it.
It is assigned once (by ``heads new`` / ``heads add-evidence`` or ``scripts/assign_evidence_ids.py``) and
then stored in the record and never recomputed, so later edits of the record keep their id.

The id is derived from the record's identity at assignment time, not drawn at random and not numbered:
the first 40 bits of SHA-256 over ``head-type id / cite / model / method / sorted locations`` (plus the
record's rank among records equal in those fields, and a salt that only moves on a clash with a taken id).
So the migration is deterministic (re-running it on the same data gives the same ids) and two branches
that each add a different record never pick the same id, which a per-head counter (``...-007``) would.

Withdrawn records stay in the data, marked ``deprecated`` with a reason and a date: that is the registry
of used ids, so an id is never reused. Pure functions, no I/O, no pydantic.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["EVIDENCE_ID_PATTERN", "assign", "head_verdict", "is_evidence_id", "new_id"]

#: The pattern of an evidence id, e.g. ``ev-k3vq7m2a``.
EVIDENCE_ID_PATTERN = r"^ev-[a-z2-7]{8}$"
_RX = re.compile(EVIDENCE_ID_PATTERN)


def is_evidence_id(text: str) -> bool:
    return bool(_RX.match(text))


def _identity(head_id: str, record: Mapping[str, Any]) -> str:
    locations = record.get("locations") or []
    locs = sorted(str(x) if not isinstance(x, Mapping) else f"L{x.get('layer')}H{x.get('head')}" for x in locations)
    return "/".join(
        [head_id, str(record.get("cite") or ""), str(record.get("model") or ""), str(record.get("method") or "")] + locs
    )


def new_id(head_id: str, record: Mapping[str, Any], taken: Iterable[str] = (), *, rank: int = 0) -> str:
    """The id for a record of head type ``head_id`` that has none, avoiding every id in ``taken``.

    ``record`` is the evidence as written (``cite``, ``model``, ``method``, ``locations``); ``rank`` is
    how many earlier records of the same head type share those fields (0 for the first)."""
    used = set(taken)
    base = _identity(head_id, record) + (f"#{rank}" if rank else "")
    salt = 0
    while True:
        text = base + (f"~{salt}" if salt else "")
        digest = hashlib.sha256(text.encode("utf-8")).digest()[:5]
        candidate = "ev-" + base64.b32encode(digest).decode("ascii").lower()
        if candidate not in used:
            return candidate
        salt += 1


def assign(head_id: str, records: Sequence[Mapping[str, Any]], taken: Iterable[str] = ()) -> list[str | None]:
    """New ids for the records of one head type that lack one (None where a record already has an id).

    ``taken`` holds every id already used anywhere in the catalogue; ids given here are added to it as
    they are handed out, so a head type never receives the same id twice."""
    used = set(taken) | {str(r["id"]) for r in records if r.get("id")}
    seen: dict[str, int] = {}
    out: list[str | None] = []
    for r in records:
        key = _identity(head_id, r)
        rank = seen.get(key, 0)
        seen[key] = rank + 1
        if r.get("id"):
            out.append(None)
            continue
        found = new_id(head_id, r, used, rank=rank)
        used.add(found)
        out.append(found)
    return out


def head_verdict(record: Mapping[str, Any], layer: int, head: int) -> str | None:
    """The verdict the catalogue's own check gave this head of an evidence record (``checked.heads``), else the
    record's overall ``checked.verdict``; None while the claim has not been measured."""
    checked = record.get("checked")
    if not isinstance(checked, Mapping):
        return None
    for h in checked.get("heads") or []:
        loc = h.get("head") if isinstance(h, Mapping) else None
        if isinstance(loc, Mapping) and (loc.get("layer"), loc.get("head")) == (layer, head):
            return str(h.get("verdict")) if h.get("verdict") is not None else None
    verdict = checked.get("verdict")
    return str(verdict) if verdict is not None else None
