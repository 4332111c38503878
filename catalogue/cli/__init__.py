"""The `heads` command line, composed of four groups of commands (query, contribute, data, verify).

Each command parses its arguments, calls one library function, prints through :mod:`catalogue.formats`
and maps domain errors to exit codes (:func:`catalogue.cli._state.run`): 0 done, 1 a data or usage
error, 2 bad arguments (typer's). Nothing below the CLI imports it.

``app`` is the whole command line (built on first use). The ``heads`` script (:func:`main`) builds only the
command it runs: typer turns every command's signature into click parameters when it builds a group, and a
cold ``heads show`` should not pay for the other 22 commands (issue 8's start-up target, measured by
``benchmarks/bench_core.py``). The annotations here are not strings (no
``from __future__ import annotations``) for the same reason: typer would compile each one again.
"""

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup
from typer.main import get_command_name

from catalogue import __version__
from catalogue.cli._state import fail, run, state

__all__ = ["COMMAND_GROUPS", "GROUPS", "build_app", "command_of", "main"]

#: The command groups, in the order ``heads --help`` lists them; each is the module ``catalogue.cli.<group>``.
GROUPS = ("query", "contribute", "data", "verify")

#: Which group defines each top-level command (tests/test_cli.py checks this against the groups themselves).
COMMAND_GROUPS: dict[str, str] = {
    name: group
    for group, names in (
        ("query", "cite compare heads-of id list model models search show stats taxonomy where"),
        ("contribute", "add-evidence changelog diff new"),
        ("data", "export neuronpedia release schema validate"),
        ("verify", "scan verify"),
    )
    for name in names.split()
}

#: The global options that take a value (``--data DIR``), skipped when finding the command in argv.
_VALUED_OPTIONS = ("--data", "--cache-dir")


class _Group(TyperGroup):
    """The top-level command group: refuses arguments that are not UTF-8 text (or hold a NUL) before any
    command sees them.

    argv is bytes on POSIX; Python decodes bytes that are not UTF-8 to lone surrogates, which would fail
    later, deep in sqlite or in a print (`heads cite $'OR\\xff'`)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if any("\x00" in a for a in args):  # only in-process callers can pass one: argv cannot hold NUL
            fail("an argument contains a NUL character: remove it", 2)
        bad = _not_utf8(args)
        if bad is not None:
            shown = bad.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            fail(f"the argument '{shown}' is not valid UTF-8 text: retype it (check the terminal's encoding)", 2)
        return list(super().parse_args(ctx, args))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"heads {__version__}")
        raise typer.Exit()


def _not_utf8(args: list[str]) -> str | None:
    """The first argument that is not valid UTF-8 (Python decodes such bytes of argv to lone surrogates)."""
    for a in args:
        try:
            a.encode("utf-8")
        except UnicodeEncodeError:
            return a
    return None


def _options(
    data_dir: Annotated[
        Optional[Path],
        typer.Option("--data", envvar="HEADS_DATA_DIR", help="Data folder (holding heads/, models.yaml, ...)."),
    ] = None,
    cache_dir: Annotated[
        Optional[Path], typer.Option("--cache-dir", envvar="HEADS_CACHE_DIR", help="Where the SQLite index is kept.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    state.data = data_dir
    state.cache_dir = cache_dir


def build_app(groups: Sequence[str] = GROUPS, *, command: Optional[str] = None) -> typer.Typer:
    """The ``heads`` command line with the commands of ``groups`` (names from :data:`GROUPS`), or with only
    ``command`` of them.

    Raises ``ModuleNotFoundError`` for a name that is not a group."""
    root = typer.Typer(
        cls=_Group,
        name="heads",
        help="Look up attention-head types in language models: what they do, where they are, who found them.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    root.callback()(_options)
    for group in groups:
        commands: typer.Typer = importlib.import_module(f"catalogue.cli.{group}").app
        if command is not None:
            commands = _only(commands, command)
        root.add_typer(commands)
    return root


def _only(commands: typer.Typer, name: str) -> typer.Typer:
    """A group holding only the command (or sub-group) ``name`` of ``commands``."""
    one = typer.Typer()
    one.registered_commands = [
        c
        for c in commands.registered_commands
        if name == (c.name or (get_command_name(c.callback.__name__) if c.callback else None))
    ]
    one.registered_groups = [g for g in commands.registered_groups if g.name == name]
    return one


_whole: Optional[typer.Typer] = None


def __getattr__(name: str) -> typer.Typer:
    """``catalogue.cli.app``: the whole command line, built once, on first use."""
    global _whole
    if name != "app":
        raise AttributeError(f"module 'catalogue.cli' has no attribute {name!r}")
    if _whole is None:
        _whole = build_app()
    return _whole


def command_of(args: Sequence[str]) -> Optional[str]:
    """The command that ``args`` (argv without the program) runs, or None when it runs none (``--help``,
    ``--version``, no command) or names an unknown one: those need the whole command line."""
    rest = iter(args)
    for arg in rest:
        if arg in _VALUED_OPTIONS:
            next(rest, None)
        elif arg.startswith(tuple(f"{o}=" for o in _VALUED_OPTIONS)):
            continue
        elif arg.startswith("-"):
            return None
        else:
            return arg if arg in COMMAND_GROUPS else None
    return None


def main() -> None:
    """Entry point of the `heads` script: builds the command it runs (the whole command line if unsure)."""
    command = command_of(sys.argv[1:])
    run(build_app((COMMAND_GROUPS[command],), command=command) if command else build_app())
