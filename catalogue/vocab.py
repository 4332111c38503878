"""The catalogue's closed vocabularies and head-location rules, without pydantic.

Everything here is plain Python so the fast query path (``heads show``, ``where``, ``list``) can use it
without importing pydantic. :mod:`catalogue.schema` builds its models on these types; each runtime list is
derived from its ``Literal`` type (``STAGES = get_args(StageId)``, as TransformerLens derives
``HEAD_NAMES``), so the two cannot drift apart. Each fact has this one home:

- the stages, their order and abbreviations (KR, ICI, LR, EP: the survey's);
- the spelling of a head location, ``L<layer>H<head>``, 0-indexed, and the forms accepted on input;
- the rule that a location must lie inside its model (:func:`location_problem`);
- what a source is (``body``, ``code``, ...), what a record does to a claim (``support``, ...), and
  how a head type's standing follows from its evidence (:func:`standing`);
- how names are compared (:func:`normalize_name`) and misspellings answered (:func:`suggest`);
- the address of a head's dashboard on Neuronpedia (:func:`neuronpedia_head_url`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Literal, get_args

__all__ = [
    "NEURONPEDIA_URL",
    "neuronpedia_head_url",
    "CHECKS",
    "CONTESTING_STANCES",
    "METHODS",
    "SOURCE_KINDS",
    "STANCES",
    "STANDINGS",
    "STANDING_RULE",
    "PLACED_BY",
    "RELATION_KINDS",
    "STAGES",
    "STAGE_ABBREVIATIONS",
    "SUBCATEGORIES",
    "STATUSES",
    "SUBCATEGORY_STAGE",
    "VERDICTS",
    "WEAK_SOURCE_KINDS",
    "CheckId",
    "Verdict",
    "MethodId",
    "StageId",
    "SourceKind",
    "Stance",
    "Standing",
    "SubcategoryId",
    "format_location",
    "location_problem",
    "normalize_name",
    "parse_location",
    "record_verdict",
    "stage_id",
    "stage_label",
    "standing",
    "suggest",
]

# --------------------------------------------------------------------------- stages

StageId = Literal[
    "knowledge-recalling",
    "in-context-identification",
    "latent-reasoning",
    "expression-preparation",
]
#: The survey's four stages, in the order of a model's reasoning.
STAGES: tuple[str, ...] = get_args(StageId)

#: The survey's abbreviation of each stage (Zheng et al., Section 3: KR, ICI, LR, EP).
STAGE_ABBREVIATIONS: dict[str, str] = {
    "knowledge-recalling": "KR",
    "in-context-identification": "ICI",
    "latent-reasoning": "LR",
    "expression-preparation": "EP",
}

SubcategoryId = Literal[
    "general-tasks",
    "specific-tasks",
    "overall-structure",
    "syntactic-information",
    "semantic-information",
    "icl-task-recognition",
    "icl-task-learning",
    "effective-reasoning",
    "task-specific-reasoning",
    "information-aggregation",
    "signal-amplification",
    "instruction-alignment",
]
SUBCATEGORIES: tuple[str, ...] = get_args(SubcategoryId)

#: Which stage each sub-category belongs to (the survey's taxonomy figure).
SUBCATEGORY_STAGE: dict[str, str] = {
    "general-tasks": "knowledge-recalling",
    "specific-tasks": "knowledge-recalling",
    "overall-structure": "in-context-identification",
    "syntactic-information": "in-context-identification",
    "semantic-information": "in-context-identification",
    "icl-task-recognition": "latent-reasoning",
    "icl-task-learning": "latent-reasoning",
    "effective-reasoning": "latent-reasoning",
    "task-specific-reasoning": "latent-reasoning",
    "information-aggregation": "expression-preparation",
    "signal-amplification": "expression-preparation",
    "instruction-alignment": "expression-preparation",
}


def stage_id(value: str) -> str | None:
    """The stage id for an id, an abbreviation (``KR``) or a prefix of an id, any case; None if none or several."""
    v = value.strip().lower()
    for s, abbr in STAGE_ABBREVIATIONS.items():
        if v in (s, abbr.lower(), s.replace("-", " ")):
            return s
    matches = [s for s in STAGES if s.startswith(v)] if v else []
    return matches[0] if len(matches) == 1 else None


def stage_label(stages: list[str] | tuple[str, ...] | set[str]) -> str:
    """``ICI,LR``: the abbreviations of these stages in stage order."""
    return ",".join(STAGE_ABBREVIATIONS[s] for s in sorted(set(stages), key=STAGES.index))


# --------------------------------------------------------------------------- other vocabularies

MethodId = Literal[
    "directional-addition",
    "directional-subtraction",
    "zero-ablation",
    "mean-ablation",
    "activation-patching",
    "path-patching",
    "probing",
    "simplified-model-training",
    "scoring",
    "other",
]
METHODS: tuple[str, ...] = get_args(MethodId)

PlacedBy = Literal["survey", "catalogue"]
PLACED_BY: tuple[str, ...] = get_args(PlacedBy)

RelationKind = Literal[
    "composes-with",
    "backup-of",
    "suppresses",
    "same-heads-as",
    "subtype-of",
    "generalizes",
    "contrasts-with",
    "feeds",
]
RELATION_KINDS: tuple[str, ...] = get_args(RelationKind)

#: Executable checks in ``catalogue.verify`` (one detector each). Which head type a check serves is
#: recorded in the data only (a head type's ``check:``), never in code.
CheckId = Literal[
    "previous-token",
    "duplicate-token",
    "induction",
    "positional",
    "first-token",
    "delimiter",
    "rare-word",
    "retrieval",
    "successor",
    "copy-suppression",
    "iteration",
    "local",
]
CHECKS: tuple[str, ...] = get_args(CheckId)

#: What a measurement says of a claimed head (issue "a measured status on every claim"):
#: ``confirmed`` the check's score reaches its threshold; ``below-threshold`` above the chance baseline but
#: under the threshold; ``contradicted`` the check runs and the head is at chance; ``no-check`` no check
#: applies to the head type.
Verdict = Literal["confirmed", "below-threshold", "contradicted", "no-check"]
VERDICTS: tuple[str, ...] = get_args(Verdict)
#: ``heads list --status`` values: a verdict, or ``unchecked`` for claims that carry none.
STATUSES: tuple[str, ...] = (*VERDICTS[:3], "unchecked")


def record_verdict(head_verdicts: list[str]) -> str:
    """The verdict of a claim from the verdicts of its heads: the worst of them
    (contradicted < below-threshold < confirmed); ``no-check`` when there is none."""
    for v in ("contradicted", "below-threshold", "confirmed"):
        if v in head_verdicts:
            worst = v
            break
    else:
        return "no-check"
    return worst


# --------------------------------------------------------------------------- head locations

#: Largest layer or head index accepted anywhere (a model has at most 1,000 of either).
MAX_INDEX = 9_999

_LOCATION_RE = re.compile(r"^\s*(?:L(\d{1,9})\s*H(\d{1,9})|(\d{1,9})\s*[.:/]\s*(\d{1,9}))\s*$", re.IGNORECASE)


def format_location(layer: int, head: int) -> str:
    """The catalogue's spelling of a head: ``L9H9`` (0-indexed layer, then 0-indexed head)."""
    return f"L{layer}H{head}"


