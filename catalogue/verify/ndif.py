"""The nnsight backend: forward passes traced by nnsight, locally or on NDIF's servers.

``heads scan MODEL --backend nnsight`` runs the same checks as the default (transformers)
backend, but every forward pass is an nnsight trace that reads each attention module's output
(the attention weights ``[batch, head, q, k]``, found as :func:`catalogue.verify.hf.attention_modules`
finds them). Two ways to run:

* **local** (``remote=False``): the weights are loaded here, as for the default backend
  (``device_map`` included), and wrapped with ``nnsight.NNsight``. The trace body runs beside
  the forward pass, so each layer's pattern is scored as the layer runs and then dropped: memory
  is bounded by one layer's patterns, as with the default backend's hooks.
* **remote** (``remote=True``): nothing but the config and tokenizer is read here (the model is
  built on the meta device); ``nnsight.modeling.transformers.TransformersModel(hub_id)`` sends
  each trace to the National Deep Inference Fabric (NDIF, https://ndif.us), whose servers hold
  the weights of models no user machine holds (70B-class). The trace saves each layer's pattern,
  which comes back over the network: the client holds every layer's patterns of one probe batch,
  so keep ``--batch`` small for big models. NDIF needs an API key (``NDIF_API_KEY`` or
  ``nnsight login``) and runs only the models it hosts, with the attention implementation its
  deployment chose: a deployment that computes attention with SDPA returns no weights, and the
  scan says so. Weight-only checks (copy-suppression, successor) need the weights here: they are
  not applicable remotely.

``remote="local"`` runs the remote path without a server (nnsight's ``LocalSimulationBackend``:
the request is serialized and executed in-process); the tests use it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

import torch

from catalogue.verify.errors import VerifyError
from catalogue.verify.hf import attention_modules
from catalogue.verify.memory import ModelSize
from catalogue.verify.models import Consume, LoadedModel, _hf
from catalogue.verify.patterns import Patterns, Tokens

__all__ = ["load_nnsight"]

Remote = bool | Literal["local"]


def load_nnsight(
    source: str,
    *,
    name: str,
    registry_id: str | None,
    remote: Remote = False,
    device: str = "cpu",
    dtype: str | None = None,
    device_map: str | None = None,
    on_size: Callable[[ModelSize], None] | None = None,
) -> LoadedModel:
    """``source`` (hub id or folder) as a :class:`LoadedModel` whose forward passes are nnsight traces.

    Raises :class:`VerifyError` when nnsight is missing, the model cannot be loaded, or a layer
    returns no attention weights (see the module docstring).
    """
    try:
        import nnsight  # type: ignore[import-untyped]
        from nnsight.modeling.transformers import TransformersModel  # type: ignore[import-untyped]
    except ImportError:
        raise VerifyError("--backend nnsight needs nnsight: pip install 'attention-head-catalogue[verify]'") from None
    if remote and device_map is not None:
        raise VerifyError("--device-map places weights on this machine; with --remote NDIF places them")
    loaded = _hf(
        source,
        name=name,
        registry_id=registry_id,
        device=device,
        dtype=dtype,
        device_map=device_map,
        on_size=on_size,
        weights=not remote,
    )
    hf = loaded.hf_model
    base_prefix = getattr(hf, "base_model_prefix", "")
    base = getattr(hf, base_prefix, hf)
    paths = {id(m): p for p, m in hf.named_modules()}
    attention = [(paths[id(m)], at) for m, at in attention_modules(base)]
    n_att = len(loaded.layer_ids)
    if len(attention) != n_att:
        raise VerifyError(f"{name}: found {len(attention)} attention modules for {n_att} attention layers")
    if remote:
        task = "feature-extraction"
        if loaded.has_lm_head:
            task = "text-generation" if loaded.causal else "fill-mask"
        tokenizer = copy.deepcopy(loaded.tokenizer)  # nnsight sets its pad token and padding side
        wrapped = TransformersModel(source, task=task, tokenizer=tokenizer, attn_implementation="eager")
    else:
        wrapped = nnsight.NNsight(hf)
    device_in = loaded.device

    def stream(
        tokens: Tokens, want_logits: bool, consume: Consume | None, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        kwargs: dict[str, Any] = {"input_ids": tokens.to(device_in)}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask.to(device_in)
        saved: list[Any] = []
        out: Any = None
        with wrapped.trace(**kwargs, **({"remote": remote} if remote else {})):
            for i, (path, at) in enumerate(attention if consume is not None else []):
                weights = _envoy(wrapped, path).output[at]
                if remote:
                    saved.append(weights.save())  # comes back with the response
                else:
                    _hand_over(consume, i, weights, name)  # scored here, as the layer runs
            if want_logits and loaded.has_lm_head:
                out = wrapped.output.save()
        for i, weights in enumerate(saved):
            _hand_over(consume, i, weights, name)
        if out is None:
            return None
        logits = out.logits if hasattr(out, "logits") else out[0]
        return torch.as_tensor(logits).float().cpu()

    def forward(
        tokens: Tokens, want_logits: bool, attention_mask: torch.Tensor | None = None
    ) -> tuple[Patterns, torch.Tensor | None]:
        layers: list[torch.Tensor] = []
        logits = stream(tokens, want_logits, lambda _i, p: layers.append(p), attention_mask)
        return torch.stack(layers), logits

    mode = "nnsight-remote" if remote else "nnsight"
    versions = {**loaded.versions, "nnsight": nnsight.__version__}
    if remote:
        versions["model"] = f"{source} (NDIF)" if remote is True else f"{source} (nnsight local simulation)"
    return replace(loaded, forward=forward, stream=stream, backend=mode, versions=versions)


def _envoy(root: Any, path: str) -> Any:
    """The nnsight envoy at module path ``path`` (``model.layers.0.self_attn``)."""
    node = root
    for part in path.split("."):
        node = node[int(part)] if part.isdigit() else getattr(node, part)
    return node


def _hand_over(consume: Consume | None, index: int, weights: Any, name: str) -> None:
    if not isinstance(weights, torch.Tensor):
        raise VerifyError(
            f"model {name!r} returned no attention weights from attention layer {index}: it needs eager "
            "attention (on NDIF, a deployment that runs SDPA attention gives none)"
        )
    if consume is not None:
        with torch.inference_mode():
            consume(index, weights.detach().transpose(0, 1).float().cpu())
