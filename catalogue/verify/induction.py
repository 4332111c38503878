"""Induction heads: at ``A`` in ``... A B ... A`` attend to ``B`` and copy it.

Attention (Olsson et al., 2022), scored exactly as TransformerLens 4.3 ``detect_head(...,
"induction_head")`` (``error_measure="mul"``): per sequence, the share of all attention from ``q``
to keys ``k <= q`` whose previous token equals ``tokens[q]``, averaged over sequences, on the
repeat probe (repeat lengths and starts vary per row, so a head at a fixed offset fails). The
extra ``target-rows`` is the catalogue's normalisation over rows with a target only.

Copying (Elhage et al., 2021, "A Mathematical Framework"; Olsson et al., 2022 use it for
induction heads): the full OV circuit maps a token to logits; a copying head raises the logit of
the token it attends to. The score is ``sum(eig) / sum(|eig|)`` (real parts) over the eigenvalues
of that circuit, in ``[-1, 1]``; positive means copying, negative means suppression. The circuit
is ``W_EE W_V W_O W_U`` with the effective embedding and folded norms of
:mod:`catalogue.verify.weights`; only models with an LM head have one.

Run: ``python -m catalogue.verify.induction --model toy-induction``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, NotApplicable, Run, same
from catalogue.verify.duplicate_token import duplicate_token_detection
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import TARGET_ROWS, TL_MUL, Patterns, Rows, Scores, Tokens, ideal_pattern, target_mass

__all__ = ["CHECK", "copying_score", "induction_detection", "induction_score"]


def induction_detection(tokens: Tokens) -> torch.Tensor:
    """``[batch, q, k]``: 1 where ``1 <= k <= q`` and ``tokens[k - 1] == tokens[q]`` (``k - 1 < q``)."""
    dup = duplicate_token_detection(tokens)
    shifted = torch.zeros_like(dup)
    shifted[:, :, 1:] = dup[:, :, :-1]
    return torch.tril(shifted)


def induction_score(pattern: Patterns, *, tokens: Tokens, rows: Rows = "all") -> Scores:
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


def _target_rows(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return induction_score(run.patterns, tokens=run.probe.tokens, rows="with-target")


def _perfect(run: Run | None, model: LoadedModel) -> float:
    assert run is not None
    tokens = run.probe.tokens
    return float(induction_score(ideal_pattern(induction_detection(tokens)), tokens=tokens)[0, 0])


def _copying(run: Run | None, model: LoadedModel) -> Scores:
    if model.ov is None:
        raise NotApplicable(f"{model.name} does not expose OV weights")
    return copying_score(*model.ov(None))


CHECK = Check(
    id="induction",
    title="induction head",
    metric="share of attention on the token after an earlier copy (TransformerLens detect_head 'mul'; repeat probe)",
    threshold=None,
    reference="Olsson et al. 2022; Elhage et al. 2021 (copying); TransformerLens 4.3 head_detector.py induction_head",
    cite="olsson2022incontext",
    compute=_compute,
    probe=same("repeat"),
    normalisation=TL_MUL,
    perfect=_perfect,
    extras={TARGET_ROWS: _target_rows, "copying": _copying},
    script_version="2",
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
