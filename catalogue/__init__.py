"""The Attention Head Catalogue: what is known about attention-head types in language models.

``from catalogue import load`` gives the validated :class:`Catalogue`; ``known_heads(model, head_type)`` the
recorded heads of a model with their hook names and module paths (read from the index, no pydantic);
``head_id(text)`` a paper's head numbering as canonical ``L<layer>H<head>``. The names below are imported on
first use (PEP 562), so ``import catalogue`` (and the `heads` query commands) does not import pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pathlib import Path

    from catalogue.errors import CatalogueError, Problem, UnknownHeadError, UnknownModelError, UsageError
    from catalogue.heads_of import known_heads
    from catalogue.numbering import Reading, head_id
    from catalogue.schema import Catalogue, Evidence, HeadType, Location, ModelInfo, Reference

_LAZY = {
    "CatalogueError": "catalogue.errors",
    "Problem": "catalogue.errors",
    "UnknownHeadError": "catalogue.errors",
    "UnknownModelError": "catalogue.errors",
    "UsageError": "catalogue.errors",
    "Catalogue": "catalogue.schema",
    "Evidence": "catalogue.schema",
    "HeadType": "catalogue.schema",
    "Location": "catalogue.schema",
    "ModelInfo": "catalogue.schema",
    "Reference": "catalogue.schema",
    "known_heads": "catalogue.heads_of",
    "head_id": "catalogue.numbering",
    "Reading": "catalogue.numbering",
}


def load(path: str | Path | None = None) -> Catalogue:
    """Load and validate the catalogue (``data/`` by default). Raises :class:`CatalogueError` listing every error."""
    from catalogue.loader import load as _load

    return _load(path)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'catalogue' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Catalogue",
    "CatalogueError",
    "Evidence",
    "HeadType",
    "Location",
    "ModelInfo",
    "Problem",
    "Reading",
    "Reference",
    "UnknownHeadError",
    "UnknownModelError",
    "UsageError",
    "__version__",
    "head_id",
    "known_heads",
    "load",
]
