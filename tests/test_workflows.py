"""The check-claims workflow runs the command README documents, on the models the catalogue lists.

(scripts/test checks every workflow against the GitHub-workflow JSON Schema; these tests check what the
schema cannot: that the command and the model list are the catalogue's own.)
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from catalogue import load
from catalogue.claims import claims_on
from catalogue.index import Index
from catalogue.paths import data_paths
from catalogue.query import models_to_check

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "check-claims.yml"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _workflow() -> dict[Any, Any]:
    loaded = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _steps() -> list[dict[str, Any]]:
    (job,) = _workflow()["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def _lines(needle: str) -> list[str]:
    """The shell lines of the workflow's steps that contain ``needle`` (comments and echo lines left out)."""
    lines = [line.strip() for s in _steps() for line in str(s.get("run", "")).splitlines() if needle in line]
    return [line for line in lines if not line.startswith(("#", "echo"))]


def _readme_command(prefix: str) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    found = [line.split("#")[0].strip() for b in blocks for line in b.splitlines() if line.startswith(prefix)]
    assert len(found) == 1, f"README documents {prefix!r} {len(found)} times"
    return shlex.split(found[0])


def _without_model(tokens: list[str]) -> list[str]:
    i = tokens.index("--model")
    return tokens[:i] + tokens[i + 2 :]


def test_triggers_and_permissions() -> None:
    w = _workflow()
    triggers = w[True]  # YAML 1.1 reads the key `on` as True
    assert "schedule" in triggers and triggers["schedule"][0]["cron"]
    assert "models" in triggers["workflow_dispatch"]["inputs"]
    assert not triggers["workflow_dispatch"]["inputs"]["models"]["required"]
    assert w["permissions"] == {"contents": "write", "pull-requests": "write"}
    uses = [str(s.get("uses", "")) for s in _steps()]
    assert any(re.fullmatch(r"peter-evans/create-pull-request@v\d+", u) for u in uses), uses
    installs = _lines("pip install")
    assert any('-c constraints/ci.txt -e ".[verify]"' in line for line in installs), installs


def test_the_workflow_runs_the_documented_command() -> None:
    (line,) = _lines("heads verify")
    ran = shlex.split(line.split("||")[0])
    documented = _readme_command("heads verify --claims")
    assert _without_model(ran) == _without_model(documented)
    assert ran[ran.index("--model") + 1] == "$model"


def test_the_model_list_comes_from_the_catalogue() -> None:
    (line,) = _lines("heads models")
    assert "heads models --claims --max-parameters" in line and "--format json" in line
    text = WORKFLOW.read_text(encoding="utf-8")
    registry = [m.id for m in load().models.values()]
    hard_coded = [m for m in registry if re.search(rf"(?<![\w.-]){re.escape(m)}(?![\w.-])", text)]
    assert not hard_coded, f"model ids written into the workflow: {hard_coded}"


def test_models_to_check_are_the_models_with_claims(tmp_path: Path) -> None:
    cat = load()
    index = Index.open(data_paths(None), cache=tmp_path)
    bound = 1.5e9
    listed = [m["id"] for m in models_to_check(index, max_parameters=bound)]
    expected = [
        m.id
        for m in sorted(cat.models.values(), key=lambda m: m.id)
        if m.hf_id and m.parameters is not None and m.parameters <= bound and claims_on(cat, m.id)
    ]
    assert listed == expected
    assert "gpt2-small" in listed
    index.dispose()


def test_browser_setup_without_chromium_or_apt_says_how_to_install(tmp_path: Path) -> None:
    """On a machine without Chromium and without apt-get, tests/browser_setup.sh fails with a message saying
    what to install (scripts/test then goes on and the browser tests skip with their reason)."""
    import shutil
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id"):  # all the script needs before it gives up
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    r = subprocess.run(
        [str(bin_dir / "bash"), str(Path(__file__).parent / "browser_setup.sh")],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir)},
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert "no apt-get" in r.stderr and "install chromium and chromedriver" in r.stderr
    script = (Path(__file__).parent.parent / "scripts" / "test").read_text(encoding="utf-8")
    assert "if ! bash tests/browser_setup.sh; then" in script  # a failed setup does not stop the checks
