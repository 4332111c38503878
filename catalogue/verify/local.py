"""Local heads: attention concentrated on a ±2 band around the token, beyond one fixed offset.

Definition (Pande et al., 2021, "The heads hypothesis"; their released notebook
``local_score.ipynb``, ``calc_score_band2``): for each token ``t`` of a sentence of length ``n``,
the band score is the mean attention over keys ``max(0, t-2) .. min(t+2, n)`` (inclusive; the band
size is computed as ``min(t+2, n) + 1 - max(0, t-2)``, which overcounts by one at the last two
tokens, as the notebook does), divided by the row's mean attention ``sum(row) / n``; the
sieve bias is the mean over tokens. ``label_heads.ipynb`` labels a head local when its mean sieve
bias over sentences exceeds a baseline, 3 in its reported runs ("BASELINE3").

A head that attends at one fixed offset (the previous token, say) has a high sieve bias too; such
heads are positional (Voita et al., 2019), reported by the ``positional`` check. So the ``local``
check scores a head's sieve bias only when it is *not* positional (its positional score, the
fraction of queries whose argmax is one fixed offset, is below Voita's 0.9), and 0 otherwise.
Run on natural text.

Run: ``python -m catalogue.verify.local --model all-minilm-l6-v2``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, Run, same
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Scores
from catalogue.verify.positional import positional_score

__all__ = ["CHECK", "POSITIONAL_CUTOFF", "local_score", "sieve_bias"]

#: Voita et al. 2019, section 4.2: positional heads put their maximum at one offset >= 90% of the time
POSITIONAL_CUTOFF = 0.9


def sieve_bias(pattern: Patterns, *, width: int = 2) -> Scores:
    """Pande et al.'s local sieve bias (band ``width``), ``[n_layers, n_heads]``; 1 for uniform attention."""
    n = pattern.shape[-1]
    t = torch.arange(n)
    lo = (t - width).clamp_min(0)
    hi_incl = torch.minimum(t + width, torch.full_like(t, n))  # min(t+2, n): the notebook's upper bound
    band_size = (hi_incl + 1 - lo).to(pattern.dtype)  # as in the notebook, even where it passes the end
    k = torch.arange(n)[None, :]
    band = ((k >= lo[:, None]) & (k <= hi_incl[:, None])).to(pattern.dtype)  # [q, k]
    band_mean = (pattern * band).sum(-1) / band_size  # [L, H, B, Q]
    row_mean = pattern.sum(-1) / n
    return (band_mean / row_mean).mean(-1).mean(-1)


def local_score(pattern: Patterns, *, width: int = 2) -> Scores:
    """Sieve bias of heads that are not positional, 0 for positional heads, ``[n_layers, n_heads]``."""
    bias = sieve_bias(pattern, width=width)
    return torch.where(positional_score(pattern) >= POSITIONAL_CUTOFF, torch.zeros_like(bias), bias)


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return local_score(run.patterns)


def _sieve(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return sieve_bias(run.patterns)


CHECK = Check(
    id="local",
    title="local head",
    metric="Pande et al. 2021 local sieve bias (±2 band), positional heads excluded (natural text)",
    threshold=3.0,
    threshold_source="Pande et al. 2021, label_heads.ipynb (baseline 3)",
    reference="Pande et al. 2021, local_score.ipynb calc_score_band2; Voita et al. 2019 (positional exclusion)",
    cite="pande2021heads",
    compute=_compute,
    probe=same("text"),
    normalisation="Pande et al. 2021 sieve bias (band mean / row mean)",
    extras={"sieve-bias": _sieve},
    script_version="2",
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
