"""How much memory a scan needs, estimated before any weight is read.

The estimate is the sum of two terms, both in bytes:

* the weights: ``n_params x bytes per element of the dtype`` (float32: 4, bfloat16/float16: 2);
* the attention patterns held at once, stored as float32 (4 bytes) ``[heads, batch, seq, seq]``
  per layer: one layer when the scan streams per layer (:func:`catalogue.verify.runner.scan`
  with ``stream=True``), every attention layer when it does not.

Activations other than the patterns (hidden states, logits, the KV of one layer) are left out:
for the probes here (at most :func:`catalogue.verify.probes.probe_length_bound` tokens) they are
small beside the weights. With ``device_map="auto"`` the weights are spread over the GPUs and
CPU (accelerate's big-model inference), so the figure is the total over devices, not per device.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DTYPE_BYTES", "MemoryEstimate", "ModelSize", "estimate_peak_memory"]

#: bytes per element of each ``--dtype``
DTYPE_BYTES: dict[str, int] = {"float32": 4, "bfloat16": 2, "float16": 2}
#: patterns are kept as float32 whatever the model's dtype
PATTERN_BYTES = 4


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory of a scan, in bytes: ``weights + patterns``."""

    weights: int
    patterns: int
    streamed: bool

    @property
    def total(self) -> int:
        return self.weights + self.patterns

    def describe(self) -> str:
        """One line, e.g. ``estimated peak memory 548.4 MB: weights 540.0 MB + attention patterns 8.4 MB
        (one layer at a time)``."""
        held = "one layer at a time" if self.streamed else "every layer at once"
        return (
            f"estimated peak memory {_gb(self.total)}: weights {_gb(self.weights)} "
            f"+ attention patterns {_gb(self.patterns)} ({held})"
        )


@dataclass(frozen=True)
class ModelSize:
    """What the config says before any weight is read: parameters, dtype, attention layers, heads, context."""

    n_params: int
    dtype: str
    n_attn_layers: int
    n_heads: int
    n_ctx: int

    def estimate(self, *, batch: int, streamed: bool) -> MemoryEstimate:
        """:func:`estimate_peak_memory` for a scan at ``batch`` on the longest probe that fits ``n_ctx``."""
        from catalogue.verify.probes import probe_length_bound

        return estimate_peak_memory(
            n_params=self.n_params,
            dtype=self.dtype,
            n_attn_layers=self.n_attn_layers,
            n_heads=self.n_heads,
            batch=batch,
            seq=probe_length_bound(self.n_ctx),
            streamed=streamed,
        )


def estimate_peak_memory(
    *,
    n_params: int,
    dtype: str,
    n_attn_layers: int,
    n_heads: int,
    batch: int,
    seq: int,
    streamed: bool,
) -> MemoryEstimate:
    """Weights (``n_params x`` bytes of ``dtype``) plus the patterns held at once
    (``batch x n_heads x seq^2 x 4`` bytes, times ``n_attn_layers`` unless ``streamed``).

    Raises ``ValueError`` for a dtype outside :data:`DTYPE_BYTES` or a negative size.
    """
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype {dtype!r}: choose one of {', '.join(DTYPE_BYTES)}")
    if min(n_params, n_attn_layers, n_heads, batch, seq) < 0:
        raise ValueError("sizes must be non-negative")
    one_layer = batch * n_heads * seq * seq * PATTERN_BYTES
    layers = 1 if streamed else n_attn_layers
    return MemoryEstimate(weights=n_params * DTYPE_BYTES[dtype], patterns=one_layer * layers, streamed=streamed)


def _gb(n: int) -> str:
    """Decimal units: ``1.23 GB`` from 1 GB up, else ``45.6 MB``."""
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"
