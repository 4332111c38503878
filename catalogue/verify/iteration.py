"""Iteration heads: in a chain of thought, step ``t`` reads input ``t + 1``.

Definition (Cabannes et al., 2024, "Iteration Head: A Mechanistic Study of Chain-of-Thought",
section 3): on ``x_1 .. x_n EoI y_1 .. y_n`` with ``y_t = f(y_{t-1}, x_t)`` (here parity), the
iteration head at the position of ``y_t`` (``EoI`` for ``t = 0``) attends to ``x_{t+1}``. The
score is the mean attention on that one key, over the chain's positions. It needs a model
trained on the task: ``toy-parity``.

Run: ``python -m catalogue.verify.iteration --model toy-parity``
"""

from __future__ import annotations

import torch

from catalogue.verify.check import Check, NotApplicable, Run, need_target
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Scores, pointer_mass
from catalogue.verify.probes import ProbeName

__all__ = ["CHECK", "iteration_score"]


def iteration_score(pattern: Patterns, *, source: torch.Tensor) -> Scores:
    """Mean attention from each chain step to its next input (``source [batch, q]``: key or -1)."""
    return pointer_mass(pattern, source)


def _probe(model: LoadedModel) -> ProbeName | None:
    if model.toy_task != "parity":
        raise NotApplicable(f"{model.name} was not trained on a chain-of-thought task (use toy-parity)")
    return "parity"


def _compute(run: Run | None, model: LoadedModel) -> Scores:
    assert run is not None
    return iteration_score(run.patterns, source=need_target(run, "source"))


CHECK = Check(
    id="iteration",
    title="iteration head",
    metric="mean attention from chain step t to input t+1 (parity chain of thought)",
    threshold=None,
    normalisation="mean attention on the next input",
    script_version="2",
    reference="Cabannes et al. 2024, section 3",
    cite="cabannes2024iteration",
    compute=_compute,
    probe=_probe,
)

if __name__ == "__main__":
    from catalogue.verify.script import main

    raise SystemExit(main(CHECK.id))
