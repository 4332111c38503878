"""Ablate the name movers of GPT-2 small, found with the catalogue, two ways: TransformerLens hooks and
plain PyTorch forward hooks.

``known_heads("gpt2-small", "name-mover-head")`` gives each recorded head with its addresses: the
TransformerLens hook ``blocks.L.attn.hook_z`` (activations [batch, pos, head_index, d_head]; the head is
``tl_head_index`` on dim 2) and, for Hugging Face, ``hf_output_projection``: the linear layer whose input
holds the heads' outputs side by side (head ``h`` is columns ``h * d_head : (h + 1) * d_head``). Zeroing
either removes the head's contribution to the residual stream (zero ablation; Wang et al. use mean
ablation, which replaces the zeros by a mean over a reference distribution).

TransformerLens 4 wraps a Hugging Face model in a ``TransformerBridge`` (``HookedTransformer`` was removed
in 4.0), so both ways run on the same weights and must give the same logits; tests/test_examples.py checks
that on a tiny randomly initialised model with GPT-2 small's layout (12 layers x 12 heads), built offline.

Run it on the real model (downloads gpt2 from the Hugging Face Hub)::

    pip install -e ".[examples]" -c constraints/ci.txt
    python examples/ablate_name_movers.py
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from catalogue import known_heads


def name_movers(model: str = "gpt2-small") -> list[dict[str, Any]]:
    """The catalogue's current name-mover heads of ``model``, once each (several works may place one head)."""
    seen: dict[tuple[int, int], dict[str, Any]] = {}
    for r in known_heads(model, "name-mover-head"):
        seen.setdefault((r["layer"], r["head"]), r)
    return list(seen.values())


def ablate_with_transformer_lens(bridge: Any, tokens: torch.Tensor, heads: Sequence[dict[str, Any]]) -> torch.Tensor:
    """Logits [batch, pos, d_vocab] of a TransformerLens model with these heads' ``hook_z`` set to zero."""
    by_hook: dict[str, list[int]] = {}
    for r in heads:
        by_hook.setdefault(r["tl_hook_z"], []).append(r["tl_head_index"])

    def zero(indices: list[int]) -> Any:
        def hook(z: torch.Tensor, hook: Any) -> torch.Tensor:  # z: [batch, pos, head_index, d_head]
            z = z.clone()
            z[:, :, indices] = 0.0
            return z

        return hook

    logits: torch.Tensor = bridge.run_with_hooks(tokens, fwd_hooks=[(n, zero(i)) for n, i in by_hook.items()])
    return logits


def ablate_with_torch_hooks(
    model: torch.nn.Module, input_ids: torch.Tensor, heads: Sequence[dict[str, Any]], *, d_head: int
) -> torch.Tensor:
    """Logits [batch, pos, d_vocab] of a Hugging Face model with these heads zeroed in the input of each
    layer's output projection (``hf_output_projection``), through plain ``register_forward_pre_hook``."""
    by_module: dict[str, list[int]] = {}
    for r in heads:
        if r["hf_output_projection"] is None:
            raise ValueError(f"{r['model']}: no known Hugging Face layout for this model's family")
        by_module.setdefault(r["hf_output_projection"], []).append(r["head"])

    def zero(indices: list[int]) -> Any:
        def pre_hook(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
            x = args[0].clone()  # [batch, pos, n_heads * d_head]
            for h in indices:
                x[..., h * d_head : (h + 1) * d_head] = 0.0
            return (x, *args[1:])

        return pre_hook

    handles = [model.get_submodule(p).register_forward_pre_hook(zero(i)) for p, i in by_module.items()]
    try:
        with torch.no_grad():
            logits: torch.Tensor = model(input_ids).logits
        return logits
    finally:
        for handle in handles:
            handle.remove()


def main() -> None:  # pragma: no cover - needs the gpt2 weights from the Hugging Face Hub
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import AutoTokenizer, GPT2LMHeadModel

    heads = name_movers()
    print("name movers:", ", ".join(f"{r['location']} ({r['tl_hook_z']}[:, :, {r['tl_head_index']}])" for r in heads))
    tok = AutoTokenizer.from_pretrained("gpt2")
    hf = GPT2LMHeadModel.from_pretrained("gpt2", attn_implementation="eager").eval()
    bridge = TransformerBridge.boot_transformers("gpt2", hf_model=hf, tokenizer=tok)
    prompt = "When Mary and John went to the store, John gave a drink to"
    ids = tok(prompt, return_tensors="pt").input_ids
    io, s = tok(" Mary").input_ids[0], tok(" John").input_ids[0]
    with torch.no_grad():
        clean = hf(ids).logits[0, -1]
        by_tl = ablate_with_transformer_lens(bridge, ids, heads)[0, -1]
    by_torch = ablate_with_torch_hooks(hf, ids, heads, d_head=hf.config.n_embd // hf.config.n_head)[0, -1]
    for label, logits in (("clean", clean), ("TransformerLens ablation", by_tl), ("PyTorch-hook ablation", by_torch)):
        print(f"{label:>26}: logit(Mary) - logit(John) = {float(logits[io] - logits[s]):.3f}")


if __name__ == "__main__":
    main()
