"""The catalogue's data model: pydantic models and closed vocabularies. No I/O.

Everything a contributor writes in ``data/*.yaml`` is validated against these models
(``extra="forbid"``: an unknown field is an error, never silently dropped). Closed
vocabularies are ``Literal`` types; their runtime lists are derived from the types
(``STAGES = get_args(StageId)``) so the two can never drift apart.
"""

from __future__ import annotations

import datetime
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date as date_type
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from catalogue.evidence_ids import EVIDENCE_ID_PATTERN
from catalogue.scores import ScoreTable
from catalogue.vocab import (
    CHECKS,
    CONTESTING_STANCES,
    MAX_INDEX,
    METHODS,
    PLACED_BY,
    RELATION_KINDS,
    STAGE_ABBREVIATIONS,
    STAGES,
    SUBCATEGORIES,
    SUBCATEGORY_STAGE,
    CheckId,
    MethodId,
    PlacedBy,
    RelationKind,
    RereadOutcome,
    SourceKind,
    StageId,
    Stance,
    SubcategoryId,
    Verdict,
    format_location,
    has_pointer,
    normalize_name,
    parse_location,
    record_verdict,
    standing,
    suggest,
)

__all__ = [
    "BENCHMARK_KINDS",
    "CHECKS",
    "METHODS",
    "PLACED_BY",
    "RELATION_KINDS",
    "STAGES",
    "SUBCATEGORIES",
    "Benchmark",
    "Deprecated",
    "CheckId",
    "Evidence",
    "HeadType",
    "Location",
    "MethodId",
    "MethodInfo",
    "ModelInfo",
    "Person",
    "Reference",
    "Related",
    "Reproduced",
    "StageId",
    "StageInfo",
    "StagePlacement",
    "SubcategoryId",
    "SubcategoryInfo",
    "Taxonomy",
    "parse_location",
]

# --------------------------------------------------------------------------- identifiers

#: A head-type id: lowercase kebab-case, e.g. ``induction-head``.
HEAD_ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
#: A model id: lowercase letters, digits, ``.``, ``-``, e.g. ``gpt2-small``, ``llama-3.1-8b``.
MODEL_ID_PATTERN = r"^[a-z0-9]+([.-][a-z0-9]+)*$"
#: A BibTeX key: letters, digits and ``_:-.+``.
CITE_KEY_PATTERN = r"^[A-Za-z0-9_:.+-]+$"
#: An arXiv id as stored: new style ``2211.00593`` or old style ``hep-th/9901001`` (no ``arXiv:``, no version).
ARXIV_ID_PATTERN = r"^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?/\d{7})$"
#: A per-head score table as an evidence record names it: ``data/scores/<cite>/<model>[.<score>].csv``.
SCORES_PATH_PATTERN = r"^data/scores/[A-Za-z0-9_:.+-]+/[a-z0-9][a-z0-9.-]*\.csv$"
#: A DOI as stored: ``10.<registrant>/<suffix>`` (no ``https://doi.org/``, no ``doi:``).
DOI_PATTERN = r"^10\.\d{4,9}/\S+$"


def _matches(pattern: str, max_length: int, expected: str) -> Callable[[str], str]:
    """A check of a string against ``pattern`` whose error says what is expected, never the regex."""
    rx = re.compile(pattern)

    def check(value: str) -> str:
        if len(value) > max_length:
            raise ValueError(f"{value[:40]!r}... is {len(value)} characters long: {expected}, at most {max_length}")
        if not rx.match(value):
            raise ValueError(f"{value!r} is not valid: {expected}")
        return value

    return check


def _id_schema(pattern: str, max_length: int) -> WithJsonSchema:
    """The pattern stays in the JSON Schema, where editors use it."""
    return WithJsonSchema({"type": "string", "pattern": pattern, "maxLength": max_length})


