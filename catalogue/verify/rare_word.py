"""Rare-word heads: attention goes to the least frequent token of the sentence.

Definition (Voita et al., 2019, section 4.3): the fraction of queries whose maximum attention
is on the rarest token of the sentence. The probe writes sentences of frequent English words
(wordfreq Zipf frequency >= 5) with one rare word (Zipf < 3) inserted, each a single token of the
model's tokenizer (frequencies from the ``wordfreq`` package, not from token ids). Queries that
cannot see the rare token, and the rare token itself, are left out. Voita et al. give no numeric
threshold for this role: the pass mark is derived from the shuffled-keys chance baseline.

Run: ``python -m catalogue.verify.rare_word --model all-minilm-l6-v2``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, NotApplicable, Run, need_target
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Scores, argmax_fraction
from catalogue.verify.probes import ProbeName

__all__ = ["CHECK", "rare_word_score"]


def rare_word_score(pattern: Patterns, *, rare: torch.Tensor) -> Scores:
    """Fraction of queries whose argmax key is the rare token (``rare [batch, q]``: its position or -1)."""
    return argmax_fraction(pattern, rare)


def _probe(model: LoadedModel) -> ProbeName | None:
    if model.tokenizer is None:
        raise NotApplicable(f"{model.name} has no tokenizer, so no word frequencies")
    return "rare"


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return rare_word_score(run.patterns, rare=need_target(run, "rare"))


CHECK = Check(
    id="rare-word",
    title="rare-words head",
    metric="fraction of queries whose most-attended key is the sentence's rare word",
    threshold=None,
    normalisation="argmax fraction on the rare word (wordfreq Zipf < 3)",
    script_version="2",
    reference="Voita et al. 2019, section 4.3",
    cite="voita2019analyzing",
    compute=_compute,
    probe=_probe,
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
