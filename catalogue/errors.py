"""Problems found in the data, gathered and reported together with file and line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CatalogueError", "Problem", "UnknownHeadError", "UnknownModelError", "UsageError"]


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


class CatalogueError(Exception):
    """The data does not load. ``problems`` lists every error found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0, p.where, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


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
