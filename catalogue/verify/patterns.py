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
    "TARGET_ROWS",
    "TL_MUL",
    "Patterns",
    "Rows",
    "Scores",
    "Tokens",
    "argmax_fraction",
    "ideal_pattern",
    "pointer_mass",
    "target_mass",
]

#: Attention probabilities, ``[n_layers, n_heads, batch, query, key]``.
Patterns = Annotated[torch.Tensor, "n_layers n_heads batch query key"]
#: One score per head, ``[n_layers, n_heads]``.
Scores = Annotated[torch.Tensor, "n_layers n_heads"]
#: Token ids, ``[batch, pos]``.
Tokens = Annotated[torch.Tensor, "batch pos"]
#: Which query rows to average over. ``"all"`` (default): every row, exactly TransformerLens
#: ``compute_head_attention_similarity_score(error_measure="mul")`` per sequence, then the mean
#: over sequences as ``detect_head`` does for a list of prompts. ``"with-target"``: only rows whose
#: detection pattern has a 1 (the catalogue's "target-row mean", a different normalisation: a
#: perfect head scores 1 whatever the share of rows with a target).
Rows = Literal["all", "with-target"]

#: The normalisation names reported beside scores.
TL_MUL = "TransformerLens detect_head(error_measure='mul')"
TARGET_ROWS = "target-row mean (catalogue)"


def target_mass(
    pattern: Patterns,
    detection: Annotated[torch.Tensor, "batch query key"],
    *,
    rows: Rows = "all",
    exclude_bos: bool = False,
    exclude_current_token: bool = False,
) -> Scores:
    """Fraction of attention on the keys marked 1 in ``detection``, ``[n_layers, n_heads]``, in [0, 1].

    With ``rows="all"`` this is TransformerLens 4.3 ``head_detector.py``: per sequence,
    ``sum(pattern * detection) / sum(pattern)`` after zeroing key 0 (``exclude_bos``) and the
    diagonal (``exclude_current_token``), then the mean over sequences (``detect_head`` on a list
    of prompts). Rows without a target count in the denominator, so a perfect head scores the
    share of rows that have one.
    """
    det = detection.to(pattern.dtype)
    if exclude_bos or exclude_current_token:
        pattern = pattern.clone()
        if exclude_bos:
            pattern[..., 0] = 0
        if exclude_current_token:
            pattern.diagonal(dim1=-2, dim2=-1).zero_()
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


def ideal_pattern(detection: Annotated[torch.Tensor, "batch query key"]) -> Patterns:
    """``[1, 1, batch, q, k]``: a head that spreads each row evenly over its targets (rows without
    one attend to themselves). Scoring it gives the best score possible on the probe."""
    det = detection.float()
    has = det.sum(-1, keepdim=True) > 0
    eye = torch.eye(det.shape[-1])[None].expand_as(det)
    rows = torch.where(has, det / det.sum(-1, keepdim=True).clamp_min(1), eye)
    return rows[None, None]


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
