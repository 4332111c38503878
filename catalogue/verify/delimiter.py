"""Delimiter heads: attention parked on separators ([SEP], periods, commas).

Definition (Clark et al., 2019, "What Does BERT Look At?", section 3.2, Figure 2): the
attention mass a head puts on delimiter tokens, averaged over queries that are not themselves
delimiters. Position 0 is left out (that is the first-token check). Run on natural text.

Run: ``python -m catalogue.verify.delimiter --model all-minilm-l6-v2``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, NotApplicable, Run, need_target, same
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Scores

__all__ = ["CHECK", "delimiter_score"]


def delimiter_score(pattern: Patterns, *, delimiter: torch.Tensor) -> Scores:
    """Mean attention on delimiter keys (``delimiter [batch, pos]`` 0/1) from non-delimiter queries."""
    keys = delimiter.clone().to(pattern.dtype)
    keys[:, 0] = 0
    mass = torch.einsum("lhbqk,bk->lhbq", pattern, keys)
    queries = (delimiter == 0).to(pattern.dtype)
    return (mass * queries).sum((-1, -2)) / queries.sum().clamp_min(1)


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    delim = need_target(run, "delimiter")
    if not model.delimiters or int(delim[:, 1:].sum()) == 0:
        raise NotApplicable(f"{model.name} has no delimiter tokens")
    assert run is not None
    return delimiter_score(run.patterns, delimiter=delim)


CHECK = Check(
    id="delimiter",
    title="delimiter head",
    metric="mean attention to delimiter tokens ([SEP], '.', ',') from other tokens (natural text)",
    threshold=None,
    normalisation="mean attention mass on delimiter keys",
    script_version="2",
    reference="Clark et al. 2019, section 3.2",
    cite="clark2019what",
    compute=_compute,
    probe=same("text"),
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
