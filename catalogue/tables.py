"""The SQLite index's tables, declared with SQLModel: the one source of their definition.

:mod:`catalogue.db` builds the index with plain sqlite3 from ``catalogue/index.sql``, the DDL these classes give
(``python -m catalogue.tables`` prints it; ``bash scripts/generate`` writes it and its ``--check`` fails when it is
stale), so neither a build nor a query pays for importing SQLAlchemy. The only module that imports sqlmodel.
"""

from __future__ import annotations

from sqlalchemy import Index
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import Field, SQLModel

__all__ = [
    "EvidenceRow",
    "HeadRow",
    "LocationRow",
    "MetaRow",
    "ModelRow",
    "NameRow",
    "ReferenceRow",
    "ScoreRow",
    "ScoreTableRow",
    "StageRow",
    "ddl",
]


class HeadRow(SQLModel, table=True):
    __tablename__ = "head"
    id: str = Field(primary_key=True)
    name: str
    in_survey: bool = Field(index=True)
    first_year: int | None = None
    summary: str = ""
    stages: str = ""  # stage abbreviations in stage order, e.g. "ICI,LR"
    models: str = ""  # model ids of the evidence, sorted, comma-separated
    years: str = ""  # years of the cited works, sorted, comma-separated
    evidence: int = 0
    standing: str = Field(index=True)  # catalogue.vocab.standing of its evidence
    data: str  # the validated HeadType as JSON, plus its "standing"


class NameRow(SQLModel, table=True):
    __tablename__ = "name"
    name: str = Field(primary_key=True)  # normalized id, name or alias
    head_id: str = Field(foreign_key="head.id", index=True)


class StageRow(SQLModel, table=True):
    __tablename__ = "stage"
    head_id: str = Field(foreign_key="head.id", primary_key=True)
    stage: str = Field(primary_key=True, index=True)
    subcategory: str | None = None


class EvidenceRow(SQLModel, table=True):
    __tablename__ = "evidence"
    id: int | None = Field(default=None, primary_key=True)
    head_id: str = Field(foreign_key="head.id", index=True)
    ordinal: int
    key: str | None = Field(default=None, index=True)  # the permanent evidence id (ev-...)
    deprecated: bool = False  # withdrawn: kept, but its locations are not indexed
    cite: str = Field(index=True)
    model: str | None = Field(default=None, index=True)
    method: str = Field(index=True)
    year: int = Field(index=True)
    source_kind: str = Field(index=True)
    stance: str
    scores: str | None = None  # path of its score table
    located: bool = Field(default=False, index=True)  # gives concrete heads: a claim a check can measure
    verdict: str | None = Field(default=None, index=True)  # the checked block's verdict; NULL: not checked


class ScoreTableRow(SQLModel, table=True):
    __tablename__ = "score_table"
    path: str = Field(primary_key=True)  # data/scores/<cite>/<model>[.<score>].csv
    cite: str = Field(index=True)
    model: str = Field(index=True)
    name: str  # the score's name within the work ("" when it releases one per model)
    head_unit: str  # head | kv_head
    rows: int
    low: float
    high: float
    data: str  # definition, selection rule, source as JSON


class ScoreRow(SQLModel, table=True):
    __tablename__ = "score"
    table_path: str = Field(foreign_key="score_table.path", primary_key=True)
    layer: int = Field(primary_key=True)
    head: int = Field(primary_key=True)
    score: float
    rank: int  # 1 = highest score in its table; ties share the best rank


class LocationRow(SQLModel, table=True):
    """One head a record places (withdrawn records place none). Its head type and model are the record's:
    join ``evidence`` (indexed on both); the covering index answers the joins without reading the table."""

    __tablename__ = "location"
    __table_args__ = (Index("ix_location_evidence", "evidence_id", "layer", "head"),)
    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id")
    layer: int
    head: int


class ReferenceRow(SQLModel, table=True):
    __tablename__ = "reference"
    key: str = Field(primary_key=True)
    eprint: str | None = Field(default=None, index=True)
    year: int
    data: str


class ModelRow(SQLModel, table=True):
    __tablename__ = "model"
    id: str = Field(primary_key=True)
    hf_id: str | None = Field(default=None, index=True)  # lower case, for lookups
    data: str


class MetaRow(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


def ddl() -> str:
    """The index's DDL for SQLite: every ``CREATE TABLE`` in dependency order, then every ``CREATE INDEX`` (which
    :func:`catalogue.db.build` runs after the rows are in), one statement per paragraph."""
    dialect = sqlite.dialect()
    tables = SQLModel.metadata.sorted_tables
    compiled = [CreateTable(t).compile(dialect=dialect) for t in tables]
    compiled += [
        CreateIndex(i).compile(dialect=dialect) for t in tables for i in sorted(t.indexes, key=lambda i: str(i.name))
    ]
    # SQLAlchemy indents with tabs and ends lines with a space: spaces, and no trailing blanks, in the file
    statements = [
        "\n".join(line.rstrip().replace("\t", "    ") for line in str(c).strip().splitlines()) for c in compiled
    ]
    header = (
        "-- generated by `python -m catalogue.tables` from catalogue/tables.py: edit that, then `bash scripts/generate`"
    )
    return "\n\n".join([header, *(s + ";" for s in statements)]) + "\n"


if __name__ == "__main__":
    print(ddl(), end="")
