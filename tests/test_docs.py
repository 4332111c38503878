"""The README's examples run: every `heads` line of its command list, and its Python block."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


COMMANDS = [
    line.split("#")[0].strip() for block in _blocks("text") for line in block.splitlines() if line.startswith("heads ")
]


def test_readme_lists_commands() -> None:
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("command", [c for c in COMMANDS if not c.startswith("heads diff")])
def test_readme_command_runs(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADS_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, shlex.split(command)[1:])
    assert result.exit_code == 0, result.output
    assert result.output.strip()


def test_readme_python_block_runs() -> None:
    (block,) = _blocks("python")
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    assert namespace["h"].id == "previous-token-head"  # type: ignore[attr-defined]
