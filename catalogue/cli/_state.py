"""What every `heads` command shares: the global options, the index they open, and the one error printer."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Optional

import typer

from catalogue.errors import CatalogueError, Problem, UsageError, format_problems

if TYPE_CHECKING:
    from catalogue.index import Index

__all__ = ["Convention", "State", "fail", "print_problems", "state"]


class Convention(str, Enum):
    """How a paper numbers heads (``--convention`` of `new`, `add-evidence` and `id`): the values of
    :data:`catalogue.numbering.CONVENTIONS`, written out so that a query does not import that module
    (tests/test_cli.py checks that the two agree)."""

    zero = "0-indexed"
    one = "1-indexed"
    one_layers = "1-indexed-layers"
    one_heads = "1-indexed-heads"
    flat = "flat"
    flat_one = "flat-1-indexed"


@dataclass
class State:
    """The global options (``--data``, ``--cache-dir``), set by the app's callback before any command runs."""

    data: Optional[Path] = None
    cache_dir: Optional[Path] = None

    def index(self) -> Index:
        """The index of the data folder, rebuilt first if the data changed."""
        from catalogue.index import Index
        from catalogue.paths import data_paths

        return Index.open(data_paths(self.data), cache=self.cache_dir)


state = State()


def print_problems(problems: list[Problem], summary: str) -> None:
    """The one way problems reach the user: ``file:line: where: what: how to fix`` (100 at most), then a summary."""
    for line in format_problems(problems):
        typer.echo(line, err=True)
    typer.echo(summary, err=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def run(app: typer.Typer) -> None:
    """Run ``app``; domain errors become a message and exit 1, never a traceback."""
    try:
        app()
    except CatalogueError as exc:
        print_problems(
            exc.problems, f"{len(exc.problems)} error(s) in the catalogue data: fix them (`heads validate` lists them)"
        )
        sys.exit(1)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except OSError as exc:
        where = getattr(exc, "filename", None)
        print(f"error: {exc.strerror or exc}" + (f": {where}" if where else ""), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
