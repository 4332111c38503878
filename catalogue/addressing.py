"""Where a head lives in the tools researchers use: TransformerLens hook names, Hugging Face module paths,
the key/value head of a grouped-query model, and the relative depth of a layer. Pure, no I/O, no pydantic.

Hugging Face paths are those of the model class ``AutoModelForCausalLM`` loads (``AutoModelForMaskedLM``
for BERT and RoBERTa), read from the modelling code of ``transformers`` (``modeling_<arch>.py``: the
module list of layers, the attention module and its output projection). A family whose architecture is
not known here (remote code, custom or unrecorded) gets ``None``, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BANDS",
    "HF_LAYOUTS",
    "HfLayout",
    "depth_band",
    "head_address",
    "hf_attention_path",
    "hf_layout",
    "hf_output_projection",
    "kv_head",
    "relative_depth",
    "tl_hooks",
]


@dataclass(frozen=True)
class HfLayout:
    """Module paths with ``{L}`` for the layer: the attention module, and the linear layer after it whose
    input is the heads' outputs concatenated (head ``h`` is columns ``h*d_head:(h+1)*d_head`` of it)."""

    architecture: str
    attention: str
    output_projection: str | None


_GPT2 = HfLayout("GPT2LMHeadModel", "transformer.h.{L}.attn", "transformer.h.{L}.attn.c_proj")
_NEOX = HfLayout("GPTNeoXForCausalLM", "gpt_neox.layers.{L}.attention", "gpt_neox.layers.{L}.attention.dense")


def _decoder(arch: str, out: str | None = "o_proj") -> HfLayout:
    return HfLayout(arch, "model.layers.{L}.self_attn", f"model.layers.{{L}}.self_attn.{out}" if out else None)


#: Model family (``family:`` in models.yaml) -> layout. Families not listed have no known layout.
#: Families name the series (models.yaml's rule: gemma-2 is family gemma); the generation-named keys stay for
#: data written before that rule. Qwen is left out: Qwen-7B (QWenLMHeadModel) and Qwen1.5+ (Qwen2ForCausalLM)
#: share the family but not the module paths, and a family alone cannot tell them apart.
HF_LAYOUTS: dict[str, HfLayout] = {
    "gpt": _GPT2,
    "gpt2": _GPT2,
    "gpt-j": HfLayout("GPTJForCausalLM", "transformer.h.{L}.attn", "transformer.h.{L}.attn.out_proj"),
    "gpt-neox": _NEOX,
    "pythia": _NEOX,
    "llama": _decoder("LlamaForCausalLM"),
    "llama-2": _decoder("LlamaForCausalLM"),
    "llama-3": _decoder("LlamaForCausalLM"),
    "tinyllama": _decoder("LlamaForCausalLM"),
    "yi": _decoder("LlamaForCausalLM"),
    "mistral": _decoder("MistralForCausalLM"),
    "mixtral": _decoder("MixtralForCausalLM"),
    "qwen1.5": _decoder("Qwen2ForCausalLM"),
    "qwen2": _decoder("Qwen2ForCausalLM"),
    "qwen2.5": _decoder("Qwen2ForCausalLM"),
    "gemma": _decoder("GemmaForCausalLM or Gemma2ForCausalLM"),  # the same module paths in both
    "gemma-2": _decoder("Gemma2ForCausalLM"),
    "granite": _decoder("GraniteForCausalLM"),
    "granite-3": _decoder("GraniteForCausalLM"),
    "olmo": _decoder("OlmoForCausalLM"),
    "phi-3": _decoder("Phi3ForCausalLM"),
    # PhiForCausalLM names its output projection `dense`, Phi3ForCausalLM `o_proj`; the registry's "phi"
    # family holds both kinds, so only the attention module (the same path in both) is given.
    "phi": _decoder("PhiForCausalLM or Phi3ForCausalLM", None),
    "opt": HfLayout(
        "OPTForCausalLM", "model.decoder.layers.{L}.self_attn", "model.decoder.layers.{L}.self_attn.out_proj"
    ),
    "falcon": HfLayout(
        "FalconForCausalLM", "transformer.h.{L}.self_attention", "transformer.h.{L}.self_attention.dense"
    ),
    "bert": HfLayout(
        "BertForMaskedLM", "bert.encoder.layer.{L}.attention.self", "bert.encoder.layer.{L}.attention.output.dense"
    ),
    "roberta": HfLayout(
        "RobertaForMaskedLM",
        "roberta.encoder.layer.{L}.attention.self",
        "roberta.encoder.layer.{L}.attention.output.dense",
    ),
}


def hf_layout(family: str | None) -> HfLayout | None:
    return HF_LAYOUTS.get((family or "").strip().lower())


