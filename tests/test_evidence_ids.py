"""Permanent evidence ids: the pattern, uniqueness, the migration script, new records, withdrawn records."""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from catalogue.contribute import add_evidence, fill_evidence_ids
from catalogue.evidence_ids import assign, is_evidence_id, new_id
from catalogue.loader import check
from tests.conftest import WriteData
from tests.helpers import DATA, ROOT, make_head, make_prev


def evidence_ids(data: Path) -> list[str | None]:
    out = []
    for f in sorted((data / "heads").glob("*.yaml")):
        out += [e.get("id") for e in yaml.safe_load(f.read_text())["evidence"]]
    return out


def test_every_record_of_the_catalogue_has_a_unique_permanent_id() -> None:
    ids = evidence_ids(DATA)
    assert all(i is not None and is_evidence_id(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_new_ids_are_deterministic_and_avoid_taken_ones() -> None:
    rec = {"cite": "wang2022interpretability", "model": "gpt2-small", "method": "path-patching", "locations": ["L9H9"]}
    first = new_id("name-mover-head", rec)
    assert is_evidence_id(first) and first == new_id("name-mover-head", dict(rec))
    assert new_id("name-mover-head", rec, {first}) != first
    # equal records in one head type get different ids; a record that has one keeps it (None: nothing to add)
    got = assign("x-head", [rec, dict(rec), {**rec, "id": "ev-aaaaaaaa"}])
    assert got[2] is None and got[0] != got[1] and all(is_evidence_id(str(g)) for g in got[:2])


def without_ids(head: dict[str, object]) -> dict[str, object]:
    head = dict(head)
    head["evidence"] = [{k: v for k, v in e.items() if k != "id"} for e in head["evidence"]]  # type: ignore[attr-defined]
    return head


def test_the_migration_fills_missing_ids_only_and_is_rerunnable(write_data: WriteData, cache: Path) -> None:
    ind = without_ids(make_head())
    ind["evidence"][0]["id"] = "ev-keepthis"  # type: ignore[index]
    data = write_data(heads=[ind, without_ids(make_prev())])
    before = {f.name: f.read_text() for f in (data / "heads").glob("*.yaml")}
    changed = fill_evidence_ids(data=data)
    assert sorted(p.name for p in changed) == ["induction-head.yaml", "previous-token-head.yaml"]
    ids = evidence_ids(data)
    assert "ev-keepthis" in ids and all(i and is_evidence_id(i) for i in ids) and len(set(ids)) == 3
    for f in (data / "heads").glob("*.yaml"):  # only `id:` lines were added; no other line changed
        old, new = before[f.name].splitlines(), f.read_text().splitlines()
        ops = difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes()
        assert {op for op, *_ in ops} <= {"equal", "insert"}
        inserted = [ln for op, _, _, j1, j2 in ops if op == "insert" for ln in new[j1:j2]]
        assert inserted and all(ln.strip().startswith("id: ev-") for ln in inserted)
    after = {f.name: f.read_text() for f in (data / "heads").glob("*.yaml")}
    assert fill_evidence_ids(data=data) == {}  # a second run changes nothing
    assert {f.name: f.read_text() for f in (data / "heads").glob("*.yaml")} == after
    # the same data gets the same ids on another machine (deterministic)
    again = write_data(heads=[ind, without_ids(make_prev())], folder="again")
    fill_evidence_ids(data=again)
    assert evidence_ids(again) == ids
    cat, report = check(data)
    assert cat is not None and not report.warnings


def test_the_migration_script_runs_from_the_shell(write_data: WriteData, cache: Path) -> None:
    data = write_data(heads=[without_ids(make_head()), make_prev()])
    p = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "assign_evidence_ids.py"), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "2 evidence id(s) assigned in 1 file(s)" in p.stdout
    p = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "assign_evidence_ids.py"), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.stdout.strip() == "every evidence record has an id"


