"""The `heads` command: every command answers, formats parse, bad input exits 1 with a message and no traceback."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from catalogue.cli import COMMAND_GROUPS, app
from tests.conftest import WriteData
from tests.helpers import GOOD_REREAD

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def data(write_data: WriteData, cache: Path) -> Path:
    return write_data()


def run(data: Path, *args: str) -> str:
    result = runner.invoke(app, ["--data", str(data), *args])
    assert result.exit_code == 0, result.output
    return result.output


def heads(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real entry point in a subprocess, as a user would."""
    env = {**os.environ, "HEADS_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "catalogue", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_list_formats(data: Path) -> None:
    assert "induction-head" in run(data, "list")
    assert [h["id"] for h in json.loads(run(data, "list", "--format", "json"))] == [
        "previous-token-head",
        "induction-head",
    ]
    rows = list(csv.DictReader(io.StringIO(run(data, "list", "-f", "csv"))))
    assert rows[1]["id"] == "induction-head" and rows[1]["stages"] == "LR"
    assert yaml.safe_load(run(data, "list", "-f", "yaml", "--stage", "ICI"))[0]["id"] == "previous-token-head"


def test_show_text_and_json(data: Path) -> None:
    out = run(data, "show", "Statistical Induction Head")
    assert "Induction head  [induction-head]" in out and "L5H5 L5H8 L5H9 L6H9" in out and "source: Section 3.3" in out
    assert json.loads(run(data, "show", "induction-head", "-f", "json"))["evidence"][0]["locations"][0] == {
        "layer": 5,
        "head": 5,
    }


def test_show_and_where_give_a_records_reread(data: Path) -> None:
    assert "re-read:" not in run(data, "show", "induction-head")
    (data / "audit.yaml").write_text(GOOD_REREAD)  # the index notices the new file and is rebuilt
    assert "re-read: 2026-12-01, matched: Section 3.3, Figure 2" in run(data, "show", "induction-head")
    assert "re-read: 2026-12-01, matched" in run(data, "where", "gpt2-small", "L5H5")
    shown = json.loads(run(data, "show", "induction-head", "-f", "json"))
    assert shown["rereads"]["ev-inductaa"]["outcome"] == "matched"


def test_where_model_search_cite_stats_export(data: Path, tmp_path: Path) -> None:
    assert "induction-head (Induction head)" in run(data, "where", "gpt2", "L5H9")
    assert json.loads(run(data, "where", "gpt2-small", "6.9", "-f", "json"))["head_types"][0]["id"] == "induction-head"
    grid = run(data, "model", "gpt2-small")
    assert "12 layers x 12 heads" in grid and "previous-token-head: L2H2 L4H11" in grid
    assert run(data, "search", "statistical").startswith("id")
    assert "@inproceedings{wang2022interpretability" in run(data, "cite", "induction-head")
    assert json.loads(run(data, "stats", "-f", "json"))["locations"] == 6
    out = tmp_path / "export.json"
    run(data, "export", "-f", "json", "-o", str(out))
    assert {h["id"] for h in json.loads(out.read_text())["heads"]} == {"induction-head", "previous-token-head"}
    header = run(data, "export", "-f", "csv").splitlines()[0]
    assert header.startswith("head_id,evidence_id,status,cite,model,locations")
    assert run(data, "export", "-f", "bibtex").count("@") == 3
    assert "gpt2-small" in run(data, "models")
    tax = run(data, "taxonomy")
    assert "KR knowledge-recalling" in tax and "path-patching" in tax and "needle-in-a-haystack" in tax
    assert "path-patching" not in run(data, "taxonomy", "stages")


def test_validate_ok_and_schema(data: Path, tmp_path: Path) -> None:
    assert run(data, "validate", str(data)).startswith("ok: 2 head types, 3 evidence records")
    schema = json.loads(run(data, "schema"))
    assert "Evidence" in schema["$defs"] and {"id", "evidence", "stages"} <= set(schema["required"])
    target = tmp_path / "s.json"
    run(data, "schema", "-o", str(target))
    run(data, "schema", "-o", str(target), "--check")
    target.write_text("{}")
    assert runner.invoke(app, ["schema", "-o", str(target), "--check"]).exit_code == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["show", "inductoin"], "Did you mean: induction-head"),
        (["where", "gpt2-small", "L12H0"], "outside gpt2-small"),
        (["where", "gpt2-small", "x"], "not a head location"),
        (["where", "gpt9", "1.1"], "no model is called 'gpt9'"),
        (["list", "--stage", "nope"], "--stage 'nope'"),
        (["list", "--paper", "1234.56789"], "no work in the catalogue"),
        (["model", "nope"], "no model is called"),
        (["cite", "nope-head"], "no head type is called"),
        (["list", "--format", "xml"], "Invalid value"),
        (["list", "--year", "abc"], "--year 'abc': write one number or a range"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_exits_1_without_traceback(data: Path, args: list[str], fragment: str) -> None:
    r = heads(data, *args)
    assert r.returncode in (1, 2), r
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_invalid_data_reports_file_line(write_data: WriteData, cache: Path) -> None:
    d = write_data(head_texts={"x-head": "id: x-head\nbogus: 1\n"})
    for args in (["validate"], ["list"]):
        r = heads(d, *args)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert "heads/x-head.yaml:2: bogus: unknown field" in r.stderr


def test_validate_missing_path(tmp_path: Path, cache: Path) -> None:
    r = heads(tmp_path, "validate", str(tmp_path / "nowhere"))
    assert r.returncode == 1 and "not found" in r.stderr and "Traceback" not in r.stderr


def test_every_command_has_help() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        assert cmd.help, f"`heads {name}` has no help text"


def test_repeated_filters_are_a_union(data: Path) -> None:
    """`--stage LR --stage ICI` lists both stages' types (click alone keeps only the last value)."""
    listed = json.loads(run(data, "list", "--stage", "LR", "--stage", "ICI", "-f", "json"))
    assert [h["id"] for h in listed] == ["previous-token-head", "induction-head"]
    listed = json.loads(run(data, "list", "--layers", "2", "--layers", "6", "--family", "gpt2", "-f", "json"))
    assert [h["id"] for h in listed] == ["previous-token-head", "induction-head"]


def _commands() -> list[list[str]]:
    import typer.main

    group: Any = typer.main.get_command(app)
    return [[]] + [[name] for name in sorted(group.commands)]


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "heads")
def test_help_shows_no_bool_metavar(command: list[str]) -> None:
    """A flag takes no value, so its help must not show one (`--details <bool>`)."""
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "<bool" not in result.output and "BOOLEAN" not in result.output


