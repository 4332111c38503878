"""Shared fixtures: a small, valid data folder built from the factories in :mod:`tests.helpers`, and a cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import helpers

WriteData = Callable[..., Path]


@pytest.fixture
def write_data(tmp_path: Path) -> WriteData:
    """``write_data(heads=/models=/bib=/head_texts=, folder="data")``: a data folder under tmp_path."""

    def write(*, folder: str = "data", **kwargs: Any) -> Path:
        return helpers.write_data(tmp_path / folder, **kwargs)

    return write


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    c = tmp_path / "cache"
    monkeypatch.setenv("HEADS_CACHE_DIR", str(c))
    return c
