"""Measured status on claims: which records are claims, the checked block, writing it back idempotently."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from catalogue import query
from catalogue.claims import claims_on, record
from catalogue.errors import UsageError
from catalogue.index import Index
from catalogue.loader import check, load
from catalogue.paths import data_paths
from catalogue.schema import Checked
from tests.conftest import WriteData


def block(verdicts: tuple[str, ...] = ("confirmed", "confirmed", "below-threshold", "confirmed"), **kw: Any) -> Checked:
    heads = ["L5H5", "L5H8", "L5H9", "L6H9"]
    data: dict[str, Any] = {
        "check": "induction",
        "definition": "catalogue.verify.induction v2",
        "model": "gpt2@607a30d7",
        "probes": "repeated random tokens, 4 repeat lengths",
        "seeds": [0, 1, 2],
        "libraries": {"catalogue": "0.1.0", "torch": "2.13.0"},
        "date": "2026-11-30",
        "heads": [
            {"head": h, "score": 0.5 + i / 10, "spread": 0.01, "rank": i + 1, "of": 144, "baseline": 0.02,
             "threshold": 0.4, "verdict": v}
            for i, (h, v) in enumerate(zip(heads, verdicts, strict=True))
        ],
        "verdict": "below-threshold" if "below-threshold" in verdicts else "confirmed",
    }  # fmt: skip
    data.update(kw)
    return Checked.model_validate(data)


def test_claims_are_located_evidence_of_checked_head_types(write_data: WriteData) -> None:
    cat = load(write_data())
    found = [(c.head.id, c.index) for c in claims_on(cat, "gpt2")]
    assert found == [("induction-head", 0), ("previous-token-head", 0)]  # the theory-only record is no claim


def test_verdict_must_follow_from_the_heads() -> None:
    with pytest.raises(ValidationError, match="does not follow"):
        block(verdict="confirmed")


def test_record_writes_the_block_and_is_idempotent(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    f = d / "heads" / "induction-head.yaml"
    before = f.read_text()
    done = record({("induction-head", 0): block()}, data=d)
    assert done.written == [("induction-head", 0)] and done.files == [f]
    after = f.read_text()
    assert after.startswith(before.split("  source: Section 3.3")[0])  # the lines before are untouched
    ev = load(d).heads["induction-head"].evidence[0]
    assert ev.checked == block()
    again = record({("induction-head", 0): block(date=dt.date(2027, 1, 1))}, data=d)  # same measurement, later
    assert again.written == [] and again.unchanged == [("induction-head", 0)] and f.read_text() == after


def test_a_changed_measurement_replaces_the_block(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    record({("induction-head", 0): block()}, data=d)
    record({("induction-head", 0): block(("confirmed",) * 4)}, data=d)
    text = (d / "heads" / "induction-head.yaml").read_text()
    assert text.count("checked:") == 1
    assert load(d).heads["induction-head"].evidence[0].checked == block(("confirmed",) * 4)


def test_status_shows_in_show_list_and_where(write_data: WriteData, cache: Path) -> None:
    from catalogue import formats

    d = write_data()
    record({("induction-head", 0): block()}, data=d)
    index = Index.open(data_paths(d))
    h = query.show(index, "induction-head")
    text = formats.head_text(h, {}, width=200)
    assert "checked: below-threshold: induction L5H5 0.50 (rank 1/144, chance 0.02, threshold 0.40" in text
    assert "not yet measured" not in text.split("olsson2022incontext")[0]
    below = query.list_heads(index, query.Filters(status="below-threshold"))
    assert [(h["id"], len(h["evidence"])) for h in below] == [("induction-head", 1)]
    unchecked = query.list_heads(index, query.Filters(status="unchecked"))
    assert [h["id"] for h in unchecked] == ["previous-token-head"]
    assert query.list_heads(index, query.Filters(status="confirmed")) == []
    _, _, found, _ = query.where(index, "gpt2-small", "L5H9")
    assert found[0][1][0]["checked"]["verdict"] == "below-threshold"


def test_a_block_on_a_head_that_is_not_claimed_is_refused(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    bad = block()
    bad = bad.model_copy(
        update={"heads": [bad.heads[0].model_copy(update={"head": bad.heads[0].head.model_copy(update={"layer": 7})})]}
    )
    bad = bad.model_copy(update={"verdict": "confirmed"})
    before = (d / "heads" / "induction-head.yaml").read_text()
    with pytest.raises(UsageError, match="L7H5 are not among the record's locations"):
        record({("induction-head", 0): bad}, data=d)
    assert (d / "heads" / "induction-head.yaml").read_text() == before
    with pytest.raises(UsageError, match="no evidence record induction-head#9"):
        record({("induction-head", 9): block()}, data=d)


def test_a_check_of_another_head_type_is_refused(write_data: WriteData) -> None:
    d = write_data()
    f = d / "heads" / "previous-token-head.yaml"
    record({("induction-head", 0): block()}, data=d)
    text = (d / "heads" / "induction-head.yaml").read_text()
    checked = text[text.index("  checked:") :]
    f.write_text(f.read_text().rstrip("\n") + "\n" + checked.replace("L5H5", "L2H2"))
    cat, report = check(d)
    assert cat is None and any("check 'induction' does not serve previous-token-head" in str(p) for p in report)


def test_a_changed_verdict_shows_in_heads_diff(write_data: WriteData, cache: Path) -> None:
    import shutil
    import subprocess

    from catalogue.history import diff

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    d = write_data()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *args], cwd=d.parent, check=True, capture_output=True)
    record({("induction-head", 0): block()}, data=d)
    text = diff("HEAD", data=d).text()
    assert (
        "evidence changed: wang2022interpretability on gpt2-small [ev-inductaa] "
        "(checked; verdict unchecked -> below-threshold)" in text
    )
