"""Duplicate-token heads: a token attends to earlier copies of itself.

Definition (Wang et al., 2022, IOI), scored exactly as TransformerLens 4.3
``detect_head(..., "duplicate_token_head")`` (``error_measure="mul"``): per sequence, the share of
all attention from ``q`` to earlier positions ``k < q`` holding the same token, averaged over
sequences, on the repeat probe (variable repeat lengths and starts). The extra ``target-rows``
is the catalogue's normalisation over rows that have an earlier copy only.

Run: ``python -m catalogue.verify.duplicate_token --model toy-induction``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, Run, same
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import TARGET_ROWS, TL_MUL, Patterns, Rows, Scores, Tokens, ideal_pattern, target_mass

__all__ = ["CHECK", "duplicate_token_detection", "duplicate_token_score"]


def duplicate_token_detection(tokens: Tokens) -> torch.Tensor:
    """``[batch, q, k]``: 1 where ``k < q`` and ``tokens[k] == tokens[q]``."""
    eq = tokens[:, :, None] == tokens[:, None, :]
    return torch.tril(eq, diagonal=-1).float()


def duplicate_token_score(pattern: Patterns, *, tokens: Tokens, rows: Rows = "all") -> Scores:
    """Attention to earlier copies of the current token, ``[n_layers, n_heads]``, in ``[0, 1]``."""
    return target_mass(pattern, duplicate_token_detection(tokens), rows=rows)


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return duplicate_token_score(run.patterns, tokens=run.probe.tokens)


def _target_rows(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return duplicate_token_score(run.patterns, tokens=run.probe.tokens, rows="with-target")


def _perfect(run: Run | None, model: LoadedModel) -> float:
    assert run is not None
    tokens = run.probe.tokens
    return float(duplicate_token_score(ideal_pattern(duplicate_token_detection(tokens)), tokens=tokens)[0, 0])


CHECK = Check(
    id="duplicate-token",
    title="duplicate-token head",
    metric="share of attention on earlier copies of the token (TransformerLens detect_head 'mul'; repeat probe)",
    threshold=None,
    reference="Wang et al. 2022 (IOI); TransformerLens 4.3 head_detector.py duplicate_token_head",
    cite="wang2022interpretability",
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