def test_a_shared_id_is_an_error_with_its_place(write_data: WriteData) -> None:
    prev = make_prev()
    prev["evidence"][0]["id"] = "ev-inductaa"  # already used by induction-head evidence[0]
    cat, report = check(write_data(heads=[make_head(), prev]))
    assert cat is None
    (p,) = report.errors
    assert "previous-token-head.yaml" in p.file and p.line is not None
    assert "ev-inductaa" in p.message and "induction-head evidence[0]" in p.message


def test_a_missing_id_is_a_warning_that_names_the_script(write_data: WriteData) -> None:
    cat, report = check(write_data(heads=[without_ids(make_head()), make_prev()]))
    assert cat is not None and len(report.warnings) == 2
    assert all("assign_evidence_ids.py" in p.hint for p in report.warnings)


@pytest.mark.parametrize("bad", ["ev-1", "EV-ABCDEFGH", "ev-abcdefg1", "e-abcdefgh"])
def test_a_malformed_id_is_refused(write_data: WriteData, bad: str) -> None:
    ind = make_head()
    ind["evidence"][0]["id"] = bad
    cat, report = check(write_data(heads=[ind, make_prev()]))
    assert cat is None and any("evidence id" in p.message for p in report.errors)


def test_a_withdrawn_record_needs_its_id_reason_and_date(write_data: WriteData) -> None:
    ind = without_ids(make_head())
    ind["evidence"][0]["deprecated"] = {"reason": "retracted", "date": "2026-11-01"}  # type: ignore[index]
    cat, report = check(write_data(heads=[ind, make_prev()]))
    assert cat is None and any("withdrawn record needs its `id:`" in p.message for p in report.errors)
    dated = make_head()
    dated["evidence"][0]["deprecated"] = {"reason": "retracted"}  # no date
    cat, report = check(write_data(heads=[dated, make_prev()], folder="b"))
    assert cat is None


def test_add_evidence_assigns_a_new_id_that_no_record_has(write_data: WriteData, cache: Path) -> None:
    data = write_data()
    ev = {
        "cite": "olsson2022incontext",
        "model": "gpt2",
        "locations": ["L1H4"],
        "method": "scoring",
        "source": "T1",
        "source_kind": "body",
    }
    edit = add_evidence("induction-head", dict(ev), data=data)
    assert edit.evidence.id is not None and is_evidence_id(edit.evidence.id)
    assert edit.evidence.id not in {"ev-inductaa", "ev-inductab", "ev-prevtoka"}
    assert f"id: {edit.evidence.id}" in (data / "heads" / "induction-head.yaml").read_text()


def test_add_evidence_converts_a_paper_numbering_and_says_so(write_data: WriteData, cache: Path) -> None:
    data = write_data()
    ev = {
        "cite": "olsson2022incontext",
        "model": "gpt2-small",
        "locations": ["Head 2-4", "(3, 12)"],
        "method": "scoring",
        "source": "Table 2",
        "source_kind": "body",
    }
    edit = add_evidence("induction-head", dict(ev), convention="1-indexed", data=data)
    assert [str(x) for x in edit.evidence.locations] == ["L1H3", "L2H11"]
    assert "1-indexed" in edit.evidence.source and "Head 2-4, (3, 12)" in edit.evidence.source
    from catalogue.errors import UsageError

    with pytest.raises(UsageError, match="no reading fits"):
        add_evidence(
            "induction-head", {**ev, "locations": ["13-13"], "source": "T3"}, convention="1-indexed", data=data
        )


def test_heads_new_gives_the_first_record_an_id_and_show_prints_it(write_data: WriteData, cache: Path) -> None:
    from typer.testing import CliRunner

    from catalogue.cli import app
    from catalogue.contribute import new_head

    data = write_data()
    fields = make_head(id="copy-head", name="Copy head", aliases=[], related=[], check=None)
    fields["evidence"] = [{k: v for k, v in fields["evidence"][0].items() if k != "id"}]
    edit = new_head(fields, data=data)
    ev_id = edit.head.evidence[0].id
    assert ev_id is not None and is_evidence_id(ev_id)
    assert f"id: {ev_id}" in (data / "heads" / "copy-head.yaml").read_text()
    shown = CliRunner().invoke(app, ["--data", str(data), "show", "copy-head"]).output
    assert f"- {ev_id} Wang et al." in shown
