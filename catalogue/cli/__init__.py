"""The `heads` command line, composed of four groups of commands (query, contribute, data, verify).

Each command parses its arguments, calls one library function, prints through :mod:`catalogue.formats`
and maps domain errors to exit codes (:func:`catalogue.cli._state.run`): 0 done, 1 a data or usage
error, 2 bad arguments (typer's). Nothing below the CLI imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from catalogue import __version__
from catalogue.cli import contribute, data, query, verify
from catalogue.cli._state import fail, run, state

__all__ = ["app", "main"]


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


app = typer.Typer(
    cls=_Group,
    name="heads",
    help="Look up attention-head types in language models: what they do, where they are, who found them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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


@app.callback()
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


app.add_typer(query.app)
app.add_typer(contribute.app)
app.add_typer(data.app)
app.add_typer(verify.app)


def main() -> None:
    """Entry point of the `heads` script."""
    run(app)
