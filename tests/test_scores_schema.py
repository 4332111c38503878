"""Evidence `scores:`, `source_kind:`, `stance:`; the standing rule; score tables in the index, `where` and filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from catalogue import query
from catalogue.index import Index
from catalogue.loader import check
from catalogue.paths import data_paths
from catalogue.schema import Evidence
from catalogue.scores import ranks
from catalogue.vocab import standing
from tests.conftest import WriteData
from tests.helpers import make_head, make_prev

TABLE = "data/scores/wang2022interpretability/gpt2-small.csv"


def _write_table(data: Path, *, cite: str = "wang2022interpretability", model: str = "gpt2-small") -> None:
    folder = data / "scores" / "wang2022interpretability"
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["layer,head,score"] + [f"{la},{he},{(la * 12 + he) / 143:.6f}" for la in range(12) for he in range(12)]
    (folder / "gpt2-small.csv").write_text("\n".join(rows) + "\n")
    (folder / "gpt2-small.yaml").write_text(
        f"cite: {cite}\nmodel: {model}\nsource_repository: github:x/y\nsource_path: s.json\n"
        "source_commit: 0123456789012345678901234567890123456789\nrows: 144\nscore: a score\n"
        "indexing: 0-indexed\nselection_rule: top 2\n"
    )


def _with_scores(**changes: Any) -> dict[str, Any]:
    head = make_head()
    head["evidence"][0] = {**head["evidence"][0], "scores": TABLE, **changes}
    return head


def _errors(data: Path) -> list[str]:
    cat, report = check(data)
    return [str(p) for p in report.errors]


def test_a_record_may_point_at_a_table_of_its_cite_and_model(write_data: WriteData) -> None:
    data = write_data(heads=[_with_scores(), make_prev()])
    _write_table(data)
    cat, report = check(data)
    assert cat is not None, [str(p) for p in report.errors]
    assert cat.scores[TABLE].rows[0] == (0, 0, 0.0)


@pytest.mark.parametrize(
    ("table_kwargs", "head", "message"),
    [
        ({}, _with_scores(scores="data/scores/wang2022interpretability/nosuch.csv"), "no score table"),
        ({"cite": "olsson2022incontext"}, _with_scores(), "manifest names cite 'olsson2022incontext'"),
        ({"model": "toy-2l"}, _with_scores(), "does not start with its manifest's model"),
        ({}, _with_scores(locations=["L5H5", "L12H0"]), "outside gpt2-small"),
    ],
)
def test_a_table_that_does_not_fit_is_an_error_at_its_line(
    write_data: WriteData, table_kwargs: dict[str, str], head: dict[str, Any], message: str
) -> None:
    data = write_data(heads=[head, make_prev()])
    _write_table(data, **table_kwargs)
    errors = _errors(data)
    assert any(message in e for e in errors), errors
    assert all("induction-head.yaml:" in e or "scores/" in e for e in errors), errors


def test_locations_must_be_rows_of_the_table(write_data: WriteData) -> None:
    data = write_data(heads=[_with_scores(), make_prev()])
    _write_table(data)
    csv = data / "scores" / "wang2022interpretability" / "gpt2-small.csv"
    csv.write_text("\n".join(line for line in csv.read_text().splitlines() if not line.startswith("5,5,")) + "\n")
    errors = _errors(data)
    assert any("induction-head.yaml:" in e and "has no row for L5H5" in e for e in errors), errors


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source_kind": None}, "source_kind"),
        ({"source_kind": "paper"}, "source_kind"),
        ({"stance": "refute"}, "stance"),
        ({"scores": "scores/x.csv"}, "data/scores/"),
        ({"model": None, "locations": []}, "score table needs a model"),
    ],
)
def test_evidence_fields_are_checked(change: dict[str, Any], message: str) -> None:
    record = {"cite": "k", "model": "gpt2-small", "method": "scoring", "source": "s", "source_kind": "data"}
    record["scores"] = TABLE
    record.update(change)
    record = {k: v for k, v in record.items() if v is not None}
    with pytest.raises(ValueError, match=message):
        Evidence.model_validate(record)


AUTHORS = {"a": frozenset({"Ann"}), "b": frozenset({"Bo"}), "c": frozenset({"Ann", "Cy"})}


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([("a", "scoring", "support"), ("b", "path-patching", "support")], "established"),
        ([("a", "scoring", "support"), ("b", "scoring", "support")], "single-source"),  # one method
        ([("a", "scoring", "support"), ("c", "path-patching", "support")], "single-source"),  # shared author
        ([("a", "scoring", "support"), ("a", "path-patching", "support")], "single-source"),  # one work
        ([("a", "scoring", "support"), ("b", "path-patching", "qualify")], "established"),
        ([("a", "scoring", "support"), ("b", "path-patching", "support"), ("c", "x", "contradict")], "contested"),
        ([("a", "scoring", "fail-to-replicate")], "contested"),
        ([], "single-source"),
    ],
)
def test_standing_rule(records: list[tuple[str, str, str]], expected: str) -> None:
    assert standing(records, AUTHORS) == expected


def test_ranks_put_the_highest_first_and_share_ties() -> None:
    assert ranks([(0, 0, 0.5), (0, 1, 0.9), (1, 0, 0.5), (1, 1, 0.1)]) == [
        (0, 0, 0.5, 2),
        (0, 1, 0.9, 1),
        (1, 0, 0.5, 2),
        (1, 1, 0.1, 4),
    ]


@pytest.fixture
def scored_index(write_data: WriteData, cache: Path) -> Index:
    prev = make_prev()
    prev["evidence"][0] = {**prev["evidence"][0], "source_kind": "abstract"}
    contra = {"cite": "olsson2022incontext", "method": "scoring", "source": "x", "source_kind": "code"}
    data = write_data(
        heads=[_with_scores(), {**prev, "evidence": [*prev["evidence"], {**contra, "stance": "contradict"}]}]
    )
    _write_table(data)
    return Index.open(data_paths(data))


def test_where_gives_score_and_rank_in_each_table(scored_index: Index) -> None:
    m, loc, found, scores = query.where(scored_index, "gpt2-small", "L11H11")
    assert [(s["table"], s["rank"], s["rows"]) for s in scores] == [(TABLE, 1, 144)]
    assert scores[0]["score"] == pytest.approx(1.0)
    _, _, _, scores = query.where(scored_index, "gpt2-small", "L0H0")
    assert scores[0]["rank"] == 144


def test_list_filters_on_source_kind_and_standing(scored_index: Index) -> None:
    def ids(f: query.Filters) -> list[str]:
        return [h["id"] for h in query.list_heads(scored_index, f)]

    assert ids(query.Filters(source_kind="abstract")) == ["previous-token-head"]
    assert ids(query.Filters(source_kind="body")) == ["induction-head"]
    assert ids(query.Filters(standing="contested")) == ["previous-token-head"]
    assert ids(query.Filters(standing="established")) == ["induction-head"]
    with pytest.raises(Exception, match="--standing 'famous'"):
        ids(query.Filters(standing="famous"))
    assert query.show(scored_index, "induction-head")["standing"] == "established"
    figures = query.stats(scored_index).as_dict()
    assert figures["per_head_scores"] == 144
    assert figures["evidence_by_source_kind"] == {"body": 2, "abstract": 1, "code": 1}


def _write_listed_table(data: Path, manifest_extra: str) -> None:
    _write_table(data)
    manifest = data / "scores" / "wang2022interpretability" / "gpt2-small.yaml"
    manifest.write_text(manifest.read_text() + manifest_extra)


def test_a_record_placing_a_list_of_its_manifest_is_reread_by_machine(write_data: WriteData, cache: Path) -> None:
    from typer.testing import CliRunner

    from catalogue.cli import app

    data = write_data(heads=[_with_scores(), make_prev()])
    _write_listed_table(data, "selected: [L5H5, L5H8, L5H9, L6H9]\n")
    cat, report = check(data)
    assert cat is not None and not report.warnings
    assert cat.selections == {"ev-inductaa": "selected"}
    out = CliRunner().invoke(app, ["--data", str(data), "show", "induction-head"]).output
    assert "re-read: by machine: its heads are the list `selected` in" in out
    assert "data/scores/wang2022interpretability/gpt2-small.yaml" in out


def test_a_record_placing_heads_no_list_holds_is_warned_at_its_line(write_data: WriteData) -> None:
    data = write_data(heads=[_with_scores(), make_prev()])
    _write_listed_table(data, "selected: [L5H5, L5H8, L5H9]\n")
    cat, report = check(data)
    assert cat is not None and cat.selections == {}
    (warning,) = report.warnings
    text = str(warning)
    assert "induction-head.yaml:" in text and "its 4 heads are none of the head lists in" in text
    assert "scripts/import_scores.py" in text


@pytest.mark.parametrize(
    ("lists", "placed", "found"),
    [
        ({"selected": ("L0H1", "L1H0")}, [(0, 1), (1, 0)], "selected"),
        ({"selected": ("L0H1",)}, [(0, 0), (1, 0), (1, 1)], "not selected"),
        ({"selected_kv_heads": ("L1KV0",)}, [(1, 0), (1, 1)], "selected_kv_heads"),
        ({"selected": ("L0H1",), "masked": ("L0H0",)}, [(0, 0)], "masked"),
        ({"selected": ("L0H1",)}, [(0, 0)], None),
    ],
)
def test_selection_of_matches_lists_kv_heads_and_complements(
    lists: dict[str, tuple[str, ...]], placed: list[tuple[int, int]], found: str | None
) -> None:
    from catalogue.scores import ScoreTable, selection_of

    rows = tuple((la, he, 0.0) for la in range(2) for he in range(2))
    table = ScoreTable("p.csv", "c", "m", "", "", "", "", "head", rows, lists=lists)
    assert selection_of(table, placed, layers=2, heads=2, group=2 if "kv" in next(iter(lists)) else 1) == found
