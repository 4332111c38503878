"""Data releases and machine-readable outputs: the parquet export, the release file and its schema, the
changelog, CITATION.cff, the static JSON API."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from catalogue import exporting, load
from catalogue.cli import app
from catalogue.history import changelog
from catalogue.paths import data_version
from catalogue.render.api import api_files
from tests.conftest import WriteData
from tests.helpers import DATA, ROOT, git, make_head, make_prev

runner = CliRunner()
jsonschema = pytest.importorskip("jsonschema", reason="the schema checks need jsonschema (a dev dependency)")


def validate(doc: Any, schema: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(schema, format_checker=None).validate(doc)


# --------------------------------------------------------------------------- parquet


@pytest.fixture(scope="module")
def parquet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pyarrow", reason="the parquet export needs pyarrow (the export extra)")
    out = tmp_path_factory.mktemp("export") / "heads.parquet"
    result = runner.invoke(app, ["export", "--format", "parquet", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_parquet_has_one_row_per_model_layer_head_type_and_evidence(parquet_file: Path) -> None:
    pd = pytest.importorskip("pandas", reason="loading the export needs pandas")
    df = pd.read_parquet(parquet_file)
    assert list(df.columns) == list(exporting.LOCATION_COLUMNS)
    key = ["model", "layer", "head", "head_type", "evidence_id"]
    assert not df.duplicated(key).any()
    cat = load()
    expected = sum(len(e.locations) for h in cat.heads.values() for e in h.evidence if e.model)
    assert len(df) == expected
    wang = df[
        (df.model == "gpt2-small") & (df.head_type == "name-mover-head") & (df.cite == "wang2022interpretability")
    ]
    assert sorted(wang.location) == ["L10H0", "L9H6", "L9H9"]
    assert set(wang.tl_hook_z) == {"blocks.9.attn.hook_z", "blocks.10.attn.hook_z"}
    assert str(df.layer.dtype) == "int32" and str(df.value.dtype) == "float64"


def test_parquet_loads_with_the_datasets_library(parquet_file: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="needs the Hugging Face `datasets` library")
    ds = datasets.load_dataset("parquet", data_files=str(parquet_file), split="train", cache_dir=str(tmp_path))
    assert ds.num_rows > 0 and ds.column_names == list(exporting.LOCATION_COLUMNS)
    row = next(r for r in ds if r["location"] == "L9H9" and r["head_type"] == "name-mover-head")
    assert row["model"] == "gpt2-small" and row["evidence_id"].startswith("ev-")


def test_parquet_without_pyarrow_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    from catalogue.errors import UsageError

    with pytest.raises(UsageError, match=r"pip install -e '\.\[export\]' in a clone of the repository"):
        exporting.parquet([])


def test_parquet_needs_an_output_file() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "catalogue", "export", "-f", "parquet"], capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 2 and "--output" in p.stderr and "Traceback" not in p.stderr


# --------------------------------------------------------------------------- release file


def test_the_release_file_validates_against_the_committed_schema(tmp_path: Path, cache: Path) -> None:
    result = runner.invoke(app, ["release", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    version = data_version()
    path = tmp_path / f"catalogue-{version}.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    schema = json.loads((DATA / "catalogue.schema.json").read_text(encoding="utf-8"))
    validate(doc, schema)
    assert doc["data_version"] == version and len(doc["heads"]) == len(load().heads)
    # pinned: the same data gives the same bytes
    again = tmp_path / "again"
    runner.invoke(app, ["release", "-o", str(again)])
    assert (again / path.name).read_bytes() == path.read_bytes()
    # and the schema does check: an unknown field or a bad evidence id is refused
    doc["heads"][0]["evidence"][0]["id"] = "ev-NOTVALID"
    with pytest.raises(jsonschema.ValidationError):
        validate(doc, schema)


def test_the_committed_release_schema_is_current() -> None:
    assert (DATA / "catalogue.schema.json").read_text(encoding="utf-8") == exporting.release_schema()


def test_data_version_is_semantic_and_separate_from_the_package(tmp_path: Path) -> None:
    import catalogue

    assert data_version() == (DATA / "VERSION").read_text().strip()
    (tmp_path / "heads").mkdir()
    (tmp_path / "VERSION").write_text("next\n")
    with pytest.raises(ValueError, match="1.2.0"):
        data_version(tmp_path)
    assert catalogue.__version__  # the package keeps its own version


# --------------------------------------------------------------------------- changelog and citation


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_changelog_between_release_tags(write_data: WriteData) -> None:
    data = write_data()
    repo = data.parent
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    git(repo, "tag", "data-v1.0.0")
    ind = make_head()
    ind["evidence"][1]["deprecated"] = {"reason": "retracted by the authors", "date": "2026-11-02"}
    ind["evidence"][0]["task"] = "IOI, 100 prompts"
    new = make_head(id="copy-head", name="Copy head", aliases=[], related=[], check=None)
    for e, i in zip(new["evidence"], ("ev-copyaaaa", "ev-copyaaab"), strict=True):
        e["id"] = i
    write_data(heads=[ind, make_prev(), new])
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "second")
    git(repo, "tag", "data-v1.1.0")
    text = changelog("data-v1.0.0", "data-v1.1.0", title="Data 1.1.0", data=data)
    assert text.startswith("## Data 1.1.0\n\nCompared with `data-v1.0.0`.")
    assert "### Head types added (1)\n\n- `copy-head`" in text
    assert "### Evidence added (2)" in text and "`ev-copyaaaa` copy-head" in text
    assert (
        "### Evidence changed (1)\n\n- `ev-inductaa` induction-head: wang2022interpretability on gpt2-small (task)"
        in text
    )
    assert "### Evidence withdrawn (1)\n\n- `ev-inductab` induction-head: olsson2022incontext (deprecated)" in text
    first = changelog(None, "data-v1.0.0", title="Data 1.0.0", data=data)
    assert "### Evidence added (3)" in first and "first data release" in first
    assert changelog("data-v1.1.0", "data-v1.1.0", title="x", data=data).endswith("No change to the data.\n")


def test_changelog_md_has_a_section_for_the_current_data_version() -> None:
    """CHANGELOG.md is regenerated with `heads changelog` when a data version is released (the release
    workflow prints the section); between releases it must at least name the version in data/VERSION."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## Data {data_version()}" in text
    assert "### Evidence added (" in text


