"""Beyond one machine: --device-map, per-layer streaming, the memory estimate, the nnsight backend.

Every model here is a random 2-layer Llama saved to a temporary folder (no download, no network:
the nnsight remote path runs through nnsight's in-process ``remote="local"`` simulation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.verify.conftest import NO_TORCH, minilm_tokenizer, tiny_llama_config

torch = pytest.importorskip("torch", reason=NO_TORCH)
transformers = pytest.importorskip("transformers", reason="transformers is not installed")

from catalogue.cli import app  # noqa: E402
from catalogue.verify import Engine, ScanResult, VerifyError, load_for_scan, load_model, scan  # noqa: E402
from catalogue.verify.memory import ModelSize, estimate_peak_memory  # noqa: E402
from catalogue.verify.probes import probe_length_bound  # noqa: E402

#: every check that reads attention patterns and runs on a random Llama with a WordPiece tokenizer
PATTERN_CHECKS = ["previous-token", "duplicate-token", "induction", "positional", "first-token", "local", "retrieval"]


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random GQA Llama (2 layers, 4 query heads, 2 KV heads) with MiniLM's tokenizer, saved locally."""
    tok = minilm_tokenizer()
    cfg = tiny_llama_config(3000, architectures=["LlamaForCausalLM"])
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("llama")
    transformers.LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _assert_same(a: ScanResult, b: ScanResult, *, atol: float = 1e-6) -> None:
    assert a.results.keys() == b.results.keys()
    for check, ra in a.results.items():
        rb = b.results[check]
        assert ra.skipped == rb.skipped, check
        if ra.scores is None:
            continue
        assert rb.scores is not None and ra.chance is not None and rb.chance is not None
        assert torch.allclose(ra.scores, rb.scores, atol=atol, rtol=0), check
        assert torch.allclose(ra.chance, rb.chance, atol=atol, rtol=0), check
        assert ra.threshold == pytest.approx(rb.threshold, abs=atol), check
        assert ra.extras.keys() == rb.extras.keys(), check
        for name, value in ra.extras.items():
            assert torch.allclose(value, rb.extras[name], atol=atol, rtol=0, equal_nan=True), (check, name)


# --------------------------------------------------------------------------- memory estimate


def test_estimate_counts_weights_and_one_layer_of_patterns() -> None:
    # 135M parameters in float32, 9 heads, batch 16, 121 tokens: SmolLM2-135M on the needle probe
    est = estimate_peak_memory(
        n_params=135_000_000, dtype="float32", n_attn_layers=30, n_heads=9, batch=16, seq=121, streamed=True
    )
    assert est.weights == 540_000_000
    assert est.patterns == 16 * 9 * 121 * 121 * 4
    assert est.total == est.weights + est.patterns
    full = estimate_peak_memory(
        n_params=135_000_000, dtype="float32", n_attn_layers=30, n_heads=9, batch=16, seq=121, streamed=False
    )
    assert full.patterns == 30 * est.patterns and full.weights == est.weights
    half = estimate_peak_memory(
        n_params=7_000_000_000, dtype="bfloat16", n_attn_layers=32, n_heads=32, batch=1, seq=1, streamed=True
    )
    assert half.weights == 14_000_000_000  # a 7B model in bf16: 14 GB
    assert est.describe().startswith("estimated peak memory 548.4 MB: weights 540.0 MB + attention patterns 8.4 MB")
    assert half.describe().startswith("estimated peak memory 14.00 GB: weights 14.00 GB")
    assert "one layer at a time" in est.describe() and "every layer" in full.describe()
    with pytest.raises(ValueError, match="dtype 'int4'"):
        estimate_peak_memory(n_params=1, dtype="int4", n_attn_layers=1, n_heads=1, batch=1, seq=1, streamed=True)


def test_estimate_uses_the_longest_probe_that_fits() -> None:
    assert probe_length_bound(2048) == 122  # BOS, 100-token haystack, two 10-token needles, an end token
    assert probe_length_bound(64) == 64
    size = ModelSize(n_params=10, dtype="float32", n_attn_layers=2, n_heads=4, n_ctx=2048)
    assert size.estimate(batch=3, streamed=True).patterns == 3 * 4 * 122 * 122 * 4


def test_memory_estimate_is_reported_before_the_weights_are_read(tiny_llama: Path) -> None:
    lines: list[str] = []
    engine = Engine(report=lines.append)
    original = transformers.AutoModelForCausalLM.from_pretrained
    seen_before: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen_before.append(len(lines))
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(transformers.AutoModelForCausalLM, "from_pretrained", spy)
        model = load_for_scan(str(tiny_llama), registry={}, engine=engine, batch=4)
    assert seen_before == [1] and lines[0].startswith("estimated peak memory")
    n_params = sum(p.numel() for p in model.hf_model.parameters())
    expected = estimate_peak_memory(
        n_params=n_params, dtype="float32", n_attn_layers=2, n_heads=4, batch=4, seq=122, streamed=True
    )
    assert lines == [expected.describe()]


# --------------------------------------------------------------------------- --device-map


def test_device_map_auto_loads_and_scores_as_the_default(tiny_llama: Path) -> None:
    default = load_model(str(tiny_llama))
    original = transformers.AutoModelForCausalLM.from_pretrained
    passed: list[Any] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        passed.append(kwargs.get("device_map"))
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(transformers.AutoModelForCausalLM, "from_pretrained", spy)
        mapped = load_model(str(tiny_llama), device_map="auto")
    assert passed == ["auto"]  # accelerate's placement, inside transformers
    assert mapped.device_map == "auto" and default.device_map is None
    assert mapped.ov is not None  # on one CPU machine nothing is offloaded: weight checks still run
    _assert_same(scan(default, seeds=(0,)), scan(mapped, seeds=(0,)))


