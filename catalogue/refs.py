"""data/references.bib -> validated :class:`Reference` objects. The only importer of bibtexparser and pylatexenc.

BibTeX is read as BibTeX reads it: ``@string`` macros (defined before use, names in any case, the
month macros ``jan``...``dec`` built in), ``#`` concatenation and ``crossref`` are resolved, and the
entry each reference carries in ``Reference.bibtex`` is written from the resolved fields, so it
stands on its own. What users read (titles, venues, names) is decoded from TeX to Unicode by
pylatexenc through bibtexparser's ``LatexDecodingMiddleware``; names are split with BibTeX's
grammar (First von Last; von Last, Jr, First; braced corporate names; ``and others``) by
``SeparateCoAuthors`` and ``SplitNameParts``. biblatex's ``date``, ``journaltitle`` and
``eprinttype`` are read too.

Every problem is reported with file:line, what is wrong and how to fix it; the key of a rejected
entry is still returned (:attr:`Bibliography.keys`), so evidence citing it is not reported again.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, NamedTuple

from bibtexparser import model as bib
from bibtexparser.entrypoint import parse_string, write_string
from bibtexparser.exceptions import BlockAbortedException
from bibtexparser.library import Library
from bibtexparser.middlewares import (
    LatexDecodingMiddleware,
    RemoveEnclosingMiddleware,
    SeparateCoAuthors,
    SplitNameParts,
)
from bibtexparser.middlewares.middleware import LibraryMiddleware
from bibtexparser.middlewares.names import InvalidNameError, NameParts
from bibtexparser.writer import BibtexFormat
from pydantic import ValidationError
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db
from pylatexenc.latexwalker import get_default_latex_context_db as get_default_walker_context_db
from pylatexenc.macrospec import MacroSpec

from catalogue.errors import Problem
from catalogue.schema import Person, Reference

__all__ = ["Bibliography", "parse_references"]

# bibtexparser logs each failed block; we report them ourselves, with a fix.
logging.getLogger("bibtexparser").setLevel(logging.CRITICAL)

#: Fields whose text users read: decoded from TeX. url, doi and eprint are verbatim and never decoded.
_TEXT_FIELDS = (
    "title",
    "booktitle",
    "journaltitle",
    "journal",
    "howpublished",
    "publisher",
    "institution",
    "school",
    "organization",
)
#: Where the venue is read from, first found wins (``journaltitle`` is biblatex's ``journal``).
_VENUE_FIELDS = _TEXT_FIELDS[1:]
#: BibTeX's built-in macros (plain.bst and every standard style define them).
_MONTHS = {
    m[:3].lower(): m
    for m in ("January February March April May June July August September October November December".split())
}
_DATE = re.compile(r"^(\d{4})(?:-\d{2}(?:-\d{2})?)?(?:/.*)?$")
_ENTRY_KEY = re.compile(r"@\s*\w+\s*[{(]\s*([^,\s{}()]+)\s*,")
#: A macro name as BibTeX reads it: no whitespace or ``"#%'(),={}``, not starting with a digit.
_MACRO_NAME = re.compile(r"[^\s\"#%'(),={}0-9][^\s\"#%'(),={}]*")
_NUMBER = re.compile(r"\d+")
#: Text pylatexenc would change: macros, groups, math, ties, comments, and the ligatures -- `` '' ?` !`.
_TEX = re.compile(r"[\\{}$~%`]|--|''|[?!]`")


class Bibliography(NamedTuple):
    """What a .bib text holds: valid references by key, every problem, and every entry key seen
    (rejected entries included, so one bad entry does not also make its citations unknown)."""

    references: dict[str, Reference]
    problems: list[Problem]
    keys: set[str]


# --------------------------------------------------------------------------- TeX -> Unicode


def _last_argument(node: Any, l2tobj: Any) -> str:
    """``\\href{url}{text}`` as its text (pylatexenc's default fails on a missing argument)."""
    args = [a for a in (node.nodeargd.argnlist if node.nodeargd else []) if a is not None]
    return str(l2tobj.nodelist_to_text(args[-1:]))


class _Decoder(LatexNodes2Text):  # type: ignore[misc]
    """pylatexenc's converter, knowing the macros found in bibliographies that its defaults drop
    (``\\texttt``, ``\\mbox``: the text; ``\\url``: the address; ``\\href``: the link text).

    A ``%`` not escaped is read as a percent sign, as meant, not as a TeX comment eating the rest."""

    _walker = get_default_walker_context_db()
    _walker.add_context_category("catalogue", prepend=True, macros=[MacroSpec("href", "{{")])

    def __init__(self) -> None:
        db = get_default_latex_context_db()
        keep = ("url", "texttt", "mbox", "hbox", "textnormal", "textup", "textmd", "ensuremath")
        macros = [MacroTextSpec(m, simplify_repl="%s") for m in keep]
        macros.append(MacroTextSpec("href", simplify_repl=_last_argument))
        db.add_context_category("catalogue", prepend=True, macros=macros)
        super().__init__(latex_context=db, math_mode="text")

    def latex_to_text(self, latex: str, **parse_flags: Any) -> str:
        if not _TEX.search(latex):  # most names and titles: nothing to decode, and pylatexenc is slow
            return " ".join(latex.split())
        latex = re.sub(r"(?<!\\)%", r"\\%", latex)
        text = super().latex_to_text(latex, latex_context=self._walker, **parse_flags)
        return " ".join(str(text).split())


_DECODER = _Decoder()

# --------------------------------------------------------------------------- resolving values


class _ValueError(ValueError):
    """A field (or @string) whose value cannot be resolved; ``line`` is 1-based."""

    def __init__(self, field: str, line: int | None, message: str, hint: str) -> None:
        super().__init__(message)
        self.field, self.line, self.message, self.hint = field, line, message, hint


def _evaluate(expr: str, macros: dict[str, str], field: str, line: int | None) -> str:
    """The value of a BibTeX expression: pieces (``{...}``, ``"..."``, a number or a macro) joined by ``#``."""
    out: list[str] = []
    i, n = 0, len(expr)
    want_piece = True
    while True:
        while i < n and expr[i].isspace():
            i += 1
        if i >= n:
            if want_piece:
                raise _ValueError(field, line, "the value is empty or ends in `#`", "write field = {value}")
            return "".join(out)
        c = expr[i]
        if not want_piece:
            if c != "#":
                raise _ValueError(
                    field,
                    line,
                    f"unexpected {expr[i : i + 30]!r} after the value",
                    "a comma is missing before the next field, or a `#` to join the two parts",
                )
            i, want_piece = i + 1, True
            continue
        if c in '{"':
            end = _closing(expr, i)
            if end < 0:
                raise _ValueError(field, line, f"{c} is never closed", "check the braces and quotes of this value")
            out.append(expr[i + 1 : end])
            i = end + 1
        elif m := _NUMBER.match(expr, i):
            out.append(m.group())
            i = m.end()
        elif m := _MACRO_NAME.match(expr, i):
            name = m.group()
            if name.lower() not in macros:
                raise _ValueError(
                    field,
                    line,
                    f"@string macro {name!r} is not defined",
                    f"define it above this entry (@string{{{name} = {{...}}}}) or brace the text: {{{name}}}",
                )
            out.append(macros[name.lower()])
            i = m.end()
        else:
            raise _ValueError(field, line, f"unexpected {expr[i : i + 30]!r}", "write field = {value}")
        want_piece = False


def _closing(expr: str, start: int) -> int:
    """Index of the delimiter closing the brace or quote at ``start``, or -1."""
    depth = 0
    for j in range(start + 1, len(expr)):
        c = expr[j]
        if c == "{":
            depth += 1
        elif c == "}":
            if depth == 0:
                return j if expr[start] == "{" else -1
            depth -= 1
        elif c == '"' and expr[start] == '"' and depth == 0:
            return j
    return -1


def _field_given_twice(entry: bib.Entry) -> _ValueError | None:
    """The first field given twice (names compare in any case, as in BibTeX), if any."""
    seen: dict[str, int] = {}
    for f in entry.fields:
        name, line = f.key.lower(), int(f.start_line) + 1
        if name in seen:
            return _ValueError("", line, f"field {name!r} is given twice (lines {seen[name]} and {line})", "keep one")
        seen[name] = line
    return None


class _ResolveValues(LibraryMiddleware):
    """Resolve ``@string`` macros and ``#`` concatenation as BibTeX does. Runs after
    ``RemoveEnclosingMiddleware``, which marks every value that was not one braced or quoted
    string as ``no-enclosing``. (bibtexparser's ``ResolveStringReferencesMiddleware`` resolves a
    lone macro only: not ``#``, not a macro defined from another, and it keeps undefined ones.)"""

    def transform(self, library: Library) -> Library:
        macros = dict(_MONTHS)
        blocks: list[bib.Block] = []
        for block in library.blocks:
            try:
                if isinstance(block, bib.String):
                    if block.enclosing == "no-enclosing":
                        line = (block.start_line or 0) + 1
                        block.value = _evaluate(block.value, macros, f"@string {block.key}", line)
                    macros[block.key.lower()] = block.value
                elif isinstance(block, bib.Entry):
                    if twice := _field_given_twice(block):
                        raise twice
                    for f in block.fields:
                        f.key = f.key.lower()
                        if f.enclosing == "no-enclosing":
                            f.value = _evaluate(f.value, macros, f.key, f.start_line + 1)
            except _ValueError as exc:
                if isinstance(block, bib.String):  # reported once, here; its users are not errors too
                    macros[block.key.lower()] = ""
                block = bib.MiddlewareErrorBlock(block, exc)
            blocks.append(block)
        return Library(blocks, fail_on_duplicate_key=False)


#: Fields that identify the parent itself, never inherited: the part is another work.
_NOT_INHERITED = {"crossref", "ids", "key", "doi", "eprint", "eprinttype", "archiveprefix", "eprintclass", "url"}
#: parser_metadata key on a child entry: the key of its crossref parent.
_PARENT = "catalogue_crossref_parent"


class _InheritCrossref(LibraryMiddleware):
    """``crossref = {parent}``: the entry takes every field it lacks from the parent (BibTeX), the
    parent's title becoming its ``booktitle`` (biblatex), except the parent's identifiers
    (:data:`_NOT_INHERITED`), and loses the ``crossref`` field."""

    def transform(self, library: Library) -> Library:
        by_key = {e.key.lower(): e for e in library.entries}
        blocks: list[bib.Block] = []
        for block in library.blocks:
            if isinstance(block, bib.Entry) and (ref := block.get("crossref")) is not None:
                parent = by_key.get(str(ref.value).strip().lower())
                if parent is None:
                    exc = _ValueError(
                        "crossref",
                        ref.start_line + 1,
                        f"crossref {ref.value!r} names no entry in this file",
                        "add that entry, or fix the key",
                    )
                    blocks.append(bib.MiddlewareErrorBlock(block, exc))
                    continue
                have = {f.key for f in block.fields}
                for f in parent.fields:
                    name = "booktitle" if f.key == "title" else f.key
                    if name not in have and name not in _NOT_INHERITED:
                        block.fields.append(bib.Field(name, f.value, f.start_line))
                        have.add(name)
                block.pop("crossref")
                block.set_parser_metadata(_PARENT, parent.key)
            blocks.append(block)
        return Library(blocks, fail_on_duplicate_key=False)


# --------------------------------------------------------------------------- parsing


def parse_references(text: str, *, file: str) -> Bibliography:
    """Parse a .bib text: the valid references, every problem found (errors and warnings), every key."""
    library = parse_string(text, parse_stack=[RemoveEnclosingMiddleware(), _ResolveValues(), _InheritCrossref()])
    problems: list[Problem] = []
    keys: set[str] = set()
    for block in library.blocks:
        if isinstance(block, bib.ParsingFailedBlock):
            problems.append(_failure(block, file, keys))
        elif isinstance(block, bib.ImplicitComment):
            problems += _stray(block, file)
    rejected: set[str] = set()
    problems += _case_duplicates(library, file, rejected)
    entries = [e for e in library.entries if e.key not in rejected]
    keys |= {e.key for e in library.entries}
    # a crossref parent (a proceedings volume, say) is a work only if it is complete as one
    parents = {str(e.get_parser_metadata(_PARENT)) for e in entries if e.get_parser_metadata(_PARENT)}
    refs: dict[str, Reference] = {}
    for entry, shown in zip(entries, _display(entries), strict=True):
        line = (entry.start_line or 0) + 1
        found: list[Problem] = []
        if isinstance(shown, bib.MiddlewareErrorBlock):
            found.append(_middleware_failure(shown, file, line))
        elif (ref := _reference(entry, shown, file, line, found)) is not None:
            refs[ref.key] = ref
        if found and entry.key in parents:
            keys.discard(entry.key)
        else:
            problems += found
    problems += _same_work(refs, {e.key: (e.start_line or 0) + 1 for e in entries}, file)
    return Bibliography(refs, problems, keys)


_FIELD_LIKE = re.compile(r"^\s*\w+\s*=|[{}]")


def _stray(block: bib.ImplicitComment, file: str) -> list[Problem]:
    """BibTeX ignores text between entries; a field or brace there means an entry closed too early."""
    for i, text in enumerate(block.comment.splitlines()):
        if _FIELD_LIKE.search(text):
            return [
                Problem(
                    file,
                    (block.start_line or 0) + 1 + i,
                    "",
                    f"text outside any entry is ignored: {text.strip()[:60]!r}",
                    "if it belongs to the entry above, that entry closes too early: check its braces",
                    "warning",
                )
            ]
    return []


def _failure(block: bib.ParsingFailedBlock, file: str, keys: set[str]) -> Problem:
    """One message per failure kind bibtexparser reports, never its internals."""
    line = (block.start_line or 0) + 1
    if isinstance(block, bib.DuplicateBlockKeyBlock):
        first = (block.previous_block.start_line or 0) + 1
        if isinstance(block.ignore_error_block, bib.String):
            return Problem(
                file,
                line,
                f"@string {block.key}",
                f"macro {block.key!r} is defined twice (first on line {first})",
                "keep one definition",
            )
        keys.add(block.key)
        return Problem(
            file,
            line,
            f"@{block.key}",
            f"duplicate key {block.key!r} (first used on line {first})",
            "give each work its own key, or delete the copy",
        )
    if isinstance(block, bib.DuplicateFieldKeyBlock):
        entry = block.ignore_error_block
        assert isinstance(entry, bib.Entry)
        keys.add(entry.key)
        twice = _field_given_twice(entry)
        assert twice is not None
        return Problem(file, twice.line, f"@{entry.key}", twice.message, twice.hint)
    if isinstance(block, bib.MiddlewareErrorBlock):
        inner = block.ignore_error_block
        if isinstance(inner, bib.Entry):
            keys.add(inner.key)
        return _middleware_failure(block, file, line)
    m = _ENTRY_KEY.match(block.raw or "")
    if m:
        keys.add(m.group(1))
    where = f"@{m.group(1)}" if m else ""
    message, hint = _syntax(block.error)
    return Problem(file, line, where, f"BibTeX syntax error: {message}", hint)


def _syntax(error: Exception) -> tuple[str, str]:
    """What went wrong in the splitter, and how to fix it. bibtexparser tells its abort reasons apart
    by text only (BlockAbortedException.abort_reason), so its wording is matched here, with a fallback."""
    reason = error.abort_reason if isinstance(error, BlockAbortedException) else str(error)
    braces = 'a `}` or `"` is missing in this entry: check its braces and quotes'
    if reason.startswith("Unexpectedly reached end of file"):
        return "the entry is never closed", braces
    if reason.startswith("Unexpected block start"):
        return "a new @ block starts before this one is closed", braces
    if reason.startswith("Expected a `=` after entry key") or reason.startswith("Expected equals sign"):
        return "a field name is not followed by `=`", "write fields as name = {value}, separated by commas"
    if reason.startswith("Expected comma after entry key"):
        return "the key is not followed by a comma", "write @type{key, name = {value}, ...}"
    if reason.startswith("Expected either a `,`"):
        return "a field value is followed by something other than `,` or the end of the entry", (
            "separate fields with commas"
        )
    first = reason.strip().splitlines()[0] if reason.strip() else "unparseable block"
    return first, "check braces, commas and quotes in this entry"


def _middleware_failure(block: bib.MiddlewareErrorBlock, file: str, line: int) -> Problem:
    inner = block.ignore_error_block
    where = (
        f"@{inner.key}"
        if isinstance(inner, bib.Entry)
        else (f"@string {inner.key}" if isinstance(inner, bib.String) else "")
    )
    error = block.error
    if isinstance(error, _ValueError):
        what = f"{error.field}: " if error.field and not error.field.startswith("@") else ""
        return Problem(file, error.line or line, where, what + error.message, error.hint)
    if isinstance(error, InvalidNameError):
        return Problem(
            file,
            _field_line(inner or block, "author", line),
            where,
            f"author: cannot split the name {error.name!r}: {error.reason.lower()}",
            "join names with ` and `; write each as `Last, First` or `First Last`; brace a corporate name: {OpenAI}",
        )
    return Problem(file, line, where, "the TeX in this entry cannot be decoded", "check its backslashes and braces")


def _field_line(block: bib.Block, name: str, default: int) -> int:
    if isinstance(block, bib.Entry) and (f := block.get(name)) is not None:
        return int(f.start_line) + 1
    return default


def _case_duplicates(library: Library, file: str, rejected: set[str]) -> Iterator[Problem]:
    """Keys that differ only in case: BibTeX treats them as one."""
    seen: dict[str, tuple[str, int]] = {}
    for entry in library.entries:
        line = (entry.start_line or 0) + 1
        other = seen.setdefault(entry.key.lower(), (entry.key, line))
        if other[0] != entry.key:
            rejected.add(entry.key)
            yield Problem(
                file,
                line,
                f"@{entry.key}",
                f"key {entry.key!r} differs from {other[0]!r} (line {other[1]}) only in case: "
                "BibTeX treats them as one key",
                "give each work its own key, or delete the copy",
            )


def _display(entries: list[bib.Entry]) -> list[bib.Block]:
    """The entries' user-facing fields: names split with BibTeX's grammar, then TeX decoded."""
    shown: list[bib.Block] = [
        bib.Entry(
            e.entry_type,
            e.key,
            [bib.Field(f.key, f.value, f.start_line) for f in e.fields if f.key in _TEXT_FIELDS or f.key == "author"],
            e.start_line,
        )
        for e in entries
    ]
    library = Library(shown, fail_on_duplicate_key=False)
    for middleware in (SeparateCoAuthors(), SplitNameParts(), LatexDecodingMiddleware(decoder=_DECODER)):
        library = middleware.transform(library)
    return library.blocks


def _person(parts: NameParts) -> Person | None:
    """A split name as a :class:`Person`, each part TeX decoded; None for BibTeX's ``others``.

    (``LatexDecodingMiddleware`` decodes a lone ``NameParts`` but not the list ``SplitNameParts``
    makes, so the parts are decoded here, with the same decoder.)"""
    if parts.last == ["others"] and not (parts.first or parts.von or parts.jr):
        return None
    first, von, last, jr = (
        _DECODER.latex_to_text(" ".join(p)) or None for p in (parts.first, parts.von, parts.last, parts.jr)
    )
    return Person(first=first, von=von, last=last or "", jr=jr)


#: The .bib field a Reference attribute is read from, to point an error at its line.
_SOURCE_FIELD = {"authors": "author", "others": "author", "venue": "booktitle", "key": "", "entry_type": ""}


def _reference(entry: bib.Entry, shown: bib.Block, file: str, line: int, problems: list[Problem]) -> Reference | None:
    raw = {f.key: str(f.value).strip() for f in entry.fields}
    lines = {f.key: int(f.start_line) + 1 for f in entry.fields}
    text: dict[str, Any] = {f.key: f.value for f in shown.fields} if isinstance(shown, bib.Entry) else {}
    where = f"@{entry.key}"
    missing = [n for n in ("title", "author") if not raw.get(n)]
    if not raw.get("year") and not raw.get("date"):
        missing.append("year")
    if missing:
        hint = "add them" + (" (biblatex's date = {2024-05-01} may stand for year)" if "year" in missing else "")
        problems.append(Problem(file, line, where, f"missing field(s) {', '.join(missing)}", hint))
        return None
    year = raw.get("year", "")
    if not year:
        date = _DATE.match(raw["date"])
        if date is None:
            problems.append(
                Problem(
                    file,
                    lines["date"],
                    where,
                    f"date: {raw['date']!r} is not an ISO 8601 date",
                    "write date = {2024}, {2024-05} or {2024-05-01}",
                )
            )
            return None
        year = date.group(1)
    elif not year.isdigit():
        problems.append(Problem(file, lines["year"], where, f"year {year!r} is not a number", "write year = {2024}"))
        return None
    try:
        people = [_person(p) for p in text.get("author", [])]
    except Exception:  # pylatexenc raises on malformed macro arguments; say where, not how
        problems.append(
            Problem(
                file, lines["author"], where, "author: the TeX cannot be decoded", "check its backslashes and braces"
            )
        )
        return None
    archive = (raw.get("eprinttype") or raw.get("archiveprefix") or "arxiv").lower()
    venue = next((n for n in _VENUE_FIELDS if text.get(n)), None)
    try:
        return Reference(
            key=entry.key,
            entry_type=entry.entry_type.lower(),
            title=text.get("title", ""),
            authors=[p for p in people if p is not None],
            others=None in people,
            year=int(year),
            venue=text[venue] if venue else None,
            eprint=raw.get("eprint") if archive == "arxiv" else None,
            doi=raw.get("doi") or None,
            url=raw.get("url") or None,
            bibtex=_bibtex(entry),
        )
    except ValidationError as exc:
        for err in exc.errors():
            name = str(err["loc"][0])
            field = venue if name == "venue" and venue else _SOURCE_FIELD.get(name, name)
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(
                Problem(file, lines.get(field, line), where, f"{field or name}: {msg}", "fix the field's value")
            )
        return None


_FORMAT = BibtexFormat()  # type: ignore[no-untyped-call]
_FORMAT.indent = "  "


def _bibtex(entry: bib.Entry) -> str:
    """The entry written from its resolved fields (macros, # and crossref already resolved)."""
    out = bib.Entry(entry.entry_type, entry.key, [bib.Field(f.key, f.value) for f in entry.fields])
    return str(write_string(Library([out]), bibtex_format=_FORMAT)).strip()


def _norm_title(title: str) -> str:
    """A title compared loosely: accents, case, punctuation and spacing folded."""
    t = unicodedata.normalize("NFKD", title.replace("\u2019", "'")).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", t).strip()


def _same_work(refs: dict[str, Reference], lines: dict[str, int], file: str) -> Iterator[Problem]:
    """One work, one key: the same arXiv id, DOI or title under two keys is an error."""
    seen: dict[tuple[str, str], str] = {}
    for ref in refs.values():
        for label, value in (
            ("arXiv id", ref.eprint),
            ("DOI", ref.doi.lower() if ref.doi else None),
            ("title", _norm_title(ref.title)),
        ):
            other = seen.setdefault((label, value), ref.key) if value else ref.key
            if other != ref.key:
                yield Problem(
                    file,
                    lines[ref.key],
                    f"@{ref.key}",
                    f"same work as @{other} (line {lines[other]}): the same {label}",
                    f"one work, one key: keep one entry and cite it as {other}",
                )
                break
