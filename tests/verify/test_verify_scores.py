"""Score functions on hand-built attention patterns: each score's definition, checked by example."""

from __future__ import annotations

import pytest

from tests.verify.conftest import NO_TORCH

pytest.importorskip("torch", reason=NO_TORCH)

import torch  # noqa: E402

from catalogue.verify.copy_suppression import copy_suppression_score  # noqa: E402
from catalogue.verify.delimiter import delimiter_score  # noqa: E402
from catalogue.verify.duplicate_token import duplicate_token_detection, duplicate_token_score  # noqa: E402
from catalogue.verify.first_token import first_token_score  # noqa: E402
from catalogue.verify.induction import copying_score, induction_detection, induction_score  # noqa: E402
from catalogue.verify.iteration import iteration_score  # noqa: E402
from catalogue.verify.local import local_score  # noqa: E402
from catalogue.verify.positional import positional_offset, positional_score  # noqa: E402
from catalogue.verify.previous_token import previous_token_score  # noqa: E402
from catalogue.verify.rare_word import rare_word_score  # noqa: E402
from catalogue.verify.retrieval import retrieval_score  # noqa: E402
from catalogue.verify.successor import successor_score  # noqa: E402

N = 8


def heads(*rows: torch.Tensor) -> torch.Tensor:
    """Stack per-head ``[batch, q, k]`` patterns into ``[1, n_heads, batch, q, k]``."""
    return torch.stack(rows)[None]


def one_hot_rows(keys: list[int]) -> torch.Tensor:
    """``[1, q, k]``: query q attends only to key ``keys[q]``."""
    return torch.nn.functional.one_hot(torch.tensor(keys), len(keys)).float()[None]


def uniform_causal(n: int = N) -> torch.Tensor:
    m = torch.ones(n, n).tril()
    return (m / m.sum(-1, keepdim=True))[None]


PREV = one_hot_rows([0, *range(N - 1)])  # q -> q-1 (query 0 -> itself)
SELF = one_hot_rows(list(range(N)))
FIRST = one_hot_rows([0] * N)
NEXT = one_hot_rows([*range(1, N), N - 1])  # bidirectional: q -> q+1


def test_previous_token_perfect_self_and_uniform() -> None:
    s = previous_token_score(heads(PREV, SELF, uniform_causal()))
    assert s.shape == (1, 3)
    assert s[0, 0] == pytest.approx(1.0)
    assert s[0, 1] == pytest.approx(0.0)
    expected = sum(1 / (q + 1) for q in range(1, N)) / (N - 1)
    assert s[0, 2] == pytest.approx(expected)


def test_previous_token_rows_all_matches_transformer_lens_formula() -> None:
    # TransformerLens "mul": sum(pattern * detection) / sum(pattern); row 0 counts in the denominator
    s = previous_token_score(heads(PREV), rows="all")
    assert s[0, 0] == pytest.approx((N - 1) / N)


def test_duplicate_and_induction_detection_patterns() -> None:
    tokens = torch.tensor([[5, 6, 7, 5, 6, 7]])
    dup = duplicate_token_detection(tokens)[0]
    assert dup.nonzero().tolist() == [[3, 0], [4, 1], [5, 2]]
    ind = induction_detection(tokens)[0]
    assert ind.nonzero().tolist() == [[3, 1], [4, 2], [5, 3]]  # the token after the earlier copy


def test_duplicate_and_induction_scores_on_their_own_patterns() -> None:
    tokens = torch.tensor([[1, 2, 3, 4, 1, 2, 3, 4]])
    dup = one_hot_rows([0, 1, 2, 3, 0, 1, 2, 3])
    ind = one_hot_rows([0, 1, 2, 3, 1, 2, 3, 4])
    d = duplicate_token_score(heads(dup, ind), tokens=tokens)
    i = induction_score(heads(dup, ind), tokens=tokens)
    assert d[0].tolist() == pytest.approx([1.0, 0.0])
    assert i[0].tolist() == pytest.approx([0.0, 1.0])


def test_positional_finds_fixed_offsets() -> None:
    pattern = heads(PREV, NEXT, SELF)
    s = positional_score(pattern)
    assert s[0].tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert positional_offset(pattern)[0, :2].tolist() == [-1, 1]


def test_first_token_and_local() -> None:
    s = first_token_score(heads(FIRST, PREV))
    assert s[0].tolist() == pytest.approx([1.0, 1 / (N - 1)])
    loc = local_score(heads(FIRST, PREV, SELF), window=3)
    assert loc[0].tolist() == pytest.approx([0.0, 1.0, 0.0])


def test_delimiter_counts_delimiter_keys_from_other_queries() -> None:
    delim = torch.zeros(1, N, dtype=torch.long)
    delim[0, 4] = 1
    to_delim = one_hot_rows([0, 1, 2, 3, 4, 4, 4, 4])
    s = delimiter_score(heads(to_delim, FIRST), delimiter=delim)
    # queries 0..3 attend elsewhere, 5..7 to the delimiter; query 4 (a delimiter) is left out
    assert s[0].tolist() == pytest.approx([3 / 7, 0.0])


