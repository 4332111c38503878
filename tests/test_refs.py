"""references.bib as researchers write it: TeX, name lists, macros, biblatex, and the errors each fault gives.

Each test is about one kind of fault (issue 13) and goes through the loader, as `heads validate` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import bibtexparser
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from catalogue.cli import app
from catalogue.loader import check
from catalogue.schema import Evidence, HeadType, Reference
from tests.conftest import WriteData
from tests.helpers import BIB, make_head, make_prev

#: The fixture's cited work that the tests rewrite; make_head's evidence cites it.
KEY = "wang2022interpretability"


def entry(body: str, *, key: str = KEY, kind: str = "inproceedings") -> str:
    """The fixture's .bib with KEY's entry replaced by ``@kind{key, body}``."""
    start = BIB.index(f"@inproceedings{{{KEY},")
    end = BIB.index("\n}\n", start) + 3
    return BIB[:start] + f"@{kind}{{{key},\n{body}\n}}\n" + BIB[end:]


BASE = "  title = {T},\n  author = {Doe, Ann},\n  year = {2023}"


def errors(write_data: WriteData, bib: str) -> list[str]:
    cat, problems = check(write_data(bib=bib))
    found = [str(p) for p in problems if p.severity == "error"]
    assert cat is None and found, "expected the data to be rejected"
    return found


def load_ref(write_data: WriteData, bib: str, key: str = KEY) -> Reference:
    cat, problems = check(write_data(bib=bib))
    assert cat is not None, "\n".join(str(p) for p in problems)
    return cat.references[key]


def line_of(bib: str, text: str, *, nth: int = 1) -> int:
    """1-based line of the nth line that contains ``text``."""
    hits = [i + 1 for i, line in enumerate(bib.splitlines()) if text in line]
    return hits[nth - 1]


# --------------------------------------------------------------------------- TeX -> Unicode


@pytest.mark.parametrize(
    ("tex", "text"),
    [
        (r"J{\o}rn", "Jørn"),
        (r"Garc{\'\i}a", "García"),
        (r"{\L}ukasz", "Łukasz"),
        (r"Aky{\"u}rek", "Akyürek"),
        (r"Veli{\v{c}}kovi{\'c}", "Veličković"),
        (r"\textit{Foo} heads", "Foo heads"),
        (r"\emph{Foo} and \texttt{bar}", "Foo and bar"),
        (r"Seen at \url{x.org}", "Seen at x.org"),
        (r"\href{https://x.org}{Heads}: 100% sure", "Heads: 100% sure"),
        (r"\'{E}cole {GPT}-2 \& {BERT}: 1--2", "École GPT-2 & BERT: 1–2"),
        (r"$\alpha$-heads", "α-heads"),
    ],
)
def test_title_tex_is_decoded_to_composed_unicode(write_data: WriteData, tex: str, text: str) -> None:
    ref = load_ref(write_data, entry(f"  title = {{{tex}}},\n  author = {{Doe, Ann}},\n  year = {{2023}}"))
    assert ref.title == text
    assert unicodedata.is_normalized("NFC", ref.title)


@pytest.mark.parametrize(
    ("tex", "surname"),
    [
        (r"S{\o}gaard, Anders", "Søgaard"),
        (r"Garc{\'\i}a-Carrasco, Jorge", "García-Carrasco"),
        (r"{\L}ukasz Kaiser", "Kaiser"),
    ],
)
def test_author_tex_is_decoded(write_data: WriteData, tex: str, surname: str) -> None:
    ref = load_ref(write_data, entry(f"  title = {{T}},\n  author = {{{tex}}},\n  year = {{2023}}"))
    assert ref.first_author == surname
    assert "\\" not in str(ref.authors[0]) and "{" not in str(ref.authors[0])


def test_venue_tex_is_decoded(write_data: WriteData) -> None:
    ref = load_ref(write_data, entry(BASE + ",\n  booktitle = {Proc. of {\\L}{\\'o}d{\\'z} Workshop}"))
    assert ref.venue == "Proc. of Łódź Workshop"


def test_shipped_references_show_no_tex() -> None:
    cat, _ = check()
    assert cat is not None
    for ref in cat.references.values():
        shown = [ref.title, ref.venue or "", *(str(a) for a in ref.authors)]
        assert not any("\\" in s or "{" in s for s in shown), (ref.key, shown)


# --------------------------------------------------------------------------- name lists


@pytest.mark.parametrize(
    ("author", "short", "count"),
    [
        ("Ann Doe and Bob Roe", "Doe & Roe, 2023", 2),  # arXiv's own export: First Last
        ("Doe, Ann and others", "Doe et al., 2023", 1),  # `others` is no co-author
        ("Ann Doe and Bob Roe and others", "Doe et al., 2023", 2),
        ("Ludwig van Beethoven and Bob Roe", "van Beethoven & Roe, 2023", 2),  # First von Last
        ("{Google, Inc.} and King, Jr., Martin Luther", "Google, Inc. & King, 2023", 2),  # corporate; Last, Jr., First
        ("{Barnes and Noble} and Ann Doe", "Barnes and Noble & Doe, 2023", 2),  # braced corporate name
    ],
)
def test_names_follow_bibtex_grammar(write_data: WriteData, author: str, short: str, count: int) -> None:
    ref = load_ref(write_data, entry(f"  title = {{T}},\n  author = {{{author}}},\n  year = {{2023}}"))
    assert ref.short == short
    assert len(ref.authors) == count


def test_name_parts_are_kept(write_data: WriteData) -> None:
    ref = load_ref(write_data, entry(BASE.replace("Doe, Ann", "King, Jr., Martin Luther and Ludwig van Beethoven")))
    king, ludwig = ref.authors
    assert str(king) == "Martin Luther King, Jr." and str(ludwig) == "Ludwig van Beethoven"


def test_unsplittable_name_is_an_error_with_its_line(write_data: WriteData) -> None:
    bib = entry("  title = {T},\n  author = {Doe, Ann, Jr., Extra},\n  year = {2023}")
    (err,) = errors(write_data, bib)
    assert f"references.bib:{line_of(bib, 'Extra')}: @{KEY}: author: cannot split the name" in err
    assert "Last, First" in err


# --------------------------------------------------------------------------- emitted BibTeX


MACROS = """@string{neurips = "Advances in Neural Information Processing Systems"}
@STRING{nips = neurips}

