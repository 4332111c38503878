"""Duplicate-token heads: a token attends to earlier copies of itself.

Definition (Wang et al., 2022, IOI; TransformerLens ``duplicate_token_head``): the fraction of
attention from position ``q`` to earlier positions ``k < q`` holding the same token, on random
tokens repeated once (rows without an earlier copy are skipped unless ``rows="all"``, which
equals TransformerLens ``detect_head(..., "duplicate_token_head")``).

Run: ``python -m catalogue.verify.duplicate_token --model toy-induction``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, Run, same
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Rows, Scores, Tokens, target_mass

__all__ = ["CHECK", "duplicate_token_detection", "duplicate_token_score"]


def duplicate_token_detection(tokens: Tokens) -> torch.Tensor:
    """``[batch, q, k]``: 1 where ``k < q`` and ``tokens[k] == tokens[q]``."""
    eq = tokens[:, :, None] == tokens[:, None, :]
    return torch.tril(eq, diagonal=-1).float()


def duplicate_token_score(pattern: Patterns, *, tokens: Tokens, rows: Rows = "with-target") -> Scores:
    """Attention to earlier copies of the current token, ``[n_layers, n_heads]``, in ``[0, 1]``."""
    return target_mass(pattern, duplicate_token_detection(tokens), rows=rows)


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return duplicate_token_score(run.patterns, tokens=run.probe.tokens)


CHECK = Check(
    id="duplicate-token",
    title="duplicate-token head",
    metric="mean attention to earlier copies of the current token (repeated random tokens)",
    threshold=0.4,
    reference="Wang et al. 2022 (IOI); TransformerLens head_detector duplicate_token_head",
    cite="wang2022interpretability",
    compute=_compute,
    probe=same("repeat"),
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
