"""Positional heads: attention fixed at one relative position (usually the previous or next token).

Definition (Voita et al., 2019, "Analyzing Multi-Head Self-Attention", section 4.2): a head is
positional if at least 90% of the time its maximum attention weight is assigned to one specific
relative position (in practice -1 or +1). The score is, over offsets ``d`` in
``[-max_offset, max_offset] \\ {0}``, the largest fraction of queries whose most-attended key is
``q + d`` (queries for which ``q + d`` does not exist are left out for that offset).
:func:`positional_offset` gives the winning ``d``. Run on natural text.

Run: ``python -m catalogue.verify.positional --model all-minilm-l6-v2``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, Run, same
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Scores

__all__ = ["CHECK", "positional_offset", "positional_score", "positional_scores_by_offset"]


def positional_scores_by_offset(pattern: Patterns, *, max_offset: int = 3) -> tuple[torch.Tensor, list[int]]:
    """Per-offset argmax fractions ``[n_offsets, n_layers, n_heads]`` and the offsets."""
    q_len = pattern.shape[3]
    top = pattern.argmax(-1)  # [L, H, B, Q]
    q = torch.arange(q_len)
    offsets = [d for d in range(-max_offset, max_offset + 1) if d != 0]
    out = []
    for d in offsets:
        valid = (q + d >= 0) & (q + d < q_len)
        hit = (top == q + d) & valid
        out.append(hit.sum((-1, -2)).float() / (valid.sum() * pattern.shape[2]).clamp_min(1))
    return torch.stack(out), offsets


def positional_score(pattern: Patterns, *, max_offset: int = 3) -> Scores:
    """Largest fraction of queries whose argmax key sits at one fixed offset, ``[n_layers, n_heads]``."""
    scores, _ = positional_scores_by_offset(pattern, max_offset=max_offset)
    return scores.max(0).values


def positional_offset(pattern: Patterns, *, max_offset: int = 3) -> torch.Tensor:
    """The relative offset each head prefers, ``[n_layers, n_heads]`` (int)."""
    scores, offsets = positional_scores_by_offset(pattern, max_offset=max_offset)
    return torch.tensor(offsets)[scores.argmax(0)]


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return positional_score(run.patterns)


def _offset(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return positional_offset(run.patterns).float()


CHECK = Check(
    id="positional",
    title="positional head",
    metric="fraction of queries whose most-attended key is at one fixed relative position (natural text)",
    threshold=0.9,
    threshold_source="Voita et al. 2019, section 4.2 (at least 90% of the time)",
    normalisation="argmax fraction at the best offset (Voita et al. 2019)",
    script_version="2",
    reference="Voita et al. 2019, section 4.2",
    cite="voita2019analyzing",
    compute=_compute,
    probe=same("text"),
    extras={"offset": _offset},
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
