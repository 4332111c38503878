"""Tiny transformers trained on synthetic tasks: offline models whose heads we know are there.

Each toy model is reproducible from its :class:`ToyConfig` (seed included), trains in well under
60 s on 2 CPU cores and is cached on disk (``$HEADS_CACHE_DIR``, else
``$XDG_CACHE_HOME/attention-head-catalogue``, else ``~/.cache/attention-head-catalogue``).

=================  ============================================  ==================================
id                 task                                          heads it must grow
=================  ============================================  ==================================
``toy-induction``  ``BOS r r`` (random ``r``, length 6-20)       previous-token + induction
``toy-retrieval``  ``BOS k1 v1 .. kn vn SEP kq vq ..`` recall     retrieval (copy value from context)
``toy-parity``     ``x1..xn EOI y1..yn``, ``y_t = x1 xor..xt``   iteration (Cabannes et al., 2024);
                   one layer, one head, an MLP: n = 16 is fixed
                   so the head must read one input per step
``toy-random``     none: ``toy-induction``'s architecture, init  none (the negative control)
=================  ============================================  ==================================

The architecture follows TransformerLens's attention-only models (``W_E``, ``W_pos``, per-head
``W_Q/W_K/W_V/W_O``, ``W_U``, no layer norm), plus an optional ReLU MLP per layer.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from catalogue.paths import cache_dir  # trained toy models live under toy/ beside the index

__all__ = ["TOY_MODELS", "ToyConfig", "ToyTransformer", "cache_dir", "load_toy", "sample_batch"]

Task = Literal["induction", "retrieval", "parity", "none"]
BOS = 0


@dataclass(frozen=True)
class ToyConfig:
    name: str
    task: Task
    n_layers: int = 2
    n_heads: int = 4
    d_model: int = 64
    d_head: int = 16
    d_mlp: int = 0
    vocab_size: int = 64
    n_ctx: int = 48
    steps: int = 1500
    batch: int = 64
    lr: float = 3e-3
    seed: int = 0

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True) + torch.__version__.split("+")[0]
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


TOY_MODELS: dict[str, ToyConfig] = {
    "toy-induction": ToyConfig("toy-induction", "induction", steps=900),
    "toy-retrieval": ToyConfig("toy-retrieval", "retrieval", steps=700),
    "toy-parity": ToyConfig(
        "toy-parity", "parity", n_layers=1, n_heads=1, d_mlp=128, vocab_size=4, n_ctx=34, steps=600
    ),
    "toy-random": ToyConfig("toy-random", "none", steps=0),
}

# token layout of toy-retrieval: keys, values, separator
_KEYS = range(1, 25)
_VALUES = range(25, 57)
SEP = 57
# toy-parity: bits 1 (=0) and 2 (=1), end of input 3
EOI = 3
PARITY_N = 16


class ToyTransformer(nn.Module):
    """Attention-only (or attention + MLP) causal transformer that returns logits and patterns."""

    def __init__(self, cfg: ToyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, h, dh, v = cfg.d_model, cfg.n_heads, cfg.d_head, cfg.vocab_size
        g = torch.Generator().manual_seed(cfg.seed)

        def p(*shape: int, fan_in: int) -> nn.Parameter:
            return nn.Parameter(torch.randn(*shape, generator=g) / math.sqrt(fan_in))

        self.W_E = p(v, d, fan_in=1)
        self.W_pos = p(cfg.n_ctx, d, fan_in=1)
        self.W_Q = nn.ParameterList([p(h, d, dh, fan_in=d) for _ in range(cfg.n_layers)])
        self.W_K = nn.ParameterList([p(h, d, dh, fan_in=d) for _ in range(cfg.n_layers)])
        self.W_V = nn.ParameterList([p(h, d, dh, fan_in=d) for _ in range(cfg.n_layers)])
        self.W_O = nn.ParameterList([p(h, dh, d, fan_in=h * dh) for _ in range(cfg.n_layers)])
        self.mlp_in = nn.ParameterList([p(d, cfg.d_mlp, fan_in=d) for _ in range(cfg.n_layers if cfg.d_mlp else 0)])
        self.mlp_out = nn.ParameterList(
            [p(cfg.d_mlp, d, fan_in=cfg.d_mlp) for _ in range(cfg.n_layers if cfg.d_mlp else 0)]
        )
        self.W_U = p(d, v, fan_in=d)

    def forward(
        self, tokens: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``tokens [batch, pos]`` -> ``(logits [batch, pos, vocab], patterns [layer, head, batch, q, k])``.

        ``attention_mask [batch, pos]``: 0 marks padding keys, which get no attention.
        """
        n = tokens.shape[1]
        x = self.W_E[tokens] + self.W_pos[:n]
        mask = torch.ones(n, n, dtype=torch.bool, device=tokens.device).tril()[None, None]  # [1, 1, q, k]
        if attention_mask is not None:
            keep = attention_mask.bool()[:, None, None, :]  # [b, 1, 1, k]
            mask = mask & (keep | torch.eye(n, dtype=torch.bool, device=tokens.device))  # a padded query sees itself
        patterns = []
        for i in range(self.cfg.n_layers):
            q = torch.einsum("bpd,hde->bhpe", x, self.W_Q[i])
            k = torch.einsum("bpd,hde->bhpe", x, self.W_K[i])
            vv = torch.einsum("bpd,hde->bhpe", x, self.W_V[i])
            att = (q @ k.transpose(-1, -2)) / math.sqrt(self.cfg.d_head)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            patterns.append(att.transpose(0, 1))
            x = x + torch.einsum("bhqk,bhke,hed->bqd", att, vv, self.W_O[i])
            if self.cfg.d_mlp:
                x = x + torch.relu(x @ self.mlp_in[i]) @ self.mlp_out[i]
        return x @ self.W_U, torch.stack(patterns)


