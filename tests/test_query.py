"""Read functions over the index: filters, resolution, search ranking, where, maps, citations, stats."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalogue import query
from catalogue.errors import UnknownHeadError, UnknownModelError, UsageError
from catalogue.index import Index
from catalogue.paths import data_paths
from tests.conftest import WriteData
from tests.helpers import make_head, make_prev


@pytest.fixture
def index(write_data: WriteData, cache: Path) -> Index:
    return Index.open(data_paths(write_data()))


def ids(heads: list[dict[str, object]]) -> list[str]:
    return [str(h["id"]) for h in heads]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (query.Filters(), ["previous-token-head", "induction-head"]),
        (query.Filters(stage=("LR",)), ["induction-head"]),
        (query.Filters(stage=("In-Context Identification",)), ["previous-token-head"]),
        (query.Filters(method=("scoring",)), ["induction-head"]),
        (query.Filters(method=("path-patching",)), ["previous-token-head", "induction-head"]),
        (query.Filters(model=("gpt2",)), ["previous-token-head", "induction-head"]),
        (query.Filters(paper=("2209.11895",)), ["induction-head"]),
        (query.Filters(paper=("arXiv:2211.00593v3",)), ["previous-token-head", "induction-head"]),
        (query.Filters(paper=("OLSSON2022INCONTEXT",)), ["induction-head"]),
        (query.Filters(year=("2022",)), ["induction-head"]),
        (query.Filters(year=("1999",)), []),
        (query.Filters(in_survey=False), []),
        (query.Filters(stage=("LR",), method=("path-patching",), model=("gpt2-small",)), ["induction-head"]),
    ],
)
def test_list_filters(index: Index, filters: query.Filters, expected: list[str]) -> None:
    assert ids(query.list_heads(index, filters)) == expected


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        (query.Filters(stage=("XX",)), "--stage 'XX' is not one of"),
        (query.Filters(method=("magic",)), "--method 'magic'"),
        (query.Filters(model=("gpt5",)), "no model is called 'gpt5'"),
        (query.Filters(paper=("9999.99999",)), "no work in the catalogue has arXiv id"),
        (query.Filters(paper=("wang2022interpretabilty",)), "Did you mean: wang2022interpretability"),
    ],
)
def test_bad_filters_explain(index: Index, filters: query.Filters, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(")):
        query.list_heads(index, filters)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # a filter given twice is a union, never the last value alone
        (query.Filters(stage=("LR", "ICI")), ["previous-token-head", "induction-head"]),
        (query.Filters(method=("scoring", "path-patching"), paper=("olsson2022incontext",)), ["induction-head"]),
        (query.Filters(paper=("2209.11895", "2211.00593")), ["previous-token-head", "induction-head"]),
        (query.Filters(year=("2022", "2023")), ["previous-token-head", "induction-head"]),
        (query.Filters(status=("confirmed",)), []),
        (query.Filters(status=("confirmed", "unchecked")), ["previous-token-head", "induction-head"]),
        # the filters researchers expect: family, layer range, year range, sub-category
        (query.Filters(family=("GPT2",)), ["previous-token-head", "induction-head"]),
        (query.Filters(family=("toy",)), []),
        (query.Filters(layers=("0-3",)), ["previous-token-head"]),
        (query.Filters(layers=("5-",)), ["induction-head"]),
        (query.Filters(layers=("2", "6")), ["previous-token-head", "induction-head"]),
        (query.Filters(layers=("-1",)), []),
        (query.Filters(year=("-2022",)), ["induction-head"]),
        (query.Filters(year=("2023-2025",)), ["previous-token-head", "induction-head"]),
        (query.Filters(subcategory=("icl-task-learning",)), ["induction-head"]),
        (
            query.Filters(subcategory=("overall structure", "icl-task-learning")),
            ["previous-token-head", "induction-head"],
        ),
        # all evidence filters hold for one record: the olsson record has no model
        (query.Filters(paper=("olsson2022incontext",), family=("gpt2",)), []),
    ],
)
def test_list_filters_repeat_and_ranges(index: Index, filters: query.Filters, expected: list[str]) -> None:
    assert ids(query.list_heads(index, filters)) == expected


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        (query.Filters(family=("gemma",)), "--family 'gemma' is not a model family"),
        (query.Filters(layers=("x",)), "--layers 'x': write one number or a range"),
        (query.Filters(layers=("5-2",)), "the range is empty"),
        (query.Filters(year=("2025-2020",)), "the range is empty"),
        (query.Filters(subcategory=("icl-task-learnin",)), "Did you mean: icl-task-learning"),
        (query.Filters(source_kind=("paper",)), "--source-kind 'paper' is not one of"),
    ],
)
def test_new_filters_explain_bad_values(index: Index, filters: query.Filters, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        query.list_heads(index, filters)


def test_source_kind_filter_reads_the_evidence_records(write_data: WriteData, cache: Path) -> None:
    head = make_head()
    head["evidence"][0]["source_kind"] = "code"
    head["evidence"][1]["source_kind"] = "body"
    prev = make_prev()
    prev["evidence"][0]["source_kind"] = "third-party"
    idx = Index.open(data_paths(write_data(heads=[head, prev])))
    assert ids(query.list_heads(idx, query.Filters(source_kind=("body",)))) == ["induction-head"]
    assert ids(query.list_heads(idx, query.Filters(source_kind=("body", "third-party")))) == [
        "previous-token-head",
        "induction-head",
    ]
    assert ids(query.list_heads(idx, query.Filters(source_kind=("data",)))) == []
    assert ids(query.list_heads(idx, query.Filters(source_kind=("code",), model=("gpt2-small",)))) == ["induction-head"]
    # the same record must carry both: the body-read record of induction-head has no model
    assert ids(query.list_heads(idx, query.Filters(source_kind=("body",), model=("gpt2-small",)))) == []


@pytest.mark.parametrize("filters", [query.Filters(), query.Filters(stage=("LR",)), query.Filters(model=("gpt2",))])
def test_list_rows_match_rows_of_full_objects(index: Index, filters: query.Filters) -> None:
    from catalogue.vocab import stage_label

    years = {r["key"]: r["year"] for r in query.references(index)}
    expected = [
        {
            "id": h["id"],
            "name": h["name"],
            "stages": stage_label([p["stage"] for p in h["stages"]]),
            "in_survey": h["in_survey"],
            "standing": h["standing"],
            "evidence": len(h["evidence"]),
            "models": ",".join(sorted({e["model"] for e in h["evidence"] if e.get("model")})),
            "years": ",".join(str(y) for y in sorted({years[e["cite"]] for e in h["evidence"]})),
            "summary": h["summary"],
        }
        for h in query.list_heads(index, filters)
    ]
    assert query.list_rows(index, filters) == expected


def test_show_resolves_any_name_and_suggests(index: Index) -> None:
    for name in ["induction-head", "INDUCTION HEAD", "statistical induction heads", "prev-token head"]:
        assert query.show(index, name)["id"] in ("induction-head", "previous-token-head")
    with pytest.raises(UnknownHeadError, match="Did you mean: induction-head"):
        query.show(index, "inductoin head")


def test_search_ranks_name_matches_first(write_data: WriteData, cache: Path) -> None:
    d = write_data(heads=[make_head(), make_prev(summary="Feeds the induction head with the previous token.")])
    hits = query.search(Index.open(data_paths(d)), "induction")
    assert [h.head["id"] for h in hits] == ["induction-head", "previous-token-head"]
    assert hits[0].score >= hits[1].score


def test_search_prefix_and_empty(index: Index) -> None:
    assert [h.head["id"] for h in query.search(index, "induc*")] == ["induction-head"]
    with pytest.raises(UsageError):
        query.search(index, "!!!")


@pytest.mark.parametrize("ref", ["L5H5", "5.5", "5:5", "l5h5"])
def test_where_accepts_forms(index: Index, ref: str) -> None:
    m, loc, found, _ = query.where(index, "gpt2-small", ref)
    assert (m["id"], loc) == ("gpt2-small", (5, 5))
    assert [(h["id"], len(ev)) for h, ev in found] == [("induction-head", 1)]


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [("L12H0", "outside gpt2-small"), ("5.12", "outside"), ("five", "not a head"), ("L99999H0", "go up to 9999")],
)
def test_where_rejects(index: Index, ref: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        query.where(index, "gpt2-small", ref)


def test_where_unknown_model(index: Index) -> None:
    with pytest.raises(UnknownModelError, match="Did you mean: gpt2-small"):
        query.where(index, "gpt2-smal", "1.1")


def test_model_map(index: Index) -> None:
    _, mm = query.model_map(index, "gpt2")
    assert mm.cells[(2, 2)] == ["previous-token-head"] and mm.cells[(6, 9)] == ["induction-head"]
    assert mm.stages["induction-head"] == ["latent-reasoning"]


def test_cite_and_stats(index: Index) -> None:
    assert [r["key"] for r in query.cite(index, ["induction-head"])] == [
        "olsson2022incontext",
        "wang2022interpretability",
    ]
    s = query.stats(index)
    assert (s.heads, s.evidence, s.located_evidence, s.locations) == (2, 3, 2, 6)
    assert s.by_method["path-patching"] == 2 and s.by_year["2022"] == 1


def _gpt2(**overrides: object) -> dict[str, object]:
    from tests.helpers import MODELS

    return {**MODELS[0], "parameters": 124_000_000, **overrides}


@pytest.mark.parametrize(
    ("model", "heads", "expected"),
    [
        (_gpt2(), None, ["gpt2-small"]),
        (_gpt2(parameters=2_000_000_000), None, []),  # too large for the bound
        (_gpt2(parameters=None), None, []),  # size not recorded: never guessed
        (_gpt2(hf_id=None), None, []),  # not on the hub
        (_gpt2(), [make_head(check=None), make_prev(check=None)], []),  # no head type with a check
        (_gpt2(), [make_head(evidence=[make_head()["evidence"][1]]), make_prev(check=None)], []),  # no location
    ],
    ids=["listed", "too-large", "size-unknown", "not-on-hub", "no-check", "not-located"],
)
def test_models_to_check(
    write_data: WriteData,
    cache: Path,
    model: dict[str, object],
    heads: list[dict[str, object]] | None,
    expected: list[str],
) -> None:
    model = {k: v for k, v in model.items() if v is not None}
    index = Index.open(data_paths(write_data(models=[model], heads=heads)))
    assert [m["id"] for m in query.models_to_check(index, max_parameters=1.5e9)] == expected


def test_models_to_check_needs_a_positive_bound(index: Index) -> None:
    with pytest.raises(UsageError, match="max-parameters"):
        query.models_to_check(index, max_parameters=0)
