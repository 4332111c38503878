"""The schema accepts the factory's valid records and rejects each one-field change that breaks a rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from catalogue.schema import Evidence, HeadType, Location
from catalogue.vocab import CHECKS, METHODS, STAGES, SUBCATEGORY_STAGE, normalize_name, parse_location
from tests.helpers import make_head


def test_valid_head_validates() -> None:
    h = HeadType.model_validate(make_head())
    assert h.evidence[0].locations[0] == Location(layer=5, head=5)
    assert h.names == ["induction-head", "Induction head", "Induction Head", "statistical induction head"]


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"id": "Induction Head"}, "e.g. induction-head"),
        ({"stages": []}, "at least 1 item"),
        ({"evidence": []}, "at least 1 item"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
        ({"stages": [{"stage": "reasoning", "placed_by": "survey"}]}, "Input should be"),
        (
            {"stages": [{"stage": "latent-reasoning", "subcategory": "general-tasks", "placed_by": "survey"}]},
            "belongs to stage",
        ),
        ({"stages": [{"stage": "latent-reasoning", "placed_by": "survey"}] * 2}, "listed twice"),
        ({"related": [{"kind": "likes", "head": "x-head"}]}, "Input should be"),
        ({"check": "telepathy"}, "Input should be"),
        ({"summary": ""}, "at least 1 character"),
    ],
)
def test_head_rejects(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        HeadType.model_validate(make_head(**overrides))


def _evidence(**overrides: Any) -> dict[str, Any]:
    e = dict(make_head()["evidence"][0])
    e.update(overrides)
    return e


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"method": "vibes"}, "Input should be"),
        ({"source": None}, "Input should be a valid string"),
        ({"locations": ["layer 5 head 5"]}, "not a head location"),
        ({"locations": ["L5H5", "5.5"]}, "listed twice"),
        ({"locations": ["L-1H3"]}, "not a head location"),
        ({"value": 0.5}, "needs its metric"),
        ({"model": None}, "locations need a model"),
        ({"cite": "bad key!"}, "e.g. wang2022interpretability"),
    ],
)
def test_evidence_rejects(overrides: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        Evidence.model_validate(_evidence(**overrides))


@pytest.mark.parametrize(
    ("text", "expected"), [("L9H9", (9, 9)), ("9.9", (9, 9)), ("l10h0", (10, 0)), ("10:7", (10, 7))]
)
def test_parse_location_forms(text: str, expected: tuple[int, int]) -> None:
    assert parse_location(text) == expected


def _parse_by_regex(text: str) -> tuple[int, int] | str:
    """parse_location's rule written out: its regex, then the MAX_INDEX bound."""
    from catalogue.vocab import _LOCATION_RE, MAX_INDEX

    m = _LOCATION_RE.match(text)
    if not m:
        return "not a head location"
    layer, head = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))
    return (int(layer), int(head)) if int(layer) <= MAX_INDEX and int(head) <= MAX_INDEX else "go up to"


@settings(max_examples=500)
@given(
    st.text(alphabet="LlHh0123456789 .:/-²٣", max_size=24) | st.from_regex(r"L[0-9]{1,12}H[0-9]{1,12}", fullmatch=True)
)
def test_parse_location_follows_its_regex_and_bound(text: str) -> None:
    expected = _parse_by_regex(text)
    if isinstance(expected, tuple):
        assert parse_location(text) == expected
    else:
        with pytest.raises(ValueError, match=expected):
            parse_location(text)


def test_vocabularies_are_derived_from_types() -> None:
    assert len(STAGES) == 4 and "path-patching" in METHODS and "induction" in CHECKS
    assert set(SUBCATEGORY_STAGE.values()) == set(STAGES)


@pytest.mark.parametrize("name", ["Induction Heads", "induction_head", " INDUCTION-HEAD ", "induction"])
def test_normalize_name_folds_variants(name: str) -> None:
    assert normalize_name(name) == "induction"


def test_a_neuronpedia_id_needs_its_source() -> None:
    from catalogue.schema import ModelInfo
    from catalogue.vocab import neuronpedia_head_url
    from tests.helpers import MODELS

    m = ModelInfo.model_validate({**MODELS[0], "neuronpedia_id": "gpt2-small", "source": "x; neuronpedia_id: y"})
    assert m.neuronpedia_id is not None
    assert neuronpedia_head_url(m.neuronpedia_id, 9, 1) == "https://www.neuronpedia.org/gpt2-small/head/9/1"
    with pytest.raises(ValidationError, match="neuronpedia_id needs its source"):
        ModelInfo.model_validate({**MODELS[0], "neuronpedia_id": "gpt2-small"})
    with pytest.raises(ValidationError, match="not valid"):
        ModelInfo.model_validate({**MODELS[0], "neuronpedia_id": "GPT2 small", "source": "neuronpedia"})


@settings(max_examples=300)
@given(
    st.lists(
        st.from_regex(r"L[0-9]{1,6}H[0-9]{1,6}", fullmatch=True) | st.text(alphabet="LH0123456789,. x", max_size=10),
        max_size=8,
    )
)
def test_location_list_fast_path_agrees_with_one_by_one(items: list[str]) -> None:
    """Evidence parses a list of L9H9 in one regex pass; it must read exactly what item-by-item parsing reads."""
    from catalogue.schema import Evidence, Location

    def pairs(parsed: object) -> list[tuple[int, int]]:
        assert isinstance(parsed, list)
        return [(loc.layer, loc.head) for loc in (Location.model_validate(p) for p in parsed)]

    try:
        expected: object = [parse_location(x) for x in items]
    except ValueError as exc:
        expected = type(exc)
    try:
        got: object = pairs(Evidence._locations(items))
    except ValueError as exc:
        got = type(exc)
    assert got == expected