def test_citation_cff_is_valid_and_names_the_data_version() -> None:
    """Valid CFF 1.2.0 (the schema cffconvert ships, vendored in tests/assets/cff/) at the data's version."""
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["version"] == data_version()
    schema = json.loads((ROOT / "tests" / "assets" / "cff" / "schema-1.2.0.json").read_text(encoding="utf-8"))
    validate(cff, schema)
    with pytest.raises(jsonschema.ValidationError):
        validate({**cff, "type": "paper"}, schema)


# --------------------------------------------------------------------------- the static JSON API


@pytest.fixture(scope="module")
def api() -> dict[str, Any]:
    return {path: json.loads(text) for path, text in api_files(load(), data_version=data_version()).items()}


def test_every_api_document_validates_against_its_schema(api: dict[str, Any]) -> None:
    schemas = {k: api[f"api/v1/schema/{k}.json"] for k in ("index", "model", "head-type")}
    index = api["api/v1/index.json"]
    validate(index, schemas["index"])
    cat = load()
    assert [h["id"] for h in index["head_types"]] == sorted(cat.heads)
    assert [m["id"] for m in index["models"]] == sorted(cat.models)
    for entry in index["head_types"]:
        validate(api["api/v1/" + entry["url"]], schemas["head-type"])
    for entry in index["models"]:
        validate(api["api/v1/" + entry["url"]], schemas["model"])
    bad = dict(api["api/v1/models/gpt2-small.json"], extra=1)
    with pytest.raises(jsonschema.ValidationError):
        validate(bad, schemas["model"])


def test_api_documents_hold_the_known_heads_and_depth(api: dict[str, Any], cache: Path) -> None:
    from catalogue import known_heads

    nm = api["api/v1/head-types/name-mover-head.json"]
    assert nm["data_version"] == data_version() and nm["page"] == "heads/name-mover-head/"
    gpt2 = [k for k in nm["locations"] if k["model"] == "gpt2-small" and k["cite"] == "wang2022interpretability"]
    assert sorted(k["location"] for k in gpt2) == ["L10H0", "L9H6", "L9H9"]
    assert {"model": "gpt2-small", "layer": 9, "band": "deep", "heads": ["L9H6", "L9H9"]}.items() <= nm["depth"][
        0
    ].items()
    # the model document agrees with known_heads (same records, same order; API keeps only its fields)
    doc = api["api/v1/models/gpt2-small.json"]
    current = [{k: v for k, v in r.items() if k in doc["heads"][0]} for r in known_heads("gpt2-small")]
    assert [h for h in doc["heads"] if h["status"] == "current"] == current


def test_the_site_publishes_the_api(tmp_path: Path) -> None:
    """The mkdocs hook writes the API into the built site (fixture data: fast)."""
    pytest.importorskip("mkdocs", reason="needs mkdocs (the site extra)")
    data = Path(tmp_path / "data")
    from tests.helpers import write_data

    write_data(data)
    import os

    env = {**os.environ, "HEADS_DATA_DIR": str(data), "NO_MKDOCS_2_WARNING": "1"}
    out = tmp_path / "site"
    p = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    index = json.loads((out / "api/v1/index.json").read_text())
    assert [h["id"] for h in index["head_types"]] == ["induction-head", "previous-token-head"]
    assert (out / "api/v1/head-types/induction-head.json").is_file()
    assert (out / "api/v1/schema/model.json").is_file()
    page = (out / "heads/induction-head/index.html").read_text()
    assert 'id="ev-inductaa"' in page and "Across models" in page