def parse_location(text: str) -> tuple[int, int]:
    """Parse a head written ``L9H9``, ``9.9`` or ``9:9`` into ``(layer, head)``, both 0-indexed.

    Raises ``ValueError`` naming the accepted forms, or the limit when an index is above :data:`MAX_INDEX`.
    """
    m = _LOCATION_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a head location: write L<layer>H<head> (0-indexed), e.g. L9H9 or 9.9")
    layer, head = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))
    if int(layer) > MAX_INDEX or int(head) > MAX_INDEX:
        raise ValueError(f"{text!r}: layer and head indices go up to {MAX_INDEX}")
    return int(layer), int(head)


def location_problem(
    layer: int,
    head: int,
    model_id: str,
    layers: int | None,
    heads: int | None,
    attention_layers: Sequence[int] | None = None,
) -> str | None:
    """Why ``L<layer>H<head>`` cannot be a head of this model, or None when it can.

    A location needs the model's recorded size (``layers`` and query ``heads`` per layer) and must lie
    inside it, counting from 0; in a hybrid model (``attention_layers`` given) its layer must have attention.
    """
    if layers is None or heads is None:
        return f"{model_id} has no recorded dimensions, so {format_location(layer, head)} cannot be checked"
    if layer >= layers or head >= heads:
        return (
            f"{format_location(layer, head)} is outside {model_id}: it has {layers} layers (0-{layers - 1}) "
            f"and {heads} heads per layer (0-{heads - 1}), counted from 0"
        )
    if attention_layers is not None and layer not in attention_layers:
        return (
            f"layer {layer} of {model_id} has no attention heads: only layers "
            f"{', '.join(map(str, attention_layers))} have attention (the others are recurrent or state-space layers)"
        )
    return None


