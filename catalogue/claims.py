"""The catalogue's claims about one model, and the measured status written back into each claim.

A *claim* is an evidence record that places a head type at concrete heads of a model (``locations``)
where the head type has an executable check (its ``check:``). ``heads verify --claims --model M`` measures
each claimed head with that check (:mod:`catalogue.verify`); with ``--record`` the result is written into
the evidence record as a ``checked`` block (:class:`catalogue.schema.Checked`) by :func:`record`.

Writing is idempotent: a block whose measurement did not change (every field but ``date``) is left as it
is, so re-running the same command on the same model and probes changes no file. A changed verdict shows up
in ``heads diff`` as a changed evidence record. Files are edited in place (only the ``checked:`` lines of the
record change), validated once with all new texts in place, and written atomically under the data lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from catalogue.contribute import locked, set_key
from catalogue.errors import UsageError
from catalogue.files import write_atomic
from catalogue.index import Index
from catalogue.loader import check
from catalogue.paths import data_paths
from catalogue.schema import Catalogue, Checked, Evidence, HeadCheck, HeadType
from catalogue.vocab import record_verdict

__all__ = ["Claim", "Measured", "Recorded", "claims_on", "head_verdict", "measure", "record"]


@dataclass(frozen=True)
class Claim:
    """One evidence record's claim that ``head`` sits at ``evidence.locations`` of ``evidence.model``."""

    head: HeadType
    index: int  # position in head.evidence
    evidence: Evidence

    @property
    def key(self) -> tuple[str, int]:
        return (self.head.id, self.index)


@dataclass(frozen=True)
class Recorded:
    """What :func:`record` did: blocks written (new or changed), blocks already current, files written."""

    written: list[tuple[str, int]]
    unchanged: list[tuple[str, int]]
    files: list[Path]


def claims_on(cat: Catalogue, model: str) -> list[Claim]:
    """Every claim on this registry model (id or Hugging Face id), in head-type id order; withdrawn
    (``deprecated``) records are no claims.

    Raises :class:`~catalogue.errors.UnknownModelError` for a model not in the registry."""
    m = cat.model(model)
    return [
        Claim(h, i, e)
        for h in sorted(cat.heads.values(), key=lambda h: h.id)
        if h.check is not None
        for i, e in enumerate(h.evidence)
        if e.model == m.id and e.locations and e.deprecated is None
    ]


def head_verdict(score: float, threshold: float, chance: float) -> str:
    """A claimed head's verdict: ``confirmed`` when its score reaches the threshold and beats every head's
    chance score on the same probe; ``contradicted`` when it does not beat chance (the head is at chance);
    ``below-threshold`` between the two. The rule of :meth:`catalogue.verify.runner.Claim.confirmed`."""
    if score >= threshold and score > chance:
        return "confirmed"
    return "contradicted" if score <= chance else "below-threshold"


@dataclass(frozen=True)
class Measured:
    """What :func:`measure` found: a ``checked`` block per claim, and the claims it could not measure (why)."""

    model: str
    blocks: dict[tuple[str, int], Checked]
    skipped: dict[tuple[str, int], str]
    claims: list[Claim]

    def rows(self, recorded: Recorded | None = None) -> list[dict[str, object]]:
        """One plain record per claim (for :func:`catalogue.formats.claims_report`): the head type, evidence id,
        work, heads, verdict (or why it was not measured), each head's score, and what --record did."""
        written = set(recorded.written) if recorded else set()
        out: list[dict[str, object]] = []
        for c in self.claims:
            block = self.blocks.get(c.key)
            row: dict[str, object] = {
                "head_type": c.head.id,
                "evidence": c.evidence.id or f"{c.head.id}#{c.index}",
                "cite": c.evidence.cite,
                "heads": " ".join(str(x) for x in c.evidence.locations),
                "verdict": block.verdict if block else "not measured",
                "scores": "; ".join(f"{h.head} {h.score:.3f} (rank {h.rank}/{h.of})" for h in block.heads)
                if block
                else self.skipped.get(c.key, ""),
                "threshold": block.heads[0].threshold if block else None,
                "chance": block.heads[0].baseline if block else None,
            }
            if recorded is not None:
                row["recorded"] = "written" if c.key in written else ("unchanged" if block else "no")
            out.append(row)
        return out


