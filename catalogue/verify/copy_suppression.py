"""Copy-suppression (negative) heads: lower the logit of the token they attend to.

Definition (McDougall et al., 2023, "Copy Suppression: Comprehensively Understanding an
Attention Head", section 3.1): push each token's embedding through the head's OV circuit and
the unembedding; the head suppresses the token if the token itself is among the ``k = 10`` most
negative logits of the whole vocabulary. The score is the fraction of (sampled ordinary) tokens
suppressed. McDougall et al. use the effective embedding after MLP0; this uses ``W_E``.

Run: ``python -m catalogue.verify.copy_suppression --model all-minilm-l6-v2``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, NotApplicable, Run
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Scores

__all__ = ["CHECK", "copy_suppression_score"]


def copy_suppression_score(
    w_e: torch.Tensor,  # [d_vocab, d_model]
    w_v: torch.Tensor,  # [n_layers, n_heads, d_model, d_head]
    w_o: torch.Tensor,  # [n_layers, n_heads, d_head, d_model]
    w_u: torch.Tensor,  # [d_model, d_vocab]
    *,
    token_ids: torch.Tensor,  # [n]
    k: int = 10,
) -> Scores:
    """Fraction of ``token_ids`` whose own logit is among the ``k`` lowest, ``[n_layers, n_heads]``."""
    n_layers, n_heads = w_v.shape[:2]
    out = torch.zeros(n_layers, n_heads)
    emb = w_e[token_ids]  # [n, d_model]
    for layer in range(n_layers):
        for head in range(n_heads):
            # low rank first: [n, d_head] @ [d_head, d_vocab]
            logits = (emb @ w_v[layer, head]) @ (w_o[layer, head] @ w_u)  # [n, d_vocab]
            own = logits.gather(1, token_ids[:, None])
            below = (logits < own).sum(-1)
            out[layer, head] = (below < k).float().mean()
    return out


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    if model.ov is None:
        raise NotApplicable(f"{model.name} does not expose OV weights")
    lo, hi = model.token_range
    if hi - lo < 8:
        raise NotApplicable(f"{model.name} has too few ordinary tokens ({hi - lo}) to rank")
    g = torch.Generator().manual_seed(0)
    ids = torch.unique(torch.randint(lo, hi, (min(100, hi - lo),), generator=g))
    k = 10 if model.vocab_size >= 1000 else max(1, model.vocab_size // 20)
    return copy_suppression_score(*model.ov(), token_ids=ids, k=k)


CHECK = Check(
    id="copy-suppression",
    title="copy-suppression (negative) head",
    metric="share of tokens whose OV output puts the token itself among the 10 most suppressed",
    threshold=0.5,
    reference="McDougall et al. 2023, section 3.1",
    cite="mcdougall2023copy",
    compute=_compute,
    probe=lambda _model: None,
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
