"""Whole-catalogue exports (JSON, CSV, BibTeX) and the JSON Schema of a head-type file."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["EXPORT_FORMATS", "export", "json_schema"]

EXPORT_FORMATS = ("json", "csv", "bibtex")


def json_schema() -> str:
    """The JSON Schema of one ``data/heads/<id>.yaml`` file (a head type), deterministic text."""
    from catalogue.schema import HeadType

    schema = HeadType.model_json_schema()
    schema["title"] = "Attention Head Catalogue: a head type (data/heads/<id>.yaml)"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export(
    fmt: str,
    heads: Sequence[Mapping[str, Any]],
    models: Sequence[Mapping[str, Any]],
    refs: Sequence[Mapping[str, Any]],
    taxonomy: Mapping[str, Any],
) -> str:
    """The catalogue as one text: ``json`` (everything), ``csv`` (one row per evidence) or ``bibtex`` (all works).

    The inputs are the index's JSON records (:mod:`catalogue.query`). Raises ``ValueError`` on another format."""
    if fmt == "json":
        return json.dumps(
            {
                "heads": list(heads),
                "models": list(models),
                "references": [{k: v for k, v in r.items() if k not in ("bibtex", "short")} for r in refs],
                "taxonomy": taxonomy,
            },
            indent=2,
            ensure_ascii=False,
        )
    if fmt == "csv":
        from catalogue.formats import evidence_rows, render_rows

        return render_rows(evidence_rows(heads), "csv")
    if fmt == "bibtex":
        return "\n\n".join(str(r["bibtex"]) for r in refs)
    raise ValueError(f"unknown export format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")
