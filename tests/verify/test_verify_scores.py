"""Score functions on hand-built attention patterns: each score's definition, checked by example."""

from __future__ import annotations

from typing import Any

import numpy as np
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
from catalogue.verify.local import local_score, sieve_bias  # noqa: E402
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
    s = previous_token_score(heads(PREV, SELF, uniform_causal()), rows="with-target")
    assert s.shape == (1, 3)
    assert s[0, 0] == pytest.approx(1.0)
    assert s[0, 1] == pytest.approx(0.0)
    expected = sum(1 / (q + 1) for q in range(1, N)) / (N - 1)
    assert s[0, 2] == pytest.approx(expected)


def test_previous_token_default_is_transformer_lens_normalisation() -> None:
    # TransformerLens "mul": sum(pattern * detection) / sum(pattern); row 0 counts in the denominator
    assert previous_token_score(heads(PREV))[0, 0] == pytest.approx((N - 1) / N)
    assert previous_token_score(heads(PREV), rows="with-target")[0, 0] == pytest.approx(1.0)


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
    d = duplicate_token_score(heads(dup, ind), tokens=tokens, rows="with-target")
    i = induction_score(heads(dup, ind), tokens=tokens, rows="with-target")
    assert d[0].tolist() == pytest.approx([1.0, 0.0])
    assert i[0].tolist() == pytest.approx([0.0, 1.0])


def test_positional_finds_fixed_offsets() -> None:
    pattern = heads(PREV, NEXT, SELF)
    s = positional_score(pattern)
    assert s[0].tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert positional_offset(pattern)[0, :2].tolist() == [-1, 1]


def test_first_token() -> None:
    s = first_token_score(heads(FIRST, PREV))
    assert s[0].tolist() == pytest.approx([1.0, 1 / (N - 1)])


def pande_band2(attn: Any) -> float:
    """Transcription of ``calc_score_band2`` for one head and one sentence (Pande et al. 2021,
    github:iitmnlp/heads-hypothesis local_score.ipynb @ 3986e5da), loops and all."""
    sent_len = attn.shape[0]
    sent_score = 0.0
    for token in range(sent_len):
        avg_attn_over_all_toks = float(attn[token, :].sum()) / sent_len
        band_size = (min(token + 2, sent_len) + 1) - max(0, token - 2)
        token_score = float(attn[token, max(0, token - 2) : (min(token + 2, sent_len) + 1)].sum()) / band_size
        sent_score += token_score / avg_attn_over_all_toks
    return float(sent_score / sent_len)


def test_sieve_bias_equals_pande_et_al_notebook() -> None:
    g = torch.Generator().manual_seed(3)
    pattern = torch.randn(2, 3, 4, N, N, generator=g).softmax(-1)  # bidirectional, as in BERT
    ours = sieve_bias(pattern)
    for layer in range(2):
        for head in range(3):
            theirs = sum(pande_band2(pattern[layer, head, b]) for b in range(4)) / 4
            assert float(ours[layer, head]) == pytest.approx(theirs, rel=1e-5)


def test_local_excludes_positional_heads() -> None:
    # a head spread over offsets -2..+2 (no fixed favourite) is local; one fixed at -1 is positional, not local
    n = 40
    g = torch.Generator().manual_seed(0)
    band = torch.zeros(n, n)
    for q in range(n):
        for k in range(max(0, q - 2), min(n, q + 3)):
            band[q, k] = float(torch.rand(1, generator=g)) + 0.1
    spread = (band / band.sum(-1, keepdim=True))[None]
    prev = one_hot_rows([0, *range(n - 1)])
    s = local_score(heads(spread, prev))
    assert float(s[0, 0]) > 3.0  # Pande et al.'s baseline
    assert float(sieve_bias(heads(prev))[0, 0]) > 3.0  # the sieve bias alone would call it local
    assert float(s[0, 1]) == 0.0


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
    ):
        assert s.shape == (2, 3)
        assert bool(((s >= 0) & (s <= 1 + 1e-6)).all())


# --- TransformerLens 4.3.0 transformer_lens/head_detector.py, transcribed for the equality tests ---------------
# (read from the transformer_lens-4.3.0 wheel on PyPI; same names, same operations, numpy included)


def tl_previous_token_head_detection_pattern(tokens: Any) -> Any:
    detection_pattern = torch.zeros(tokens.shape[-1], tokens.shape[-1])
    detection_pattern[1:, :-1] = torch.eye(tokens.shape[-1] - 1)
    return torch.tril(detection_pattern)


def tl_duplicate_token_head_detection_pattern(tokens: Any) -> Any:
    token_pattern = tokens.repeat(tokens.shape[-1], 1).numpy()
    eq_mask = np.equal(token_pattern, token_pattern.T).astype(int)
    np.fill_diagonal(eq_mask, 0)
    detection_pattern = eq_mask.astype(int)
    return torch.tril(torch.as_tensor(detection_pattern).float())


def tl_induction_head_detection_pattern(tokens: Any) -> Any:
    duplicate_pattern = tl_duplicate_token_head_detection_pattern(tokens)
    shifted_tensor = torch.roll(duplicate_pattern, shifts=1, dims=1)
    zeros_column = torch.zeros(duplicate_pattern.shape[0], 1)
    result_tensor = torch.cat((zeros_column, shifted_tensor[:, 1:]), dim=1)
    return torch.tril(result_tensor)