HeadId = Annotated[
    str,
    AfterValidator(_matches(HEAD_ID_PATTERN, 80, "write lowercase words joined by hyphens, e.g. induction-head")),
    _id_schema(HEAD_ID_PATTERN, 80),
]
ModelId = Annotated[
    str,
    AfterValidator(
        _matches(
            MODEL_ID_PATTERN,
            80,
            "write lowercase letters and digits joined by '.' or '-', e.g. gpt2-small or llama-3.1-8b",
        )
    ),
    _id_schema(MODEL_ID_PATTERN, 80),
]
EvidenceId = Annotated[
    str,
    AfterValidator(
        _matches(EVIDENCE_ID_PATTERN, 11, "an evidence id is ev- and 8 characters a-z or 2-7, e.g. ev-k3vq7m2a")
    ),
    _id_schema(EVIDENCE_ID_PATTERN, 11),
]
CiteKey = Annotated[
    str,
    AfterValidator(
        _matches(
            CITE_KEY_PATTERN, 120, "a BibTeX key holds letters, digits and _:.+- only, e.g. wang2022interpretability"
        )
    ),
    _id_schema(CITE_KEY_PATTERN, 120),
]
_ARXIV_ID_RE = re.compile(ARXIV_ID_PATTERN)
_ARXIV_PREFIX_VERSION = re.compile(r"^(?:arxiv:)?(.*?)(?:v\d+)?$", re.IGNORECASE)
_DOI_RE = re.compile(DOI_PATTERN)
_DOI_PREFIX = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)", re.IGNORECASE)


def _arxiv_id(value: str) -> str:
    """``arXiv:2404.15574v2`` -> ``2404.15574``; anything that is not an arXiv id is an error."""
    m = _ARXIV_PREFIX_VERSION.match(value.strip())
    core = m.group(1) if m else value
    if not _ARXIV_ID_RE.match(core):
        raise ValueError(
            f"{value!r} is not an arXiv id: write one like 2211.00593 (arXiv:2211.00593v2 is accepted too) "
            "or hep-th/9901001; for another archive set eprinttype (e.g. eprinttype = {pubmed})"
        )
    return core


def _doi(value: str) -> str:
    """``https://doi.org/10.1/x`` and ``doi:10.1/x`` -> ``10.1/x``; anything that is not a DOI is an error."""
    core = _DOI_PREFIX.sub("", value.strip())
    if not _DOI_RE.match(core):
        raise ValueError(f"{value!r} is not a DOI: write one like 10.1016/j.patter.2025.101176")
    return core


ScoresPath = Annotated[
    str,
    AfterValidator(
        _matches(
            SCORES_PATH_PATTERN,
            300,
            "write the table's path from the repository root, e.g. data/scores/wu2024retrieval/llama-2-7b-80k.csv",
        )
    ),
    _id_schema(SCORES_PATH_PATTERN, 300),
]
ArxivId = Annotated[str, AfterValidator(_arxiv_id), WithJsonSchema({"type": "string", "pattern": ARXIV_ID_PATTERN})]
Doi = Annotated[str, AfterValidator(_doi), WithJsonSchema({"type": "string", "pattern": DOI_PATTERN})]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

# --------------------------------------------------------------------------- vocabularies

MethodFamily = Literal["modeling-free", "modeling-required"]
MethodType = Literal["modification-based", "replacement-based", "training-required", "training-free"]

BenchmarkKind = Literal["mechanism-exploration", "common-evaluation"]
BENCHMARK_KINDS: tuple[str, ...] = get_args(BenchmarkKind)

#: BibTeX key of this catalogue itself (data/references.bib). Evidence that the catalogue's own
#: verification scripts produced cites it: the work that *defines* a score is named in
#: ``method_detail``, never credited with a finding it did not make.
CATALOGUE_CITE = "attentionheadcatalogue2026"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# --------------------------------------------------------------------------- locations


class Location(BaseModel):
    """One attention head: 0-indexed layer and head."""

    model_config = ConfigDict(frozen=True)
    layer: int = Field(ge=0, le=MAX_INDEX)
    head: int = Field(ge=0, le=MAX_INDEX)

    def __str__(self) -> str:
        return format_location(self.layer, self.head)


_LAYER_HEAD = operator.attrgetter("layer", "head")

