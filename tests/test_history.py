"""`heads diff REV`: head types and evidence added, removed or changed against a git revision."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalogue.cli import app
from catalogue.errors import UsageError
from catalogue.history import diff, diff_texts
from tests.conftest import WriteData
from tests.helpers import git, make_head, make_prev

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
runner = CliRunner()


def dump(heads: list[dict[str, object]]) -> str:
    return yaml.safe_dump({"heads": heads}, sort_keys=False)


def write_heads(data: Path, heads: list[dict[str, object]]) -> None:
    """Replace the head-type files of ``data`` with one file per head."""
    shutil.rmtree(data / "heads", ignore_errors=True)
    (data / "heads").mkdir()
    for h in heads:
        (data / "heads" / f"{h['id']}.yaml").write_text(yaml.safe_dump(h, sort_keys=False))


@pytest.fixture
def repo(write_data: WriteData) -> Path:
    data = write_data()
    git(data.parent, "init", "-q")
    git(data.parent, "add", ".")
    git(data.parent, "commit", "-q", "-m", "base")
    return data


def test_no_change(repo: Path) -> None:
    d = diff("HEAD", data=repo)
    assert d.empty
    assert "no head type, evidence, model or work changed" in d.text()


def test_added_removed_and_changed(repo: Path) -> None:
    ind = make_head(summary="A new summary.")
    ind["evidence"] = [
        {**ind["evidence"][0], "locations": ["L5H5"]},  # changed
        {
            "cite": "olsson2022incontext",
            "model": "gpt2-small",
            "method": "scoring",
            "source": "Fig 1",
            "source_kind": "body",
        },  # added
    ]  # and the theory-only olsson record is removed
    new = make_head(id="copy-head", name="Copy head", aliases=[], related=[])
    write_heads(repo, [ind, new])  # previous-token-head removed
    d = diff("HEAD", data=repo)
    by_id = {c.id: c for c in d.changes}
    assert [c.id for c in d.changes] == ["copy-head", "induction-head", "previous-token-head"]
    assert by_id["copy-head"].status == "added" and len(by_id["copy-head"].evidence) == 2
    assert by_id["previous-token-head"].status == "removed"
    ch = by_id["induction-head"]
    assert ch.status == "changed" and ch.fields == ["summary"]
    assert [(e.status, e.cite, e.model, e.fields) for e in ch.evidence] == [
        ("removed", "olsson2022incontext", None, []),
        ("added", "olsson2022incontext", "gpt2-small", []),
        ("changed", "wang2022interpretability", "gpt2-small", ["locations"]),
    ]
    text = d.text()
    assert "1 added, 1 removed, 1 changed" in text
    assert "~ induction-head: changed (summary)" in text
    assert "    ~ evidence changed: wang2022interpretability on gpt2-small [ev-inductaa] (locations)" in text
    assert json.loads(d.json())["changes"][0]["id"] == "copy-head"


def test_evidence_is_matched_by_its_permanent_id_and_withdrawal_is_named() -> None:
    old = make_head()
    new = make_head()
    first, second = new["evidence"]
    # the records swap places, one changes its cite (same id: the same claim), the other is withdrawn
    new["evidence"] = [
        {**second, "deprecated": {"reason": "retracted by the authors", "date": "2026-01-02"}},
        {**first, "cite": "olsson2022incontext"},
    ]
    d = diff_texts(dump([old]), dump([new]))
    assert [(e.status, e.id, e.fields) for e in d.changes[0].evidence] == [
        ("withdrawn", "ev-inductab", ["deprecated"]),
        ("changed", "ev-inductaa", ["cite"]),
    ]


def test_equivalent_spellings_are_not_changes() -> None:
    old = dump([make_head()])
    h = make_head()
    h["evidence"][0]["locations"] = ["5.5", "5:8", "L5H9", "l6h9"]
    h["summary"] = "  " + str(h["summary"]) + "  "
    assert diff_texts(old, dump([h])).empty


def test_invalid_records_are_still_compared() -> None:
    old = dump([make_head()])
    bad = make_head(stages="not a list")
    d = diff_texts(old, dump([bad]))
    assert d.changes[0].fields == ["stages"]


def test_file_missing_at_revision_means_everything_is_added() -> None:
    d = diff_texts(None, dump([make_head(), make_prev()]))
    assert [c.status for c in d.changes] == ["added", "added"]


def test_unknown_revision_is_a_usage_error(repo: Path) -> None:
    with pytest.raises(UsageError, match="unknown git revision 'no-such-branch'"):
        diff("no-such-branch", data=repo)
    with pytest.raises(UsageError, match="is not a git revision"):
        diff("--output=/tmp/x", data=repo)


def test_outside_a_repository(write_data: WriteData, tmp_path: Path) -> None:
    data = write_data(folder="plain")
    if subprocess.run(["git", "rev-parse"], cwd=data, capture_output=True).returncode == 0:
        pytest.skip("the temporary folder is inside a git repository")
    with pytest.raises(UsageError, match="not in a git repository"):
        diff("HEAD", data=data)


def test_models_and_works_are_compared(repo: Path) -> None:
    """A pull request that changes only models.yaml or references.bib shows those changes too."""
    models = yaml.safe_load((repo / "models.yaml").read_text())
    models["models"][0]["layers"] = 13
    models["models"].append({"id": "new-model", "name": "New", "family": "x"})
    (repo / "models.yaml").write_text(yaml.safe_dump(models))
    bib = (repo / "references.bib").read_text()
    (repo / "references.bib").write_text(
        bib.replace("Olsson, Catherine", "Olsson, C.") + "\n@misc{extra2024x, title={X}}\n"
    )
    d = diff("HEAD", data=repo)
    assert not d.empty and not d.changes
    assert [(i.kind, i.id, i.status) for i in d.items] == [
        ("model", "gpt2-small", "changed"),
        ("model", "new-model", "added"),
        ("work", "extra2024x", "added"),
        ("work", "olsson2022incontext", "changed"),
    ]
    assert "+ model new-model: added" in d.text()


def test_revision_before_the_split_is_read_from_heads_yaml(repo: Path) -> None:
    """A revision that still had one data/heads.yaml is compared with the per-file layout."""
    shutil.rmtree(repo / "heads")
    (repo / "heads.yaml").write_text(dump([make_head(), make_prev()]))
    git(repo.parent, "add", "-A")
    git(repo.parent, "commit", "-q", "-m", "old layout")
    (repo / "heads.yaml").unlink()
    write_heads(repo, [make_head(summary="New."), make_prev()])
    d = diff("HEAD", data=repo)
    assert [(c.id, c.status, c.fields) for c in d.changes] == [("induction-head", "changed", ["summary"])]


def test_cli_diff(repo: Path) -> None:
    write_heads(repo, [make_head()])
    r = runner.invoke(app, ["--data", str(repo), "diff", "HEAD"])
    assert r.exit_code == 0, r.output
    assert "- previous-token-head: removed" in r.output
    r = runner.invoke(app, ["--data", str(repo), "diff", "HEAD", "--exit-code", "-f", "json"])
    assert r.exit_code == 1
    assert json.loads(r.output)["changes"][0]["status"] == "removed"
