"""The static JSON API built with the site: ``api/v1/index.json``, ``api/v1/models/<id>.json`` and
``api/v1/head-types/<id>.json``, with the JSON Schema of each document under ``api/v1/schema/``.

Deterministic (sorted, no timestamps), no I/O; the mkdocs hook writes :func:`api_files` into the built site.
Every document is built through the pydantic models below, so what is published always matches its schema.
Paths inside documents are relative to ``api/v1/``; ``page`` is the site page, relative to the site root.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from catalogue.addressing import depth_band, head_address, relative_depth
from catalogue.evidence_ids import head_verdict
from catalogue.schema import Catalogue, HeadType, ModelInfo
from catalogue.vocab import format_location

__all__ = ["API_VERSION", "ApiHeadType", "ApiIndex", "ApiModel", "api_files", "api_schemas"]

API_VERSION = "v1"
ROOT = f"api/{API_VERSION}"


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KnownHead(_Doc):
    """One head of a model placed by one evidence record as one head type (as ``catalogue.known_heads``)."""

    model: str
    layer: int = Field(ge=0, description="0-indexed")
    head: int = Field(ge=0, description="0-indexed query head")
    location: str = Field(description="L<layer>H<head>")
    head_type: str
    evidence_id: str | None = Field(description="permanent id of the claim; the head-type page has #<id>")
    status: Literal["current", "withdrawn"]
    cite: str
    method: str
    verdict: str | None = Field(description="the catalogue's own check of this head; null while unmeasured")
    tl_hook_z: str
    tl_hook_pattern: str
    tl_head_index: int
    hf_module: str | None
    hf_output_projection: str | None
    kv_head: int | None


class Depth(_Doc):
    """Where a head type sits in one model: relative depth ``layer / layers`` and the survey's band (thirds)."""

    model: str
    layers: int
    layer: int
    relative_depth: float
    band: Literal["shallow", "middle", "deep"]
    heads: list[str]


class IndexEntry(_Doc):
    id: str
    name: str
    url: str = Field(description="the document, relative to api/v1/")
    page: str = Field(description="the site page, relative to the site root")


class ApiIndex(_Doc):
    api: Literal["v1"]
    data_version: str
    head_types: list[IndexEntry]
    models: list[IndexEntry]
    schemas: dict[str, str] = Field(description="document kind -> its JSON Schema, relative to api/v1/")


class ApiModel(_Doc):
    api: Literal["v1"]
    data_version: str
    model: ModelInfo
    heads: list[KnownHead] = Field(description="every recorded head, withdrawn claims included (status)")


class ApiHeadType(_Doc):
    api: Literal["v1"]
    data_version: str
    head_type: HeadType
    page: str
    locations: list[KnownHead]
    depth: list[Depth] = Field(description="current claims in models of known depth, by model and layer")


_SCHEMAS: dict[str, type[BaseModel]] = {"index": ApiIndex, "model": ApiModel, "head-type": ApiHeadType}


def api_schemas() -> dict[str, str]:
    """``{path: JSON Schema text}`` of the three document kinds, under ``api/v1/schema/``."""
    out = {}
    for kind, model in _SCHEMAS.items():
        schema = model.model_json_schema(mode="serialization")
        schema["title"] = f"Attention Head Catalogue API {API_VERSION}: {kind} document"
        out[f"{ROOT}/schema/{kind}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def _known(cat: Catalogue, h: HeadType) -> list[KnownHead]:
    out = []
    for e in h.evidence:
        m = cat.models.get(e.model or "")
        if m is None:
            continue
        info = m.model_dump(mode="json")
        for loc in e.locations:
            out.append(
                KnownHead(
                    model=m.id,
                    layer=loc.layer,
                    head=loc.head,
                    location=format_location(loc.layer, loc.head),
                    head_type=h.id,
                    evidence_id=e.id,
                    status="withdrawn" if e.deprecated else "current",
                    cite=e.cite,
                    method=e.method,
                    verdict=head_verdict(e.model_dump(mode="json"), loc.layer, loc.head),
                    **head_address(info, loc.layer, loc.head),
                )
            )
    return out


def _key(k: KnownHead) -> tuple[str, int, int, str]:
    """By model, layer, head and head type; a stable sort keeps evidence order within (as known_heads)."""
    return (k.model, k.layer, k.head, k.head_type)


def _depth(cat: Catalogue, known: list[KnownHead]) -> list[Depth]:
    by_layer: dict[tuple[str, int], set[str]] = {}
    for k in known:
        n = cat.models[k.model].layers
        if k.status == "current" and n:
            by_layer.setdefault((k.model, k.layer), set()).add(k.location)
    out = []
    for (model, layer), heads in sorted(by_layer.items()):
        n = cat.models[model].layers
        assert n is not None
        out.append(
            Depth(
                model=model,
                layers=n,
                layer=layer,
                relative_depth=round(relative_depth(layer, n), 3),
                band=depth_band(layer, n),
                heads=sorted(heads, key=lambda s: int(s.split("H")[1])),
            )
        )
    return out


def _text(doc: BaseModel) -> str:
    return json.dumps(doc.model_dump(mode="json", exclude_none=False), indent=1, ensure_ascii=False) + "\n"


def api_files(cat: Catalogue, *, data_version: str) -> dict[str, str]:
    """Every file of the API, ``{site-relative path: JSON text}``: the index, one document per model and per
    head type, and the schemas (:func:`api_schemas`)."""
    known = {h.id: sorted(_known(cat, h), key=_key) for h in cat.heads.values()}
    by_model: dict[str, list[KnownHead]] = {}
    for rows in known.values():
        for k in rows:
            by_model.setdefault(k.model, []).append(k)
    out: dict[str, str] = {}
    for h in sorted(cat.heads.values(), key=lambda h: h.id):
        doc = ApiHeadType(
            api="v1",
            data_version=data_version,
            head_type=h,
            page=f"heads/{h.id}/",
            locations=known[h.id],
            depth=_depth(cat, known[h.id]),
        )
        out[f"{ROOT}/head-types/{h.id}.json"] = _text(doc)
    for m in sorted(cat.models.values(), key=lambda m: m.id):
        mdoc = ApiModel(api="v1", data_version=data_version, model=m, heads=sorted(by_model.get(m.id, []), key=_key))
        out[f"{ROOT}/models/{m.id}.json"] = _text(mdoc)
    index = ApiIndex(
        api="v1",
        data_version=data_version,
        head_types=[
            IndexEntry(id=h.id, name=h.name, url=f"head-types/{h.id}.json", page=f"heads/{h.id}/")
            for h in sorted(cat.heads.values(), key=lambda h: h.id)
        ],
        models=[
            IndexEntry(id=m.id, name=m.name, url=f"models/{m.id}.json", page=f"models/{m.id}/")
            for m in sorted(cat.models.values(), key=lambda m: m.id)
        ],
        schemas={kind: f"schema/{kind}.json" for kind in _SCHEMAS},
    )
    out[f"{ROOT}/index.json"] = _text(index)
    out.update(api_schemas())
    return out
