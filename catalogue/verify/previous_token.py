"""Previous-token heads: each token attends to the token just before it.

Definition (Elhage et al., 2021; Olsson et al., 2022), scored exactly as TransformerLens 4.3
``detect_head(model, seqs, "previous_token_head")`` (``error_measure="mul"``): per sequence, the
share of all attention that goes from ``q`` to ``q - 1``, averaged over sequences. Rows count in
the denominator even when they have no target (query 0), as in TransformerLens. The extra
``target-rows`` is the catalogue's own normalisation over rows with a target only.

Run: ``python -m catalogue.verify.previous_token --model toy-induction``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, Run, same
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import TARGET_ROWS, TL_MUL, Patterns, Rows, Scores, ideal_pattern, target_mass

__all__ = ["CHECK", "previous_token_detection", "previous_token_score"]


def previous_token_detection(batch: int, seq_len: int) -> torch.Tensor:
    """The 0/1 detection pattern ``[batch, q, k]``: 1 where ``k == q - 1``."""
    return torch.ones(seq_len - 1).diag(-1).expand(batch, seq_len, seq_len)


def previous_token_score(pattern: Patterns, *, rows: Rows = "all") -> Scores:
    """Attention from each token to the one before it, ``[n_layers, n_heads]``, in ``[0, 1]``
    (``rows="all"``: TransformerLens's normalisation; see :func:`catalogue.verify.patterns.target_mass`)."""
    b, q = pattern.shape[2], pattern.shape[3]
    return target_mass(pattern, previous_token_detection(b, q), rows=rows)


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return previous_token_score(run.patterns)


def _target_rows(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return previous_token_score(run.patterns, rows="with-target")


def _perfect(run: Run | None, model: LoadedModel) -> float:
    assert run is not None
    b, q = run.probe.tokens.shape
    return float(previous_token_score(ideal_pattern(previous_token_detection(b, q)))[0, 0])


CHECK = Check(
    id="previous-token",
    title="previous-token head",
    metric="share of attention on the previous token (TransformerLens detect_head 'mul'; repeat probe)",
    threshold=None,
    reference="Olsson et al. 2022; TransformerLens 4.3 head_detector.py previous_token_head",
    cite="olsson2022incontext",
    compute=_compute,
    probe=same("repeat"),
    normalisation=TL_MUL,
    perfect=_perfect,
    extras={TARGET_ROWS: _target_rows},
    script_version="2",
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
