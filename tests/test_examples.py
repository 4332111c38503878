"""The documented examples run: examples/ablate_name_movers.py on a tiny random model of GPT-2 small's layout."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.helpers import ROOT

torch = pytest.importorskip("torch", reason="the ablation example needs torch (pip install -e '.[examples]')")
pytest.importorskip("transformer_lens", reason="the ablation example needs transformer_lens (the examples extra)")
transformers = pytest.importorskip("transformers", reason="the ablation example needs transformers")


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """A randomly initialised GPT-2 with GPT-2 small's 12 layers x 12 heads (d_model 48), wrapped by TransformerLens."""
    from transformer_lens.model_bridge import TransformerBridge

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=12, n_head=12, n_embd=48, n_positions=32, vocab_size=64, bos_token_id=0, eos_token_id=0
    )
    config._attn_implementation = "eager"
    hf = transformers.GPT2LMHeadModel(config).eval()
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    hf.save_pretrained(folder)
    bridge = TransformerBridge.boot_transformers(str(folder), hf_model=hf)
    bridge.eval()
    return hf, bridge


def test_name_movers_ablated_with_transformer_lens_and_torch_hooks_agree(
    tiny_gpt2: tuple[Any, Any], cache: Path
) -> None:
    example = _example("ablate_name_movers")
    heads = example.name_movers("gpt2-small")
    assert sorted(r["location"] for r in heads) == ["L10H0", "L9H6", "L9H9"]
    hf, bridge = tiny_gpt2
    tokens = torch.randint(0, 64, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        clean = hf(tokens).logits
        by_tl = example.ablate_with_transformer_lens(bridge, tokens, heads)
    by_torch = example.ablate_with_torch_hooks(hf, tokens, heads, d_head=4)
    assert not torch.allclose(clean, by_torch, atol=1e-6)  # the ablation does something
    torch.testing.assert_close(by_tl, by_torch, atol=1e-5, rtol=1e-5)  # the same heads, both ways
    # the hooks took their hooks off again
    with torch.no_grad():
        torch.testing.assert_close(hf(tokens).logits, clean)


def test_each_head_ablated_alone_matches_too(tiny_gpt2: tuple[Any, Any], cache: Path) -> None:
    """Ablating a different head than the one named would break this (index, layer or slice off by one)."""
    example = _example("ablate_name_movers")
    hf, bridge = tiny_gpt2
    tokens = torch.randint(0, 64, (1, 10), generator=torch.Generator().manual_seed(2))
    for r in example.name_movers("gpt2-small"):
        with torch.no_grad():
            by_tl = example.ablate_with_transformer_lens(bridge, tokens, [r])
        torch.testing.assert_close(
            by_tl, example.ablate_with_torch_hooks(hf, tokens, [r], d_head=4), atol=1e-5, rtol=1e-5
        )
        shifted = {**r, "head": (r["head"] + 1) % 12}
        assert not torch.allclose(by_tl, example.ablate_with_torch_hooks(hf, tokens, [shifted], d_head=4), atol=1e-5)
