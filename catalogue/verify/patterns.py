"""Shared tensor vocabulary of the score functions: shape aliases and three reductions.

Every score in :mod:`catalogue.verify` reduces attention patterns of shape
``(n_layers, n_heads, batch, query, key)`` (softmax-normalised over ``key``) to a
``(n_layers, n_heads)`` score tensor, as TransformerLens ``head_detector.py`` does
for one head at a time. The three reductions here are the building blocks:

* :func:`target_mass`: attention a query pays to a set of target keys (a 0/1 detection
  pattern), TransformerLens's ``"mul"`` error measure;
* :func:`argmax_fraction`: how often a query's most-attended key is its target
  (Voita et al., 2019 use this for positional and rare-word heads);
* :func:`pointer_mass`: attention to one target key per query.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch

__all__ = [
    "Patterns",
    "Rows",
    "Scores",
    "Tokens",
    "argmax_fraction",
    "pointer_mass",
    "target_mass",
]

#: Attention probabilities, ``[n_layers, n_heads, batch, query, key]``.
Patterns = Annotated[torch.Tensor, "n_layers n_heads batch query key"]
#: One score per head, ``[n_layers, n_heads]``.
Scores = Annotated[torch.Tensor, "n_layers n_heads"]
#: Token ids, ``[batch, pos]``.
Tokens = Annotated[torch.Tensor, "batch pos"]
#: Which query rows to average over. ``"with-target"`` (default): rows whose detection
#: pattern has a 1, so a perfect head scores 1. ``"all"``: every row, exactly as
#: TransformerLens ``compute_head_attention_similarity_score(error_measure="mul")``.
Rows = Literal["with-target", "all"]


def target_mass(
    pattern: Patterns,
    detection: Annotated[torch.Tensor, "batch query key"],
    *,
    rows: Rows = "with-target",
) -> Scores:
    """Fraction of attention on the keys marked 1 in ``detection``, averaged over rows and batch.

    With ``rows="all"`` this is TransformerLens's ``"mul"`` measure
    ``sum(pattern * detection) / sum(pattern)`` per sequence, then the mean over the batch
    (``detect_head`` with a list of prompts averages the same way).
    """
    det = detection.to(pattern.dtype)
    hit = torch.einsum("lhbqk,bqk->lhbq", pattern, det)  # [L, H, B, Q]
    if rows == "all":
        per_seq = hit.sum(-1) / pattern.sum((-1, -2))
        return per_seq.mean(-1)
    has = (det.sum(-1) > 0).to(pattern.dtype)  # [B, Q]
    num = (hit * has).sum(-1)
    den = (pattern.sum(-1) * has).sum(-1)
    per_seq = num / den.clamp_min(torch.finfo(pattern.dtype).tiny)
    valid = (has.sum(-1) > 0).to(pattern.dtype)  # sequences with at least one target row
    return (per_seq * valid).sum(-1) / valid.sum().clamp_min(1)


def argmax_fraction(
    pattern: Patterns,
    target: Annotated[torch.Tensor, "batch query"],
) -> Scores:
    """Fraction of queries whose most-attended key is ``target[b, q]`` (queries with target -1 skipped)."""
    valid = target >= 0
    top = pattern.argmax(-1)  # [L, H, B, Q]
    hit = (top == target) & valid
    return hit.sum((-1, -2)).to(pattern.dtype) / valid.sum().clamp_min(1)


def pointer_mass(
    pattern: Patterns,
    target: Annotated[torch.Tensor, "batch query"],
) -> Scores:
    """Mean attention a query pays to its single key ``target[b, q]`` (queries with target -1 skipped)."""
    valid = target >= 0
    idx = target.clamp_min(0)[None, None, :, :, None].expand(*pattern.shape[:-1], 1)
    mass = pattern.gather(-1, idx).squeeze(-1)  # [L, H, B, Q]
    return (mass * valid).sum((-1, -2)) / valid.sum().clamp_min(1)
