"""A head's OV circuit as the weight-based papers compute it: effective embedding in, folded unembedding out.

Successor heads (Gould et al., 2023, section 2) and copy suppression (McDougall et al., 2023,
section 3.1; their code builds ``W_EE = model.blocks[0](W_E[:, None, :])[:, 0]`` and the circuit
``ln_final(W_EE @ W_V @ W_O) @ W_U`` on a TransformerLens model loaded with ``fold_ln=True``) read
the OV circuit from the **effective embedding** (each token alone run through the whole first
block: attention to itself, then MLP0) to logits through the **final layer norm and unembedding**.
Here, as TransformerLens's ``fold_ln`` does:

* ``W_EE [d_vocab, d_model]``: the first block run on each token as a one-token sequence
  (position 0), in float32;
* ``W_V [n_layers, n_heads, d_model, d_head]``: the value map with the layer's input-norm weight
  folded in (LayerNorm: and its centring); for grouped-query attention, query head ``h`` reads
  KV head ``h // (n_heads / n_kv_heads)``;
* ``W_O [n_layers, n_heads, d_head, d_model]``;
* ``W_U [d_model, d_vocab]``: the LM head with the final norm's weight folded in (LayerNorm: and
  its centring).

Left out: biases (as in the papers' code) and the norms' per-token scale (a positive scalar per
source token, which changes no ranking within a row, and the checks only rank within rows).
Models without an LM head have no unembedding: the weight checks are not applicable to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from catalogue.verify.errors import VerifyError

__all__ = ["OVWeights", "hf_ov_weights", "norm_fold"]

#: ``(W_EE [vocab, d_model], W_V [n_layers, n_heads, d_model, d_head],
#: W_O [n_layers, n_heads, d_head, d_model], W_U [d_model, vocab])``: a head's full OV circuit is
#: ``W_EE @ W_V @ W_O @ W_U`` (TransformerLens conventions, norms folded as described above).
OVWeights = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def norm_fold(norm: nn.Module, d_model: int) -> torch.Tensor:
    """The ``[d_model, d_model]`` linear part of a norm: ``C diag(w)`` with ``C`` the centring
    projection for LayerNorm, ``diag(w)`` alone for RMSNorm-style norms (Llama, Qwen, Mistral,
    Gemma's ``1 + w``: the effective weight is read by running the norm on a vector of ones)."""
    if isinstance(norm, nn.LayerNorm):
        w = norm.weight.detach().float() if norm.weight is not None else torch.ones(d_model)
        centre = torch.eye(d_model) - 1.0 / d_model
        return centre @ torch.diag(w)
    with torch.no_grad():
        ones = torch.ones(1, d_model, dtype=_dtype(norm))
        w = norm(ones)[0].float()
    return torch.diag(w)


def _dtype(module: nn.Module) -> torch.dtype:
    p = next(module.parameters(), None)
    return p.dtype if p is not None else torch.float32


def _layers(base: Any) -> Sequence[Any]:
    for attr in ("layers", "h"):
        found = getattr(base, attr, None)
        if found is not None:
            return list(found)
    raise VerifyError(f"{type(base).__name__} has no `layers` or `h`: its OV weights cannot be read")


def hf_ov_weights(
    model: Any, *, attn_layers: Sequence[int] | None, tokens: torch.Tensor | None = None, chunk: int = 4096
) -> OVWeights:
    """The folded OV weights of a transformers causal LM (Llama/Qwen/Mistral/Gemma or GPT-2 layout).

    ``tokens``: compute ``W_EE`` rows for these ids only (the others stay 0): running the first
    block over a 49k vocabulary costs as much as a long forward pass, and the successor and
    copy-suppression checks read a few hundred rows. Raises :class:`VerifyError` when the model
    has no LM head or an unknown layout.
    """
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None:
        raise VerifyError(f"{type(model).__name__} has no LM head: the weight-based checks need an unembedding")
    base = model.base_model
    layers = _layers(base)
    cfg = model.config
    d = int(getattr(cfg, "hidden_size", None) or cfg.n_embd)
    n_heads = int(getattr(cfg, "num_attention_heads", None) or cfg.n_head)
    n_kv = int(getattr(cfg, "num_key_value_heads", None) or n_heads)
    d_head = int(getattr(cfg, "head_dim", None) or d // n_heads)
    group = n_heads // n_kv
    final = getattr(base, "norm", None) or getattr(base, "ln_f", None)
    w_u = head.weight.detach().float().T  # [d_model, vocab]
    if final is not None:
        w_u = norm_fold(final, d) @ w_u  # a row y leaves the norm as y @ C diag(w)
    w_vs, w_os = [], []
    for i in attn_layers if attn_layers is not None else range(len(layers)):
        layer = layers[i]
        if hasattr(layer, "self_attn"):
            att = layer.self_attn
            ln1 = layer.input_layernorm
            v = att.v_proj.weight.detach().float().T.reshape(d, n_kv, d_head)  # [d, kv, dh]
            o = att.o_proj.weight.detach().float().T.reshape(n_heads, d_head, d)  # [h, dh, d]
        elif hasattr(layer, "attn") and hasattr(layer.attn, "c_attn"):  # GPT-2 Conv1D: (in, out)
            ln1 = layer.ln_1
            v = layer.attn.c_attn.weight.detach().float()[:, 2 * d :].reshape(d, n_heads, d_head)
            o = layer.attn.c_proj.weight.detach().float().reshape(n_heads, d_head, d)
        else:
            raise VerifyError(f"layer {i} ({type(layer).__name__}) has an attention layout the checks do not know")
        per_q = v[:, torch.arange(n_heads) // group].permute(1, 0, 2)  # [h, d, dh]: query h reads KV h // group
        w_vs.append(norm_fold(ln1, d) @ per_q)
        w_os.append(o)
    w_ee = _effective_embedding(model, layers[0], tokens=tokens, chunk=chunk)
    return w_ee, torch.stack(w_vs), torch.stack(w_os), w_u


def _effective_embedding(model: Any, block0: Any, *, tokens: torch.Tensor | None, chunk: int) -> torch.Tensor:
    """``W_EE [vocab, d_model]``: each token alone (position 0) through the first block, float32
    (only the rows of ``tokens`` when given; the others are 0)."""
    emb = model.get_input_embeddings()
    base = model.base_model
    n = int(emb.weight.shape[0])
    wanted = torch.arange(n) if tokens is None else torch.unique(tokens)
    out = torch.zeros(n, int(emb.weight.shape[1]))
    rotary = getattr(base, "rotary_emb", None)
    with torch.no_grad():
        for start in range(0, len(wanted), chunk):
            ids = wanted[start : start + chunk].to(emb.weight.device)
            x = emb(ids)[:, None, :]  # [n, 1, d]
            pos = torch.zeros(1, 1, dtype=torch.long, device=x.device)
            kwargs: dict[str, Any] = {}
            if rotary is not None:
                kwargs["position_embeddings"] = rotary(x, pos)
                kwargs["position_ids"] = pos
            y = block0(x, **kwargs)
            y = y[0] if isinstance(y, tuple) else y
            out[ids.cpu()] = y[:, 0].float().cpu()
    return out
