"""A bounded fuzz of the `heads` command line: whatever the arguments, the exit code is 0, 1 or 2 and no
traceback appears (issue 13: 2,200 fuzzed calls once found non-UTF-8 arguments and huge indices crashing).

In-process through typer's CliRunner for speed, plus a few real processes for what only argv can carry
(bytes that are not UTF-8). The calls are drawn from a fixed seed, so a failure is reproducible.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalogue.cli import app
from catalogue.errors import CatalogueError, UsageError
from tests.conftest import WriteData

CALLS = 2200
#: Stop drawing new calls after this many seconds (a slow machine runs fewer, never forever).
BUDGET_S = 150.0

COMMANDS = [
    "list", "show", "search", "where", "model", "models", "cite", "stats", "taxonomy", "validate", "export",
    "schema", "add-evidence", "new", "diff",
]  # fmt: skip
VALID = [
    "induction-head", "Induction Head", "previous-token-head", "gpt2-small", "gpt2", "toy-2l", "L5H5", "5.5",
    "9:9", "LR", "KR", "ICI", "EP", "path-patching", "scoring", "2022", "2020-2023", "0-5", "json", "csv",
    "yaml", "table", "text", "wang2022interpretability", "2211.00593", "gpt2", "olsson2022incontext",
    "icl-task-learning", "body", "stages", "methods", "HEAD", "copy",
]  # fmt: skip
OPTIONS = [
    "--format", "-f", "--stage", "--method", "--model", "--paper", "--year", "--family", "--layers",
    "--subcategory", "--source-kind", "--in-survey", "--not-in-survey", "--limit", "--cite", "--location",
    "-l", "--source", "--id", "--name", "--summary", "--value", "--metric", "--related", "--strict",
    "-o", "--output", "--check", "--exit-code", "--help", "--version", "--alias",
]  # fmt: skip
JUNK = [
    "", " ", "-", "--", "\x00", "\t", "\n", "L99999H1", "L1H99999", "99999.1", "1.99999", "L-1H0",
    "1e309", "-1", "0", "9" * 40, "NaN", "inf", "💥", "Ünïcödé", "a" * 3000, "\udcff", "OR\udcff",
    "%s", "%(x)s", "{0}", "'; DROP TABLE head; --", "*", '"', "'", "\\", "1:2:3", "L1H", "H1", "LH",
    "2023-2020", "3000", "-2022", "20x", "x-y", "/", "/dev/null", ".", "..", "../../etc/passwd",
    "induction-head\x00", "ＬＲ", "l5h5", "L０H０", "AND", "OR", "NOT", "NEAR", '"unclosed', "a*", "**",
]  # fmt: skip


#: Errors the entry point maps to a message and exit 1 (catalogue.cli._state.run).
HANDLED = (CatalogueError, UsageError)


def _calls(seed: int, n: int) -> list[list[str]]:
    rng = random.Random(seed)
    pools = (VALID, OPTIONS, JUNK)
    out = []
    for _ in range(n):
        args = [rng.choice(COMMANDS)]
        for _ in range(rng.randint(0, 5)):
            args.append(rng.choice(rng.choices(pools, weights=(4, 3, 3))[0]))
        out.append(args)
    return out


@pytest.fixture
def data(write_data: WriteData, cache: Path) -> Path:
    return write_data()


def test_fuzzed_calls_exit_0_1_or_2_without_traceback(data: Path, tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "80", "HEADS_DATA_DIR": str(data)})
    os.chdir(tmp_path)  # `-o FILE` and `diff` act on a scratch folder outside any git work tree
    start = time.monotonic()
    bad = []
    done = 0
    for args in _calls(seed=13, n=CALLS):
        if time.monotonic() - start > BUDGET_S:
            break
        result = runner.invoke(app, args)
        done += 1
        # in a real process catalogue.cli._state.run() turns these into a message and exit 1
        crashed = result.exception is not None and not isinstance(result.exception, (SystemExit, *HANDLED))
        if crashed or result.exit_code not in (0, 1, 2) or "Traceback" in result.output:
            bad.append((args, result.exit_code, repr(result.exception), result.output[-300:]))
    assert not bad, f"{len(bad)} of {done} calls failed; first: {bad[:3]}"
    assert done >= 200, f"only {done} calls ran in {BUDGET_S:.0f} s"


@pytest.mark.parametrize(
    "args",
    [
        [b"cite", b"OR\xff"],
        [b"show", b"OR\xff"],
        [b"list", b"--paper", b"OR\xff"],
        [b"where", b"gpt2-small", b"L\xffH1"],
        [b"--data", b"\xfe\xff", b"list"],
        [b"search", b"copy\xc3"],
    ],
    ids=lambda a: b" ".join(a).decode("utf-8", "backslashreplace"),
)
def test_argument_not_utf8_is_a_usage_error(data: Path, args: list[bytes]) -> None:
    env = {**os.environ, "HEADS_DATA_DIR": str(data), "LC_ALL": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"catalogue", *args], capture_output=True, env=env, timeout=60
    )
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert "is not valid UTF-8 text" in stderr
