"""Run checks on a model with as few forward passes as possible, and hold the catalogue to its claims.

``scan`` groups the requested checks by the probe they read and runs one forward pass per
probe (weight-only checks need none). ``verify`` runs the check linked to a head type and
compares every claim the catalogue makes about that model (evidence locations) with the scores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from catalogue import __version__
from catalogue.schema import CHECKS, Catalogue, Evidence, HeadType, Location, Reproduced, parse_location
from catalogue.verify.baseline import midpoint_threshold, shuffle_keys
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
    "parse_seeds",
    "registry_of",
    "reproduce",
    "scan",
    "verify",
]


#: probe seeds a scan averages over by default
SEEDS: tuple[int, ...] = (0, 1, 2)


@dataclass
class CheckResult:
    """One check on one model: per-head scores averaged over probe seeds, their spread, the chance
    baseline on the same probes, and the pass mark (see :mod:`catalogue.verify.check`).

    ``scores``, ``spread`` and ``chance`` are ``[n_layers, n_heads]`` (NaN on layers without
    attention); ``threshold`` is the pass mark in force, ``chance_max`` the highest chance score of
    any head, ``perfect`` the score of a head that does exactly what the definition says.
    """

    check: Check
    scores: Scores | None = None
    spread: Scores | None = None
    chance: Scores | None = None
    chance_max: float = float("nan")
    perfect: float = 1.0
    threshold: float = float("nan")
    seeds: tuple[int, ...] = ()
    extras: dict[str, Scores] = field(default_factory=dict)
    skipped: str | None = None

    def ranked(self, heads: Sequence[Location] | None = None) -> list[tuple[Location, float]]:
        """``(head, score)`` best first, over ``heads`` (all attention heads if None)."""
        if self.scores is None:
            return []
        n_layers, n_heads = self.scores.shape
        locs = heads or [Location(layer=la, head=h) for la in range(n_layers) for h in range(n_heads)]
        pairs = [(loc, float(self.scores[loc.layer, loc.head])) for loc in locs]
        pairs = [p for p in pairs if p[1] == p[1]]  # NaN: a layer without attention
        return sorted(pairs, key=lambda p: (-p[1], p[0].layer, p[0].head))

    def passing(self, heads: Sequence[Location] | None = None) -> list[Location]:
        """Heads whose mean score reaches the threshold and beats every head's chance score."""
        return [loc for loc, s in self.ranked(heads) if s >= self.threshold and s > self.chance_max]

    @property
    def top_score(self) -> float:
        ranked = self.ranked()
        return ranked[0][1] if ranked else float("nan")

    @property
    def threshold_rule(self) -> str:
        """Where the threshold comes from, in words."""
        c = self.check
        if c.threshold is None or self.threshold != max(c.threshold, self.chance_max):
            return f"midpoint of chance {self.chance_max:.3f} and perfect {self.perfect:.3f}"
        if self.threshold > c.threshold:
            return f"{c.threshold_source or c.reference} gives {c.threshold:g}, raised to the chance baseline"
        return c.threshold_source or c.reference


@dataclass
class ScanResult:
    model: LoadedModel
    results: dict[str, CheckResult]
    forward_passes: int
    heads: list[Location] | None = None
    batch: int = 16
    seeds: tuple[int, ...] = SEEDS

    @property
    def seed(self) -> int:
        return self.seeds[0] if self.seeds else 0


@dataclass(frozen=True)
class Claim:
    """One location the catalogue claims for a head type in this model, held against the score."""

    evidence: Evidence
    location: Location
    score: float | None
    threshold: float
    chance: float = float("-inf")

    @property
    def confirmed(self) -> bool:
        """The score reaches the threshold in force and beats every head's chance score."""
        return self.score is not None and self.score >= self.threshold and self.score > self.chance