def sample_batch(
    cfg: ToyConfig, g: torch.Generator, *, batch: int, length: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the toy task: ``tokens [batch, pos]`` and a loss mask ``[batch, pos]`` (predict next)."""
    if cfg.task == "parity":
        bits = torch.randint(0, 2, (batch, PARITY_N), generator=g)
        ys = bits.cumsum(-1) % 2
        eoi = torch.full((batch, 1), EOI)
        tokens = torch.cat([bits + 1, eoi, ys + 1], dim=1)
        mask = torch.zeros_like(tokens, dtype=torch.bool)
        mask[:, PARITY_N : 2 * PARITY_N] = True  # from EOI on, predict y_{t+1}
        return tokens, mask
    if cfg.task == "retrieval":
        n = length or int(torch.randint(4, 11, (1,), generator=g))
        keys = torch.stack([torch.randperm(len(_KEYS), generator=g)[:n] for _ in range(batch)]) + _KEYS.start
        vals = torch.randint(_VALUES.start, _VALUES.stop, (batch, n), generator=g)
        order = torch.stack([torch.randperm(n, generator=g) for _ in range(batch)])
        ctx = torch.stack([keys, vals], -1).reshape(batch, 2 * n)
        qry = torch.stack([keys.gather(1, order), vals.gather(1, order)], -1).reshape(batch, 2 * n)
        tokens = torch.cat([torch.full((batch, 1), BOS), ctx, torch.full((batch, 1), SEP), qry], dim=1)
        mask = torch.zeros_like(tokens, dtype=torch.bool)
        mask[:, 2 * n + 2 :: 2] = True  # at each query key, predict its value
        return tokens, mask
    n = length or int(torch.randint(6, 21, (1,), generator=g))
    r = torch.randint(1, cfg.vocab_size, (batch, n), generator=g)
    tokens = torch.cat([torch.full((batch, 1), BOS), r, r], dim=1)
    mask = torch.zeros_like(tokens, dtype=torch.bool)
    mask[:, n + 1 : 2 * n] = True  # second copy: predict the next repeated token
    return tokens, mask


def train(cfg: ToyConfig) -> ToyTransformer:
    """Train a toy model from scratch, deterministically from ``cfg.seed``."""
    torch.manual_seed(cfg.seed)
    model = ToyTransformer(cfg)
    if cfg.steps == 0:
        return model.eval()
    g = torch.Generator().manual_seed(cfg.seed + 1)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    for _ in range(cfg.steps):
        tokens, mask = sample_batch(cfg, g, batch=cfg.batch)
        logits, _ = model(tokens[:, :-1])
        loss = nn.functional.cross_entropy(logits[mask[:, :-1]], tokens[:, 1:][mask[:, :-1]])
        opt.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        sched.step()
    return model.eval()


def load_toy(name: str, *, cache: str | Path | None = None) -> ToyTransformer:
    """The trained toy model ``name`` (see :data:`TOY_MODELS`), from the cache or trained now."""
    cfg = TOY_MODELS[name]
    path = cache_dir(cache) / "toy" / f"{name}-{cfg.key()}.pt"
    if path.is_file():
        model = ToyTransformer(cfg)
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    model = train(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save(model.state_dict(), tmp)
    tmp.replace(path)
    return model
