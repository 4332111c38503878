"""Where the data files and the index files are, and the data's content hash. Standard library only.

The data folder (``data/`` by default)::

    heads/<id>.yaml   one head type per file, the file name is its id (what contributors edit)
    models.yaml       the model registry
    taxonomy.yaml     stages, sub-categories, methods and benchmarks
    references.bib    every cited work
    audit.yaml        second readings of located records at their pointer (optional)
    scores/<cite>/    per-head score tables (.csv) and their manifests (.yaml)

Index files live in a user cache folder; their name carries the data's content hash and
:data:`SCHEMA_VERSION`, so an edit to the data or a change of the tables is never answered from a stale index.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from catalogue import __version__

__all__ = [
    "SCHEMA_VERSION",
    "DataPaths",
    "NotACheckoutError",
    "cache_dir",
    "checkout_data_dir",
    "data_paths",
    "data_version",
    "default_data_dir",
    "editable_data_paths",
]

#: Bumped whenever the index tables change, so old index files are never read.
SCHEMA_VERSION = "10"

#: The folder of head-type files inside a data folder.
HEADS_DIR = "heads"
#: The folder of per-head score tables inside a data folder.
SCORES_DIR = "scores"


@dataclass(frozen=True)
class DataPaths:
    """The files of one data folder."""

    folder: Path

    @property
    def heads(self) -> Path:
        """The folder holding one ``<id>.yaml`` file per head type."""
        return self.folder / HEADS_DIR

    @property
    def models(self) -> Path:
        return self.folder / "models.yaml"

    @property
    def taxonomy(self) -> Path:
        return self.folder / "taxonomy.yaml"

    @property
    def references(self) -> Path:
        return self.folder / "references.bib"

    @property
    def audit(self) -> Path:
        """The log of second readings of located records (``rereads:``); optional."""
        return self.folder / "audit.yaml"

    def head_file(self, head_id: str) -> Path:
        return self.heads / f"{head_id}.yaml"

    def head_files(self) -> list[Path]:
        """Every ``*.yaml`` file in the heads folder, sorted by name (``*.yml`` too, so the loader can refuse it)."""
        try:
            return sorted(
                (p for p in self.heads.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith(".")),
                key=lambda p: p.name,  # one folder: the names order the paths (and compare faster than Paths)
            )
        except OSError:
            return []

    @property
    def scores(self) -> Path:
        """The folder of per-head score tables, ``scores/<cite>/<model>[.<score>].csv`` with a ``.yaml`` each."""
        return self.folder / SCORES_DIR

    def score_files(self) -> list[Path]:
        """Every score table (``.csv``) and manifest (``.yaml``) under :attr:`scores`, sorted."""
        if not self.scores.is_dir():
            return []
        return sorted(
            (p for p in self.scores.glob("*/*") if p.suffix in (".csv", ".yaml") and not p.name.startswith(".")),
            key=lambda p: (p.parent.name, p.name),
        )

    def all(self) -> tuple[Path, ...]:
        """Every data file, in a fixed order: the content hash covers exactly these."""
        return (*self.head_files(), self.models, self.taxonomy, self.references, self.audit, *self.score_files())

    def digest(self, contents: Mapping[Path, bytes] | None = None) -> str:
        """Content hash of the data files and the package version: the index's cache key.

        ``contents`` holds bytes already read (by the loader); other files are read here."""
        import hashlib  # here, not at the top: the query path never hashes (hashlib loads OpenSSL)

        h = hashlib.sha256(__version__.encode())
        for p in self.all():
            h.update(p.relative_to(self.folder).as_posix().encode() + b"\0")
            try:
                h.update(contents[p] if contents is not None and p in contents else p.read_bytes())
            except OSError:
                h.update(b"<missing>")
            h.update(b"\0")
        return h.hexdigest()

    def index_stem(self) -> str:
        """The prefix shared by every index file of this data folder."""
        # CRC-32 of the folder's path: as distinct as 8 hex digits of a SHA-256, and zlib is cheap to import on
        # the query path (hashlib loads OpenSSL)
        return f"index-{zlib.crc32(str(self.folder.resolve()).encode()):08x}"

    def index_file(self, digest: str, cache: str | Path | None = None) -> Path:
        """The index file for data with this content hash."""
        return cache_dir(cache) / f"{self.index_stem()}-{digest[:16]}-v{SCHEMA_VERSION}.sqlite"


def default_data_dir() -> Path:
    """``$HEADS_DATA_DIR``, else the checkout's ``data/``, else the data shipped in the package, else ``./data``."""
    env = os.environ.get("HEADS_DATA_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "data", here / "_data"):
        if (candidate / HEADS_DIR).is_dir():
            return candidate
    return Path("data")


def checkout_data_dir(start: Path | None = None) -> Path | None:
    """The ``data/`` folder of the git work tree holding ``start`` (default: the working directory), if
    that work tree has ``data/heads/``; else None. A work tree is found by its ``.git`` (folder or file)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            candidate = folder / "data"
            return candidate if (candidate / HEADS_DIR).is_dir() else None
    return None


class NotACheckoutError(ValueError):
    """An edit would have gone to the data installed inside the package."""


def editable_data_paths(path: str | Path | None = None) -> DataPaths:
    """The data folder that ``heads new`` / ``add-evidence`` edit: ``path`` (``--data``) or
    ``$HEADS_DATA_DIR`` if given, else the checkout the working directory is in, else the checkout this
    package runs from (an editable install). Never the copy installed inside the package
    (``catalogue/_data``): then :class:`NotACheckoutError` says to pass ``--data``."""
    if path is not None or os.environ.get("HEADS_DATA_DIR"):
        return data_paths(path)
    found = checkout_data_dir()
    if found is not None:
        return DataPaths(found)
    default = default_data_dir()
    installed = Path(__file__).resolve().parent / "_data"
    if default.resolve() == installed.resolve() or not (default / HEADS_DIR).is_dir():
        raise NotACheckoutError(
            f"the working directory {Path.cwd()} is not in a checkout of the catalogue (a git work tree with "
            "data/heads/), and the data installed with the package is not for editing: run this inside your "
            "clone, or pass --data PATH/TO/data"
        )
    return DataPaths(default)


def data_paths(path: str | Path | None = None) -> DataPaths:
    """The data folder at ``path`` (default :func:`default_data_dir`).

    ``path`` may also name the ``heads/`` folder or one head-type file in it; the data folder is then above it.
    """
    p = Path(path) if path is not None else default_data_dir()
    if p.suffix in (".yaml", ".yml") and p.parent.name == HEADS_DIR:
        p = p.parent.parent
    elif p.name == HEADS_DIR and not (p / HEADS_DIR).is_dir():
        p = p.parent
    return DataPaths(p)


def cache_dir(override: str | Path | None = None) -> Path:
    """Where index files (and the verification models) live: the override, ``$HEADS_CACHE_DIR``,
    or ``$XDG_CACHE_HOME/attention-head-catalogue`` (``~/.cache/...``)."""
    if override:
        return Path(override)
    env = os.environ.get("HEADS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "attention-head-catalogue"


def data_version(path: str | Path | None = None) -> str:
    """The data's own release version, ``data/VERSION`` (semantic versioning; separate from the package's).

    Raises ``OSError`` when the file is missing, ``ValueError`` when it does not hold a ``MAJOR.MINOR.PATCH``."""
    import re

    text = (data_paths(path).folder / "VERSION").read_text(encoding="utf-8").strip()
    if not re.fullmatch(r"\d+\.\d+\.\d+", text):
        raise ValueError(f"data/VERSION holds {text!r}: write a version like 1.2.0")
    return text
