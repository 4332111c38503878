"""Paper numberings -> canonical heads (catalogue/numbering.py): every form, the ambiguity rule, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalogue.numbering import CONVENTIONS, encode, head_id


def readings(text: str, **kw: object) -> list[tuple[str, str]]:
    return [(r.canonical, r.convention) for r in head_id(text, **kw).readings]  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["Head 8-10", "8-10", "(8, 10)", "8.10", "L8H10", "layer 8 head 10", "8:10"])
def test_a_bare_pair_is_ambiguous_and_lists_every_reading(text: str) -> None:
    r = head_id(text)
    assert r.ambiguous and r.form == "pair"
    assert readings(text) == [
        ("L8H10", "0-indexed"),
        ("L7H9", "1-indexed"),
        ("L7H10", "1-indexed-layers"),
        ("L8H9", "1-indexed-heads"),
    ]
    assert r.assumed.canonical == "L8H10"


def test_the_model_size_removes_readings_that_do_not_fit() -> None:
    # GPT-2 small has 12 heads: head 12 exists only if heads are counted from 1
    assert readings("8.12", layers=12, heads=12) == [("L7H11", "1-indexed"), ("L8H11", "1-indexed-heads")]
    # "layer 24" of a 24-layer model can only be 1-indexed
    assert {c for _, c in readings("layer 24 head 3", layers=24, heads=16)} == {"1-indexed", "1-indexed-layers"}
    with pytest.raises(ValueError, match="no reading fits the model"):
        head_id("13.13", layers=12, heads=12)


def test_a_convention_gives_one_reading() -> None:
    assert readings("Head 8-10", convention="1-indexed") == [("L7H9", "1-indexed")]
    assert not head_id("(8, 10)", convention="0-indexed").ambiguous
    with pytest.raises(ValueError, match="no index can be 0"):
        head_id("0-3", convention="1-indexed")


def test_flattened_indices_need_the_number_of_heads() -> None:
    assert readings("117", heads=12, convention="flat") == [("L9H9", "flat")]
    assert readings("118", heads=12, convention="flat-1-indexed") == [("L9H9", "flat-1-indexed")]
    assert head_id("117", heads=12, layers=12).ambiguous
    with pytest.raises(ValueError, match="give the model"):
        head_id("117")
    with pytest.raises(ValueError, match="one number"):
        head_id("117", heads=12, convention="1-indexed")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("blocks.9.attn.hook_z[:, :, 9]", "L9H9"),
        ("blocks.10.attn.hook_z[:,:,0]", "L10H0"),
        ("blocks.9.attn.hook_pattern[:, 6]", "L9H6"),
        ("model.layers.9.self_attn head 3", "L9H3"),
        ("model.layers.9.self_attn[3]", "L9H3"),
        ("transformer.h.9.attn, head 6", "L9H6"),
        ("gpt_neox.layers.4.attention head 11", "L4H11"),
    ],
)
def test_code_is_zero_indexed_and_unambiguous(text: str, want: str) -> None:
    r = head_id(text)
    assert not r.ambiguous and r.assumed.canonical == want and r.assumed.convention == "0-indexed"


def test_code_refuses_another_convention_and_a_misplaced_head_index() -> None:
    with pytest.raises(ValueError, match="code indexes from 0"):
        head_id("blocks.9.attn.hook_z[:, :, 9]", convention="1-indexed")
    with pytest.raises(ValueError, match=r"dimension 2: write \[:, :, H\]"):
        head_id("blocks.9.attn.hook_z[:, 9]")


@pytest.mark.parametrize("text", ["", "nine", "L9", "9.9.9", "blocks.9.mlp.hook_post[:, :, 1]"])
def test_unreadable_text_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="L9H9, 9.9"):
        head_id(text)


@given(
    layers=st.integers(1, 96),
    heads=st.integers(1, 128),
    data=st.data(),
    convention=st.sampled_from(CONVENTIONS),
)
def test_encode_then_read_gives_the_head_back(layers: int, heads: int, data: st.DataObject, convention: str) -> None:
    layer = data.draw(st.integers(0, layers - 1))
    head = data.draw(st.integers(0, heads - 1))
    text = encode(layer, head, convention, heads=heads)
    r = head_id(text, convention=convention, layers=layers, heads=heads)
    assert [(x.layer, x.head) for x in r.readings] == [(layer, head)]


@given(layer=st.integers(0, 200), head=st.integers(0, 200), convention=st.sampled_from(CONVENTIONS[:4]))
def test_every_reading_of_a_pair_is_listed_and_the_true_one_among_them(layer: int, head: int, convention: str) -> None:
    text = encode(layer, head, convention)
    r = head_id(text)
    assert (layer, head, convention) in [(x.layer, x.head, x.convention) for x in r.readings]
    assert r.ambiguous == (len(r.readings) > 1)
