"""data/references.bib -> validated :class:`Reference` objects. The only module that imports bibtexparser."""

from __future__ import annotations

import logging
import re

import bibtexparser
from bibtexparser import model as bib
from pydantic import ValidationError

from catalogue.errors import Problem
from catalogue.schema import Reference

__all__ = ["parse_references", "plain"]

_REQUIRED = ("title", "author", "year")

# bibtexparser logs each failed block; we report them ourselves, with a fix.
logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)


def plain(text: str) -> str:
    """BibTeX field text without braces, TeX accents reduced, whitespace folded."""
    s = re.sub(r"\\[`'^\"~=.uvHtcdbk]\s*\{?([A-Za-z])\}?", r"\1", text)
    s = s.replace("\\&", "&").replace("--", "–")
    s = re.sub(r"[{}]", "", s)
    return re.sub(r"\s+", " ", s).strip()


def parse_references(text: str, *, file: str) -> tuple[dict[str, Reference], list[Problem]]:
    """Parse a .bib text. Returns the references and every problem found (errors and warnings)."""
    problems: list[Problem] = []
    library = bibtexparser.parse_string(text)  # type: ignore[attr-defined]
    refs: dict[str, Reference] = {}
    for block in library.blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, bib.DuplicateBlockKeyBlock):
            problems.append(
                Problem(file, line, f"@{block.key}", f"duplicate key {block.key!r}", "give each entry its own key")
            )
        elif isinstance(block, bib.ParsingFailedBlock):
            reason = getattr(block.error, "abort_reason", "") or str(block.error or "")
            msg = reason.strip().splitlines()[0] if reason.strip() else "unparseable entry"
            problems.append(
                Problem(file, line, "", f"BibTeX syntax error: {msg}", "check braces, commas and quotes in this entry")
            )
        elif isinstance(block, bib.Entry):
            ref, problem = _reference(block, file=file, line=line)
            if problem:
                problems.append(problem)
            elif ref:
                refs[ref.key] = ref
    return refs, problems


def _reference(entry: bib.Entry, *, file: str, line: int) -> tuple[Reference | None, Problem | None]:
    fields = {k.lower(): plain(str(f.value)) for k, f in entry.fields_dict.items()}
    missing = [f for f in _REQUIRED if not fields.get(f)]
    if missing:
        return None, Problem(file, line, f"@{entry.key}", f"missing field(s) {', '.join(missing)}", "add them")
    year = fields["year"]
    if not year.isdigit():
        return None, Problem(file, line, f"@{entry.key}", f"year {year!r} is not a number", "write year = {2024}")
    eprint = fields.get("eprint")
    if eprint and fields.get("archiveprefix", "arxiv").lower() != "arxiv":
        eprint = None
    venue = fields.get("booktitle") or fields.get("journal") or fields.get("howpublished") or fields.get("publisher")
    try:
        ref = Reference(
            key=entry.key,
            entry_type=entry.entry_type.lower(),
            title=fields["title"],
            authors=[a.strip() for a in re.split(r"\s+and\s+", fields["author"]) if a.strip()],
            year=int(year),
            venue=venue,
            eprint=eprint,
            doi=fields.get("doi"),
            url=fields.get("url"),
            bibtex=entry.raw.strip() if entry.raw else f"@{entry.entry_type}{{{entry.key}, ...}}",
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        what = ".".join(str(x) for x in err["loc"])
        return None, Problem(file, line, f"@{entry.key}", f"{what}: {err['msg']}", "fix the field's value")
    return ref, None