def test_device_map_needs_a_transformers_model() -> None:
    with pytest.raises(VerifyError, match="--device-map needs a transformers model"):
        load_model("toy-induction", device_map="auto")


# --------------------------------------------------------------------------- streaming


def test_streamed_scores_equal_unstreamed(tiny_llama: Path) -> None:
    model = load_model(str(tiny_llama))
    assert model.stream is not None
    streamed = scan(model, PATTERN_CHECKS, seeds=(0, 1))
    full = scan(model, PATTERN_CHECKS, seeds=(0, 1), stream=False)
    assert streamed.results["retrieval"].scores is not None  # the logits pass ran
    assert streamed.forward_passes > full.forward_passes  # retrieval's probe: logits, then patterns
    _assert_same(streamed, full)


def test_streaming_scores_each_layer_while_the_forward_pass_runs(tiny_llama: Path) -> None:
    """Layer 0's pattern is handed over before layer 1 attends: no two layers are held at once."""
    model = load_model(str(tiny_llama))
    layers = model.hf_model.model.layers
    ran: list[int] = []
    handles = [layer.self_attn.register_forward_hook(lambda *_a, i=i: ran.append(i)) for i, layer in enumerate(layers)]
    got: list[tuple[int, tuple[int, ...], list[int]]] = []
    try:
        tokens = model.pool[torch.arange(10)].reshape(2, 5)
        logits = model.run_layers(tokens, lambda i, p: got.append((i, tuple(p.shape), list(ran))), logits=True)
    finally:
        for h in handles:
            h.remove()
    assert [(i, shape) for i, shape, _ in got] == [(0, (4, 2, 5, 5)), (1, (4, 2, 5, 5))]
    assert [seen for *_, seen in got] == [[0], [0, 1]]  # consumed as each layer runs
    assert logits is not None and logits.shape == (2, 5, 3000)
    patterns, _ = model.run(tokens)
    assert torch.allclose(torch.stack(_collect(model, tokens)), patterns, atol=1e-6)


def _collect(model: Any, tokens: Any) -> list[Any]:
    out: list[Any] = []
    model.run_layers(tokens, lambda _i, p: out.append(p), logits=False)
    return out


@pytest.mark.slow  # trains toy-induction when its cache is cold
def test_toy_models_stream_by_slicing(model: Any) -> None:
    toy = model("toy-induction")
    assert toy.stream is None  # patterns come from one call; run_layers hands them over one by one
    _assert_same(
        scan(toy, ["induction", "previous-token"], seeds=(0,)),
        scan(toy, ["induction", "previous-token"], seeds=(0,), stream=False),
    )


# --------------------------------------------------------------------------- nnsight backend


def test_nnsight_backend_scores_as_transformers(tiny_llama: Path) -> None:
    default = load_model(str(tiny_llama))
    traced = load_model(str(tiny_llama), backend="nnsight")
    assert traced.backend == "nnsight" and traced.versions["nnsight"]
    _assert_same(scan(default, seeds=(0,)), scan(traced, seeds=(0,)))


def test_nnsight_remote_path_without_a_server(tiny_llama: Path) -> None:
    """``remote="local"``: nnsight serializes the trace and runs it in-process, as NDIF would run it."""
    from catalogue.verify.ndif import load_nnsight

    remote = load_nnsight(str(tiny_llama), name="tiny", registry_id=None, remote="local")
    assert remote.backend == "nnsight-remote" and remote.ov is None  # no weights here
    assert all(p.device.type == "meta" for p in remote.hf_model.parameters())
    result = scan(remote, PATTERN_CHECKS + ["successor"], seeds=(0,))
    assert "LM head" in (result.results["successor"].skipped or "")  # weight checks need the weights
    expected = scan(load_model(str(tiny_llama)), PATTERN_CHECKS, seeds=(0,))
    assert "copying" not in result.results["induction"].extras  # the OV circuit needs the weights
    del result.results["successor"], expected.results["induction"].extras["copying"]
    _assert_same(result, expected)


def test_remote_needs_the_nnsight_backend(tiny_llama: Path) -> None:
    with pytest.raises(VerifyError, match="--remote runs on NDIF through nnsight"):
        load_model(str(tiny_llama), remote=True)
    with pytest.raises(VerifyError, match="--backend 'vllm'"):
        load_model(str(tiny_llama), backend="vllm")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- CLI


def test_cli_scan_device_map_prints_the_estimate_on_stderr(tiny_llama: Path) -> None:
    out = CliRunner().invoke(
        app, ["scan", str(tiny_llama), "-c", "induction", "--seeds", "0", "--batch", "2", "--device-map", "auto"]
    )
    assert out.exit_code == 0, out.output
    assert out.stderr.startswith("estimated peak memory") and "one layer at a time" in out.stderr
    assert "estimated" not in out.stdout and "head map of" in out.stdout
    full = CliRunner().invoke(app, ["scan", str(tiny_llama), "-c", "induction", "--seeds", "0", "--no-stream"])
    assert full.exit_code == 0 and "every layer" in full.stderr


def test_cli_remote_without_nnsight_is_a_clear_error(tiny_llama: Path) -> None:
    out = CliRunner().invoke(app, ["scan", str(tiny_llama), "--remote"])
    assert out.exit_code == 1 and "add --backend nnsight" in out.output and "Traceback" not in out.output