# --------------------------------------------------------------------------- names


#: Neuronpedia's site. Read in github:hijohnnylin/neuronpedia @ ebb8426f: apps/webapp/lib/env.ts compares
#: NEXT_PUBLIC_URL with 'https://www.neuronpedia.org', and apps/webapp/app/blog/posts/headvis.mdx links
#: dashboards as https://www.neuronpedia.org/qwen3.6-27b/head/15/22.
NEURONPEDIA_URL = "https://www.neuronpedia.org"


def neuronpedia_head_url(neuronpedia_id: str, layer: int, head: int) -> str:
    """The address of one attention head's dashboard on Neuronpedia (HeadVis metrics and sampled text).

    ``neuronpedia_id`` is the model's id on Neuronpedia (``ModelInfo.neuronpedia_id``, e.g. ``gpt2-small``);
    ``layer`` and ``head`` are 0-indexed, as in the catalogue. The pattern ``/<modelId>/head/<layer>/<head>``
    is the route apps/webapp/app/[modelId]/head/[layerNum]/[headIndex]/page.tsx of github:hijohnnylin/neuronpedia
    @ ebb8426f, which looks the numbers up unchanged in ModelHeadMetrics, whose ``layer`` and ``headIndex``
    come from the 0-indexed ``range(n_layers)`` x ``range(n_heads)`` of
    utils/neuronpedia-utils/neuronpedia_utils/headvis/compute-head-metrics.py (``write_scatter_data``)."""
    return f"{NEURONPEDIA_URL}/{neuronpedia_id}/head/{layer}/{head}"


_SEPARATORS = re.compile(r"[\s_\-]+")
_PARENTHESES = re.compile(r"[()]")
_HEAD_SUFFIX = re.compile(r" (heads?)$")


def normalize_name(name: str) -> str:
    """Fold case, spacing, hyphens and a trailing 'head(s)' so that names compare loosely."""
    s = _SEPARATORS.sub(" ", name.strip().lower())
    s = _PARENTHESES.sub("", s)
    return _HEAD_SUFFIX.sub("", s).strip()


def suggest(name: str, names: dict[str, str], *, n: int = 3) -> list[str]:
    """Close matches for a misspelt name, as the canonical ids they resolve to (``names``: normalized -> id)."""
    key = normalize_name(name)
    out: list[str] = []
    for match in difflib.get_close_matches(key, list(names), n=n * 3, cutoff=0.6):
        target = names[match]
        if target not in out:
            out.append(target)
    return out[:n]


# --------------------------------------------------------------------------- strength of evidence

SourceKind = Literal["body", "code", "data", "abstract", "third-party"]
#: Where an evidence record's facts were read: ``body`` the work's text, tables, figures or appendix;
#: ``code`` the authors' code; ``data`` a file the authors released (scores, selected heads);
#: ``abstract`` only the abstract; ``third-party`` a summary by someone other than the authors.
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)
#: The kinds that rest on no more than an abstract or somebody else's summary.
WEAK_SOURCE_KINDS: frozenset[str] = frozenset({"abstract", "third-party"})