#: The Location of each (layer digits, head digits) read so far; see :func:`_interned_location`.
_LOCATIONS: dict[tuple[str, str], Location] = {}


def _interned_location(layer: str, head: str) -> Location | None:
    """One shared Location per head (it is frozen), from the digits of ``L<layer>H<head>``; None above
    :data:`MAX_INDEX`. A catalogue at scale names the same few thousand heads hundreds of thousands of times,
    and pydantic passes an instance through where it would build a new one from a dict (about 3 us each)."""
    if len(layer) > 9 or len(head) > 9 or int(layer) > MAX_INDEX or int(head) > MAX_INDEX:
        return None  # parse_location says why (the 9-digit bound is its regex's)
    location = Location(layer=int(layer), head=int(head))
    if len(_LOCATIONS) < 1 << 16:
        _LOCATIONS[(layer, head)] = location
    return location


#: Every item of a joined location list in the catalogue's spelling, L9H9 (ASCII digits, nothing else).
_CANONICAL_LIST = re.compile(r"(?:^|(?<=,))L([0-9]+)H([0-9]+)(?=,|$)")


def _location(value: object) -> object:
    if isinstance(value, str):
        layer, head = parse_location(value)
        return {"layer": layer, "head": head}
    return value


# --------------------------------------------------------------------------- evidence


class Reproduced(_Strict):
    """A re-run of a catalogue check that reproduced (or not) a claim, recorded for regression tests."""

    check: CheckId
    model: ModelId
    score: float
    threshold: float
    version: ShortText = Field(description="catalogue version that produced the score")
    heads: list[Location] = Field(default_factory=list, description="heads that passed the threshold")

    @field_validator("heads", mode="before")
    @classmethod
    def _heads(cls, v: object) -> object:
        return [_location(x) for x in v] if isinstance(v, list) else v


class Deprecated(_Strict):
    """Why and when an evidence record was withdrawn. The record stays in the data, so its id is never reused."""

    reason: Text
    date: datetime.date = Field(description="the day it was withdrawn, YYYY-MM-DD")


class Reread(_Strict):
    """A second reading of a located evidence record at its pointer (one entry of ``data/audit.yaml``).

    Someone other than the record's author opened what its ``source`` names, re-derived the heads under the
    authors' rule and compared them with the record's ``locations``, ``model`` and indexing."""

    id: EvidenceId = Field(description="the evidence record re-read")
    date: datetime.date = Field(description="the day it was re-read, YYYY-MM-DD")
    read: Text = Field(description="what was opened: a file @ repository commit, or a numbered part of the work")
    heads: int = Field(ge=0, description="how many locations the record had when it was re-read")
    outcome: RereadOutcome
    note: Text | None = Field(default=None, description="what else was checked; for a correction, what changed")

    @field_validator("read")
    @classmethod
    def _read_is_a_pointer(cls, v: str) -> str:
        if not has_pointer(v):
            raise ValueError(
                "say what was opened so that someone else can open it too: a file at a commit "
                "(`path @ github:owner/repo <commit>`) or a numbered part of the work (Section 3, Table 2, Figure 4, "
                "Appendix B, p. 7)"
            )
        return v

    @model_validator(mode="after")
    def _correction_says_what(self) -> Reread:
        if self.outcome == "corrected" and self.note is None:
            raise ValueError("a `corrected` re-read needs a `note:` saying what was changed")
        return self


class HeadCheck(_Strict):
    """One claimed head as a check measured it."""

    head: Location
    score: float = Field(description="the check's score of this head (mean over the probe seeds)")
    spread: float | None = Field(default=None, ge=0, description="standard deviation over the probe seeds")
    rank: int = Field(ge=1, description="rank of the score among all heads of the model, 1 = highest")
    of: int = Field(ge=1, description="number of heads ranked")
    baseline: float = Field(description="chance baseline of the same check on the same probe")
    threshold: float
    verdict: Verdict

    @field_validator("head", mode="before")
    @classmethod
    def _head(cls, v: object) -> object:
        return _location(v)


