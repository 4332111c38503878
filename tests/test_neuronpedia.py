"""`heads neuronpedia import`: Neuronpedia's HeadVis export (tests/assets/neuronpedia/, its real format) becomes
score tables under data/scores/neuronpedia/; bad input is named with file:line or the argument, nothing written."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from catalogue.cli import main
from catalogue.neuronpedia import METRICS, read_export
from tests.conftest import WriteData
from tests.helpers import MODELS
from tests.test_scores import check_table

EXPORT = Path(__file__).parent / "assets" / "neuronpedia" / "tiny-np" / "headvis" / "monology-pile-uncopyrighted"
TINY: dict[str, Any] = {
    "id": "tiny-np",
    "name": "Tiny model on Neuronpedia (test fixture)",
    "hf_id": "example/tiny-np",
    "family": "toy",
    "layers": 2,
    "heads": 3,
    "neuronpedia_id": "tiny-np",
    "source": "test fixture; neuronpedia_id: test fixture",
}


@dataclass
class Result:
    exit_code: int
    output: str


@pytest.fixture
def heads(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """The real entry point in process (its error handling included): ``heads(*args)`` -> exit code, output."""

    def invoke(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["heads", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return Result(code, out.out + out.err)

    return invoke


def _data(write_data: WriteData, **tiny: Any) -> Path:
    return write_data(models=[*MODELS, {**TINY, **tiny}])


def _import(heads: Callable[..., Result], data: Path, export: Path, model: str = "tiny-np") -> Result:
    return heads("--data", str(data), "neuronpedia", "import", str(export), "--model", model)


def _models(data: Path) -> dict[str, dict[str, object]]:
    return {m["id"]: m for m in yaml.safe_load((data / "models.yaml").read_text())["models"]}


def test_import_writes_whole_tables_with_their_provenance(
    write_data: WriteData, cache: Path, heads: Callable[..., Result]
) -> None:
    data = _data(write_data)
    result = _import(heads, data, EXPORT)
    assert result.exit_code == 0, result.output
    out = data / "scores" / "neuronpedia"
    tables = sorted(out.glob("*.csv"))
    assert [t.name for t in tables] == sorted(f"tiny-np.{m.replace('_', '-')}.csv" for m in METRICS)
    assert sorted(result.output.split()) == sorted(str(p) for p in out.iterdir())
    for table in tables:
        check_table(table, _models(data), set())
    prev = (out / "tiny-np.prev-token-score.csv").read_text().splitlines()
    assert prev[0] == "layer,head,score" and prev[3] == "0,2,0.9123" and len(prev) == 7
    meta = yaml.safe_load((out / "tiny-np.induction-score.yaml").read_text())
    assert meta["text"].startswith("natural text, not repeated random tokens: monology/pile-uncopyrighted")
    assert (
        "prior occurrence of the same token" in meta["score"] and "hijohnnylin/neuronpedia" in meta["definition_source"]
    )
    assert meta["run"]["induction_attention_threshold"] == 0.01 and meta["hf_model"] == "example/tiny-np"

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = _import(heads, data, EXPORT / "scatter_data.json", model="example/tiny-np")  # the file, the hub id
    assert again.exit_code == 0, again.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # re-importing changes nothing


def test_read_export_reads_every_metric() -> None:
    ex = read_export(EXPORT)
    assert sorted(ex.scores) == sorted(METRICS)
    assert ex.scores["induction_score"][(1, 0)] == 0.4417 and len(ex.scores["qk_distance"]) == 6


def _edited(
    tmp_path: Path, scatter: Callable[[str], str] | None = None, config: Callable[[Any], Any] | None = None
) -> Path:
    folder = tmp_path / "export"
    shutil.copytree(EXPORT, folder)
    if scatter is not None:
        f = folder / "scatter_data.json"
        f.write_text(scatter(f.read_text()))
    if config is not None:
        c = folder / "config.json"
        c.write_text(json.dumps(config(json.loads(c.read_text())), indent=2))
    return folder


def _rows(edit: Callable[[list[Any]], Any]) -> Callable[[str], str]:
    def apply(text: str) -> str:
        rows = json.loads(text)
        edit(rows)
        return json.dumps(rows)

    return apply


def _set(key: str, value: Any) -> Callable[[Any], Any]:
    return lambda c: {**c, key: value}


@pytest.mark.parametrize(
    ("scatter", "config", "expected"),
    [
        (lambda t: t[:-30], None, "scatter_data.json:1:"),  # truncated: not JSON
        (lambda t: "{}", None, "scatter_data.json:1:1: expected a JSON list"),
        (_rows(lambda r: r.__setitem__(1, [0, 1])), None, "scatter_data.json:1:"),
        (_rows(lambda r: r[4].update(layer=2)), None, "L2H1 is outside tiny-np"),
        (_rows(lambda r: r[4].update(head=-1)), None, "must be integers from 0 (0-indexed), not 1, -1"),
        (_rows(lambda r: r.pop()), None, "1 head(s) of the 2 x 3 model missing: L1H2"),
        (_rows(lambda r: r.append(dict(r[0]))), None, "L0H0 is listed twice"),
        (_rows(lambda r: r[2].update(prev_token_score=None)), None, "L0H2 prev_token_score is null"),
        (_rows(lambda r: r[2].pop("qk_distance")), None, "L0H2 has no 'qk_distance'"),
        (None, lambda c: {k: v for k, v in c.items() if k != "np_model_id"}, "config.json: 'np_model_id' missing"),
        (None, _set("metrics", ["attention_sink"]), "names none of Neuronpedia's head metrics"),
        (None, _set("np_model_id", "gpt2-small"), "this export is for Neuronpedia's 'gpt2-small'"),
        (None, _set("n_heads", 4), "scatter_data.json: 2 head(s) of the 2 x 4 model missing"),
    ],
)
def test_bad_export_is_named_and_nothing_is_written(
    heads: Callable[..., Result],
    write_data: WriteData,
    cache: Path,
    tmp_path: Path,
    scatter: Callable[[str], str] | None,
    config: Callable[[Any], Any] | None,
    expected: str,
) -> None:
    data = _data(write_data)
    result = _import(heads, data, _edited(tmp_path, scatter, config))
    assert result.exit_code == 1
    assert expected in result.output, result.output
    assert "Traceback" not in result.output
    assert not (data / "scores").exists()


@pytest.mark.parametrize(
    ("model", "tiny", "export", "expected"),
    [
        ("tiny-mp", {}, EXPORT, "tiny-mp"),  # unknown model: named, with a suggestion
        ("gpt2-small", {}, EXPORT, "--model gpt2-small: gpt2-small has no neuronpedia_id"),
        ("tiny-np", {"neuronpedia_id": "tiny-other"}, EXPORT, "but --model tiny-np is 'tiny-other'"),
        ("tiny-np", {"layers": 3}, EXPORT, "the registry records 3 x 3 for tiny-np"),
        ("tiny-np", {}, EXPORT / "config.json", "expected a HeadVis export folder or its scatter_data.json"),
        ("tiny-np", {}, EXPORT.parent / "no-such-run", "no-such-run: not found"),
    ],
)
def test_bad_arguments_are_named_and_nothing_is_written(
    heads: Callable[..., Result],
    write_data: WriteData,
    cache: Path,
    model: str,
    tiny: dict[str, Any],
    export: Path,
    expected: str,
) -> None:
    data = _data(write_data, **tiny)
    result = _import(heads, data, export, model)
    assert result.exit_code == 1
    assert expected in result.output, result.output
    assert not (data / "scores").exists()
