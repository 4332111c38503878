"""Whole-catalogue exports (JSON, CSV, BibTeX), the JSON Schema, and atomic file writes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from catalogue.schema import HeadType, ModelInfo, Reference, Taxonomy

__all__ = ["HeadsFile", "export", "json_schema", "write_atomic"]


class HeadsFile(BaseModel):
    """The shape of data/heads.yaml."""

    model_config = ConfigDict(extra="forbid", title="Attention Head Catalogue: heads.yaml")
    heads: list[HeadType]


def json_schema() -> str:
    return json.dumps(HeadsFile.model_json_schema(), indent=2, sort_keys=True) + "\n"


def export(fmt: str, heads: list[HeadType], models: list[ModelInfo], refs: list[Reference], taxonomy: Taxonomy) -> str:
    if fmt == "json":
        return json.dumps(
            {
                "heads": [h.model_dump(mode="json", exclude_defaults=True) for h in heads],
                "models": [m.model_dump(mode="json", exclude_none=True) for m in models],
                "references": [r.model_dump(mode="json", exclude_none=True, exclude={"bibtex"}) for r in refs],
                "taxonomy": taxonomy.model_dump(mode="json"),
            },
            indent=2,
            ensure_ascii=False,
        )
    if fmt == "csv":
        from catalogue.formats import evidence_rows, render_rows

        return render_rows(evidence_rows(heads), "csv")
    if fmt == "bibtex":
        return "\n\n".join(r.bibtex for r in refs)
    raise ValueError(f"unknown export format {fmt!r}")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
