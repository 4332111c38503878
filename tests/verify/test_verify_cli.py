"""`heads verify` / `heads scan` and the per-check scripts: output, claims, and clean errors (exit 1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from catalogue.cli import app
from catalogue.cli import verify as cli_verify
from catalogue.schema import Evidence
from tests.helpers import MODELS, make_head, make_prev
from tests.verify.conftest import NO_TORCH, ROOT

pytest.importorskip("torch", reason=NO_TORCH)


TOY = {
    "id": "toy-induction",
    "name": "Toy induction",
    "family": "toy",
    "layers": 2,
    "heads": 4,
    "source": "catalogue/verify/toy.py TOY_MODELS",
}


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def failed_cleanly(result: Any, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for w in words:
        assert w in result.output


@pytest.fixture
def toy_env(monkeypatch: pytest.MonkeyPatch, toy_cache: Path) -> None:
    monkeypatch.setenv("HEADS_CACHE_DIR", str(toy_cache))


@pytest.fixture
def data(write_data: Any, monkeypatch: pytest.MonkeyPatch, toy_env: None) -> Path:
    claims = {
        "cite": "wang2022interpretability",
        "model": "toy-induction",
        "locations": ["L1H1", "L0H0"],
        "method": "scoring",
        "source": "test fixture",
        "source_kind": "body",
    }
    induction = make_head()
    induction["evidence"] = [*induction["evidence"], claims]
    d: Path = write_data(heads=[induction, make_prev()], models=[*MODELS, TOY])
    monkeypatch.setenv("HEADS_DATA_DIR", str(d))
    return d


@pytest.mark.slow
def test_verify_reports_each_claim(data: Path) -> None:
    result = run("verify", "Induction Head", "--model", "toy-induction")
    assert result.exit_code == 1, result.output  # a claim is not confirmed: scripts and CI see it
    assert "1 of 2 claim(s) not confirmed" in result.output
    assert "claim L1H1 (wang2022interpretability): confirmed" in result.output
    assert "claim L0H0 (wang2022interpretability): not confirmed" in result.output
    assert "chance baseline:" in result.output and "threshold 0." in result.output
    assert "top heads: L1H" in result.output


@pytest.mark.slow
def test_scan_prints_head_map_and_emits_valid_evidence(toy_env: None, tmp_path: Path) -> None:
    out = tmp_path / "candidates.yaml"
    result = run("scan", "toy-induction", "--emit-yaml", str(out))
    assert result.exit_code == 0, result.output
    assert "head map of toy-induction" in result.output
    doc = yaml.safe_load(out.read_text())
    assert "induction-head" in set(doc)
    for entries in doc.values():
        for entry in entries:
            ev = Evidence.model_validate(entry)
            assert ev.method == "scoring" and ev.reproduced is not None and ev.locations
            assert ev.source.startswith("catalogue.verify.")


def test_unknown_model_fails_cleanly(toy_env: None) -> None:
    failed_cleanly(run("scan", "toy-inductoin"), "no model is called 'toy-inductoin'", "toy-induction")


def test_unknown_hub_model_fails_cleanly_offline(toy_env: None) -> None:
    failed_cleanly(run("scan", "no-such-owner/no-such-model"), "cannot load model")


def test_heads_out_of_range_fails_cleanly(toy_env: None) -> None:
    failed_cleanly(run("scan", "toy-induction", "--heads", "7.1"), "out of range", "layers 0-1")


def test_unknown_check_fails_cleanly(toy_env: None) -> None:
    failed_cleanly(run("scan", "toy-induction", "--check", "inductoin"), "unknown check")


def test_unknown_head_type_fails_cleanly(data: Path) -> None:
    failed_cleanly(run("verify", "inductoin-head", "--model", "toy-induction"), "induction-head")


def test_head_type_without_check_fails_cleanly(data: Path, write_data: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    d = write_data(heads=[make_head(check=None), make_prev()], models=[*MODELS, TOY], folder="nocheck")
    monkeypatch.setenv("HEADS_DATA_DIR", str(d))
    failed_cleanly(run("verify", "induction-head", "--model", "toy-induction"), "no executable check")


def test_model_without_attention_fails_cleanly(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    cfg = transformers.MambaConfig(vocab_size=64, hidden_size=16, state_size=4, num_hidden_layers=1, expand=2)
    transformers.MambaForCausalLM(cfg).save_pretrained(tmp_path)
    failed_cleanly(run("scan", str(tmp_path)), "no attention")


def test_without_torch_the_commands_say_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "torch" else real(n, *a))
    failed_cleanly(run("scan", "toy-induction"), cli_verify.INSTALL_HINT)


def script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_per_check_script_runs(toy_env: None) -> None:
    p = script("catalogue.verify.previous_token", "--model", "toy-induction")
    assert p.returncode == 0, p.stderr
    assert "previous-token: previous-token head on toy-induction" in p.stdout
    assert "top heads: L0H" in p.stdout


def test_per_check_script_bad_model_exits_1_without_traceback(toy_env: None) -> None:
    p = script("catalogue.verify.induction", "--model", "nope")
    assert p.returncode == 1
    assert "error: no model is called 'nope'" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_scan_emit_yaml_to_stdout_is_yaml_alone(toy_env: None) -> None:
    result = run("scan", "toy-parity", "--emit-yaml", "-")
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    assert list(doc) == ["iteration-head"]
    assert doc["iteration-head"][0]["reproduced"]["heads"] == ["L0H0"]
    assert "head map of toy-parity" in result.stderr


@pytest.mark.slow
def test_verify_exits_0_when_every_claim_is_confirmed(
    write_data: Any, monkeypatch: pytest.MonkeyPatch, toy_env: None
) -> None:
    induction = make_head()
    induction["evidence"] = [
        *induction["evidence"],
        {
            "cite": "wang2022interpretability",
            "model": "toy-induction",
            "locations": ["L1H1"],
            "method": "scoring",
            "source": "test fixture",
            "source_kind": "code",
        },
    ]
    monkeypatch.setenv("HEADS_DATA_DIR", str(write_data(heads=[induction, make_prev()], models=[*MODELS, TOY])))
    result = run("verify", "Induction Head", "--model", "toy-induction")
    assert result.exit_code == 0, result.output
    assert "claim L1H1 (wang2022interpretability): confirmed" in result.output


def test_verify_resolves_a_registry_model_by_its_hugging_face_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `heads verify previous-token-head --model gpt2`: gpt2 is gpt2-small's hf_id, found the way
    every other command finds a model (offline here, so the load itself fails, naming the registry model)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = run("verify", "previous-token-head", "--model", "gpt2", "--heads", "4.11")
    assert "no model is called" not in result.output
    assert "'gpt2-small' from 'gpt2'" in result.output or "claim" in result.output
    assert "Traceback" not in result.output


def test_unreachable_hub_switches_to_offline_at_once(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """Without a network huggingface_hub retries each request (~28 s) before failing: when the hub cannot be
    reached the command sets HF_HUB_OFFLINE first, so cached models load and others fail at once."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(cli_verify, "_hub_reachable", lambda timeout=2.0: False)
    cli_verify._go_offline_if_unreachable("gpt2-small", api_loaded=False)
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert "cannot be reached" in capsys.readouterr().err
    monkeypatch.delenv("HF_HUB_OFFLINE")
    cli_verify._go_offline_if_unreachable("toy-induction", api_loaded=False)  # toy models need no hub
    assert "HF_HUB_OFFLINE" not in os.environ
