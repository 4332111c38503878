"""The Attention Head Catalogue: what is known about attention-head types in language models."""

__version__ = "0.1.0"

from catalogue.errors import CatalogueError, Problem, UnknownHeadError, UnknownModelError, UsageError  # noqa: E402
from catalogue.schema import Catalogue, Evidence, HeadType, Location, ModelInfo, Reference  # noqa: E402


def load(path: "str | None" = None) -> Catalogue:
    """Load and validate the catalogue (``data/`` by default). Raises :class:`CatalogueError`."""
    from catalogue.loader import load as _load

    return _load(path)


__all__ = [
    "Catalogue",
    "CatalogueError",
    "Evidence",
    "HeadType",
    "Location",
    "ModelInfo",
    "Problem",
    "Reference",
    "UnknownHeadError",
    "UnknownModelError",
    "UsageError",
    "__version__",
    "load",
]