class Checked(_Strict):
    """A measurement of a claim by the catalogue's own check (``heads verify --claims --record``).

    Written by the tool, never by hand: the check and its definition's version, the exact model, the probes
    and seeds, the library versions, and for each claimed head its score, rank, chance baseline, threshold
    and verdict. ``verdict`` is the worst verdict of the heads."""

    check: CheckId
    definition: ShortText = Field(
        description="the check's definition and its version, e.g. catalogue.verify.induction v2"
    )
    model: ShortText = Field(description="hub id@revision, or package==version, of the weights measured")
    probes: ShortText = Field(description="the probe set")
    seeds: list[int] = Field(min_length=1)
    libraries: dict[str, str] = Field(description="versions of the catalogue and of the libraries that ran the check")
    date: date_type
    heads: list[HeadCheck] = Field(min_length=1)
    verdict: Verdict

    @model_validator(mode="after")
    def _verdict_is_the_worst(self) -> Checked:
        expected = record_verdict([h.verdict for h in self.heads])
        if self.verdict != expected:
            raise ValueError(
                f"verdict {self.verdict!r} does not follow from the heads' verdicts: expected {expected!r}"
            )
        return self


class Evidence(_Strict):
    """One work's claim about a head type in one model."""

    cite: CiteKey = Field(description="BibTeX key in data/references.bib")
    id: EvidenceId | None = Field(
        default=None,
        description="permanent id of this claim, ev- + 8 base32 characters; assigned once, never changed or reused "
        "(`heads add-evidence` and scripts/assign_evidence_ids.py assign it)",
    )
    model: ModelId | None = Field(default=None, description="model registry id; omit for theory-only work")
    locations: list[Location] = Field(
        default_factory=list,
        description="0-indexed heads, written L<layer>H<head>; only where the source gives them",
    )
    method: MethodId
    method_detail: Text | None = None
    task: ShortText | None = None
    metric: ShortText | None = None
    value: float | None = None
    source: Text = Field(description="where in the work these facts were read: section, table, figure or file")
    source_kind: SourceKind = Field(
        description="what `source` is: body (text, table, figure, appendix), code, data (a released file), "
        "abstract (only the abstract) or third-party (someone else's summary)"
    )
    stance: Stance = Field(
        default="support",
        description="what this record does to the head type's claim: support, qualify, contradict, fail-to-replicate",
    )
    scores: ScoresPath | None = Field(
        default=None,
        description="the authors' whole per-head score table under data/scores/ (its .yaml names the same cite "
        "and model); locations are the heads the authors select",
    )
    note: Text | None = None
    reproduced: Reproduced | None = None
    deprecated: Deprecated | None = Field(
        default=None, description="set when the claim is withdrawn: the record stays, with the reason and date"
    )
    checked: Checked | None = Field(default=None, description="the catalogue's own measurement of this claim")

    @field_validator("locations", mode="before")
    @classmethod
    def _locations(cls, v: object) -> object:
        if not isinstance(v, list):
            return v
        try:
            joined = ",".join(v)  # the usual case, a list of L9H9: one regex pass over the joined list
        except TypeError:  # an item that is not text
            return [_location(x) for x in v]
        pairs = _CANONICAL_LIST.findall(joined)
        if len(pairs) == len(v):
            found = [_LOCATIONS.get(pair) or _interned_location(*pair) for pair in pairs]
            if all(found):  # None marks a head above MAX_INDEX (a Location is always true; `in` would call __eq__)
                return found
        return [_location(x) for x in v]

    @field_validator("locations")
    @classmethod
    def _unique_locations(cls, v: list[Location]) -> list[Location]:
        if len(set(map(_LAYER_HEAD, v))) < len(v):  # (layer, head) pairs hash faster than models; map: a C loop
            seen: set[tuple[int, int]] = set()
            for loc in v:
                if (loc.layer, loc.head) in seen:
                    raise ValueError(f"location {loc} is listed twice: remove the duplicate")
                seen.add((loc.layer, loc.head))
        return v

    @model_validator(mode="after")
    def _value_needs_metric(self) -> Evidence:
        if self.value is not None and self.metric is None:
            raise ValueError("a value needs its metric: add `metric:` naming what the value measures")
        if self.locations and self.model is None:
            raise ValueError("locations need a model: add `model:` with a model registry id")
        if self.scores is not None and self.model is None:
            raise ValueError("a score table needs a model: add `model:` with the table's model id")
        if self.deprecated is not None and self.id is None:
            raise ValueError("a withdrawn record needs its `id:` (python scripts/assign_evidence_ids.py adds it)")
        return self