def _real_commands() -> list[list[str]]:
    """Every text view of the real catalogue: list, models, stats, taxonomy, each head type's show,
    each model's map, and where at every recorded location of a few models."""
    from catalogue import query
    from catalogue.index import Index
    from catalogue.paths import data_paths

    idx = Index.open(data_paths(None))
    out = [["list"], ["models"], ["stats"], ["taxonomy"]]
    out += [["show", str(h["id"])] for h in query.all_heads(idx)]
    out += [["model", str(m["id"])] for m in query.models(idx)]
    heads = {
        (str(m), int(la), int(hd))
        for m, la, hd in idx.raw(
            "SELECT e.model, l.layer, l.head FROM location l JOIN evidence e ON e.id = l.evidence_id"
        )
    }
    out += [["where", m, f"L{la}H{hd}"] for m, la, hd in sorted(heads)[::7]]
    idx.dispose()
    return out


def test_a_table_sent_to_a_pipe_keeps_every_cell_whole(
    write_data: WriteData, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a terminal or COLUMNS (`heads list | grep ...`), ids are never cut with "…"; in a terminal of
    80 columns they are."""
    from tests.helpers import make_head, make_prev

    long_id = "a-head-type-with-a-very-long-identifier-that-does-not-fit"
    data = write_data(heads=[make_head(id=long_id, related=[]), make_prev(related=[])])
    monkeypatch.delenv("COLUMNS", raising=False)
    assert long_id in run(data, "list")
    narrow = CliRunner(env={"COLUMNS": "40"}).invoke(app, ["--data", str(data), "list"]).output
    assert long_id not in narrow and "…" in narrow


def test_text_output_fits_80_columns(cache: Path) -> None:
    """No line of show/where/list/model/models/taxonomy/stats runs past the terminal's 80 columns."""
    narrow = CliRunner(env={"COLUMNS": "80"})
    commands = _real_commands()
    assert len(commands) > 150
    too_long = []
    for command in commands:
        result = narrow.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
        too_long += [(" ".join(command), line) for line in result.output.splitlines() if len(line) > 80]
    assert not too_long, too_long[:5]


def _script_probe(data: Path, args: list[str], report: str) -> subprocess.CompletedProcess[str]:
    """Run the `heads` entry point with ``args`` in a fresh interpreter; its last stderr line is ``report``
    evaluated after the command (for example, which modules it imported). Asserts the command succeeded."""
    probe = (
        "import sys\n"
        f"sys.argv = ['heads', *{args!r}]\n"
        "from catalogue.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print({report}, file=sys.stderr)\n"
    )
    env = {**os.environ, "HEADS_DATA_DIR": str(data)}
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize(
    "args", [["show", "induction-head"], ["where", "gpt2-small", "L5H5"], ["list", "--stage", "LR"], ["model", "gpt2"]]
)
def test_query_path_builds_no_pydantic_model(data: Path, args: list[str]) -> None:
    """The commands users wait on read ready-made answers from the index: once the index exists they import
    neither pydantic nor sqlmodel (nor YAML or BibTeX parsers)."""
    heads(data, "validate")  # builds the index
    heavy = "{'pydantic', 'sqlmodel', 'sqlalchemy', 'yaml', 'ruamel', 'bibtexparser', 'pylatexenc', 'torch'}"
    r = _script_probe(data, args, f"sorted({{m.split('.')[0] for m in sys.modules}} & {heavy})")
    assert r.stderr.strip().splitlines()[-1] == "[]", r.stderr


def test_where_links_the_neuronpedia_dashboard(write_data: WriteData, cache: Path) -> None:
    from tests.helpers import MODELS

    on_np = {**MODELS[0], "neuronpedia_id": "gpt2-small", "source": "test fixture; neuronpedia_id: test fixture"}
    data = write_data(models=[on_np, MODELS[1]])
    url = "https://www.neuronpedia.org/gpt2-small/head/5/9"
    assert url in run(data, "where", "gpt2-small", "L5H9")
    assert json.loads(run(data, "where", "gpt2-small", "5.9", "-f", "json"))["neuronpedia"] == url
    # no head type recorded there: no claim to link
    assert "neuronpedia" not in run(data, "where", "gpt2-small", "L0H0").lower()
    # a model Neuronpedia does not publish: no link
    plain = write_data(folder="plain")
    assert "neuronpedia" not in run(plain, "where", "gpt2-small", "L5H9").lower()


def test_command_groups_name_every_command_of_each_group() -> None:
    """`heads` builds only the group of the command it runs, from COMMAND_GROUPS: the map must name exactly
    the commands each group defines, or a command would be missing from the script."""
    import importlib

    from typer.core import TyperGroup
    from typer.main import get_command

    from catalogue.cli import GROUPS

    defined: dict[str, str] = {}
    for group in GROUPS:
        command = get_command(importlib.import_module(f"catalogue.cli.{group}").app)
        assert isinstance(command, TyperGroup)
        defined.update(dict.fromkeys(command.commands, group))
    assert defined == COMMAND_GROUPS


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["show", "induction-head"], "show"),
        (["--data", "d", "--cache-dir=c", "where", "gpt2-small", "L5H5"], "where"),
        (["--data=d", "add-evidence", "x"], "add-evidence"),
        (["neuronpedia", "import", "f"], "neuronpedia"),
        (["scan", "gpt2"], "scan"),
        (["--help"], None),
        (["--version"], None),
        ([], None),
        (["shw", "induction-head"], None),  # unknown: the whole app, so typer suggests `show`
        (["--data"], None),
    ],
)
def test_command_of_finds_the_command_after_the_global_options(argv: list[str], command: str | None) -> None:
    from catalogue.cli import command_of

    assert command_of(argv) == command


