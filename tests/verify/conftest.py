"""Fixtures for the verification tests: offline hub, one toy-model cache per checkout, models loaded once.

Toy models are trained once and cached in ``tests/artifacts/verify-cache`` (git-ignored;
override with ``$HEADS_TEST_TOY_CACHE``), so only the first run pays for training.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_TORCH = "catalogue.verify needs PyTorch: pip install 'attention-head-catalogue[verify]'"
TOY_CACHE = Path(os.environ.get("HEADS_TEST_TOY_CACHE") or ROOT / "tests" / "artifacts" / "verify-cache")


# Nothing may download from the Hugging Face hub during the tests. Set at import, before any test
# module imports transformers / huggingface_hub (which read these variables once, at import).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(scope="session")
def toy_cache() -> Path:
    return TOY_CACHE


@pytest.fixture(scope="session")
def model(toy_cache: Path) -> Callable[[str], Any]:
    """``model(name)``: the loaded model, loaded (and for toys trained) once per session."""
    pytest.importorskip("torch", reason=NO_TORCH)
    from catalogue.verify import load_model

    loaded: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in loaded:
            loaded[name] = load_model(name, cache=toy_cache)
        return loaded[name]

    return get


@pytest.fixture(scope="session")
def scanned(model: Callable[[str], Any]) -> Callable[[str], Any]:
    """``scanned(name)``: a full scan of the model, run once per session."""
    from catalogue.verify import scan

    done: dict[str, Any] = {}

    def get(name: str) -> Any:
        if name not in done:
            done[name] = scan(model(name))
        return done[name]

    return get
