"""The `heads` command line, composed of four groups of commands (query, contribute, data, verify).

Each command parses its arguments, calls one library function, prints through :mod:`catalogue.formats`
and maps domain errors to exit codes (:func:`catalogue.cli._state.run`): 0 done, 1 a data or usage
error, 2 bad arguments (typer's). Nothing below the CLI imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from catalogue import __version__
from catalogue.cli import contribute, data, query, verify
from catalogue.cli._state import run, state

__all__ = ["app", "main"]

app = typer.Typer(
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
