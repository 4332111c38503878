"""Inputs the checks run on: a few probe batches, each shared by every check that needs it.

A scan runs one forward pass per probe, not per check. Every probe is deterministic given
the model and the seed, and every row of a batch has the same length (no padding).

``repeat``     ``BOS r r``: random ordinary tokens repeated once (previous-token,
               duplicate-token, induction, retrieval on pretrained models; Olsson et al., 2022)
``text``       windows of built-in English prose (positional, first-token, delimiter, local);
               random tokens for toy models, which have no words
``rare``       common words with one rare word-piece inserted (rare-word; Voita et al., 2019)
``kv-recall``  ``toy-retrieval``'s key-value task (retrieval)
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

ProbeName = Literal["repeat", "text", "rare", "kv-recall", "parity"]

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
_COMMON = (
    "the of and to in is was for on that with as by at from he it his are this be her they "
    "had an have one not but which she were all their there been has when who will more no "
    "if out so said what up its about than into them can only other new some could time"
).split()


@dataclass(frozen=True)
class ProbeBatch:
    """Token ids ``[batch, pos]`` and named per-query targets (``[batch, pos]``, -1 where none)."""

    name: ProbeName
    tokens: Tokens
    targets: dict[str, torch.Tensor] = field(default_factory=dict)


def make_probe(name: ProbeName, model: LoadedModel, *, batch: int = 16, seed: int = 0) -> ProbeBatch:
    """Build probe ``name`` for ``model``. Raises ``ValueError`` if the probe does not fit the model."""
    g = torch.Generator().manual_seed(seed)
    if name == "repeat":
        return _repeat(model, g, batch=batch)
    if name == "text":
        return _text(model, g, batch=batch)
    if name == "rare":
        return _rare(model, g, batch=batch)
    if name in ("kv-recall", "parity"):
        task = {"kv-recall": "retrieval", "parity": "parity"}[name]
        if model.toy_task != task:
            raise ValueError(f"the {name} probe needs a model trained on it (toy-{task})")
        cfg = TOY_MODELS[model.name]
        tokens, mask = sample_batch(cfg, g, batch=batch, length=8 if task == "retrieval" else None)
        targets = {"loss_mask": torch.where(mask, 0, -1)}
        if task == "retrieval":
            targets.update(_kv_targets(tokens, mask))
        else:
            n = (tokens.shape[1] - 1) // 2
            source = torch.full_like(tokens, -1)
            source[:, n : 2 * n] = torch.arange(n)  # at EOI+t, the iteration head reads x_{t+1}
            targets["source"] = source
        return ProbeBatch(name, tokens, targets)
    raise ValueError(f"unknown probe {name!r}")


def _prefix(model: LoadedModel, batch: int) -> torch.Tensor:
    return torch.full((batch, 1), model.bos) if model.bos is not None else torch.empty(batch, 0, dtype=torch.long)


def _suffix(model: LoadedModel, batch: int) -> torch.Tensor:
    eos = model.eos if not model.causal else None
    return torch.full((batch, 1), eos) if eos is not None else torch.empty(batch, 0, dtype=torch.long)


def _ordinary(model: LoadedModel, probe: str) -> tuple[int, int]:
    lo, hi = model.token_range
    if hi - lo < 8:
        raise ValueError(f"the {probe} probe needs at least 8 ordinary tokens; {model.name} has {hi - lo}")
    return lo, hi


def _repeat(model: LoadedModel, g: torch.Generator, *, batch: int) -> ProbeBatch:
    lo, hi = _ordinary(model, "repeat")
    n = min(20, (model.n_ctx - 2) // 2)
    r = torch.randint(lo, hi, (batch, n), generator=g)
    pre = _prefix(model, batch)
    tokens = torch.cat([pre, r, r, _suffix(model, batch)], dim=1)
    start = pre.shape[1]
    # retrieval (Wu et al., 2024): at a second-copy query, the needle token to copy next
    copy = torch.full_like(tokens, -1)
    copy[:, start + n : start + 2 * n - 1] = torch.arange(start + 1, start + n)
    needle = torch.zeros_like(tokens)
    needle[:, start : start + n] = 1
    return ProbeBatch("repeat", tokens, {"copy_source": copy, "needle": needle})


def _words(model: LoadedModel, text: str) -> list[int]:
    ids: list[int] = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids


def _text(model: LoadedModel, g: torch.Generator, *, batch: int) -> ProbeBatch:
    n = min(40, model.n_ctx - 2)
    if model.tokenizer is None:
        lo, hi = _ordinary(model, "text")
        body = torch.randint(lo, hi, (batch, n), generator=g)
    else:
        ids = torch.tensor(_words(model, _PROSE))
        starts = torch.randint(0, len(ids) - n, (batch,), generator=g)
        body = torch.stack([ids[s : s + n] for s in starts.tolist()])
    tokens = torch.cat([_prefix(model, batch), body, _suffix(model, batch)], dim=1)
    delim = torch.isin(tokens, torch.tensor(sorted(model.delimiters), dtype=torch.long))
    return ProbeBatch("text", tokens, {"delimiter": delim.long()})


def _rare(model: LoadedModel, g: torch.Generator, *, batch: int) -> ProbeBatch:
    if model.tokenizer is None:
        raise ValueError("the rare probe needs a tokenizer (word frequencies)")
    common = torch.tensor([i for w in _COMMON for i in _words(model, " " + w)[:1]])
    n = min(24, model.n_ctx - 2)
    body = common[torch.randint(0, len(common), (batch, n), generator=g)]
    # rare: the last third of the ordinary vocabulary (BPE and WordPiece ids grow rarer with rank)
    lo, hi = model.token_range
    rare = torch.randint(lo + 2 * (hi - lo) // 3, hi, (batch,), generator=g)
    pos = torch.randint(2, n - 4, (batch,), generator=g)
    body[torch.arange(batch), pos] = rare
    pre = _prefix(model, batch)
    tokens = torch.cat([pre, body, _suffix(model, batch)], dim=1)
    at = pos + pre.shape[1]
    q = torch.arange(tokens.shape[1])[None, :]
    visible = q > at[:, None] if model.causal else q != at[:, None]
    target = torch.where(visible & (q > 0), at[:, None], -1)
    return ProbeBatch("rare", tokens, {"rare": target})


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
