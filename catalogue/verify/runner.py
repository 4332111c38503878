"""Run checks on a model with as few forward passes as possible, and hold the catalogue to its claims.

``scan`` groups the requested checks by the probe they read and runs one forward pass per
probe (weight-only checks need none). ``verify`` runs the check linked to a head type and
compares every claim the catalogue makes about that model (evidence locations) with the scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from catalogue import __version__
from catalogue.schema import CHECKS, Catalogue, Evidence, HeadType, Location, Reproduced, parse_location
from catalogue.verify.check import Check, NotApplicable, Run, get_check
from catalogue.verify.errors import VerifyError
from catalogue.verify.models import LoadedModel, load_model
from catalogue.verify.patterns import Scores
from catalogue.verify.probes import ProbeBatch, ProbeName, make_probe

__all__ = [
    "CheckResult",
    "Claim",
    "ScanResult",
    "VerifyResult",
    "parse_heads",
    "registry_of",
    "reproduce",
    "scan",
    "verify",
]


@dataclass
class CheckResult:
    check: Check
    scores: Scores | None = None
    extras: dict[str, Scores] = field(default_factory=dict)
    skipped: str | None = None

    def ranked(self, heads: Sequence[Location] | None = None) -> list[tuple[Location, float]]:
        """``(head, score)`` best first, over ``heads`` (all heads if None)."""
        if self.scores is None:
            return []
        n_layers, n_heads = self.scores.shape
        locs = heads or [Location(layer=la, head=h) for la in range(n_layers) for h in range(n_heads)]
        pairs = [(loc, float(self.scores[loc.layer, loc.head])) for loc in locs]
        return sorted(pairs, key=lambda p: (-p[1], p[0].layer, p[0].head))

    def passing(self, heads: Sequence[Location] | None = None) -> list[Location]:
        return [loc for loc, s in self.ranked(heads) if s >= self.check.threshold]

    @property
    def top_score(self) -> float:
        ranked = self.ranked()
        return ranked[0][1] if ranked else float("nan")


@dataclass
class ScanResult:
    model: LoadedModel
    results: dict[str, CheckResult]
    forward_passes: int
    heads: list[Location] | None = None
    batch: int = 16
    seed: int = 0


@dataclass(frozen=True)
class Claim:
    """One location the catalogue claims for a head type in this model, held against the score."""

    evidence: Evidence
    location: Location
    score: float | None
    threshold: float

    @property
    def confirmed(self) -> bool:
        return self.score is not None and self.score >= self.threshold


@dataclass
class VerifyResult:
    head: HeadType
    scan: ScanResult
    claims: list[Claim]

    @property
    def result(self) -> CheckResult:
        assert self.head.check is not None
        return self.scan.results[self.head.check]


def parse_heads(text: str | None, model: LoadedModel) -> list[Location] | None:
    """``"1.2,L0H3"`` -> locations, each checked against the model's size. None for no filter."""
    if not text:
        return None
    out = []
    for part in (p for p in text.split(",") if p.strip()):
        try:
            layer, head = parse_location(part)
        except ValueError as exc:
            raise VerifyError(f"--heads: {exc}") from None
        if layer >= model.n_layers or head >= model.n_heads:
            raise VerifyError(
                f"--heads: {part.strip()} is out of range: {model.name} has layers 0-{model.n_layers - 1} "
                f"and heads 0-{model.n_heads - 1}"
            )
        out.append(Location(layer=layer, head=head))
    return out


