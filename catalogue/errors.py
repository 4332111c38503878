"""Problems found in the data, gathered in a :class:`Report` and printed one way, with file and line."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "MAX_SHOWN",
    "CatalogueError",
    "Problem",
    "Report",
    "UnknownHeadError",
    "UnknownModelError",
    "UsageError",
    "format_problems",
]

#: At most this many problems are printed; the rest are counted.
MAX_SHOWN = 100


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the data: where it is, what is wrong, how to fix it."""

    file: str
    line: int | None
    where: str
    message: str
    hint: str = ""
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line is not None else self.file
        where = f" {self.where}:" if self.where else ""
        hint = f": {self.hint}" if self.hint else ""
        label = "warning: " if self.severity == "warning" else ""
        return f"{place}:{where} {label}{self.message}{hint}"


def _order(p: Problem) -> tuple[str, int, str, str]:
    return (p.file, p.line or 0, p.where, p.message)


class Report:
    """Problems gathered while reading the data: every one is kept, none stops the reading."""

    def __init__(self, problems: Iterable[Problem] = ()) -> None:
        self.problems: list[Problem] = list(problems)

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    append = add

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def has_errors(self, *, strict: bool = False) -> bool:
        """Whether any error was found (with ``strict``, any warning counts too)."""
        return bool(self.problems if strict else self.errors)

    def about(self, file: str) -> bool:
        """Whether any problem concerns ``file`` (as displayed)."""
        return any(p.file == file for p in self.problems)

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)


def format_problems(problems: Iterable[Problem], *, limit: int = MAX_SHOWN) -> list[str]:
    """The lines that report these problems: errors before warnings, each sorted by file and line, at most
    ``limit``, then a count of the rest."""
    ordered = sorted(problems, key=lambda p: (p.severity != "error", *_order(p)))
    lines = [str(p) for p in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"... and {len(ordered) - limit} more problem(s) not shown (fix these first)")
    return lines


class CatalogueError(Exception):
    """The data does not load. ``problems`` lists every error found, not just the first."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems, key=_order)
        super().__init__("\n".join(format_problems(self.problems)))


class UsageError(Exception):
    """A request the catalogue cannot answer as asked (bad argument); the message says how to fix it."""


class UnknownHeadError(UsageError, KeyError):
    """No head type has this id, name or alias."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        UsageError.__init__(self, f"no head type is called {name!r}.{hint} (`heads list` shows them all)")

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownModelError(UsageError, KeyError):
    """No model in the registry has this id or Hugging Face id."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        UsageError.__init__(self, f"no model is called {name!r}.{hint} (`heads models` lists the registry)")

    def __str__(self) -> str:
        return str(self.args[0])
