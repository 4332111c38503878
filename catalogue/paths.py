"""Where the data files are, and their content hash. Light imports only: the CLI's fast path uses it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from catalogue import __version__

__all__ = ["DataPaths", "data_paths", "default_data_dir"]


@dataclass(frozen=True)
class DataPaths:
    heads: Path
    models: Path
    taxonomy: Path
    references: Path

    def all(self) -> tuple[Path, ...]:
        return (self.heads, self.models, self.taxonomy, self.references)

    def digest(self, contents: Mapping[Path, bytes] | None = None) -> str:
        """Content hash of the four files and the package version: the index's cache key.

        ``contents`` holds bytes already read (by the loader); other files are read here."""
        h = hashlib.sha256(__version__.encode())
        for p in self.all():
            h.update(str(p.resolve()).encode() + b"\0")
            try:
                h.update(contents[p] if contents is not None and p in contents else p.read_bytes())
            except OSError:
                h.update(b"<missing>")
            h.update(b"\0")
        return h.hexdigest()


def default_data_dir() -> Path:
    """``$HEADS_DATA_DIR``, else the catalogue shipped with the package, else ``./data``."""
    env = os.environ.get("HEADS_DATA_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "data", here / "_data"):
        if (candidate / "heads.yaml").is_file():
            return candidate
    return Path("data")


def data_paths(path: str | Path | None = None) -> DataPaths:
    """Resolve a data folder, or a heads.yaml whose siblings hold the rest."""
    p = Path(path) if path is not None else default_data_dir()
    folder, heads = (p.parent, p) if p.suffix in (".yaml", ".yml") else (p, p / "heads.yaml")
    return DataPaths(heads, folder / "models.yaml", folder / "taxonomy.yaml", folder / "references.bib")
