"""Head sets for experiments: the heads the catalogue records in a model, ready to hook, and where a head
type sits across models by relative depth. Reads the index only (no pydantic, no YAML).

:func:`known_heads` answers "the name movers of GPT-2 small, as something I can ablate"::

    >>> from catalogue import known_heads
    >>> [(r["layer"], r["head"], r["tl_hook_z"]) for r in known_heads("gpt2-small", "name-mover-head")][:1]
    [(9, 6, 'blocks.9.attn.hook_z')]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from catalogue.addressing import depth_band, head_address, relative_depth
from catalogue.errors import UsageError
from catalogue.evidence_ids import head_verdict
from catalogue.index import Index
from catalogue.numbering import Resolution, head_id
from catalogue.paths import data_paths
from catalogue.query import resolve_model, show
from catalogue.vocab import format_location

__all__ = ["KNOWN_HEAD_FIELDS", "STATUSES", "compare", "identify", "known_heads", "known_heads_in"]

Record = dict[str, Any]

#: What ``status=`` selects: current claims (the default), withdrawn ones, or both.
STATUSES = ("current", "withdrawn", "all")

#: The fields of a :func:`known_heads` record, in order (also the CSV columns).
KNOWN_HEAD_FIELDS = (
    "model",
    "layer",
    "head",
    "location",
    "head_type",
    "evidence_id",
    "status",
    "cite",
    "method",
    "source_kind",
    "verdict",
    "tl_hook_z",
    "tl_hook_pattern",
    "tl_head_index",
    "hf_module",
    "hf_output_projection",
    "kv_head",
)


def known_heads(
    model: str,
    head_type: str | None = None,
    *,
    status: str | None = None,
    data: str | Path | None = None,
    cache: str | Path | None = None,
) -> list[Record]:
    """One record per recorded head of ``model`` (a registry id or Hugging Face id): a head placed by one
    evidence record as one head type. Filter by ``head_type`` (id, name or alias) and by ``status``
    (``"current"``, the default: claims not withdrawn; ``"withdrawn"``; ``"all"``).

    Each record (keys :data:`KNOWN_HEAD_FIELDS`) holds:

    - ``layer``, ``head``: 0-indexed; ``location``: ``L<layer>H<head>``;
    - ``head_type``, ``evidence_id`` (permanent, ``ev-...``), ``status``, ``cite``, ``method``,
      ``source_kind`` (None until the data records it) and ``verdict``: what the catalogue's own check
      found for this head (``checked`` in the record: confirmed, below-threshold, contradicted), None while
      the claim is unmeasured;
    - TransformerLens: ``tl_hook_z`` (``blocks.L.attn.hook_z``, activations [batch, pos, head_index, d_head])
      with ``tl_head_index`` (index dim 2 with it) and ``tl_hook_pattern`` ([batch, head_index, q, k]);
    - Hugging Face: ``hf_module`` (the attention module, e.g. ``transformer.h.9.attn``),
      ``hf_output_projection`` (the linear layer whose input holds the heads side by side: head ``h`` is
      columns ``h * d_head : (h + 1) * d_head`` of it, ``d_head`` from the model's config); None where the
      architecture of the model's family is not known (:data:`catalogue.addressing.HF_LAYOUTS`);
    - ``kv_head``: the key/value head this query head reads (grouped-query attention); None where the model's
      ``kv_heads`` is not recorded.

    Sorted by layer, head, head type and evidence order. Raises
    :class:`~catalogue.errors.UnknownModelError` / :class:`~catalogue.errors.UnknownHeadError` (with close
    matches) or :class:`~catalogue.errors.UsageError` for a bad ``status``."""
    index = Index.open(data_paths(data), cache=cache)
    try:
        return known_heads_in(index, model, head_type, status=status)
    finally:
        index.dispose()


def known_heads_in(
    index: Index, model: str, head_type: str | None = None, *, status: str | None = None
) -> list[Record]:
    """:func:`known_heads` on an open index."""
    wanted = (status or "current").strip().lower()
    if wanted not in STATUSES:
        raise UsageError(f"status {status!r} is not one of: {', '.join(STATUSES)}")
    m = resolve_model(model, index)
    sql = "SELECT e.head_id, e.ordinal, h.data FROM evidence e JOIN head h ON h.id = e.head_id WHERE e.model = ?"
    params: tuple[object, ...] = (m["id"],)
    if head_type is not None:
        sql += " AND e.head_id = ?"
        params += (show(index, head_type)["id"],)
    heads: dict[str, Record] = {}
    out: list[tuple[tuple[int, int, str, int], Record]] = []
    for hid, ordinal, data in index.raw(sql, params):
        head = heads.setdefault(str(hid), json.loads(str(data)))
        ev = head["evidence"][int(ordinal)]
        state = "withdrawn" if ev.get("deprecated") else "current"
        if wanted != "all" and state != wanted:
            continue
        for loc in ev.get("locations") or []:
            layer, h = int(loc["layer"]), int(loc["head"])
            out.append(((layer, h, str(hid), int(ordinal)), _record(m, layer, h, str(hid), ev, state)))
    return [r for _, r in sorted(out, key=lambda x: x[0])]


def _record(m: Record, layer: int, head: int, head_type: str, ev: Record, state: str) -> Record:
    return {
        "model": m["id"],
        "layer": layer,
        "head": head,
        "location": format_location(layer, head),
        "head_type": head_type,
        "evidence_id": ev.get("id"),
        "status": state,
        "cite": ev["cite"],
        "method": ev["method"],
        "source_kind": ev.get("source_kind"),
        "verdict": head_verdict(ev, layer, head),
        **head_address(m, layer, head),
    }


def compare(index: Index, head_type: str) -> tuple[Record, list[Record]]:
    """Where a head type sits in every model with located (current) evidence, by relative depth.

    Returns the head type and one row per model and layer: ``model``, ``layers`` (the model's depth),
    ``layer``, ``relative_depth`` (``layer / layers``, rounded to 3 places), ``band`` (the survey's shallow /
    middle / deep, as thirds: :func:`catalogue.addressing.depth_band`) and ``heads`` (``L9H6 L9H9``), sorted
    by model then layer. Models whose depth is not recorded are left out (their depth is unknown)."""
    h = show(index, head_type)
    rows = index.raw(
        "SELECT DISTINCT e.model, l.layer, l.head, m.data FROM location l JOIN evidence e ON e.id = l.evidence_id "
        "JOIN model m ON m.id = e.model WHERE e.head_id = ? ORDER BY e.model, l.layer, l.head",
        (h["id"],),
    )
    by_layer: dict[tuple[str, int], tuple[int, list[str]]] = {}
    for model, layer, head, data in rows:
        n = json.loads(str(data)).get("layers")
        if not n:
            continue
        by_layer.setdefault((str(model), int(layer)), (int(n), []))[1].append(format_location(int(layer), int(head)))
    out = [
        {
            "model": model,
            "layers": n,
            "layer": layer,
            "relative_depth": round(relative_depth(layer, n), 3),
            "band": depth_band(layer, n),
            "heads": " ".join(heads),
        }
        for (model, layer), (n, heads) in sorted(by_layer.items())
    ]
    return h, out


def identify(index: Index, text: str, *, model: str | None = None, convention: str | None = None) -> Resolution:
    """A paper's head numbering as canonical heads (:func:`catalogue.numbering.head_id`), checked against the
    size of ``model`` (registry id or Hugging Face id) when given. Raises
    :class:`~catalogue.errors.UsageError` when the text cannot be read or no reading fits."""
    layers = heads = None
    if model is not None:
        m = resolve_model(model, index)
        layers, heads = m.get("layers"), m.get("heads")
    try:
        return head_id(text, convention=convention, layers=layers, heads=heads)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
