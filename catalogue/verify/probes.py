"""Inputs the checks run on: a few probe batches, each shared by every check that needs it.

A scan runs one forward pass per probe and seed, not per check. Every probe is deterministic
given the model and the seed, and every row of a batch has the same length (no padding). Token
ids come from one pool per model (:attr:`LoadedModel.pool`: the tokenizer's non-special ids below
the embedding size).

No probe has a structure a content-free head can exploit: repeat lengths, their start and the
needle's depth vary from row to row, so a head attending at a fixed offset hits its target only
in the few rows whose length happens to match.

``repeat``     ``BOS f r r f'``: a random segment ``r`` of 6-20 (toy) or 8-24 tokens repeated once,
               at a random start among random filler ``f`` (previous-token, duplicate-token,
               induction; Olsson et al., 2022)
``needle``     ``BOS hay[:d] needle hay[d:] needle``: a 10-token random needle at a random depth of
               100 tokens of prose, then repeated (retrieval in causal LMs; the needle-in-a-haystack
               set-up of Wu et al., 2024, teacher-forced)
``text``       windows of built-in English prose (positional, first-token, delimiter, local);
               random tokens for toy models, which have no words
``rare``       frequent English words (wordfreq Zipf >= 5) with one rare word (Zipf < 3) inserted
               (rare-word; Voita et al., 2019)
``kv-recall``  ``toy-retrieval``'s key-value task with 10 pairs (retrieval)
``parity``     ``toy-parity``'s chain-of-thought parity task (iteration)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from catalogue.verify.models import LoadedModel
from catalogue.verify.patterns import Tokens
from catalogue.verify.toy import TOY_MODELS, sample_batch

__all__ = ["ProbeBatch", "ProbeName", "make_probe"]

ProbeName = Literal["repeat", "needle", "text", "rare", "kv-recall", "parity"]

_PROSE = (
    "The history of the city begins with a small village on the river. Farmers grew wheat, "
    "barley and beans, and traders came by boat to buy grain. In the twelfth century a stone "
    "bridge was built, and the village became a market town. Its people paid taxes to the "
    "bishop, who lived in a house near the church. When the plague arrived, half of the town "
    "died; the survivors left their fields, and the market was closed for ten years. Later, "
    "wool made the merchants rich. They built new houses of brick, a hall for the guild, and "
    "a school for their sons. The railway came in the last century, with factories, smoke and "
    "workers from the north. Today the factories are gone, but students, tourists and small "
    "companies fill the old streets; the river is clean again, and children swim in summer. "
    "On Sundays the market returns to the square, where people sell bread, cheese, flowers and "
    "books. An old man plays the violin by the fountain, and his dog sleeps in the sun."
)
#: Zipf frequency bounds (wordfreq, English): common words at or above, rare words below
COMMON_ZIPF = 5.0
RARE_ZIPF = 3.0


@dataclass(frozen=True)
class ProbeBatch:
    """Token ids ``[batch, pos]``, named per-query targets (``[batch, pos]``, -1 where none) or
    per-key marks (``needle``: 1 on needle keys), and the seed that drew them."""

    name: ProbeName
    tokens: Tokens
    targets: dict[str, torch.Tensor] = field(default_factory=dict)
    seed: int = 0


def make_probe(name: ProbeName, model: LoadedModel, *, batch: int = 16, seed: int = 0) -> ProbeBatch:
    """Build probe ``name`` for ``model``. Raises ``ValueError`` if the probe does not fit the model."""
    g = torch.Generator().manual_seed(seed)
    if name == "repeat":
        return _repeat(model, g, batch=batch, seed=seed)
    if name == "needle":
        return _needle(model, g, batch=batch, seed=seed)
    if name == "text":
        return _text(model, g, batch=batch, seed=seed)
    if name == "rare":
        return _rare(model, g, batch=batch, seed=seed)
    if name in ("kv-recall", "parity"):
        task = {"kv-recall": "retrieval", "parity": "parity"}[name]
        if model.toy_task != task:
            raise ValueError(f"the {name} probe needs a model trained on it (toy-{task})")
        cfg = TOY_MODELS[model.name]
        tokens, mask = sample_batch(cfg, g, batch=batch, length=KV_PAIRS if task == "retrieval" else None)
        targets = {"loss_mask": torch.where(mask, 0, -1)}
        if task == "retrieval":
            targets.update(_kv_targets(tokens, mask))  # every key is queried: the needle is every value
        else:
            n = (tokens.shape[1] - 1) // 2
            source = torch.full_like(tokens, -1)
            source[:, n : 2 * n] = torch.arange(n)  # at EOI+t, the iteration head reads x_{t+1}
            targets["source"] = source
        return ProbeBatch(name, tokens, targets, seed)
    raise ValueError(f"unknown probe {name!r}")


def _prefix(model: LoadedModel, batch: int) -> torch.Tensor:
    return torch.full((batch, 1), model.bos) if model.bos is not None else torch.empty(batch, 0, dtype=torch.long)


def _suffix(model: LoadedModel, batch: int) -> torch.Tensor:
    eos = model.eos if not model.causal else None
    return torch.full((batch, 1), eos) if eos is not None else torch.empty(batch, 0, dtype=torch.long)


def _pool(model: LoadedModel, probe: str) -> torch.Tensor:
    if len(model.pool) < 8:
        raise ValueError(f"the {probe} probe needs at least 8 ordinary tokens; {model.name} has {len(model.pool)}")
    return model.pool


def _draw(pool: torch.Tensor, g: torch.Generator, *shape: int) -> torch.Tensor:
    return pool[torch.randint(0, len(pool), shape, generator=g)]


def repeat_lengths(model: LoadedModel) -> tuple[int, int, int]:
    """``(shortest, longest, body)``: the repeat probe's segment lengths and its row length after BOS."""
    lo, hi = (6, 20) if model.toy_task is not None else (8, 24)
    hi = min(hi, (model.n_ctx - 2) // 2)
    lo = min(lo, hi)
    return lo, hi, min(2 * hi + 4, model.n_ctx - 2)


def _repeat(model: LoadedModel, g: torch.Generator, *, batch: int, seed: int) -> ProbeBatch:
    pool = _pool(model, "repeat")
    lo, hi, body_len = repeat_lengths(model)
    body = _draw(pool, g, batch, body_len)
    pre = _prefix(model, batch)
    start = pre.shape[1]
    copy = torch.full((batch, start + body_len), -1, dtype=torch.long)
    needle = torch.zeros((batch, start + body_len), dtype=torch.long)
    for b in range(batch):
        n = int(torch.randint(lo, hi + 1, (1,), generator=g))
        f = int(torch.randint(0, body_len - 2 * n + 1, (1,), generator=g))
        body[b, f + n : f + 2 * n] = body[b, f : f + n]
        first = start + f
        # retrieval (Wu et al., 2024): at a second-copy query, the needle position of the next token
        copy[b, first + n : first + 2 * n - 1] = torch.arange(first + 1, first + n)
        needle[b, first : first + n] = 1
    tokens = torch.cat([pre, body, _suffix(model, batch)], dim=1)
    pad = tokens.shape[1] - copy.shape[1]
    copy = torch.cat([copy, torch.full((batch, pad), -1)], dim=1)
    needle = torch.cat([needle, torch.zeros((batch, pad), dtype=torch.long)], dim=1)
    return ProbeBatch("repeat", tokens, {"copy_source": copy, "needle": needle}, seed)


#: needle-in-a-haystack probe: needle length and haystack length (tokens)
NEEDLE_LEN = 10
HAYSTACK_LEN = 100
#: key-value pairs in the toy-retrieval probe (the most it was trained on)
KV_PAIRS = 10


def _needle(model: LoadedModel, g: torch.Generator, *, batch: int, seed: int) -> ProbeBatch:
    pool = _pool(model, "needle")
    m = NEEDLE_LEN
    hay_len = min(HAYSTACK_LEN, model.n_ctx - 2 - 2 * m)
    if hay_len < 2 * m:
        raise ValueError(f"the needle probe needs {4 * m + 2} tokens of context; {model.name} has {model.n_ctx}")
    prose = _prose(model, 8) if model.tokenizer is not None else None
    if prose is not None:
        prose = prose.repeat(hay_len // len(prose) + 2)
        starts = torch.randint(0, len(prose) - hay_len, (batch,), generator=g)
        hay = torch.stack([prose[s : s + hay_len] for s in starts.tolist()])
    else:
        hay = _draw(pool, g, batch, hay_len)
    needles = _draw(pool, g, batch, m)
    pre = _prefix(model, batch)
    start = pre.shape[1]
    rows, copy_rows, needle_rows = [], [], []
    for b in range(batch):
        d = int(torch.randint(0, hay_len + 1, (1,), generator=g))
        row = torch.cat([pre[b], hay[b, :d], needles[b], hay[b, d:], needles[b]])
        copy = torch.full_like(row, -1)
        first = start + d
        second = start + hay_len + m
        copy[second : second + m - 1] = torch.arange(first + 1, first + m)
        mark = torch.zeros_like(row)
        mark[first : first + m] = 1
        rows.append(row)
        copy_rows.append(copy)
        needle_rows.append(mark)
    tokens, needle = torch.stack(rows), torch.stack(needle_rows)
    return ProbeBatch("needle", tokens, {"copy_source": torch.stack(copy_rows), "needle": needle}, seed)


def _words(model: LoadedModel, text: str) -> list[int]:
    ids: list[int] = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


def _prose(model: LoadedModel, n: int) -> torch.Tensor | None:
    """The built-in prose as token ids from the pool (ids the embedding lacks dropped), or None if
    fewer than ``n + 1`` remain."""
    pool = set(model.pool.tolist())
    ids = [i for i in _words(model, _PROSE) if i in pool]
    return torch.tensor(ids) if len(ids) > n else None


def _text(model: LoadedModel, g: torch.Generator, *, batch: int, seed: int) -> ProbeBatch:
    n = min(40, model.n_ctx - 2)
    ids = _prose(model, n) if model.tokenizer is not None else None
    if ids is None:
        body = _draw(_pool(model, "text"), g, batch, n)
    else:
        starts = torch.randint(0, len(ids) - n, (batch,), generator=g)
        body = torch.stack([ids[s : s + n] for s in starts.tolist()])
    tokens = torch.cat([_prefix(model, batch), body, _suffix(model, batch)], dim=1)
    delim = torch.isin(tokens, torch.tensor(sorted(model.delimiters), dtype=torch.long))
    return ProbeBatch("text", tokens, {"delimiter": delim.long()}, seed)


def word_frequencies(model: LoadedModel) -> tuple[torch.Tensor, torch.Tensor]:
    """``(common, rare)`` token ids: English words that are one token in ``model``'s tokenizer, with
    wordfreq Zipf frequency >= :data:`COMMON_ZIPF` and < :data:`RARE_ZIPF` (wordfreq's ``en`` list,
    30,000 most frequent words). Raises ``ValueError`` without a tokenizer or enough words."""
    if model.tokenizer is None:
        raise ValueError("the rare probe needs a tokenizer (word frequencies)")
    import wordfreq

    pool = set(model.pool.tolist())
    common: list[int] = []
    rare: list[int] = []
    for word in wordfreq.top_n_list("en", 30000):
        if not word.isalpha():
            continue
        zipf = wordfreq.zipf_frequency(word, "en")
        if RARE_ZIPF <= zipf < COMMON_ZIPF:
            continue
        ids = _words(model, " " + word)
        if len(ids) != 1 or ids[0] not in pool:
            continue
        (common if zipf >= COMMON_ZIPF else rare).append(ids[0])
    if len(common) < 8 or len(rare) < 8:
        raise ValueError(f"{model.name}'s tokenizer has too few single-token English words for the rare probe")
    return torch.tensor(sorted(set(common))), torch.tensor(sorted(set(rare)))


def _rare(model: LoadedModel, g: torch.Generator, *, batch: int, seed: int) -> ProbeBatch:
    common, rare_ids = word_frequencies(model)
    n = min(24, model.n_ctx - 2)
    body = _draw(common, g, batch, n)
    rare = _draw(rare_ids, g, batch)
    pos = torch.randint(2, n - 4, (batch,), generator=g)
    body[torch.arange(batch), pos] = rare
    pre = _prefix(model, batch)
    tokens = torch.cat([pre, body, _suffix(model, batch)], dim=1)
    at = pos + pre.shape[1]
    q = torch.arange(tokens.shape[1])[None, :]
    visible = q > at[:, None] if model.causal else q != at[:, None]
    target = torch.where(visible & (q > 0), at[:, None], -1)
    return ProbeBatch("rare", tokens, {"rare": target}, seed)


def _kv_targets(tokens: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """At each query key (predicting its value), the context position holding that value."""
    copy = torch.full_like(tokens, -1)
    needle = torch.zeros_like(tokens)
    b_idx, q_idx = mask.nonzero(as_tuple=True)
    for b, q in zip(b_idx.tolist(), q_idx.tolist(), strict=True):
        key = int(tokens[b, q])
        ctx = (tokens[b, :q] == key).nonzero().flatten()
        src = int(ctx[0]) + 1
        copy[b, q] = src
        needle[b, src] = 1
    return {"copy_source": copy, "needle": needle}