Stance = Literal["support", "qualify", "contradict", "fail-to-replicate"]
#: What a record does to the head type's claim: ``support`` it, ``qualify`` it (true only under
#: conditions the record states), ``contradict`` it, or ``fail-to-replicate`` it (a re-run did not find it).
STANCES: tuple[str, ...] = get_args(Stance)
#: The stances that put a head type's claim in doubt.
CONTESTING_STANCES: frozenset[str] = frozenset({"contradict", "fail-to-replicate"})

#: A pointer a reader can follow to the place a fact was read: a file at a commit (``x.py @ 3ac171a``,
#: ``@ github:owner/repo 3ac171a``), a numbered part of the work (Table 2, Figure 3, Section 4.1, Appendix B,
#: p. 7), or one of the catalogue's own checks (``catalogue.verify.induction v2``). See :func:`has_pointer`.
_AT_COMMIT = re.compile(r"@\s*(?:github:\S+\s+)?(?:commit\s+)?[0-9a-f]{7,40}\b", re.IGNORECASE)
_NUMBERED_PART = re.compile(
    r"\b(?:Table|Tab\.|Figure|Fig\.|Section|Sec\.|§|Appendix|App\.|Algorithm|Eq\.|page|p\.)\s*[A-Z]?\d"
    r"|\bcatalogue\.verify\.\w+ v\d+",
    re.IGNORECASE,
)


def has_pointer(text: str) -> bool:
    """Whether ``text`` names a place a reader can open: a file at a commit, a numbered part of the work, or one
    of the catalogue's checks at a version. (A file at a commit, the usual case, is found first: the other
    search scans the whole text.)"""
    return bool(("@" in text and _AT_COMMIT.search(text)) or _NUMBERED_PART.search(text))


#: What a second reader found on re-reading a located record at its pointer (``data/audit.yaml``): every head
#: ``matched`` the source, or the record was ``corrected`` in the same change.
RereadOutcome = Literal["matched", "corrected"]


def score_manifest(table: str) -> str:
    """The manifest of a score table: ``data/scores/<cite>/<file>.csv`` -> ``data/scores/<cite>/<file>.yaml``."""
    return table.removesuffix(".csv") + ".yaml"


Standing = Literal["established", "single-source", "contested"]
#: A head type's standing, computed from its evidence by :func:`standing`.
STANDINGS: tuple[str, ...] = get_args(Standing)

#: What each standing means, in one line (the rule is :func:`standing`).
STANDING_RULE = {
    "established": "two independent works and two methods support it",
    "single-source": "one work, one author group or one method so far",
    "contested": "a record contradicts it or failed to replicate it",
}


def standing(records: Sequence[tuple[str, str, str]], authors: Mapping[str, frozenset[str]]) -> str:
    """A head type's standing from its evidence: ``contested``, ``established`` or ``single-source``.

    ``records`` holds one ``(cite key, method, stance)`` per evidence record; ``authors`` maps a cite key
    to its authors' names (an unknown key has none). The rule, in order:

    - ``contested``: any record has stance ``contradict`` or ``fail-to-replicate``;
    - ``established``: the supporting records (``support`` or ``qualify``) come from at least two
      *independent* works, i.e. two different cite keys whose author lists share no name, and use at
      least two different discovery methods;
    - ``single-source``: everything else (one work, one author group, or one method).
    """
    if any(stance in CONTESTING_STANCES for _, _, stance in records):
        return "contested"
    backing = [(cite, method) for cite, method, stance in records if stance not in CONTESTING_STANCES]
    methods = {method for _, method in backing}
    cites = sorted({cite for cite, _ in backing})
    independent = any(
        not (authors.get(a, frozenset()) & authors.get(b, frozenset()))
        for i, a in enumerate(cites)
        for b in cites[i + 1 :]
    )
    return "established" if independent and len(methods) >= 2 else "single-source"