def measure(
    cat: Catalogue,
    model: str,
    *,
    cache: str | Path | None = None,
    batch: int = 16,
    seeds: tuple[int, ...] | None = None,
    device: str = "cpu",
    dtype: str | None = None,
    today: date | None = None,
) -> Measured:
    """Measure every claim on ``model`` with its head type's check, in one scan of the model.

    Each claimed head gets its score (mean over ``seeds``), spread, rank among all heads, the chance
    baseline and threshold of the check on the same probes, and a verdict (:func:`head_verdict`). Numbers are
    rounded to 4 decimals, so a re-run on the same weights gives the same block. Needs the ``verify`` extra.

    Raises :class:`UsageError` when the model carries no claim, or cannot be loaded."""
    from catalogue import __version__
    from catalogue.verify import load_model, scan
    from catalogue.verify.runner import SEEDS, registry_of

    claims = claims_on(cat, model)
    if not claims:
        raise UsageError(
            f"no claim to measure on {cat.model(model).id}: no evidence locates heads of a head type with a check "
            "there (`heads list --model M --status unchecked` lists the claims of a model)"
        )
    loaded = load_model(model, registry=registry_of(cat), cache=cache, device=device, dtype=dtype)
    checks = sorted({c.head.check for c in claims if c.head.check is not None})
    scanned = scan(loaded, checks, batch=batch, seeds=tuple(seeds or SEEDS))
    libraries = {"catalogue": __version__, **{k: v for k, v in loaded.versions.items() if k != "model"}}
    weights = loaded.versions.get("model", loaded.name)
    blocks: dict[tuple[str, int], Checked] = {}
    skipped: dict[tuple[str, int], str] = {}
    for c in claims:
        assert c.head.check is not None
        r = scanned.results[c.head.check]
        if r.skipped or r.scores is None:
            skipped[c.key] = r.skipped or "the check produced no scores"
            continue
        ranked = r.ranked()
        rank = {(loc.layer, loc.head): i + 1 for i, (loc, _) in enumerate(ranked)}
        heads = []
        for loc in c.evidence.locations:
            if (loc.layer, loc.head) not in rank:
                skipped[c.key] = (
                    f"{loc} has no score in {loaded.name} (outside the model, or a layer without attention)"
                )
                break
            score = float(r.scores[loc.layer, loc.head])
            spread = float(r.spread[loc.layer, loc.head]) if r.spread is not None else float("nan")
            heads.append(
                HeadCheck(
                    head=loc,
                    score=round(score, 4),
                    spread=round(spread, 4) if spread == spread else None,
                    rank=rank[(loc.layer, loc.head)],
                    of=len(ranked),
                    baseline=round(r.chance_max, 4),
                    threshold=round(r.threshold, 4),
                    verdict=head_verdict(score, r.threshold, r.chance_max),
                )
            )
        else:
            probe = r.check.probe(loaded)
            blocks[c.key] = Checked(
                check=c.head.check,
                definition=r.check.version,
                model=weights,
                probes=f"{probe or 'weights'} probe, batch {batch}",
                seeds=list(r.seeds),
                libraries=libraries,
                date=today or date.today(),
                heads=heads,
                verdict=record_verdict([h.verdict for h in heads]),
            )
    return Measured(cat.model(model).id, blocks, skipped, claims)


def _same(a: Checked | None, b: Checked) -> bool:
    return a is not None and a.model_dump(exclude={"date"}) == b.model_dump(exclude={"date"})


def record(
    results: Mapping[tuple[str, int], Checked], *, data: str | Path | None = None, cache: str | Path | None = None
) -> Recorded:
    """Write each ``checked`` block into its evidence record, keyed by (head-type id, evidence position).

    Raises :class:`UsageError` when a key names no evidence record or the result would not validate (then
    nothing is written), :class:`~catalogue.errors.CatalogueError` when the data was already invalid."""
    paths = data_paths(data)
    with locked(paths):
        cat, report = check(paths.folder)
        if cat is None:
            from catalogue.errors import CatalogueError

            raise CatalogueError(report.errors)
        texts: dict[Path, str] = {}
        written, unchanged = [], []
        for (hid, i), block in sorted(results.items()):
            head = cat.heads.get(hid)
            if head is None or not 0 <= i < len(head.evidence):
                raise UsageError(f"no evidence record {hid}#{i} to record a measurement in")
            if _same(head.evidence[i].checked, block):
                unchanged.append((hid, i))
                continue
            path = paths.head_file(hid)
            text = texts.get(path) or path.read_text(encoding="utf-8")
            texts[path] = set_key(text, ["evidence", i], "checked", block.model_dump(mode="json", exclude_none=True))
            written.append((hid, i))
        if texts:
            new, problems = check(paths.folder, overrides=texts)
            if new is None:
                shown = "\n  ".join(str(p) for p in problems.errors)
                raise UsageError(f"nothing was written: the measurements would leave the data invalid:\n  {shown}")
            for path, text in texts.items():
                write_atomic(path, text)
            Index.open(paths, cache=cache, catalogue=new).dispose()
        return Recorded(written, unchanged, sorted(texts))