@pytest.mark.parametrize("command", sorted(COMMAND_GROUPS))
def test_the_script_builds_each_command_alone(command: str) -> None:
    """`heads <command>` builds that command only, and it is the same command as in the whole app."""
    from typer.core import TyperGroup
    from typer.main import get_command

    from catalogue.cli import build_app

    alone = get_command(build_app((COMMAND_GROUPS[command],), command=command))
    whole = get_command(app)
    assert isinstance(alone, TyperGroup) and isinstance(whole, TyperGroup)
    assert list(alone.commands) == [command]
    assert [p.name for p in alone.commands[command].params] == [p.name for p in whole.commands[command].params]


def test_the_script_builds_only_the_group_it_runs(data: Path) -> None:
    """A cold `heads show` imports the query commands only (issue 8's start-up target)."""
    heads(data, "validate")
    cli_modules = "sorted(m for m in sys.modules if m.startswith('catalogue.cli.'))"
    r = _script_probe(data, ["show", "induction-head"], cli_modules)
    assert r.stderr.strip().splitlines()[-1] == "['catalogue.cli._state', 'catalogue.cli.query']", r.stderr
    assert "Induction head" in r.stdout


def test_the_script_suggests_a_command_for_a_typo(data: Path) -> None:
    env = {**os.environ, "HEADS_DATA_DIR": str(data)}
    r = subprocess.run(
        [sys.executable, "-c", "from catalogue.cli import main; main()", "shw"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 2 and "show" in r.stderr, r.stderr


def test_the_cli_conventions_are_the_numbering_conventions() -> None:
    from catalogue.cli._state import Convention
    from catalogue.numbering import CONVENTIONS

    assert tuple(c.value for c in Convention) == CONVENTIONS
