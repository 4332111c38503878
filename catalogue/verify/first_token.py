"""First-token (attention-sink) heads: most attention goes to the first token, whatever it is.

Definition (Xiao et al., 2024, "Efficient Streaming Language Models with Attention Sinks",
section 3.1; the "no-op" [CLS] attention of Clark et al., 2019): the mean attention weight on
key position 0, over queries ``q >= 1`` (query 0 can only attend to itself in a causal model).
Run on natural text.

Run: ``python -m catalogue.verify.first_token --model all-minilm-l6-v2``
"""

from __future__ import annotations

from catalogue.verify.check import Check, Run, same
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Scores

__all__ = ["CHECK", "first_token_score"]


def first_token_score(pattern: Patterns) -> Scores:
    """Mean attention to position 0 from queries ``1..Q-1``, ``[n_layers, n_heads]``, in ``[0, 1]``."""
    return pattern[..., 1:, 0].mean((-1, -2))


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return first_token_score(run.patterns)


CHECK = Check(
    id="first-token",
    title="first-token / attention-sink head",
    metric="mean attention to the first token (natural text)",
    threshold=None,
    normalisation="mean attention weight on key 0",
    script_version="2",
    reference="Xiao et al. 2024 (attention sinks); Clark et al. 2019",
    cite="clark2019what",
    compute=_compute,
    probe=same("text"),
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
