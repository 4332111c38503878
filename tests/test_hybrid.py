"""Hybrid models (attention in some layers only, e.g. Jamba): `attention_layers` in the registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalogue.cli import app
from catalogue.contribute import add_evidence
from catalogue.errors import UsageError
from catalogue.loader import check, load
from catalogue.vocab import location_problem
from tests.conftest import WriteData
from tests.helpers import MODELS, make_head, make_prev

#: A 4-layer hybrid whose layers 1 and 3 have attention (the others are recurrent).
HYBRID: dict[str, Any] = {
    "id": "hybrid-4l",
    "name": "Hybrid 4L",
    "family": "hybrid",
    "layers": 4,
    "heads": 2,
    "kv_heads": 1,
    "attention_layers": [1, 3],
    "source": "test fixture",
}
runner = CliRunner()


def _data(write_data: WriteData, *locations: str) -> Path:
    head = make_head()
    if locations:
        head["evidence"].append(
            {
                "cite": "olsson2022incontext",
                "model": "hybrid-4l",
                "locations": list(locations),
                "method": "scoring",
                "source": "Table 1",
                "source_kind": "body",
            }
        )
    return write_data(models=[*MODELS, HYBRID], heads=[head, make_prev()])


def test_location_problem_knows_the_attention_layers() -> None:
    assert location_problem(1, 0, "m", 4, 2, [1, 3]) is None
    why = location_problem(2, 0, "m", 4, 2, [1, 3])
    assert why == (
        "layer 2 of m has no attention heads: only layers 1, 3 have attention "
        "(the others are recurrent or state-space layers)"
    )
    assert location_problem(2, 0, "m", 4, 2) is None  # every layer has attention when none are listed
    assert "outside m" in (location_problem(4, 0, "m", 4, 2, [1, 3]) or "")


def test_a_location_in_a_layer_without_attention_is_an_error_on_its_line(write_data: WriteData) -> None:
    assert load(_data(write_data, "L1H0", "L3H1")).models["hybrid-4l"].attention_layers == [1, 3]
    cat, problems = check(_data(write_data, "L1H0", "L2H1"))
    assert cat is None
    (err,) = [str(p) for p in problems.errors]
    assert "induction-head.yaml:" in err and "layer 2 of hybrid-4l has no attention heads" in err


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"attention_layers": [3, 1]}, "each layer once, ascending"),
        ({"attention_layers": [1, 1]}, "each layer once, ascending"),
        ({"attention_layers": []}, "each layer once, ascending"),
        ({"attention_layers": [1, 4]}, "attention layer 4 is outside the model's 4 layers (0-3)"),
        ({"attention_layers": [-1]}, "greater than or equal to 0"),
        ({"layers": None}, "`attention_layers` needs `layers:`"),
    ],
)
def test_bad_attention_layers_are_named(write_data: WriteData, change: dict[str, Any], fragment: str) -> None:
    d = write_data(models=[*MODELS, {**HYBRID, **change}])
    cat, problems = check(d)
    assert cat is None
    assert any("models.yaml:" in str(p) and fragment in str(p) for p in problems.errors), problems.errors


def test_where_model_and_add_evidence_refuse_a_layer_without_attention(write_data: WriteData, cache: Path) -> None:
    d = _data(write_data)
    result = subprocess.run(
        [sys.executable, "-m", "catalogue", "--data", str(d), "where", "hybrid-4l", "L0H0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HEADS_CACHE_DIR": str(cache)},
    )
    assert result.returncode != 0 and "layer 0 of hybrid-4l has no attention heads" in result.stderr
    assert "Traceback" not in result.stderr
    grid = runner.invoke(app, ["--data", str(d), "model", "hybrid-4l"]).output
    assert "(attention only in layers 1, 3)" in grid and "- no attention in this layer" in grid
    rows = [line.split() for line in grid.splitlines() if line[:5].strip().isdigit()]
    assert rows == [["0", "-", "-"], ["1", ".", "."], ["2", "-", "-"], ["3", ".", "."]]
    shown = json.loads(runner.invoke(app, ["--data", str(d), "models", "-f", "json"]).output)
    assert next(m for m in shown if m["id"] == "hybrid-4l")["attention_layers"] == [1, 3]
    evidence = {"cite": "olsson2022incontext", "model": "hybrid-4l", "locations": ["L2H0"], "method": "scoring"}
    with pytest.raises(UsageError, match="layer 2 of hybrid-4l has no attention heads"):
        add_evidence("induction-head", {**evidence, "source": "Table 1", "source_kind": "body"}, data=d)