def hf_attention_path(family: str | None, layer: int) -> str | None:
    """``transformer.h.9.attn`` for GPT-2, ``model.layers.9.self_attn`` for Llama; None for an unknown family."""
    found = hf_layout(family)
    return found.attention.format(L=layer) if found else None


def hf_output_projection(family: str | None, layer: int) -> str | None:
    """The linear layer whose input holds the heads' outputs side by side, or None where not known."""
    found = hf_layout(family)
    return found.output_projection.format(L=layer) if found and found.output_projection else None


def tl_hooks(layer: int) -> dict[str, str]:
    """TransformerLens hook names of a layer's attention: ``hook_z`` (shape [batch, pos, head_index, d_head],
    index the head on dim 2), ``hook_pattern`` ([batch, head_index, query_pos, key_pos], head on dim 1),
    ``hook_result`` ([batch, pos, head_index, d_model]; needs ``model.set_use_attn_result(True)``)."""
    return {
        "z": f"blocks.{layer}.attn.hook_z",
        "pattern": f"blocks.{layer}.attn.hook_pattern",
        "result": f"blocks.{layer}.attn.hook_result",
    }


def kv_head(head: int, heads: int | None, kv_heads: int | None) -> int | None:
    """The key/value head that query head ``head`` reads in grouped-query attention: ``head // (heads // kv_heads)``
    (Hugging Face ``repeat_kv``; TransformerLens ``repeat_interleave`` of the K/V heads). None when a count is
    unknown or does not divide."""
    if heads is None or kv_heads is None or kv_heads > heads or heads % kv_heads:
        return None
    return head // (heads // kv_heads)


#: The survey's depth bands (Zheng et al., arXiv 2409.03752, stage-layer figure): on its GPT-2 small example
#: the 12 layers split as shallow L1-4, middle L5-8, deep L9-12 (1-indexed), i.e. thirds of the depth. The
#: survey gives no cut-offs for other models; the catalogue applies the same thirds to every model.
BANDS = ("shallow", "middle", "deep")


def relative_depth(layer: int, layers: int) -> float:
    """``layer / layers`` for a 0-indexed layer: 0.0 for the first layer, just under 1.0 for the last."""
    if layers < 1 or not 0 <= layer < layers:
        raise ValueError(f"layer {layer} is not in 0..{layers - 1}")
    return layer / layers


def depth_band(layer: int, layers: int) -> str:
    """``shallow``, ``middle`` or ``deep``: the third of the model's layers that holds ``layer`` (0-indexed).

    ``floor(3 * layer / layers)``, so on GPT-2 small layers 0-3, 4-7 and 8-11 are shallow, middle and deep,
    as in the survey's figure."""
    relative_depth(layer, layers)
    return BANDS[(3 * layer) // layers]


_QWEN_V1 = re.compile(r"^qwen/qwen-\d", re.IGNORECASE)


def model_layout(model: Mapping[str, Any]) -> HfLayout | None:
    """The module layout of a registry model: by its family, and for the ``qwen`` family by its checkpoint.

    Qwen1.5, Qwen2, Qwen2.5 (Qwen2ForCausalLM) and Qwen3 (Qwen3ForCausalLM) use ``model.layers.L.self_attn``
    (read in transformers' modeling_qwen2 / modeling_qwen3); the first Qwen (``Qwen/Qwen-7B``, remote code
    QWenLMHeadModel) is not mapped, so it has no layout rather than a guessed one."""
    family = str(model.get("family") or "").strip().lower()
    if family != "qwen":
        return hf_layout(family)
    hf_id = str(model.get("hf_id") or "")
    if not hf_id or _QWEN_V1.match(hf_id):
        return None
    return _decoder("Qwen3ForCausalLM" if "qwen3" in hf_id.lower() else "Qwen2ForCausalLM")


def head_address(model: Mapping[str, Any], layer: int, head: int) -> dict[str, Any]:
    """Every address of one head of a registry model (``family``, ``heads``, ``kv_heads`` read from it):
    ``tl_hook_z``, ``tl_hook_pattern``, ``tl_head_index``, ``hf_module``, ``hf_output_projection``, ``kv_head``."""
    hooks = tl_hooks(layer)
    layout = model_layout(model)
    out = layout.output_projection if layout is not None else None
    return {
        "tl_hook_z": hooks["z"],
        "tl_hook_pattern": hooks["pattern"],
        "tl_head_index": head,
        "hf_module": layout.attention.format(L=layer) if layout is not None else None,
        "hf_output_projection": out.format(L=layer) if out else None,
        "kv_head": kv_head(head, model.get("heads"), model.get("kv_heads")),
    }
