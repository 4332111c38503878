"""Every `reproduced` record in data/heads.yaml on an offline model is re-run and must still hold."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("head", "evidence"),
    [pytest.param(h, e, id=f"{h.id}:{e.reproduced.check}@{e.reproduced.model}") for h, e in RECORDS if e.reproduced]
    or [
        pytest.param(None, None, id="none", marks=pytest.mark.skip(reason="data/heads.yaml has no reproduced records"))
    ],
)
def test_reproduced_record_still_holds(head: HeadType, evidence: Evidence, toy_cache: Path) -> None:
    pytest.importorskip("torch", reason=NO_TORCH)
    rec = evidence.reproduced
    assert rec is not None
    if rec.model not in _offline():
        pytest.skip(
            f"{rec.model} is not available offline; re-run `heads verify {head.id} --model {rec.model}` by hand"
        )
    from catalogue.verify.runner import reproduce

    result = reproduce(rec, cache=toy_cache)
    assert result.scores is not None, result.skipped
    assert result.top_score == pytest.approx(rec.score, abs=TOLERANCE), f"{head.id}: top score moved"
    for loc in rec.heads:
        got = float(result.scores[loc.layer, loc.head])
        assert got >= rec.threshold - TOLERANCE, f"{head.id}: {loc} scores {got:.3f} < threshold {rec.threshold}"
    if head.check is not None:
        assert head.check == rec.check, f"{head.id} links check {head.check} but its record re-runs {rec.check}"