# --------------------------------------------------------------------------- head types


class StagePlacement(_Strict):
    stage: StageId
    subcategory: SubcategoryId | None = None
    placed_by: PlacedBy = Field(description="survey: the survey's taxonomy; catalogue: our reading of the paper")
    note: Text | None = None

    @model_validator(mode="after")
    def _subcategory_in_stage(self) -> StagePlacement:
        if self.subcategory is not None and SUBCATEGORY_STAGE[self.subcategory] != self.stage:
            raise ValueError(
                f"sub-category {self.subcategory!r} belongs to stage "
                f"{SUBCATEGORY_STAGE[self.subcategory]!r}, not {self.stage!r}"
            )
        return self


class Related(_Strict):
    kind: RelationKind
    head: HeadId
    note: Text | None = None


class HeadType(_Strict):
    """A kind of attention head, as the literature describes it."""

    id: HeadId
    name: ShortText
    aliases: list[ShortText] = Field(default_factory=list)
    stages: list[StagePlacement] = Field(min_length=1)
    in_survey: bool = Field(description="named by the survey (Zheng et al., arXiv 2409.03752)")
    list_badges: list[ShortText] = Field(
        default_factory=list, description="badges of the survey's companion paper list"
    )
    summary: Text
    mechanism: Text | None = None
    related: list[Related] = Field(default_factory=list)
    notes: Text | None = None
    check: CheckId | None = Field(default=None, description="the catalogue.verify check for this head type")
    evidence: list[Evidence] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_duplicate_stage(self) -> HeadType:
        stages = [s.stage for s in self.stages]
        if len(set(stages)) != len(stages):
            raise ValueError("a stage is listed twice: keep one placement per stage")
        return self

    @property
    def names(self) -> list[str]:
        """The id, name and every alias: all the names ``heads show`` resolves."""
        return [self.id, self.name, *self.aliases]


# --------------------------------------------------------------------------- models and taxonomy


class ModelInfo(_Strict):
    id: ModelId
    name: ShortText
    hf_id: ShortText | None = Field(default=None, description="Hugging Face repo id, if on the hub")
    family: ShortText = Field(
        description=(
            "the model series as its authors name it, without generation or version: Gemma 2 -> gemma, "
            "Llama 3.1 -> llama, Qwen2.5 -> qwen, Phi-3 -> phi, GPT-2 -> gpt; a fine-tune takes the family of "
            "the model it was tuned from (Vicuna -> llama)"
        )
    )
    layers: int | None = Field(default=None, ge=1, le=1000)
    heads: int | None = Field(default=None, ge=1, le=1000, description="query heads per layer")
    kv_heads: int | None = Field(default=None, ge=1, le=1000)
    attention_layers: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None,
        description="for a hybrid model whose other layers have no attention (recurrent or state-space layers, "
        "as in Jamba): the 0-indexed layers that have attention heads, ascending; omitted when every layer has them",
    )
    parameters: int | None = Field(default=None, ge=1)
    neuronpedia_id: ModelId | None = Field(
        default=None,
        description="the model's id on Neuronpedia (neuronpedia.org/<id>/head/<layer>/<head>), where it publishes "
        "per-head attention metrics; only where read, saying where in `source`",
    )
    source: Text | None = Field(default=None, description="where the dimensions were read")
    note: Text | None = None

    @model_validator(mode="after")
    def _dims_need_source(self) -> ModelInfo:
        if (self.layers is not None or self.heads is not None) and self.source is None:
            raise ValueError("dimensions need a `source:` saying where they were read")
        if self.attention_layers is not None:
            if self.layers is None:
                raise ValueError("`attention_layers` needs `layers:` (the model's number of layers)")
            if self.attention_layers != sorted(set(self.attention_layers)) or not self.attention_layers:
                raise ValueError("`attention_layers` lists each layer once, ascending")
            if self.attention_layers[-1] >= self.layers:
                raise ValueError(
                    f"attention layer {self.attention_layers[-1]} is outside the model's {self.layers} layers "
                    f"(0-{self.layers - 1})"
                )
        if self.neuronpedia_id is not None and (self.source is None or "neuronpedia" not in self.source.lower()):
            raise ValueError("a neuronpedia_id needs its source: say in `source:` where the Neuronpedia id was read")
        return self