"""


def _standalone_fields(bibtex: str) -> dict[str, str]:
    """The fields of an emitted entry, parsed on its own (no macros, no other entries)."""
    lib = bibtexparser.parse_string(bibtex)  # type: ignore[attr-defined]
    assert not lib.failed_blocks and not lib.strings and len(lib.entries) == 1, bibtex
    return {k: str(f.value) for k, f in lib.entries[0].fields_dict.items()}


@pytest.mark.parametrize(
    ("booktitle", "resolved"),
    [
        ("neurips", "Advances in Neural Information Processing Systems"),
        ("NeurIPS", "Advances in Neural Information Processing Systems"),  # macro names ignore case
        ("nips", "Advances in Neural Information Processing Systems"),  # a macro defined from another
        ('neurips # " 2023"', "Advances in Neural Information Processing Systems 2023"),  # concatenation
        ('"Proc. " # {ICML} # " " # 2023', "Proc. ICML 2023"),
    ],
)
def test_emitted_entry_resolves_macros_and_concatenation(write_data: WriteData, booktitle: str, resolved: str) -> None:
    bib = MACROS + entry(BASE + f",\n  booktitle = {booktitle}")
    ref = load_ref(write_data, bib)
    assert ref.venue == resolved
    assert _standalone_fields(ref.bibtex)["booktitle"] == resolved


def test_emitted_entry_inherits_crossref(write_data: WriteData) -> None:
    parent = (
        "@proceedings{neurips2023,\n  title = {Advances in Neural Information Processing Systems 36},\n"
        "  year = {2023},\n  publisher = {Curran},\n  doi = {10.5555/parent}\n}\n"
    )
    bib = entry("  title = {T},\n  author = {Doe, Ann},\n  crossref = {NeurIPS2023}") + parent
    cat, problems = check(write_data(bib=bib))
    assert not [p for p in problems if p.severity == "error"], problems
    assert cat is not None
    ref = cat.references[KEY]
    fields = _standalone_fields(ref.bibtex)
    assert "crossref" not in fields and "doi" not in fields  # the parent's identifiers are its own
    assert fields["booktitle"] == "Advances in Neural Information Processing Systems 36"
    assert fields["year"] == "2023" and fields["publisher"] == "Curran" and fields["title"] == "T"
    assert ref.venue == "Advances in Neural Information Processing Systems 36" and ref.year == 2023


def test_cite_and_export_emit_self_contained_entries(write_data: WriteData, cache: Path) -> None:
    data = write_data(bib=MACROS + entry(BASE + ',\n  booktitle = neurips # " 2023"'))
    runner = CliRunner()
    for args in (["cite", "induction-head"], ["export", "--format", "bibtex"]):
        result = runner.invoke(app, ["--data", str(data), *args])
        assert result.exit_code == 0, result.output
        lib = bibtexparser.parse_string(result.output)  # type: ignore[attr-defined]
        assert not lib.failed_blocks and not lib.strings
        wang = lib.entries_dict[KEY]
        assert wang["booktitle"] == "Advances in Neural Information Processing Systems 2023"


@pytest.mark.parametrize(
    ("body", "fragment", "marker"),
    [
        (BASE + ",\n  booktitle = neurips", "@string macro 'neurips' is not defined", "neurips"),
        (BASE + ",\n  booktitle = {A} # ", "empty or ends in `#`", "booktitle = {A}"),
        (BASE + ",\n  crossref = {nowhere}", "crossref 'nowhere' names no entry", "crossref"),
    ],
)
def test_unresolvable_value_is_one_error_at_its_line(
    write_data: WriteData, body: str, fragment: str, marker: str
) -> None:
    bib = entry(body)
    (err,) = errors(write_data, bib)  # and no "unknown cite key" for the evidence citing it
    assert fragment in err
    assert f"references.bib:{line_of(bib, marker)}: @{KEY}:" in err


# --------------------------------------------------------------------------- identity


def test_keys_differing_only_in_case_are_one_key(write_data: WriteData) -> None:
    bib = BIB + "\n@misc{Olsson2022InContext,\n  title = {Another},\n  author = {Roe, Bob},\n  year = {2022}\n}\n"
    (err,) = errors(write_data, bib)
    assert f"references.bib:{line_of(bib, '@misc{Olsson2022InContext')}: @Olsson2022InContext:" in err
    assert "only in case" in err and "'olsson2022incontext'" in err


@pytest.mark.parametrize(
    ("extra", "what"),
    [
        ("  title = {Something else},\n  eprint = {2209.11895},\n  archiveprefix = {arXiv}", "arXiv id"),
        ("  title = {Something else},\n  eprint = {arXiv:2209.11895v3}", "arXiv id"),
        ("  title = {In-Context Learning and {I}nduction Heads}", "title"),
        ("  title = {Something else},\n  doi = {10.1000/XYZ}", "DOI"),
    ],
)
def test_one_work_one_key(write_data: WriteData, extra: str, what: str) -> None:
    bib = BIB.replace("  archiveprefix = {arXiv}\n}", "  archiveprefix = {arXiv},\n  doi = {10.1000/xyz}\n}", 1)
    bib += f"\n@misc{{olsson2022again,\n{extra},\n  author = {{Roe, Bob}},\n  year = {{2022}}\n}}\n"
    heads = [
        make_head(),
        make_prev(evidence=[{"cite": "olsson2022again", "method": "scoring", "source": "x", "source_kind": "body"}]),
    ]
    cat, problems = check(write_data(bib=bib, heads=heads))
    errs = [str(p) for p in problems if p.severity == "error"]
    assert cat is None and len(errs) == 1, errs
    assert f"references.bib:{line_of(bib, '@misc{olsson2022again')}: @olsson2022again: same work as @" in errs[0]
    assert what in errs[0]


# --------------------------------------------------------------------------- failures: own messages, no cascade


@pytest.mark.parametrize(
    ("bib", "fragment", "marker"),
    [
        (entry(BASE + ",\n  title = {Again}"), "field 'title' is given twice", "{Again}"),
        (entry(BASE + ",\n  Title = {Again}"), "field 'title' is given twice", "{Again}"),
        (
            BIB + f"\n@misc{{{KEY}, title={{Again}}, author={{X}}, year={{2022}}}}\n",
            f"duplicate key '{KEY}' (first used on line",
            "Again",
        ),
        (entry("  title = {Unclosed,\n  author = {Doe, Ann},\n  year = {2023}"), "BibTeX syntax error", f"{{{KEY},"),
        (entry("  title = {T}\n  author = {Doe, Ann},\n  year = {2023}"), "a comma is missing", "title = {T}"),
        (entry("  title = {T},\n  author {Doe, Ann},\n  year = {2023}"), "not followed by `=`", f"{{{KEY},"),
    ],
    ids=["duplicate-field", "duplicate-field-case", "duplicate-key", "unclosed", "missing-comma", "missing-equals"],
)
def test_each_failure_kind_has_its_own_message_and_no_cascade(
    write_data: WriteData, bib: str, fragment: str, marker: str
) -> None:
    found = errors(write_data, bib)
    assert len(found) == 1, found  # no "unknown cite key" for evidence citing the rejected entry
    (err,) = found
    assert fragment in err
    assert f"references.bib:{line_of(bib, marker)}:" in err
    assert "failed_block" not in err and "ignore_error_block" not in err and "Traceback" not in err


def test_rejected_entry_key_is_known_to_the_taxonomy_too(write_data: WriteData) -> None:
    bib = BIB.replace("  journal = {Patterns},", "  journal = {Patterns},\n  journal = {Patterns again},")
    found = errors(write_data, bib)
    assert len(found) == 1 and "field 'journal' is given twice" in found[0], found


def test_undefined_macro_in_a_string_is_one_error(write_data: WriteData) -> None:
    bib = "@string{ven = nowhere # { 2023}}\n" + entry(BASE + ",\n  booktitle = ven")
    (err,) = errors(write_data, bib)  # the entry using `ven` is not an error too
    assert "references.bib:1: @string ven: @string macro 'nowhere' is not defined" in err


def test_duplicate_string_macro_is_named(write_data: WriteData) -> None:
    bib = '@string{ven = "A"}\n@string{ven = "B"}\n' + BIB
    (err,) = errors(write_data, bib)
    assert "references.bib:2: @string ven: macro 'ven' is defined twice (first on line 1)" in err


def test_text_left_outside_an_entry_is_pointed_at(write_data: WriteData) -> None:
    bib = entry("  title = {T}},\n  author = {Doe, Ann},\n  year = {2023}")  # one `}` too many closes it early
    _, problems = check(write_data(bib=bib))
    stray = [str(p) for p in problems if "outside any entry" in p.message]
    assert stray and f"references.bib:{line_of(bib, 'author = {Doe, Ann}')}:" in stray[0]
    assert "closes too early" in stray[0]


def test_validate_reports_bibtex_errors_without_traceback(write_data: WriteData) -> None:
    data = write_data(bib=entry(BASE + ",\n  title = {Again}"))
    env = {**os.environ, "HEADS_DATA_DIR": str(data)}
    proc = subprocess.run(
        [sys.executable, "-m", "catalogue", "validate"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "field 'title' is given twice" in out and "Traceback" not in out and "unknown cite key" not in out


# --------------------------------------------------------------------------- biblatex


def test_biblatex_date_stands_for_year(write_data: WriteData) -> None:
    ref = load_ref(write_data, entry("  title = {T},\n  author = {Doe, Ann},\n  date = {2023-05-01}"))
    assert ref.year == 2023


def test_biblatex_bad_date_is_explained(write_data: WriteData) -> None:
    bib = entry("  title = {T},\n  author = {Doe, Ann},\n  date = {May 2023}")
    (err,) = errors(write_data, bib)
    assert f"references.bib:{line_of(bib, 'May 2023')}: @{KEY}: date:" in err and "2024-05-01" in err


def test_biblatex_journaltitle_is_the_venue(write_data: WriteData) -> None:
    ref = load_ref(write_data, entry(BASE + ",\n  journaltitle = {Patterns}", kind="article"))
    assert ref.venue == "Patterns"


def test_biblatex_eprinttype_other_than_arxiv_is_not_an_arxiv_id(write_data: WriteData) -> None:
    ref = load_ref(write_data, entry(BASE + ",\n  eprint = {12345678},\n  eprinttype = {pubmed}"))
    assert ref.eprint is None


@pytest.mark.parametrize("written", ["arXiv:2211.00593v2", "2211.00593v1", "arxiv:2211.00593"])
def test_arxiv_id_is_normalised(write_data: WriteData, written: str) -> None:
    ref = load_ref(write_data, entry(BASE + f",\n  eprint = {{{written}}},\n  eprinttype = {{arxiv}}"))
    assert ref.eprint == "2211.00593"


def test_doi_url_is_normalised(write_data: WriteData) -> None:
    ref = load_ref(write_data, entry(BASE + ",\n  doi = {https://doi.org/10.18653/v1/W19-4828}"))
    assert ref.doi == "10.18653/v1/W19-4828"


# --------------------------------------------------------------------------- messages never show a regex


def _message(model: Any, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return " ".join(e["msg"] for e in info.value.errors())


def _ref(**overrides: Any) -> dict[str, Any]:
    return {
        "key": "k",
        "entry_type": "misc",
        "title": "T",
        "authors": [{"last": "Doe"}],
        "year": 2023,
        "bibtex": "x",
    } | overrides


@pytest.mark.parametrize(
    ("model", "data", "example"),
    [
        (HeadType, make_head(id="Induction_Head"), "induction-head"),
        (HeadType, make_head(id="x" * 81), "induction-head"),
        (
            Evidence,
            {"cite": "bad key!", "method": "scoring", "source": "s", "source_kind": "body"},
            "wang2022interpretability",
        ),
        (
            Evidence,
            {"cite": "k", "model": "GPT2 Small", "method": "scoring", "source": "s", "source_kind": "body"},
            "gpt2-small",
        ),
        (Reference, _ref(eprint="22.09"), "2211.00593"),
        (Reference, _ref(doi="doi.org/x"), "10."),
        (Reference, _ref(key="a b"), "wang2022interpretability"),
    ],
)
def test_identifier_errors_say_what_is_expected_not_the_pattern(model: Any, data: dict[str, Any], example: str) -> None:
    msg = _message(model, data)
    assert example in msg and ("e.g." in msg or "like" in msg)
    assert "pattern" not in msg and "^" not in msg and "\\d" not in msg and "[a-z" not in msg


def test_bad_eprint_in_bib_says_what_is_expected(write_data: WriteData) -> None:
    bib = entry(BASE + ",\n  eprint = {22.09}")
    (err,) = errors(write_data, bib)
    assert f"references.bib:{line_of(bib, '22.09')}: @{KEY}: eprint:" in err
    assert "2211.00593" in err and "pattern" not in err and "\\d" not in err


# --------------------------------------------------------------------------- cold start


def test_show_imports_neither_bibtexparser_nor_pylatexenc(write_data: WriteData, tmp_path: Path) -> None:
    env = {**os.environ, "HEADS_DATA_DIR": str(write_data()), "HEADS_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "catalogue"]
    assert subprocess.run([*cmd, "validate"], env=env, capture_output=True, timeout=60).returncode == 0
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "catalogue", "show", "induction-head"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "bibtexparser" not in proc.stderr and "pylatexenc" not in proc.stderr