def test_rare_word_argmax_fraction() -> None:
    rare = torch.tensor([[-1, -1, -1, 2, 2, 2, 2, 2]])
    to_rare = one_hot_rows([0, 1, 2, 2, 2, 2, 3, 2])
    assert rare_word_score(heads(to_rare), rare=rare)[0, 0] == pytest.approx(4 / 5)


def test_retrieval_counts_copy_paste_by_argmax() -> None:
    tokens = torch.tensor([[9, 1, 2, 3, 1, 2, 3]])
    copy = torch.tensor([[-1, -1, -1, -1, 2, 3, -1]])  # at q=4 copy token 2 (pos 2), at q=5 token 3 (pos 3)
    needle = torch.tensor([[0, 1, 1, 1, 0, 0, 0]])
    preds = torch.tensor([[0, 0, 0, 0, 2, 3, 0]])
    good = one_hot_rows([0, 0, 0, 0, 2, 3, 0])
    half = one_hot_rows([0, 0, 0, 0, 2, 0, 0])
    s = retrieval_score(
        heads(good, half, SELF[:, :7, :7]), tokens=tokens, predictions=preds, copy_source=copy, needle=needle
    )
    assert s[0].tolist() == pytest.approx([1.0, 0.5, 0.0])
    wrong = retrieval_score(
        heads(good), tokens=tokens, predictions=torch.zeros_like(preds), copy_source=copy, needle=needle
    )
    assert wrong[0, 0] == 0.0  # the model did not copy, so no head copy-pasted


def test_iteration_pointer_mass() -> None:
    source = torch.tensor([[-1, -1, -1, -1, 0, 1, 2, -1]])
    s = iteration_score(heads(one_hot_rows([0, 1, 2, 3, 0, 1, 2, 7]), SELF), source=source)
    assert s[0].tolist() == pytest.approx([1.0, 0.0])


def ov_weights(ov: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """W_E = W_U = identity; W_V = ``ov``, W_O = identity (d_head = d_model)."""
    eye = torch.eye(d)
    return eye, ov[None, None], eye[None, None], eye


def test_copying_score_signs() -> None:
    d = 6
    assert copying_score(*ov_weights(torch.eye(d), d))[0, 0] == pytest.approx(1.0)
    assert copying_score(*ov_weights(-torch.eye(d), d))[0, 0] == pytest.approx(-1.0)


def test_copy_suppression_score() -> None:
    d = 40
    ids = torch.arange(d)
    assert copy_suppression_score(*ov_weights(-torch.eye(d), d), token_ids=ids, k=1)[0, 0] == pytest.approx(1.0)
    assert copy_suppression_score(*ov_weights(torch.eye(d), d), token_ids=ids, k=1)[0, 0] == pytest.approx(0.0)


def test_successor_score_on_a_shift_matrix() -> None:
    d = 10
    shift = torch.diag(torch.ones(d - 1), 1)  # e_i -> e_{i+1}
    seq = [list(range(d))]
    assert successor_score(*ov_weights(shift, d), sequences=seq)[0, 0] == pytest.approx(1.0)
    assert successor_score(*ov_weights(torch.eye(d), d), sequences=seq)[0, 0] == pytest.approx(0.0)


def test_scores_of_random_patterns_lie_in_unit_interval() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 4, N, N, generator=g).masked_fill(~torch.ones(N, N, dtype=torch.bool).tril(), -1e9)
    pattern = logits.softmax(-1)
    tokens = torch.randint(0, 4, (4, N), generator=g)
    for s in (
        previous_token_score(pattern),
        duplicate_token_score(pattern, tokens=tokens),
        induction_score(pattern, tokens=tokens),
        positional_score(pattern),
        first_token_score(pattern),
        local_score(pattern),
    ):
        assert s.shape == (2, 3)
        assert bool(((s >= 0) & (s <= 1 + 1e-6)).all())


def test_rows_all_equals_transformer_lens_detect_head_scoring() -> None:
    hd = pytest.importorskip("transformer_lens.head_detector", reason="TransformerLens is not installed")
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 5, (1, N), generator=g)
    logits = torch.randn(1, 2, 1, N, N, generator=g).masked_fill(~torch.ones(N, N, dtype=torch.bool).tril(), -1e9)
    pattern = logits.softmax(-1)
    ours = {
        "previous_token_head": previous_token_score(pattern, rows="all"),
        "duplicate_token_head": duplicate_token_score(pattern, tokens=tokens, rows="all"),
        "induction_head": induction_score(pattern, tokens=tokens, rows="all"),
    }
    for name, score in ours.items():
        det = getattr(hd, f"get_{name}_detection_pattern")(tokens)
        for h in range(2):
            theirs = hd.compute_head_attention_similarity_score(
                pattern[0, h, 0].clone(), det, exclude_bos=False, exclude_current_token=False, error_measure="mul"
            )
            assert score[0, h] == pytest.approx(theirs, abs=1e-5), name
