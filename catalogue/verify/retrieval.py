"""Retrieval heads: copy-paste a token from the context (the needle) into the output.

Definition (Wu et al., 2024, "Retrieval Head Mechanistically Explains Long-Context
Factuality", section 2, eq. 1): when the model emits a token ``w`` that it must copy from the
needle ``k``, head ``h`` performs a copy-paste if its most-attended key is a needle position
holding ``w``; with ``g_h`` the set of tokens the head copy-pasted, the retrieval score is
``|g_h| / |k|``. Here decoding is teacher-forced: at every query whose correct next token is a
needle token, the model's top-1 prediction must be that token (the model copies), and the
head's argmax key must hold it. Wu et al. call heads above 0.1 retrieval heads.

The needle is the key-value context of ``toy-retrieval`` (10 pairs), or for other causal
language models a 10-token needle hidden at a random depth of a 100-token prose haystack and
then repeated (the ``needle`` probe; masked models do not generate: not applicable). The chance
baseline moves each head's attention among the needle's own keys (shuffled keys within the
needle): a head that looks at *a* needle token but not the one being copied scores chance.
Wu et al.'s 0.1 holds on the needle probe (their set-up), raised to that baseline where the
baseline is higher; on the short repeat and key-value probes (a head pointing at a random one
of 10 values scores about 0.1 there) the threshold is derived from the baseline instead.

Run: ``python -m catalogue.verify.retrieval --model toy-retrieval``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, NotApplicable, Run, need_target
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Scores, Tokens
from catalogue.verify.probes import HAYSTACK_LEN, NEEDLE_LEN, ProbeName

#: context a model needs for the needle probe; shorter ones (toy models) read the repeat probe
NEEDLE_CONTEXT = HAYSTACK_LEN + 2 * NEEDLE_LEN + 2

__all__ = ["CHECK", "retrieval_score"]


def retrieval_score(
    pattern: Patterns,
    *,
    tokens: Tokens,
    predictions: torch.Tensor,  # [batch, q]: the model's top-1 next token
    copy_source: torch.Tensor,  # [batch, q]: needle position holding the correct next token, or -1
    needle: torch.Tensor,  # [batch, pos]: 1 on needle positions
) -> Scores:
    """Wu et al.'s retrieval score, ``[n_layers, n_heads]``, in ``[0, 1]``."""
    steps = copy_source >= 0
    src_tok = tokens.gather(1, copy_source.clamp_min(0))
    copies = steps & (predictions == src_tok)  # the model copy-pastes a needle token here
    top = pattern.argmax(-1)  # [L, H, B, Q]
    top_tok = tokens[torch.arange(tokens.shape[0])[:, None], top]  # [L, H, B, Q]
    in_needle = needle[torch.arange(tokens.shape[0])[:, None], top] > 0
    hit = copies & (top_tok == predictions) & in_needle
    return hit.sum((-1, -2)).float() / steps.sum().clamp_min(1)


def _probe(model: LoadedModel) -> ProbeName | None:
    if model.toy_task == "retrieval":
        return "kv-recall"
    if not model.causal:
        raise NotApplicable(f"{model.name} is not a causal LM: retrieval scores need generation")
    if not model.has_lm_head:
        raise NotApplicable(f"{model.name} has no LM head (no logits): retrieval scores need generation")
    return "needle" if model.n_ctx >= NEEDLE_CONTEXT else "repeat"  # tiny contexts: the repeat probe


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    if run.logits is None:
        raise NotApplicable(f"{model.name} has no LM head (no logits): retrieval scores need generation")
    return retrieval_score(
        run.patterns,
        tokens=run.probe.tokens,
        predictions=run.logits.argmax(-1),
        copy_source=need_target(run, "copy_source"),
        needle=need_target(run, "needle"),
    )


CHECK = Check(
    id="retrieval",
    title="retrieval head",
    metric="Wu et al. 2024 retrieval score: share of needle tokens the head copy-pastes (argmax attention)",
    threshold=0.1,
    threshold_source="Wu et al. 2024, section 2 (heads with retrieval score > 0.1)",
    paper_probes=("needle",),
    reference="Wu et al. 2024, eq. 1",
    cite="wu2024retrieval",
    compute=_compute,
    probe=_probe,
    needs_logits=True,
    normalisation="Wu et al. 2024 eq. 1 (teacher-forced, argmax attention)",
    null_groups="needle",
    script_version="2",
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
