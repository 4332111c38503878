"""Checks that cannot be fooled: chance baselines, seeds, and heads with no content that must fail."""

from __future__ import annotations

from typing import Any

import pytest

from tests.verify.conftest import NO_TORCH

torch = pytest.importorskip("torch", reason=NO_TORCH)

from catalogue.verify import scan  # noqa: E402
from catalogue.verify.baseline import midpoint_threshold, shuffle_keys  # noqa: E402
from catalogue.verify.models import LoadedModel  # noqa: E402
from catalogue.verify.probes import make_probe  # noqa: E402

OFFSETS = list(range(1, 25))


def test_shuffle_keys_keeps_each_row_and_stays_causal() -> None:
    g = torch.Generator().manual_seed(0)
    n = 9
    logits = torch.randn(2, 3, 4, n, n, generator=g).masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), -1e9)
    pattern = logits.softmax(-1)
    shuffled = shuffle_keys(pattern, causal=True, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(shuffled.sort(-1).values, pattern.sort(-1).values)  # same weights in every row
    assert bool((shuffled.triu(1) == 0).all())  # never a future key
    assert not torch.allclose(shuffled, pattern)


def test_shuffle_keys_within_groups() -> None:
    n = 8
    pattern = torch.zeros(1, 1, 1, n, n)
    pattern[..., -1, 2] = 1.0  # the last query attends to key 2
    groups = torch.tensor([[0, 0, 1, 1, 1, 0, 0, 0]])
    for seed in range(20):
        out = shuffle_keys(pattern, causal=True, generator=torch.Generator().manual_seed(seed), groups=groups)
        assert int(out[0, 0, 0, -1].argmax()) in (2, 3, 4)  # stays on a key of the same group


def test_midpoint_threshold() -> None:
    assert midpoint_threshold(0.1, 0.5) == pytest.approx(0.3)


def _fixed_offset_model(n_ctx: int) -> LoadedModel:
    """One layer: head 0 a perfect induction head, head 1 a perfect duplicate-token head, heads 2.. attend
    at a fixed offset 1..24 (content-free). Logits predict the true next token everywhere (the model
    always copies correctly), the most favourable case for the retrieval score."""

    def forward(tokens: Any, want_logits: bool, attention_mask: Any = None) -> tuple[Any, Any]:
        b, n = tokens.shape
        pat = torch.zeros(1, 2 + len(OFFSETS), b, n, n)
        q = torch.arange(n)
        for i, d in enumerate(OFFSETS):
            pat[0, 2 + i, :, q, (q - d).clamp_min(0)] = 1.0
        for bi in range(b):
            for qi in range(n):
                prev = [k for k in range(1, qi + 1) if tokens[bi, k - 1] == tokens[bi, qi] and k - 1 < qi]
                pat[0, 0, bi, qi, prev[-1] if prev else 0] = 1.0
                dup = [k for k in range(qi) if tokens[bi, k] == tokens[bi, qi]]
                pat[0, 1, bi, qi, dup[-1] if dup else 0] = 1.0
        nxt = torch.cat([tokens[:, 1:], tokens[:, -1:]], dim=1)
        logits = torch.nn.functional.one_hot(nxt, 2000).float()
        return pat, logits

    return LoadedModel(
        name=f"fixed-offset-{n_ctx}",
        n_layers=1,
        n_heads=2 + len(OFFSETS),
        vocab_size=2000,
        n_ctx=n_ctx,
        causal=True,
        forward=forward,
        bos=0,
        pool=torch.arange(1, 2000),
    )


@pytest.mark.parametrize("n_ctx", [64, 512])  # retrieval reads the repeat probe, then the needle probe
def test_fixed_offset_heads_pass_neither_induction_duplicate_nor_retrieval(n_ctx: int) -> None:
    model = _fixed_offset_model(n_ctx)
    result = scan(model, ["induction", "duplicate-token", "retrieval"], batch=8, seeds=(0, 1))
    ind, dup, ret = (result.results[c] for c in ("induction", "duplicate-token", "retrieval"))
    fixed = {(0, 2 + i) for i in range(len(OFFSETS))}
    for r in (ind, dup, ret):
        assert r.scores is not None, r.skipped
        passing = {(loc.layer, loc.head) for loc in r.passing()}
        assert not passing & fixed, f"{r.check.id}: content-free heads pass: {sorted(passing & fixed)}"
    assert [(loc.layer, loc.head) for loc in ind.passing()] == [(0, 0)]  # the positive controls do pass
    assert (0, 1) in {(loc.layer, loc.head) for loc in dup.passing()}
    assert (0, 0) in {(loc.layer, loc.head) for loc in ret.passing()}


def test_scores_are_means_over_seeds_with_a_spread() -> None:
    model = _fixed_offset_model(64)
    both = scan(model, ["induction"], batch=4, seeds=(0, 1)).results["induction"]
    one = [scan(model, ["induction"], batch=4, seeds=(s,)).results["induction"] for s in (0, 1)]
    assert both.scores is not None and both.spread is not None
    assert all(r.scores is not None for r in one)
    mean = (one[0].scores + one[1].scores) / 2  # type: ignore[operator]
    assert torch.allclose(both.scores, mean)
    assert float(both.spread.max()) > 0  # different seeds, different probes
    assert both.seeds == (0, 1)


def test_repeat_probe_varies_length_and_start() -> None:
    model = _fixed_offset_model(64)
    probe = make_probe("repeat", model, batch=16, seed=0)
    copy = probe.targets["copy_source"]
    offsets = set()
    starts = set()
    for b in range(16):
        rows = (copy[b] >= 0).nonzero().flatten()
        offsets.add(int(rows[0] - copy[b, rows[0]]))
        starts.add(int(probe.targets["needle"][b].nonzero()[0]))
    assert len(offsets) >= 5 and len(starts) >= 5
