"""Induction heads: at ``A`` in ``... A B ... A`` attend to ``B`` and copy it.

Attention (Olsson et al., 2022; TransformerLens ``induction_head``): the fraction of attention
from position ``q`` to positions ``k`` whose previous token equals ``tokens[q]`` (``k <= q``), on
random tokens repeated once; ``rows="all"`` equals TransformerLens ``detect_head(...,
"induction_head")``.

Copying (Elhage et al., 2021, "A Mathematical Framework"): the OV circuit
``W_E W_OV W_U`` maps a token to logits; a copying head raises the logit of the token it
attends to. The score is ``sum(eig) / sum(|eig|)`` (real parts) over the eigenvalues of that
circuit, in ``[-1, 1]``; positive means copying, negative means suppression.

Run: ``python -m catalogue.verify.induction --model toy-induction``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, NotApplicable, Run, same
from catalogue.verify.duplicate_token import duplicate_token_detection
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Rows, Scores, Tokens, target_mass

__all__ = ["CHECK", "copying_score", "induction_detection", "induction_score"]


def induction_detection(tokens: Tokens) -> torch.Tensor:
    """``[batch, q, k]``: 1 where ``1 <= k <= q`` and ``tokens[k - 1] == tokens[q]`` (``k - 1 < q``)."""
    dup = duplicate_token_detection(tokens)
    shifted = torch.zeros_like(dup)
    shifted[:, :, 1:] = dup[:, :, :-1]
    return torch.tril(shifted)


def induction_score(pattern: Patterns, *, tokens: Tokens, rows: Rows = "with-target") -> Scores:
    """Attention to the token after an earlier copy of the current token, ``[n_layers, n_heads]``."""
    return target_mass(pattern, induction_detection(tokens), rows=rows)


def copying_score(
    w_e: torch.Tensor,  # [d_vocab, d_model]
    w_v: torch.Tensor,  # [n_layers, n_heads, d_model, d_head]
    w_o: torch.Tensor,  # [n_layers, n_heads, d_head, d_model]
    w_u: torch.Tensor,  # [d_model, d_vocab]
) -> Scores:
    """Eigenvalue copying score of the full OV circuit ``W_E W_V W_O W_U``, ``[n_layers, n_heads]``.

    ``AB`` and ``BA`` share their non-zero eigenvalues, so those of the vocabulary-sized circuit
    are the eigenvalues of ``W_O (W_U W_E) W_V`` (``d_head x d_head``): nothing big is built.
    """
    ue = (w_u @ w_e).double()  # [d_model, d_model]
    eig = torch.linalg.eigvals(w_o.double() @ ue @ w_v.double())  # [L, H, d_head]
    score: torch.Tensor = eig.real.sum(-1) / eig.abs().sum(-1).clamp_min(1e-12)
    return score.float()


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return induction_score(run.patterns, tokens=run.probe.tokens)


def _copying(run: Run | None, model: LoadedModel) -> Scores:
    if model.ov is None:
        raise NotApplicable(f"{model.name} does not expose OV weights")
    return copying_score(*model.ov())


CHECK = Check(
    id="induction",
    title="induction head",
    metric="mean attention to the token after an earlier copy of the current token (repeated random tokens)",
    threshold=0.4,
    reference="Olsson et al. 2022; Elhage et al. 2021 (copying); TransformerLens head_detector induction_head",
    cite="olsson2022incontext",
    compute=_compute,
    probe=same("repeat"),
    extras={"copying": _copying},
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
