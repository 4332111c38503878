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
from pathlib import Path

from catalogue.contribute import locked, set_key
from catalogue.errors import UsageError
from catalogue.files import write_atomic
from catalogue.index import Index
from catalogue.loader import check
from catalogue.paths import data_paths
from catalogue.schema import Catalogue, Checked, Evidence, HeadType

__all__ = ["Claim", "Recorded", "claims_on", "record"]


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
    """Every claim on this registry model (id or Hugging Face id), in head-type id order.

    Raises :class:`~catalogue.errors.UnknownModelError` for a model not in the registry."""
    m = cat.model(model)
    return [
        Claim(h, i, e)
        for h in sorted(cat.heads.values(), key=lambda h: h.id)
        if h.check is not None
        for i, e in enumerate(h.evidence)
        if e.model == m.id and e.locations
    ]


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
