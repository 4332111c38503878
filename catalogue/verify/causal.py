"""Causal checks: ablate or patch a head's output and measure what the task loses.

Interventions run through nnsight (``NNsight(model).trace``): a head's output is its slice of the
input to the attention output projection (``o_proj`` in Llama/Qwen/Mistral/Gemma, ``c_proj`` in
GPT-2), ``[batch, pos, n_heads * d_head]`` before ``W_O``, the ``z`` of TransformerLens.

* **zero ablation** sets a head's ``z`` to 0;
* **mean ablation** sets it to its mean over the batch and positions of the same probe (Wang et
  al., 2022 use means over a reference distribution; the probe is ours);
* **activation patching** runs the corrupted input with the chosen heads' ``z`` taken from the
  clean run (Meng et al., 2022; Wang et al., 2022).

The task metric is the next-token cross-entropy on the second copy of a repeated random segment
(the repeat probe, ``copy_source`` rows): the loss induction heads exist to lower (Olsson et al.,
2022). :func:`induction_ablation` compares ablating the detected heads with ablating random heads
of the same layers, the control that tells a specific effect from "any ablation hurts".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from catalogue.schema import Location
from catalogue.verify.errors import VerifyError
from catalogue.verify.models import LoadedModel
from catalogue.verify.probes import ProbeBatch, make_probe

__all__ = ["AblationResult", "Ablation", "ablated_loss", "induction_ablation", "patched_loss", "repeat_loss"]

Ablation = Literal["zero", "mean"]


def _d_head(model: LoadedModel) -> int:
    cfg = model.hf_model.config
    d = int(getattr(cfg, "hidden_size", None) or cfg.n_embd)
    return int(getattr(cfg, "head_dim", None) or d // model.n_heads)


def _envoy(nn_model: Any, model: LoadedModel, layer: int) -> Any:
    """The nnsight envoy of layer ``layer``'s attention output projection (whose input is ``z``)."""
    hf = model.hf_model
    if hf is None or model.toy_task is not None:
        raise VerifyError(f"{model.name}: causal checks need a transformers model (toy models have no hooks)")
    base = hf.base_model
    node = getattr(nn_model, hf.base_model_prefix)
    if hasattr(base, "layers") and hasattr(base.layers[layer], "self_attn"):  # Llama, Qwen, Mistral, Gemma
        return node.layers[layer].self_attn.o_proj
    if hasattr(base, "h") and hasattr(base.h[layer].attn, "c_proj"):  # GPT-2
        return node.h[layer].attn.c_proj
    raise VerifyError(f"{model.name}: layer {layer} has no attention output projection the checks know")


def repeat_loss(logits: torch.Tensor, probe: ProbeBatch) -> torch.Tensor:
    """Mean next-token cross-entropy (nats) over second-copy positions of a repeat probe (scalar)."""
    rows = probe.targets["copy_source"] >= 0
    target = torch.cat([probe.tokens[:, 1:], probe.tokens[:, -1:]], dim=1)
    return torch.nn.functional.cross_entropy(logits.float()[rows], target[rows])


def _heads_by_layer(heads: Sequence[Location]) -> dict[int, list[int]]:
    """Heads grouped by layer, layers in forward order (nnsight visits modules as the model runs them)."""
    out: dict[int, list[int]] = {}
    for loc in sorted(heads, key=lambda loc: (loc.layer, loc.head)):
        out.setdefault(loc.layer, []).append(loc.head)
    return out


def ablated_loss(model: LoadedModel, probe: ProbeBatch, heads: Sequence[Location], *, kind: Ablation = "zero") -> float:
    """Repeat-probe loss (nats) with ``heads`` zero- or mean-ablated in one forward pass."""
    from nnsight import NNsight  # type: ignore[import-untyped]

    if not model.has_lm_head:
        raise VerifyError(f"{model.name} has no LM head: the loss needs logits")
    dh = _d_head(model)
    by_layer = _heads_by_layer(heads)
    nn_model = NNsight(model.hf_model)
    tokens = probe.tokens.to(model.device)
    means: dict[int, torch.Tensor] = {}
    saved: dict[int, Any] = {}  # filled inside the trace (nnsight runs the block in its own frame)
    with torch.no_grad():
        if kind == "mean":
            with nn_model.trace(tokens):
                for layer in by_layer:
                    saved[layer] = _envoy(nn_model, model, layer).input.save()
            means.update({layer: torch.as_tensor(z).mean((0, 1)) for layer, z in saved.items()})
        with nn_model.trace(tokens):
            for layer, hs in by_layer.items():
                z = _envoy(nn_model, model, layer).input
                for h in hs:
                    sl = slice(h * dh, (h + 1) * dh)
                    z[:, :, sl] = 0 if kind == "zero" else means[layer][sl]
            out = nn_model.output.save()
    return float(repeat_loss(_logits(out).cpu(), probe))