class SubcategoryInfo(_Strict):
    id: SubcategoryId
    name: ShortText
    description: Text


class StageInfo(_Strict):
    id: StageId
    name: ShortText
    description: Text
    typical_depth: ShortText
    subcategories: list[SubcategoryInfo]

    @property
    def abbreviation(self) -> str:
        """The survey's abbreviation (KR, ICI, LR, EP), from :data:`catalogue.vocab.STAGE_ABBREVIATIONS`."""
        return STAGE_ABBREVIATIONS[self.id]


class MethodInfo(_Strict):
    id: MethodId
    name: ShortText
    family: MethodFamily
    type: MethodType
    description: Text
    in_survey: bool


class Benchmark(_Strict):
    id: HeadId
    name: ShortText
    kind: BenchmarkKind
    task_type: ShortText
    description: Text
    cite: CiteKey | None = None


class Taxonomy(_Strict):
    cite: CiteKey = Field(description="the work whose frameworks these are: the survey (data/references.bib)")
    stages: list[StageInfo]
    methods: list[MethodInfo]
    benchmarks: list[Benchmark]

    @model_validator(mode="after")
    def _complete(self) -> Taxonomy:
        for label, got, want in (
            ("stages", [s.id for s in self.stages], STAGES),
            ("methods", [m.id for m in self.methods], METHODS),
            (
                "sub-categories",
                [c.id for s in self.stages for c in s.subcategories],
                SUBCATEGORIES,
            ),
        ):
            if sorted(got) != sorted(want):
                missing = sorted(set(want) - set(got))
                extra = sorted(set(got) - set(want))
                raise ValueError(f"{label} must describe each of {list(want)} once (missing {missing}, extra {extra})")
        for stage in self.stages:
            for sub in stage.subcategories:
                if SUBCATEGORY_STAGE[sub.id] != stage.id:
                    raise ValueError(f"sub-category {sub.id!r} is listed under {stage.id!r}")
        return self


# --------------------------------------------------------------------------- references


class Person(_Strict):
    """A name split the way BibTeX splits it (First von Last, Jr), TeX decoded to Unicode.

    A corporate author written in braces (``{OpenAI}``) has only a ``last`` part."""

    first: ShortText | None = None
    von: ShortText | None = None
    last: ShortText
    jr: ShortText | None = None

    @property
    def surname(self) -> str:
        """What a label cites: the von and last parts (``van der Berg``)."""
        return " ".join(p for p in (self.von, self.last) if p)

    def __str__(self) -> str:
        """The name as read: ``Ludwig van Beethoven``, ``Martin Luther King, Jr.``."""
        name = " ".join(p for p in (self.first, self.von, self.last) if p)
        return f"{name}, {self.jr}" if self.jr else name


class Reference(_Strict):
    """A cited work, read from data/references.bib, its text decoded from TeX to Unicode."""

    key: CiteKey
    entry_type: ShortText
    title: Text
    authors: list[Person] = Field(min_length=1)
    others: bool = Field(default=False, description="the author list ends in `and others`")
    year: int = Field(ge=1900, le=2100)
    venue: ShortText | None = None
    eprint: ArxivId | None = None
    doi: Doi | None = None
    url: ShortText | None = None
    bibtex: Text = Field(description="the entry, self-contained: @string macros, # and crossref resolved")

    @property
    def first_author(self) -> str:
        return self.authors[0].surname

    @property
    def short(self) -> str:
        """``Wang et al., 2022`` style label."""
        if len(self.authors) > 2 or self.others:
            tail = " et al."
        elif len(self.authors) == 2:
            tail = f" & {self.authors[1].surname}"
        else:
            tail = ""
        return f"{self.first_author}{tail}, {self.year}"


