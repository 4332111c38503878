"""Chance baselines: what a check scores when a head's attention carries no information about content.

The null used for every attention-pattern check is **shuffled keys**: each query row of each head
keeps its own attention weights, but they are moved to a random permutation of the keys that row
may attend to (``k <= q`` in causal models, every key in encoders, never a padding key). When the
check names key groups (e.g. retrieval's needle positions), keys are permuted only within their
group, so the null of a head that attends to *some* needle token is a head that attends to a
*random* needle token: the baseline asks "does the head find the right one?", not merely "does
it look at the needle?". The baseline is computed on the same probe, with the same score
function, one draw per probe seed.

:func:`midpoint_threshold` turns a baseline into a pass mark when the defining paper gives none.
"""

from __future__ import annotations

from typing import Annotated

import torch

from catalogue.verify.patterns import Patterns

__all__ = ["midpoint_threshold", "shuffle_keys"]


def shuffle_keys(
    pattern: Patterns,
    *,
    causal: bool,
    generator: torch.Generator,
    groups: Annotated[torch.Tensor, "batch key"] | None = None,
    attention_mask: Annotated[torch.Tensor, "batch key"] | None = None,
) -> Patterns:
    """``pattern [L, H, B, Q, K]`` with each row's weights permuted among its allowed keys.

    One permutation per ``(batch, query)`` row, shared by all heads. ``groups [B, K]`` (ints >= 0)
    restricts each permutation to keys of the same group. Rows still sum to what they summed to.
    """
    _, _, b, q, k = pattern.shape
    allowed = torch.ones(b, q, k, dtype=torch.bool)
    if causal:
        allowed &= torch.ones(q, k, dtype=torch.bool).tril()[None]
    if attention_mask is not None:
        allowed &= attention_mask.bool()[:, None, :]
    label = (groups if groups is not None else torch.zeros(b, k, dtype=torch.long))[:, None, :].expand(b, q, k)
    big = int(label.max()) + 2
    label = torch.where(allowed, label.long(), big)  # forbidden keys form their own block and stay put
    span = k + 1
    key_index = torch.arange(k).expand(b, q, k)
    rand = torch.rand(b, q, k, generator=generator)
    # sort keys by (group, original index) and by (group, random): the i-th of each group maps to the i-th
    original = torch.argsort(label * span + key_index, dim=-1)
    shuffled = torch.argsort(label.double() * span + rand.double(), dim=-1)
    shuffled = torch.where(label.gather(-1, original) == big, original, shuffled)  # forbidden keys: identity
    src = original.expand(*pattern.shape[:2], b, q, k)
    dst = shuffled.expand(*pattern.shape[:2], b, q, k)
    return torch.zeros_like(pattern).scatter_(-1, dst, pattern.gather(-1, src))


def midpoint_threshold(chance: float, perfect: float) -> float:
    """Halfway from the chance baseline to a perfect head's score on the same probe.

    Used when the defining paper gives no threshold: a head must close at least half of the gap
    between chance and a head that does exactly what the definition says.
    """
    return chance + 0.5 * (perfect - chance)
