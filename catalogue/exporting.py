"""Whole-catalogue exports (JSON, CSV, BibTeX, Parquet), the pinned release file, and JSON Schemas.

The inputs are the index's JSON records (:mod:`catalogue.query`), so an export never parses YAML again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "EXPORT_FORMATS",
    "LOCATION_COLUMNS",
    "export",
    "json_schema",
    "location_rows",
    "parquet",
    "release",
    "release_name",
    "release_schema",
]

EXPORT_FORMATS = ("json", "csv", "bibtex", "parquet")

#: The columns of the Parquet export: one row per model, layer, head, head type and evidence id.
LOCATION_COLUMNS = (
    "model",
    "layer",
    "head",
    "location",
    "head_type",
    "evidence_id",
    "status",
    "cite",
    "method",
    "verdict",
    "task",
    "metric",
    "value",
    "source_kind",
    "source",
    "tl_hook_z",
    "tl_head_index",
    "hf_module",
    "hf_output_projection",
    "kv_head",
)


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
    if fmt == "parquet":
        raise ValueError("parquet is binary: use parquet() and write the bytes to a file")
    raise ValueError(f"unknown export format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")


def location_rows(heads: Sequence[Mapping[str, Any]], models: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, layer, head, head type, evidence id) that an evidence record places, withdrawn
    records included (``status``), sorted; columns :data:`LOCATION_COLUMNS`."""
    from catalogue.addressing import head_address
    from catalogue.evidence_ids import head_verdict
    from catalogue.vocab import format_location

    by_id = {str(m["id"]): m for m in models}
    rows = []
    for h in heads:
        for e in h["evidence"]:
            model = by_id.get(str(e.get("model")))
            for loc in e.get("locations") or []:
                if model is None:
                    continue
                layer, head = int(loc["layer"]), int(loc["head"])
                address = head_address(model, layer, head)
                rows.append(
                    {
                        "model": model["id"],
                        "layer": layer,
                        "head": head,
                        "location": format_location(layer, head),
                        "head_type": h["id"],
                        "evidence_id": e.get("id"),
                        "status": "withdrawn" if e.get("deprecated") else "current",
                        "cite": e["cite"],
                        "method": e["method"],
                        "verdict": head_verdict(e, layer, head),
                        "task": e.get("task"),
                        "metric": e.get("metric"),
                        "value": e.get("value"),
                        "source_kind": e.get("source_kind"),
                        "source": e["source"],
                        **{k: address[k] for k in ("tl_hook_z", "tl_head_index", "hf_module", "hf_output_projection")},
                        "kv_head": address["kv_head"],
                    }
                )
    rows.sort(key=lambda r: (r["model"], r["layer"], r["head"], r["head_type"], r["evidence_id"] or ""))
    return rows


PYARROW_MISSING = (
    "the parquet export needs pyarrow: pip install -e '.[export]' in a clone of the repository (or pip install pyarrow)"
)


def parquet(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The rows of :func:`location_rows` as a Parquet file (bytes), with a fixed Arrow schema so that an empty
    or sparse column keeps its type. Loads with ``pandas.read_parquet`` and ``datasets.load_dataset("parquet")``.
    Raises :class:`~catalogue.errors.UsageError` naming the install command when pyarrow is missing."""
    from catalogue.errors import UsageError

    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(PYARROW_MISSING) from None
    ints = {"layer", "head", "tl_head_index", "kv_head"}
    schema = pa.schema(
        [(c, pa.int32() if c in ints else pa.float64() if c == "value" else pa.string()) for c in LOCATION_COLUMNS]
    )
    table = pa.Table.from_pylist([{c: r.get(c) for c in LOCATION_COLUMNS} for r in rows], schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


# --------------------------------------------------------------------------- the release file

RELEASE_FORMAT = "attention-head-catalogue"


def release_name(data_version: str) -> str:
    """``catalogue-<data version>.json``: the name of the pinned single-file release."""
    return f"catalogue-{data_version}.json"


def release(
    heads: Sequence[Mapping[str, Any]],
    models: Sequence[Mapping[str, Any]],
    refs: Sequence[Mapping[str, Any]],
    taxonomy: Mapping[str, Any],
    *,
    data_version: str,
) -> str:
    """The whole catalogue as one pinned JSON file (``dist/catalogue-<data version>.json``), valid against
    :func:`release_schema`: head types with their evidence (permanent ids), models, works (with BibTeX),
    the taxonomy, and the data version. Deterministic: same data, same bytes."""
    doc = {
        "format": RELEASE_FORMAT,
        "data_version": data_version,
        "heads": sorted(heads, key=lambda h: str(h["id"])),
        "models": sorted(models, key=lambda m: str(m["id"])),
        "references": [{k: v for k, v in r.items() if k != "short"} for r in sorted(refs, key=lambda r: r["key"])],
        "taxonomy": taxonomy,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def release_schema() -> str:
    """The JSON Schema of the release file (:func:`release`), deterministic text; committed as
    ``data/catalogue.schema.json`` and regenerated by ``bash scripts/generate``."""
    from typing import Literal

    from pydantic import BaseModel, ConfigDict, Field

    from catalogue.schema import HeadType, ModelInfo, Reference, Reread, Taxonomy
    from catalogue.vocab import Standing

    class ReleasedHead(HeadType):
        standing: Standing = Field(description="established, single-source or contested (catalogue.vocab.standing)")
        rereads: dict[str, Reread] = Field(
            default_factory=dict,
            description="second readings of its located records at their pointer (data/audit.yaml), by evidence id; "
            "absent when none was re-read",
        )
        selections: dict[str, str] = Field(
            default_factory=dict,
            description="records on a score table re-read by machine, by evidence id: the list of the table's "
            "manifest that their heads equal ('not <list>': every other head of the model); absent when none",
        )

    class Release(BaseModel):
        model_config = ConfigDict(extra="forbid")
        format: Literal["attention-head-catalogue"]
        data_version: str = Field(pattern=r"^\d+\.\d+\.\d+$", description="data/VERSION of the release")
        heads: list[ReleasedHead]
        models: list[ModelInfo]
        references: list[Reference]
        taxonomy: Taxonomy

    schema = Release.model_json_schema(mode="serialization")
    schema["title"] = "Attention Head Catalogue: the single-file data release (catalogue-<version>.json)"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