@dataclass
class VerifyResult:
    head: HeadType
    scan: ScanResult
    claims: list[Claim]

    @property
    def result(self) -> CheckResult:
        assert self.head.check is not None
        return self.scan.results[self.head.check]


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> ``(0, 1, 2)``. Raises :class:`VerifyError` on anything but integers."""
    try:
        seeds = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise VerifyError(f"--seeds {text!r}: give comma-separated integers, e.g. 0,1,2") from None
    if not seeds:
        raise VerifyError("--seeds: give at least one seed")
    return seeds


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
    seeds: Sequence[int] = SEEDS,
    seed: int | None = None,
    probes: Mapping[str, ProbeBatch] | None = None,
    extras: bool = True,
    chance: bool = True,
) -> ScanResult:
    """Run ``checks`` (all by default) on ``model``: one forward pass per distinct probe and seed.

    Scores are averaged over ``seeds`` (``seed`` alone: one seed), each with a shuffled-keys
    chance baseline on the same probe (:mod:`catalogue.verify.baseline`). ``probes`` replaces
    built-in probes by name (one seed: the given batch); ``extras=False`` skips the side figures;
    ``chance=False`` skips the baselines (then only a paper's threshold can pass a head).
    """
    chosen = (seed,) if seed is not None else tuple(seeds)
    if probes:
        chosen = chosen[:1]
    wanted = [get_check(c) for c in (checks or CHECKS)]
    results: dict[str, CheckResult] = {c.id: CheckResult(c, seeds=chosen) for c in wanted}
    by_probe: dict[ProbeName | None, list[Check]] = {}
    for c in wanted:
        try:
            by_probe.setdefault(c.probe(model), []).append(c)
        except NotApplicable as exc:
            results[c.id].skipped = str(exc)
    passes = 0
    acc: dict[str, _Acc] = {c.id: _Acc() for c in wanted}
    for probe_name, group in by_probe.items():
        if probe_name is None:
            for c in group:
                _fill(acc[c.id], results[c.id], None, model, extras=extras, chance=chance)
            continue
        for s in chosen:
            try:
                given = (probes or {}).get(probe_name)
                probe = given if given is not None else make_probe(probe_name, model, batch=batch, seed=s)
            except ValueError as exc:
                for c in group:
                    results[c.id].skipped = str(exc)
                break
            patterns, logits = model.run(probe.tokens, logits=any(c.needs_logits for c in group))
            passes += 1
            run = Run(probe, patterns, logits)
            for c in group:
                _fill(acc[c.id], results[c.id], run, model, extras=extras, chance=chance)
    for c in wanted:
        _finish(acc[c.id], results[c.id], model)
    return ScanResult(model, results, passes, list(heads) if heads else None, batch=batch, seeds=chosen)


@dataclass
class _Acc:
    scores: list[torch.Tensor] = field(default_factory=list)
    chance: list[torch.Tensor] = field(default_factory=list)
    perfect: list[float] = field(default_factory=list)
    extras: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    probe: str | None = None


def _fill(acc: _Acc, result: CheckResult, run: Run | None, model: LoadedModel, *, extras: bool, chance: bool) -> None:
    if result.skipped:
        return
    c = result.check
    acc.probe = run.probe.name if run is not None else None
    try:
        with torch.inference_mode():
            acc.scores.append(c.compute(run, model).float().cpu())
            if chance:
                acc.chance.append(_chance(c, run, model).float().cpu())
            acc.perfect.append(c.perfect(run, model) if c.perfect is not None else 1.0)
    except NotApplicable as exc:
        result.skipped = str(exc)
        return
    for name, fn in c.extras.items() if extras else ():
        try:
            with torch.inference_mode():
                value = fn(run, model).float().cpu()
            acc.extras.setdefault(name, []).append(value)
        except NotApplicable:
            pass


def _chance(c: Check, run: Run | None, model: LoadedModel) -> torch.Tensor:
    if c.chance is not None:
        return c.chance(run, model)
    if run is None:
        raise NotApplicable(f"the {c.id} check has no chance baseline")
    groups = run.probe.targets.get(c.null_groups) if c.null_groups else None
    g = torch.Generator().manual_seed(10_000 + run.probe.seed)
    shuffled = shuffle_keys(run.patterns, causal=model.causal, generator=g, groups=groups)
    return c.compute(Run(run.probe, shuffled, run.logits), model)


def _finish(acc: _Acc, result: CheckResult, model: LoadedModel) -> None:
    if result.skipped or not acc.scores:
        return
    full = _layers(model)
    stack = torch.stack(acc.scores)
    result.scores = full(stack.mean(0))
    result.spread = full(stack.std(0, correction=0))
    result.perfect = float(sum(acc.perfect) / len(acc.perfect))
    if acc.chance:
        result.chance = full(torch.stack(acc.chance).mean(0))
        result.chance_max = float(torch.nan_to_num(result.chance, nan=float("-inf")).max())
    else:
        result.chance_max = float("-inf")
    floor = result.chance_max if acc.chance else float("-inf")
    c = result.check
    if c.threshold is not None and (not c.paper_probes or acc.probe in c.paper_probes):
        result.threshold = max(c.threshold, floor)
    elif acc.chance:
        result.threshold = midpoint_threshold(result.chance_max, result.perfect)
    else:
        result.threshold = float("inf")  # no paper threshold and no baseline: nothing can pass
    for name, vals in acc.extras.items():
        result.extras[name] = full(torch.stack(vals).mean(0))


def _layers(model: LoadedModel) -> Callable[[torch.Tensor], torch.Tensor]:
    """Place per-attention-layer rows at their true layer numbers (NaN elsewhere): hybrid models."""
    layers = model.attn_layers
    if layers is None:
        return lambda t: t

    def place(t: torch.Tensor) -> torch.Tensor:
        if t.shape[0] == model.n_layers:
            return t
        out = torch.full((model.n_layers, *t.shape[1:]), float("nan"))
        out[list(layers)] = t
        return out

    return place


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
    seeds: Sequence[int] = SEEDS,
    device: str = "cpu",
    dtype: str | None = None,
) -> VerifyResult:
    """Run the check of head type ``head_name`` on ``model_name`` and test the catalogue's claims."""
    head = catalogue.resolve(head_name)
    if head.check is None:
        linked = sorted(h.id for h in catalogue.heads.values() if h.check)
        raise VerifyError(
            f"head type {head.id!r} has no executable check (no `check:` in its data/heads/<id>.yaml); "
            f"head types with one: {', '.join(linked) or 'none yet'}"
        )
    model = load_model(model_name, registry=registry_of(catalogue), cache=cache, device=device, dtype=dtype)
    return verify_loaded(head, model, heads=parse_heads(heads, model), batch=batch, seeds=seeds)


def verify_loaded(
    head: HeadType,
    model: LoadedModel,
    *,
    heads: list[Location] | None = None,
    batch: int = 16,
    seeds: Sequence[int] = SEEDS,
) -> VerifyResult:
    assert head.check is not None
    result = scan(model, [head.check], heads=heads, batch=batch, seeds=seeds)
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
            if score is not None and score != score:
                score = None  # a layer without attention
            out.append(Claim(ev, loc, score, result.threshold, result.chance_max))
    return out


def reproduce(
    record: Reproduced,
    *,
    cache: str | Path | None = None,
    batch: int = 16,
    seeds: Sequence[int] = SEEDS,
    model: LoadedModel | None = None,
) -> CheckResult:
    """Re-run the check of a ``reproduced`` record on its model (``model``: already loaded)."""
    loaded = model if model is not None else load_model(record.model, cache=cache)
    return scan(loaded, [record.check], batch=batch, seeds=seeds, extras=False).results[record.check]


def reproduced_record(result: CheckResult, model: LoadedModel) -> Reproduced:
    """The ``reproduced`` record for a check result: top score, threshold in force, passing heads."""
    assert model.registry_id is not None
    return Reproduced(
        check=result.check.id,
        model=model.registry_id,
        score=round(result.top_score, 4),
        threshold=round(result.threshold, 4),
        version=__version__,
        heads=result.passing(),
    )
