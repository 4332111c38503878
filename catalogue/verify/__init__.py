"""Executable verification: detect head types in real models and hold the catalogue to its claims.

The only package that imports torch (an optional extra: ``pip install
'.[verify]'`` in a clone of the repository). One module per check, each runnable as
``python -m catalogue.verify.<check> --model M``; score functions are pure and return
``(n_layers, n_heads)`` tensors (see :mod:`catalogue.verify.patterns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from catalogue.schema import CHECKS, Catalogue
from catalogue.verify.causal import AblationResult, ablated_loss, induction_ablation, patched_loss
from catalogue.verify.check import Check, NotApplicable, all_checks, get_check
from catalogue.verify.errors import VerifyError
from catalogue.verify.models import LoadedModel, load_model, offline_models
from catalogue.verify.report import (
    candidate_evidence,
    check_report,
    head_map,
    render,
    scan_json,
    verify_json,
    verify_report,
)
from catalogue.verify.runner import (
    SEEDS,
    CheckResult,
    Engine,
    ScanResult,
    VerifyResult,
    load_for_scan,
    parse_heads,
    parse_seeds,
    registry_of,
    reproduce,
    scan,
    verify,
)

__all__ = [
    "SEEDS",
    "AblationResult",
    "ablated_loss",
    "induction_ablation",
    "patched_loss",
    "Check",
    "CheckResult",
    "Engine",
    "LoadedModel",
    "NotApplicable",
    "ScanResult",
    "VerifyError",
    "VerifyResult",
    "all_checks",
    "candidate_evidence",
    "check_report",
    "get_check",
    "head_map",
    "load_for_scan",
    "load_model",
    "offline_models",
    "parse_seeds",
    "render",
    "reproduce",
    "scan",
    "scan_json",
    "scan_model",
    "verify",
    "verify_json",
    "verify_report",
]


def scan_model(
    model_name: str,
    checks: Sequence[str] | None = None,
    *,
    catalogue: Catalogue | None = None,
    heads: str | None = None,
    cache: str | Path | None = None,
    batch: int = 16,
    seeds: Sequence[int] = SEEDS,
    device: str = "cpu",
    dtype: str | None = None,
    engine: Engine = Engine(),
) -> ScanResult:
    """Load ``model_name`` and run ``checks`` (all by default) over every head (or ``heads``),
    averaging over probe ``seeds``; ``engine``: device map, backend, streaming, memory report
    (:class:`Engine`). Raises :class:`VerifyError` (unknown check or model, unsupported
    architecture)."""
    unknown = [c for c in checks or () if c not in CHECKS]
    if unknown:
        raise VerifyError(f"unknown check(s) {', '.join(unknown)}: choose from {', '.join(CHECKS)}")
    model = load_for_scan(
        model_name, registry=registry_of(catalogue), cache=cache, device=device, dtype=dtype, engine=engine, batch=batch
    )
    return scan(model, checks, heads=parse_heads(heads, model), batch=batch, seeds=seeds, stream=engine.stream)