# --------------------------------------------------------------------------- the catalogue


class Catalogue:
    """Validated head types, models, taxonomy and references, cross-checked.

    Built by :func:`catalogue.loader.load`; never constructed from unvalidated data.
    """

    def __init__(
        self,
        *,
        heads: list[HeadType],
        models: list[ModelInfo],
        taxonomy: Taxonomy,
        references: dict[str, Reference],
        scores: Iterable[ScoreTable] = (),
        rereads: Iterable[Reread] = (),
        selections: Mapping[str, str] | None = None,
        digest: str = "",
    ) -> None:
        self.heads: dict[str, HeadType] = {h.id: h for h in heads}
        self.models: dict[str, ModelInfo] = {m.id: m for m in models}
        self.taxonomy = taxonomy
        self.references = references
        self.scores: dict[str, ScoreTable] = {t.path: t for t in scores}
        #: second readings of located records (data/audit.yaml), by evidence id
        self.rereads: dict[str, Reread] = {r.id: r for r in rereads}
        #: records on a score table re-read by machine: evidence id -> the manifest list its heads equal
        #: (``"not <list>"``: every other head of the model), see :func:`catalogue.scores.selection_of`
        self.selections: dict[str, str] = dict(selections or {})
        self.digest = digest
        self._names: dict[str, str] = {}
        self._authors: dict[str, frozenset[str]] | None = None
        for h in heads:
            for n in h.names:
                self._names.setdefault(normalize_name(n), h.id)

    def resolve(self, name: str) -> HeadType:
        """The head type with this id, name or alias (any case, any spacing)."""
        from catalogue.errors import UnknownHeadError

        hid = self._names.get(normalize_name(name))
        if hid is None:
            raise UnknownHeadError(name, suggest(name, self._names))
        return self.heads[hid]

    def model(self, name: str) -> ModelInfo:
        """The registry model with this id or Hugging Face id (any case)."""
        return find_model(self.models.values(), name)

    def standing(self, head: HeadType) -> str:
        """The head type's standing (:func:`catalogue.vocab.standing`), authors compared by full name.

        Two kinds of record never count towards ``established``: the catalogue's own verification runs
        (:data:`CATALOGUE_CITE`: they show a check works, on models we chose, not that the literature's claim
        holds) and ``third-party`` records (a summary is a lead, not a work). Either can still contest."""
        if self._authors is None:  # once per catalogue: every head type's standing compares the same works
            self._authors = {k: frozenset(str(p) for p in r.authors) for k, r in self.references.items()}
        authors = self._authors
        records = [
            (e.cite, e.method, e.stance)
            for e in head.evidence
            if e.stance in CONTESTING_STANCES or (e.cite != CATALOGUE_CITE and e.source_kind != "third-party")
        ]
        return standing(records, authors)

    def cited_keys(self) -> set[str]:
        keys = {e.cite for h in self.heads.values() for e in h.evidence}
        keys |= {b.cite for b in self.taxonomy.benchmarks if b.cite}
        keys.add(self.taxonomy.cite)
        return keys


def find_model(models: Iterable[ModelInfo], name: str) -> ModelInfo:
    """The model with this registry id or Hugging Face id (any case; an id wins over a Hugging Face id).

    Raises :class:`catalogue.errors.UnknownModelError` with close matches."""
    from catalogue.errors import UnknownModelError

    ms = list(models)
    by_name = {m.hf_id.lower(): m for m in ms if m.hf_id}
    by_name.update({m.id: m for m in ms})
    found = by_name.get(name.strip().lower())
    if found is None:
        raise UnknownModelError(name, suggest(name, {k: m.id for k, m in by_name.items()}))
    return found
