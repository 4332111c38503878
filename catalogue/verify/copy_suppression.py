"""Copy-suppression (negative) heads: lower the logit of the token they attend to.

Definition (McDougall et al., 2023, "Copy Suppression: Comprehensively Understanding an
Attention Head", section 3.1): push each token's embedding through the head's OV circuit and
the unembedding; the head suppresses the token if the token itself is among the ``k = 10`` most
negative logits of the whole vocabulary (their code: ``ov_head_impact``, bottom 10). The score is
the fraction of tokens suppressed, over 64 tokens drawn from the model's probe pool (McDougall et
al. use the whole vocabulary; a sample keeps a 270-head scan to seconds). As they do, the
circuit starts from the effective embedding (first block, MLP0 included) and ends in the
unembedding with the final norm folded in (:mod:`catalogue.verify.weights`); it runs only on
models with an LM head. Chance: a random ranking puts a token among its ``k`` lowest with
probability ``k / d_vocab``; the pass mark is the midpoint between that and 1.

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
    emb = w_e[token_ids]  # [n, d_model]
    out_h = torch.einsum("nd,lhde,lhef->lhnf", emb, w_v, w_o)  # [L, H, n, d_model]
    own_u = w_u[:, token_ids]  # [d_model, n]
    own = torch.einsum("lhnf,fn->lhn", out_h, own_u)  # each token's own logit
    below = torch.zeros(n_layers, n_heads, len(token_ids), dtype=torch.long)
    for start in range(0, w_u.shape[1], 8192):  # logits a chunk of the vocabulary at a time
        logits = out_h @ w_u[:, start : start + 8192]  # [L, H, n, chunk]
        below += (logits < own[..., None]).sum(-1)
    return (below < k).float().mean(-1)


#: tokens sampled from the probe pool
N_TOKENS = 64


def _k(model: LoadedModel) -> int:
    return 10 if model.vocab_size >= 1000 else max(1, model.vocab_size // 20)


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    if model.ov is None:
        raise NotApplicable(f"{model.name} has no LM head: the weight checks read the unembedding")
    pool = model.pool
    if len(pool) < 8:
        raise NotApplicable(f"{model.name} has too few ordinary tokens ({len(pool)}) to rank")
    g = torch.Generator().manual_seed(0)
    ids = pool[torch.randperm(len(pool), generator=g)[:N_TOKENS]].sort().values
    return copy_suppression_score(*model.ov(ids), token_ids=ids, k=_k(model))


def _chance(run: Run | None, model: LoadedModel) -> Scores:
    if model.ov is None:
        raise NotApplicable(f"{model.name} has no LM head: the weight checks read the unembedding")
    return torch.full((len(model.layer_ids), model.n_heads), _k(model) / model.vocab_size)


CHECK = Check(
    id="copy-suppression",
    title="copy-suppression (negative) head",
    metric="share of tokens whose OV output puts the token itself among the 10 most suppressed",
    threshold=None,
    chance=_chance,
    normalisation="share of tokens in their own bottom-10 logits (McDougall et al. 2023)",
    script_version="2",
    reference="McDougall et al. 2023, section 3.1",
    cite="mcdougall2023copy",
    compute=_compute,
    probe=lambda _model: None,
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