def patched_loss(model: LoadedModel, clean: ProbeBatch, corrupt: ProbeBatch, heads: Sequence[Location]) -> float:
    """Loss (nats, on ``clean``'s targets) of the corrupted run with ``heads``' outputs from the clean run."""
    from nnsight import NNsight

    dh = _d_head(model)
    by_layer = _heads_by_layer(heads)
    nn_model = NNsight(model.hf_model)
    saved: dict[int, Any] = {}  # filled inside the trace (nnsight runs the block in its own frame)
    with torch.no_grad():
        with nn_model.trace(clean.tokens.to(model.device)):
            for layer in by_layer:
                saved[layer] = _envoy(nn_model, model, layer).input.save()
        with nn_model.trace(corrupt.tokens.to(model.device)):
            for layer, hs in by_layer.items():
                z = _envoy(nn_model, model, layer).input
                for h in hs:
                    sl = slice(h * dh, (h + 1) * dh)
                    z[:, :, sl] = saved[layer][:, :, sl]
            out = nn_model.output.save()
    return float(repeat_loss(_logits(out).cpu(), clean))


def _logits(out: Any) -> torch.Tensor:
    found = out.logits if hasattr(out, "logits") else out[0]
    return found if isinstance(found, torch.Tensor) else torch.as_tensor(found)


@dataclass(frozen=True)
class AblationResult:
    """Repeat-probe loss (nats) clean, with the chosen heads ablated, and with random same-layer heads ablated."""

    heads: list[Location]
    kind: Ablation
    clean: float
    ablated: float
    random: list[float]

    @property
    def increase(self) -> float:
        return self.ablated - self.clean

    @property
    def random_increase(self) -> float:
        return sum(self.random) / len(self.random) - self.clean if self.random else float("nan")


def corrupted(probe: ProbeBatch, model: LoadedModel, *, seed: int) -> ProbeBatch:
    """``probe`` with every first-copy (needle) token redrawn: nothing left to copy from."""
    g = torch.Generator().manual_seed(seed)
    tokens = probe.tokens.clone()
    mask = probe.targets["needle"] > 0
    tokens[mask] = model.pool[torch.randint(0, len(model.pool), (int(mask.sum()),), generator=g)]
    return ProbeBatch(probe.name, tokens, probe.targets, probe.seed)


def induction_ablation(
    model: LoadedModel,
    heads: Sequence[Location],
    *,
    kind: Ablation = "zero",
    n_random: int = 3,
    batch: int = 8,
    seed: int = 0,
) -> AblationResult:
    """Ablate ``heads`` on the repeat probe and, as controls, ``n_random`` draws of as many random
    heads from the same layers (never one of ``heads``). Raises :class:`VerifyError` when a layer
    has no other head to draw."""
    probe = make_probe("repeat", model, batch=batch, seed=seed)
    clean = ablated_loss(model, probe, [], kind=kind)
    chosen = list(heads)
    hit = ablated_loss(model, probe, chosen, kind=kind)
    g = torch.Generator().manual_seed(seed + 1)
    randoms = []
    taken = {(loc.layer, loc.head) for loc in chosen}
    for _ in range(n_random):
        draw = []
        for layer, hs in _heads_by_layer(chosen).items():
            free = [h for h in range(model.n_heads) if (layer, h) not in taken]
            if len(free) < len(hs):
                raise VerifyError(f"layer {layer} has too few other heads for a random control")
            pick = torch.randperm(len(free), generator=g)[: len(hs)].tolist()
            draw += [Location(layer=layer, head=free[i]) for i in pick]
        randoms.append(ablated_loss(model, probe, draw, kind=kind))
    return AblationResult(chosen, kind, clean, hit, randoms)
