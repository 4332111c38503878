"""Previous-token heads: each token attends to the token just before it.

Definition (Elhage et al., 2021; Olsson et al., 2022; TransformerLens ``previous_token_head``):
the fraction of a head's attention that goes from position ``q`` to position ``q - 1``, on
sequences of random tokens repeated once. With ``rows="all"`` the score equals
TransformerLens ``detect_head(model, seqs, "previous_token_head")``.

Run: ``python -m catalogue.verify.previous_token --model toy-induction``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, Run, same
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Rows, Scores, target_mass

__all__ = ["CHECK", "previous_token_detection", "previous_token_score"]


def previous_token_detection(batch: int, seq_len: int) -> torch.Tensor:
    """The 0/1 detection pattern ``[batch, q, k]``: 1 where ``k == q - 1``."""
    return torch.ones(seq_len - 1).diag(-1).expand(batch, seq_len, seq_len)


def previous_token_score(pattern: Patterns, *, rows: Rows = "with-target") -> Scores:
    """Attention from each token to the one before it, ``[n_layers, n_heads]``, in ``[0, 1]``."""
    b, q = pattern.shape[2], pattern.shape[3]
    return target_mass(pattern, previous_token_detection(b, q), rows=rows)


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return previous_token_score(run.patterns)


CHECK = Check(
    id="previous-token",
    title="previous-token head",
    metric="mean attention to the previous token (repeated random tokens)",
    threshold=0.4,
    reference="Olsson et al. 2022; TransformerLens head_detector previous_token_head",
    cite="olsson2022incontext",
    compute=_compute,
    probe=same("repeat"),
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
