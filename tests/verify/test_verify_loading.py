"""Robust loading on tiny local models: each case a clear error or a correct result, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.verify.conftest import NO_TORCH, minilm_tokenizer, tiny_llama_config

torch = pytest.importorskip("torch", reason=NO_TORCH)
transformers = pytest.importorskip("transformers", reason="transformers is not installed")

from catalogue.cli import app  # noqa: E402
from catalogue.verify import VerifyError, load_model, scan  # noqa: E402


def _save(model: Any, tok: Any, folder: Path) -> Path:
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GQA Llama (4 query heads, 2 KV heads) whose embedding (3000 rows) is smaller than its tokenizer."""
    tok = minilm_tokenizer()
    torch.manual_seed(0)
    return _save(transformers.LlamaForCausalLM(tiny_llama_config(3000)), tok, tmp_path_factory.mktemp("llama"))


def test_probe_ids_come_from_one_pool_below_the_embedding(tiny_llama: Path) -> None:
    model = load_model(str(tiny_llama))
    assert len(model.tokenizer) > 3000 and int(model.pool.max()) < 3000
    assert not set(model.pool.tolist()) & set(model.tokenizer.all_special_ids)
    result = scan(model, ["induction", "retrieval"], batch=2, seeds=(0,))  # no index error from large ids
    assert result.results["induction"].scores is not None


def test_gqa_value_heads_follow_their_kv_group(tiny_llama: Path) -> None:
    model = load_model(str(tiny_llama))
    hf = model.hf_model
    assert model.ov is not None and model.n_kv_heads == 2
    _, w_v, w_o, _ = model.ov(torch.arange(4))
    layer = hf.model.layers[0]
    ln = torch.diag(layer.input_layernorm.weight.detach())
    v = layer.self_attn.v_proj.weight.detach().T  # [d, kv * dh]
    dh = 8
    for h in range(4):
        kv = h // 2  # query head h reads KV head h // (n_heads / n_kv_heads)
        assert torch.allclose(w_v[0, h], ln @ v[:, kv * dh : (kv + 1) * dh], atol=1e-6)
        o = layer.self_attn.o_proj.weight.detach().T[h * dh : (h + 1) * dh]
        assert torch.allclose(w_o[0, h], o, atol=1e-6)


def test_decoder_without_lm_head_is_still_causal(tiny_llama: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    folder = _save(transformers.LlamaModel(tiny_llama_config(3000)), minilm_tokenizer(), tmp_path / "base")
    model = load_model(str(folder))
    assert model.causal and not model.has_lm_head and model.ov is None
    patterns, logits = model.run(torch.randint(2000, 2900, (1, 6)))
    assert logits is None and bool((patterns.triu(1) == 0).all())  # causal attention
    result = scan(model, ["induction", "retrieval", "successor"], batch=2, seeds=(0,))
    assert result.results["induction"].scores is not None
    assert "LM head" in (result.results["retrieval"].skipped or "")
    assert "LM head" in (result.results["successor"].skipped or "")


def test_encoder_decoder_is_named_unsupported_before_any_forward_pass(tmp_path: Path) -> None:
    cfg = transformers.T5Config(vocab_size=64, d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2)
    transformers.T5ForConditionalGeneration(cfg).save_pretrained(tmp_path)
    with pytest.raises(VerifyError, match="encoder-decoder model: unsupported"):
        load_model(str(tmp_path))


def test_hybrid_model_keeps_true_layer_numbers(tmp_path: Path) -> None:
    """Jamba-like: layers 1 and 3 attend, 0 and 2 are Mamba. Scores sit at layers 1 and 3, NaN elsewhere."""
    tok = minilm_tokenizer()
    cfg = transformers.JambaConfig(
        vocab_size=3000,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        attn_layer_period=2,
        attn_layer_offset=1,
        expert_layer_period=100,
        num_experts=1,
        mamba_d_state=4,
        mamba_dt_rank=4,
        use_mamba_kernels=False,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    folder = _save(transformers.JambaForCausalLM(cfg), tok, tmp_path / "jamba")
    model = load_model(str(folder))
    assert model.attn_layers == (1, 3) and model.n_layers == 4
    result = scan(model, ["previous-token"], batch=2, seeds=(0,))
    scores = result.results["previous-token"].scores
    assert scores is not None and scores.shape == (4, 4)
    assert bool(scores[[0, 2]].isnan().all()) and not bool(scores[[1, 3]].isnan().any())


def test_run_accepts_an_attention_mask(tiny_llama: Path, model: Any) -> None:
    for m in (load_model(str(tiny_llama)), model("toy-induction")):
        tokens = m.pool[torch.arange(12)].reshape(2, 6)
        mask = torch.ones(2, 6, dtype=torch.long)
        mask[1, :2] = 0  # left padding in the second row
        patterns, _ = m.run(tokens, attention_mask=mask)
        assert float(patterns[:, :, 1, 2:, :2].abs().max()) < 1e-6  # no attention to padding
        assert torch.allclose(patterns[:, :, 1, 2:].sum(-1), torch.ones_like(patterns[:, :, 1, 2:, 0]), atol=1e-5)


def test_dtype_option(tiny_llama: Path) -> None:
    assert load_model(str(tiny_llama)).dtype == "float32"  # default below 1B parameters
    assert load_model(str(tiny_llama), dtype="bfloat16").dtype == "bfloat16"
    with pytest.raises(VerifyError, match="--dtype"):
        load_model(str(tiny_llama), dtype="int3")


@pytest.mark.slow
def test_scan_and_verify_format_json(toy_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADS_CACHE_DIR", str(toy_cache))
    runner = CliRunner()
    out = runner.invoke(app, ["scan", "toy-induction", "--seeds", "0,1", "--format", "json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    ind = doc["checks"]["induction"]
    assert len(ind["scores"]) == 2 and len(ind["scores"][0]) == 4  # (n_layers, n_heads)
    assert ind["normalisation"].startswith("TransformerLens")
    assert ind["threshold"] > ind["chance_max"] and ind["passing"]
    assert doc["seeds"] == [0, 1] and doc["versions"]["torch"]
    out = runner.invoke(
        app, ["verify", "induction-head", "--model", "toy-induction", "--seeds", "0", "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["check"] == "induction" and all("confirmed" in c for c in doc["claims"])
    bad = runner.invoke(app, ["scan", "toy-induction", "--format", "xml"])
    assert bad.exit_code == 1 and "choose text or json" in bad.output
