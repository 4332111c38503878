"""What a check is: a score function, the probe it reads, its chance baseline, its threshold and sources.

Each verifiable head type has one module ``catalogue/verify/<check>.py`` that holds its pure
score function(s) and a :class:`Check` named ``CHECK``; :func:`all_checks` collects them in
the order of :data:`catalogue.schema.CHECKS`.

Thresholds. A check either carries its defining paper's threshold (``threshold``, with
``threshold_source`` saying where it was read), or none, in which case the pass mark is derived
from the chance baseline measured on the same probe: halfway from the highest chance score of any
head to the score of a perfect head (:func:`catalogue.verify.baseline.midpoint_threshold`). A
paper's threshold that lies below the chance baseline on our probe is raised to it, and it is
used only on probes like the paper's own (``paper_probes``): a score at chance is never a finding.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from catalogue import __version__
from catalogue.schema import CHECKS, CheckId
from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Patterns, Scores
from catalogue.verify.probes import ProbeBatch, ProbeName

__all__ = ["Check", "NotApplicable", "Run", "all_checks", "get_check", "module_name"]


class NotApplicable(Exception):
    """This check cannot run on this model (e.g. no tokenizer, no OV weights); the message says why."""


@dataclass(frozen=True)
class Run:
    """One forward pass over one probe: the probe, patterns ``[layer, head, batch, q, k]``, logits."""

    probe: ProbeBatch
    patterns: Patterns
    logits: torch.Tensor | None


#: ``compute(run, model)``: adapts a pure score function to a probe run (``run`` is None for
#: weight-only checks). Raises :class:`NotApplicable`.
Compute = Callable[[Run | None, LoadedModel], Scores]


@dataclass(frozen=True)
class Check:
    id: CheckId
    title: str
    metric: str
    #: the defining paper's pass mark, or None: derived from the chance baseline (module docstring)
    threshold: float | None
    reference: str
    #: BibTeX key (data/references.bib) of the work that defines the score
    cite: str
    compute: Compute = field(repr=False)
    #: which probe the check reads for this model; None: it reads weights only
    probe: Callable[[LoadedModel], ProbeName | None] = field(repr=False)
    #: the name of the score's normalisation, e.g. "TransformerLens detect_head(error_measure='mul')"
    normalisation: str = ""
    #: where the threshold was read (paper section); empty when derived from the baseline
    threshold_source: str = ""
    #: probes on which the paper's threshold holds (its own set-up); on others the threshold is
    #: derived from the baseline. Empty: every probe.
    paper_probes: tuple[str, ...] = ()
    #: probe key (per-key 0/1 marks) whose groups the shuffled-keys null keeps apart, e.g. "needle"
    null_groups: str | None = None
    #: chance baseline computed another way (weight checks); default: the shuffled-keys null
    chance: Compute | None = field(default=None, repr=False)
    #: score of a head that does exactly what the definition says, on the same probe (default 1)
    perfect: Callable[[Run | None, LoadedModel], float] | None = field(default=None, repr=False)
    #: further per-head figures printed beside the score (name -> compute), e.g. induction's copying
    extras: dict[str, Compute] = field(default_factory=dict, repr=False)
    #: whether ``compute`` reads the run's logits (the forward pass skips the unembedding otherwise)
    needs_logits: bool = False
    script_version: str = "1"

    @property
    def module(self) -> str:
        return f"catalogue.verify.{module_name(self.id)}"

    @property
    def version(self) -> str:
        """``catalogue.verify.induction v1 (catalogue 0.1.0)``: what evidence ``source`` names."""
        return f"{self.module} v{self.script_version} (catalogue {__version__})"


def module_name(check: str) -> str:
    return check.replace("-", "_")


def get_check(check: str) -> Check:
    if check not in CHECKS:
        raise KeyError(check)
    mod = importlib.import_module(f"catalogue.verify.{module_name(check)}")
    found: Check = mod.CHECK
    return found


def all_checks() -> dict[str, Check]:
    """Every check, in :data:`catalogue.schema.CHECKS` order."""
    return {c: get_check(c) for c in CHECKS}


def need_target(run: Run | None, key: str) -> torch.Tensor:
    """The probe target ``key``, or :class:`NotApplicable` when the probe has none."""
    if run is None or key not in run.probe.targets:
        raise NotApplicable(f"the probe has no {key!r} targets")
    return run.probe.targets[key]


def same(probe: ProbeName) -> Callable[[LoadedModel], ProbeName | None]:
    """A probe chooser that always picks ``probe``."""
    return lambda _model: probe
