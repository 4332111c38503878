"""Local heads: attention concentrated in a small window around the current token.

Definition (Clark et al., 2019, section 3: heads with low attention entropy that attend
"broadly" versus locally; the local attention patterns of Child et al., 2019): the attention mass
on keys ``k`` with ``1 <= |q - k| <= window``, averaged over queries ``q > window`` so that short
causal prefixes do not count as local by construction. Position 0 is never counted (sinks).
Run on natural text.

Run: ``python -m catalogue.verify.local --model all-minilm-l6-v2``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, Run, same
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Scores

__all__ = ["CHECK", "local_score"]


def local_score(pattern: Patterns, *, window: int = 3) -> Scores:
    """Attention within ``1..window`` positions of the query, ``[n_layers, n_heads]``, in ``[0, 1]``."""
    n = pattern.shape[-1]
    q = torch.arange(n)[:, None]
    k = torch.arange(n)[None, :]
    near = ((q - k).abs() <= window) & (q != k) & (k > 0)
    rows = pattern[..., window + 1 :, :]
    return (rows * near[window + 1 :].to(pattern.dtype)).sum(-1).mean((-1, -2))


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return local_score(run.patterns)


CHECK = Check(
    id="local",
    title="local head",
    metric="mean attention within 3 positions of the query, self and first token excluded (natural text)",
    threshold=0.6,
    reference="Clark et al. 2019, section 3; Child et al. 2019",
    cite="clark2019what",
    compute=_compute,
    probe=same("text"),
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