def scan(
    model: LoadedModel,
    checks: Sequence[str] | None = None,
    *,
    heads: Sequence[Location] | None = None,
    batch: int = 16,
    seed: int = 0,
    probes: Mapping[str, ProbeBatch] | None = None,
    extras: bool = True,
) -> ScanResult:
    """Run ``checks`` (all by default) on ``model``, one forward pass per distinct probe.

    ``probes`` replaces built-in probes by name (e.g. the same inputs another tool scores);
    ``extras=False`` skips the side figures (induction's OV copying score, positional offsets).
    """
    wanted = [get_check(c) for c in (checks or CHECKS)]
    results: dict[str, CheckResult] = {c.id: CheckResult(c) for c in wanted}
    by_probe: dict[ProbeName | None, list[Check]] = {}
    for c in wanted:
        try:
            by_probe.setdefault(c.probe(model), []).append(c)
        except NotApplicable as exc:
            results[c.id].skipped = str(exc)
    passes = 0
    for probe_name, group in by_probe.items():
        run: Run | None = None
        if probe_name is not None:
            try:
                given = (probes or {}).get(probe_name)
                probe = given if given is not None else make_probe(probe_name, model, batch=batch, seed=seed)
            except ValueError as exc:
                for c in group:
                    results[c.id].skipped = str(exc)
                continue
            patterns, logits = model.run(probe.tokens, logits=any(c.needs_logits for c in group))
            passes += 1
            run = Run(probe, patterns, logits)
        for c in group:
            _fill(results[c.id], run, model, extras=extras)
    return ScanResult(model, results, passes, list(heads) if heads else None, batch=batch, seed=seed)


def _fill(result: CheckResult, run: Run | None, model: LoadedModel, *, extras: bool) -> None:
    try:
        with torch.inference_mode():
            result.scores = result.check.compute(run, model).float().cpu()
    except NotApplicable as exc:
        result.skipped = str(exc)
        return
    for name, fn in result.check.extras.items() if extras else ():
        try:
            with torch.inference_mode():
                result.extras[name] = fn(run, model).float().cpu()
        except NotApplicable:
            pass


def registry_of(catalogue: Catalogue | None) -> dict[str, str | None]:
    """Registry id -> Hugging Face id, for :func:`catalogue.verify.models.load_model`."""
    return {m.id: m.hf_id for m in catalogue.models.values()} if catalogue else {}


def verify(
    catalogue: Catalogue,
    head_name: str,
    model_name: str,
    *,
    heads: str | None = None,
    cache: str | Path | None = None,
    batch: int = 16,
    seed: int = 0,
) -> VerifyResult:
    """Run the check of head type ``head_name`` on ``model_name`` and test the catalogue's claims."""
    head = catalogue.resolve(head_name)
    if head.check is None:
        linked = sorted(h.id for h in catalogue.heads.values() if h.check)
        raise VerifyError(
            f"head type {head.id!r} has no executable check (no `check:` in its data/heads/<id>.yaml); "
            f"head types with one: {', '.join(linked) or 'none yet'}"
        )
    model = load_model(model_name, registry=registry_of(catalogue), cache=cache)
    return verify_loaded(head, model, heads=parse_heads(heads, model), batch=batch, seed=seed)


def verify_loaded(
    head: HeadType, model: LoadedModel, *, heads: list[Location] | None = None, batch: int = 16, seed: int = 0
) -> VerifyResult:
    assert head.check is not None
    result = scan(model, [head.check], heads=heads, batch=batch, seed=seed)
    check = result.results[head.check]
    if check.skipped:
        raise VerifyError(f"the {head.check} check cannot run on {model.name}: {check.skipped}")
    claims = claims_for(head, check, model)
    return VerifyResult(head, result, claims)


def claims_for(head: HeadType, result: CheckResult, model: LoadedModel) -> list[Claim]:
    out = []
    ids = {model.registry_id, model.name}
    for ev in head.evidence:
        if ev.model is None or ev.model not in ids:
            continue
        for loc in ev.locations:
            inside = result.scores is not None and loc.layer < model.n_layers and loc.head < model.n_heads
            score = float(result.scores[loc.layer, loc.head]) if inside and result.scores is not None else None
            out.append(Claim(ev, loc, score, result.check.threshold))
    return out


def reproduce(record: Reproduced, *, cache: str | Path | None = None, batch: int = 16, seed: int = 0) -> CheckResult:
    """Re-run the check of a ``reproduced`` record on its model (offline models need no network)."""
    model = load_model(record.model, cache=cache)
    return scan(model, [record.check], batch=batch, seed=seed).results[record.check]


def reproduced_record(result: CheckResult, model: LoadedModel) -> Reproduced:
    """The ``reproduced`` record for a check result: top score, threshold, passing heads."""
    assert model.registry_id is not None
    return Reproduced(
        check=result.check.id,
        model=model.registry_id,
        score=round(result.top_score, 4),
        threshold=result.check.threshold,
        version=__version__,
        heads=result.passing(),
    )
