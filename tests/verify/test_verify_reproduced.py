"""Every `reproduced` record on an offline model is re-run as its record says it was made, and must still hold:
the same top score, and every recorded head still passes (threshold in force and above chance)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from catalogue.loader import load
from catalogue.schema import Evidence, HeadType
from tests.verify.conftest import NO_TORCH

#: absolute tolerance on a recorded top score
TOLERANCE = 0.05


def _records() -> list[tuple[HeadType, Evidence]]:
    cat = load()
    return [(h, e) for h in cat.heads.values() for e in h.evidence if e.reproduced is not None]


def _offline() -> set[str]:
    try:
        from catalogue.verify.models import offline_models
    except ImportError:
        return set()
    return set(offline_models())


RECORDS = _records()
_SETTINGS = re.compile(r"on (\d+) probe sequences x seeds ([\d,]+)")


def run_settings(evidence: Evidence) -> tuple[int, tuple[int, ...]]:
    """Batch and seeds the record was made with, as its method_detail states them."""
    m = _SETTINGS.search(evidence.method_detail or "")
    assert m, f"the record does not say how it was run: {evidence.method_detail!r}"
    return int(m.group(1)), tuple(int(s) for s in m.group(2).split(","))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("head", "evidence"),
    [pytest.param(h, e, id=f"{h.id}:{e.reproduced.check}@{e.reproduced.model}") for h, e in RECORDS if e.reproduced]
    or [
        pytest.param(None, None, id="none", marks=pytest.mark.skip(reason="data/heads.yaml has no reproduced records"))
    ],
)
def test_reproduced_record_still_holds(head: HeadType, evidence: Evidence, model: Callable[[str], Any]) -> None:
    pytest.importorskip("torch", reason=NO_TORCH)
    rec = evidence.reproduced
    assert rec is not None
    if rec.model not in _offline():
        pytest.skip(
            f"{rec.model} is not available offline; re-run `heads verify {head.id} --model {rec.model}` by hand"
        )
    from catalogue.verify.runner import reproduce

    batch, seeds = run_settings(evidence)
    result = reproduce(rec, batch=batch, seeds=seeds, model=model(rec.model))
    assert result.scores is not None, result.skipped
    assert result.top_score == pytest.approx(rec.score, abs=TOLERANCE), f"{head.id}: top score moved"
    assert result.threshold == pytest.approx(rec.threshold, abs=TOLERANCE), f"{head.id}: threshold moved"
    passing = set(result.passing())
    for loc in rec.heads:
        got = float(result.scores[loc.layer, loc.head])
        assert loc in passing, (
            f"{head.id}: {loc} scores {got:.3f}: threshold {result.threshold:.3f}, chance {result.chance_max:.3f}"
        )
    assert sorted(evidence.locations, key=str) == sorted(rec.heads, key=str)
    if head.check is not None:
        assert head.check == rec.check, f"{head.id} links check {head.check} but its record re-runs {rec.check}"