def tl_compute_head_attention_similarity_score(
    attention_pattern: Any, detection_pattern: Any, *, exclude_bos: bool, exclude_current_token: bool
) -> float:
    """``error_measure="mul"`` branch."""
    if exclude_bos or exclude_current_token:
        attention_pattern = attention_pattern.clone()
    if exclude_bos:
        attention_pattern[:, 0] = 0
    if exclude_current_token:
        attention_pattern.fill_diagonal_(0)
    score = attention_pattern * detection_pattern
    return float((score.sum() / attention_pattern.sum()).item())


TL_PATTERNS = {
    "previous_token_head": tl_previous_token_head_detection_pattern,
    "duplicate_token_head": tl_duplicate_token_head_detection_pattern,
    "induction_head": tl_induction_head_detection_pattern,
}


def tl_detect_head(patterns: Any, token_rows: Any, name: str, *, exclude_bos: bool, exclude_current_token: bool) -> Any:
    """``detect_head(model, [seq_1, ..., seq_B], name)``: one call per prompt, then the mean
    (``torch.stack(batch_scores).mean(0)``); ``patterns [L, H, B, Q, K]`` stand in for the cache."""
    n_layers, n_heads, batch = patterns.shape[:3]
    per_prompt = []
    for b in range(batch):
        det = TL_PATTERNS[name](token_rows[b : b + 1])
        m = torch.empty(n_layers, n_heads)
        for layer in range(n_layers):
            for head in range(n_heads):
                m[layer, head] = tl_compute_head_attention_similarity_score(
                    patterns[layer, head, b], det, exclude_bos=exclude_bos, exclude_current_token=exclude_current_token
                )
        per_prompt.append(m)
    return torch.stack(per_prompt).mean(0)


@pytest.mark.parametrize("name", list(TL_PATTERNS))
@pytest.mark.parametrize(("exclude_bos", "exclude_current_token"), [(False, False), (True, False), (True, True)])
def test_scores_named_after_transformer_lens_equal_detect_head(
    name: str, exclude_bos: bool, exclude_current_token: bool
) -> None:
    from catalogue.verify.patterns import target_mass

    g = torch.Generator().manual_seed(1)
    n = 14
    tokens = torch.randint(0, 5, (3, n), generator=g)  # small vocabulary: many duplicates
    logits = torch.randn(2, 3, 3, n, n, generator=g).masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), -1e9)
    pattern = logits.softmax(-1)
    det = {
        "previous_token_head": lambda: torch.ones(n - 1).diag(-1).expand(3, n, n),
        "duplicate_token_head": lambda: duplicate_token_detection(tokens),
        "induction_head": lambda: induction_detection(tokens),
    }[name]()
    ours = target_mass(pattern, det, exclude_bos=exclude_bos, exclude_current_token=exclude_current_token)
    theirs = tl_detect_head(pattern, tokens, name, exclude_bos=exclude_bos, exclude_current_token=exclude_current_token)
    assert torch.allclose(ours, theirs, atol=1e-6), name
    if not (exclude_bos or exclude_current_token):  # the checks' own score functions use the defaults
        fn: Any = {
            "previous_token_head": lambda: previous_token_score(pattern),
            "duplicate_token_head": lambda: duplicate_token_score(pattern, tokens=tokens),
            "induction_head": lambda: induction_score(pattern, tokens=tokens),
        }[name]
        assert torch.allclose(fn(), theirs, atol=1e-6), name


def test_the_catalogue_normalisation_is_not_transformer_lens() -> None:
    """ "target-rows" averages rows with a target only: on the same patterns it differs from detect_head."""
    tokens = torch.tensor([[1, 2, 3, 4, 1, 2, 3, 4]])
    ind = one_hot_rows([0, 1, 2, 3, 1, 2, 3, 4])
    tl = tl_detect_head(heads(ind), tokens, "induction_head", exclude_bos=False, exclude_current_token=False)
    assert float(induction_score(heads(ind), tokens=tokens)[0, 0]) == pytest.approx(float(tl[0, 0]))
    assert float(induction_score(heads(ind), tokens=tokens, rows="with-target")[0, 0]) == pytest.approx(1.0)
    assert float(tl[0, 0]) == pytest.approx(4 / 8)


def test_real_transformer_lens_head_detector_agrees_when_installed() -> None:
    hd = pytest.importorskip("transformer_lens.head_detector", reason="TransformerLens is not installed (bench extra)")
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 5, (1, N), generator=g)
    logits = torch.randn(1, 2, 1, N, N, generator=g).masked_fill(~torch.ones(N, N, dtype=torch.bool).tril(), -1e9)
    pattern = logits.softmax(-1)
    ours = {
        "previous_token_head": previous_token_score(pattern),
        "duplicate_token_head": duplicate_token_score(pattern, tokens=tokens),
        "induction_head": induction_score(pattern, tokens=tokens),
    }
    for name, score in ours.items():
        det = getattr(hd, f"get_{name}_detection_pattern")(tokens)
        for h in range(2):
            theirs = hd.compute_head_attention_similarity_score(
                pattern[0, h, 0].clone(), det, exclude_bos=False, exclude_current_token=False, error_measure="mul"
            )
            assert score[0, h] == pytest.approx(theirs, abs=1e-5), name
