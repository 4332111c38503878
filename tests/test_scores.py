"""The per-head score tables under data/scores/: one test per table, so a failure names the file.

Each data/scores/<cite>/<name>.csv is `layer,head,score`, 0-indexed, sorted, one row per head of the
model, and has a .yaml beside it saying where it came from (scripts/import_scores.py writes both).
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import pytest
import yaml

DATA = Path(__file__).resolve().parent.parent / "data"
TABLES = sorted((DATA / "scores").glob("*/*.csv"))
REQUIRED = (
    "cite",
    "model",
    "source_repository",
    "source_path",
    "source_commit",
    "rows",
    "score",
    "indexing",
    "selection_rule",
)


def _models() -> dict[str, dict[str, object]]:
    return {m["id"]: m for m in yaml.safe_load((DATA / "models.yaml").read_text())["models"]}


def _cite_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,\s]+),", (DATA / "references.bib").read_text(), flags=re.M))


MODELS = _models()
CITES = _cite_keys()


def test_there_are_tables() -> None:
    assert TABLES, "no per-head score tables under data/scores/"


#: What the provenance of a table imported from Neuronpedia (`heads neuronpedia import`) must say instead.
REQUIRED_NEURONPEDIA = (
    "source",
    "model",
    "neuronpedia_id",
    "metric",
    "score",
    "definition_source",
    "text",
    "export_sha256",
    "rows",
    "indexing",
    "selection_rule",
)


def check_table(table: Path, models: dict[str, dict[str, object]], cites: set[str]) -> None:
    """The rules every table under data/scores/ keeps (shared with tests/test_neuronpedia.py)."""
    meta = yaml.safe_load(table.with_suffix(".yaml").read_text())
    if table.parent.name == "neuronpedia":
        for key in REQUIRED_NEURONPEDIA:
            assert meta.get(key) not in (None, ""), f"{key} missing in {table.with_suffix('.yaml').name}"
        assert meta["source"] == "neuronpedia" and "natural text" in meta["text"]
        assert re.fullmatch(r"[0-9a-f]{64}", meta["export_sha256"])
        assert models[meta["model"]].get("neuronpedia_id") == meta["neuronpedia_id"]
    else:
        for key in REQUIRED:
            assert meta.get(key) not in (None, ""), f"{key} missing in {table.with_suffix('.yaml').name}"
        assert meta["cite"] == table.parent.name
        assert meta["cite"] in cites, f"cite {meta['cite']} is not in references.bib"
        assert re.fullmatch(r"[0-9a-f]{40}", meta["source_commit"])
    model = models.get(meta["model"])
    assert model is not None, f"model {meta['model']} is not in models.yaml"
    assert table.name == f"{meta['model']}.csv" or table.name.startswith(f"{meta['model']}."), (
        "file name starts with the model id"
    )

    with table.open(newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["layer", "head", "score"]
        rows = [(int(layer), int(head), float(score)) for layer, head, score in reader]
    keys = [(layer, head) for layer, head, _ in rows]
    assert keys == sorted(set(keys)), "rows must be unique and sorted by (layer, head)"
    assert all(math.isfinite(score) for _, _, score in rows)
    assert len(rows) == meta["rows"]

    per_layer = model["kv_heads"] if meta.get("head_unit") == "kv_head" else model["heads"]
    assert isinstance(model["layers"], int) and isinstance(per_layer, int)
    assert keys == [(layer, head) for layer in range(model["layers"]) for head in range(per_layer)], (
        "the table must hold every head of the model exactly once"
    )
    for location in meta.get("selected", []):
        layer, head = map(int, re.fullmatch(r"L(\d+)H(\d+)", location).groups())  # type: ignore[union-attr]
        assert (layer, head) in set(keys)


@pytest.mark.parametrize("table", TABLES, ids=[f"{p.parent.name}/{p.name}" for p in TABLES])
def test_table_is_whole_sorted_and_in_range(table: Path) -> None:
    check_table(table, MODELS, CITES)


@pytest.mark.parametrize(
    ("manifest", "fragment"),
    [
        ("cite: [unclosed\n", "its manifest is not valid YAML"),
        ("- a list\n", "must be a mapping with `model:`"),
        ("cite: x2024y\n", "must be a mapping with `model:`"),
    ],
)
def test_a_bad_manifest_is_reported(manifest: str, fragment: str) -> None:
    from catalogue.scores import parse_table

    table, problems = parse_table("layer,head,score\n0,0,1.0\n", manifest, "data/scores/x2024y/m.csv")
    assert table is None and any(fragment in p for p in problems), problems


def test_a_manifest_is_read_as_yaml() -> None:
    from catalogue.scores import parse_table

    manifest = "cite: x2024y\nmodel: m\nscore: 'a score: quoted'\nselected: [L0H0]\n"
    table, problems = parse_table("layer,head,score\n0,0,1.0\n0,1,0.5\n", manifest, "data/scores/x2024y/m.csv")
    assert problems == [] and table is not None
    assert (table.cite, table.model, table.definition, table.rows) == (
        "x2024y",
        "m",
        "a score: quoted",
        ((0, 0, 1.0), (0, 1, 0.5)),
    )
