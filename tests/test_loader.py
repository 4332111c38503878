"""Loading reports every bad input with file:line, and never half-loads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue.errors import CatalogueError
from catalogue.loader import MAX_BYTES, check, load
from catalogue.schema import HeadType
from tests.conftest import WriteData
from tests.helpers import BIB, GOOD_REREAD, MODELS, make_head, make_prev


def _errors(path: Path) -> list[str]:
    cat, problems = check(path)
    errors = [str(p) for p in problems if p.severity == "error"]
    assert cat is None and errors, "expected the data to be rejected"
    return errors


def test_valid_data_loads(write_data: WriteData) -> None:
    cat = load(write_data())
    assert set(cat.heads) == {"induction-head", "previous-token-head"}
    assert cat.resolve("Statistical Induction Heads").id == "induction-head"
    assert cat.model("GPT2").id == "gpt2-small"


def test_malformed_yaml_names_line(write_data: WriteData) -> None:
    d = write_data(head_texts={"a-head": "id: a-head\nname: [unclosed\n"})
    (err,) = _errors(d)
    assert "heads/a-head.yaml:3:" in err or "heads/a-head.yaml:2:" in err
    assert "YAML error" in err


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("name: Induction head", "name:\tInduction head", "a tab after `name:`: replace the tab with a space"),
        ("- cite: olsson2022incontext", "- cite:\tolsson2022incontext", "a tab after `cite:`"),
        ("in_survey: true", "\tin_survey: true", "a tab in the indentation: indent with spaces only"),
        ("in_survey: true", "in_survey true", "no ':' after the key in 'in_survey true'"),
        ("summary: Completes", "summary Completes", "no ':' after the key"),
    ],
    ids=["tab-after-key", "tab-after-nested-key", "tab-indent", "missing-colon", "missing-colon-2"],
)
def test_yaml_error_is_clear_and_on_the_right_line(write_data: WriteData, old: str, new: str, fragment: str) -> None:
    """A tab after `key:` and a missing `:` are named as such, on the line that holds them (PyYAML alone
    reports a missing colon one line late, and yaml-rs a tab as a bare parse error)."""
    text = yaml.safe_dump(make_head(), sort_keys=False, width=1000)
    assert old in text
    bad = text.replace(old, new, 1)
    line = bad[: bad.index(new)].count("\n") + 1
    (err,) = _errors(write_data(head_texts={"induction-head": bad, "previous-token-head": yaml.safe_dump(make_prev())}))
    assert f"induction-head.yaml:{line}: " in err
    assert fragment in err


def test_every_error_reported_at_once_with_lines(write_data: WriteData) -> None:
    bad = make_head(
        evidence=[{"cite": "nobody2020", "model": "gpt5", "method": "scoring", "source": "x", "source_kind": "body"}]
    )
    d = write_data(heads=[bad, make_prev(related=[{"kind": "feeds", "head": "ghost-head"}])])
    errors = _errors(d)
    text = "\n".join(errors)
    assert "unknown cite key 'nobody2020'" in text
    assert "unknown model 'gpt5'" in text
    assert "unknown head type 'ghost-head'" in text
    for err in errors:
        file, lineno = err.split(":")[:2]
        assert 1 <= int(lineno) <= len(Path(file).read_text().splitlines())
    cite_err = next(e for e in errors if "nobody2020" in e)
    assert cite_err.startswith(str(d / "heads" / "induction-head.yaml"))
    lines = (d / "heads" / "induction-head.yaml").read_text().splitlines()
    assert "nobody2020" in lines[int(cite_err.split(":")[1]) - 1]
    ghost = next(e for e in errors if "ghost-head" in e)
    assert ghost.startswith(str(d / "heads" / "previous-token-head.yaml"))


def test_pydantic_error_points_at_field_line(write_data: WriteData) -> None:
    d = write_data(heads=[make_head(stages=[{"stage": "thinking", "placed_by": "survey"}]), make_prev()])
    (err,) = _errors(d)
    lineno = int(err.split(":")[1])
    assert "thinking" in (d / "heads" / "induction-head.yaml").read_text().splitlines()[lineno - 1]
    assert " stages[0].stage:" in err


def test_unknown_field_is_named(write_data: WriteData) -> None:
    d = write_data(heads=[make_head(colour="red"), make_prev()])
    (err,) = _errors(d)
    assert "colour: unknown field" in err


@pytest.mark.parametrize(
    ("heads", "fragment"),
    [
        ([make_head(), make_prev(check="induction")], "check 'induction' already serves 'induction-head'"),
        (
            [make_head(evidence=[make_head()["evidence"][1], make_head()["evidence"][1]]), make_prev()],
            "the same evidence as evidence[0]",
        ),
        (
            [
                make_head(),
                make_prev(
                    evidence=[
                        {
                            "cite": "wang2022interpretability",
                            "method": "scoring",
                            "source": "x",
                            "source_kind": "body",
                            "reproduced": {
                                "check": "induction",
                                "model": "gpt2-small",
                                "score": 0.5,
                                "threshold": 0.4,
                                "version": "0.1.0",
                            },
                        }
                    ]
                ),
            ],
            "check 'induction' does not serve previous-token-head",
        ),
        ([make_head(), make_prev(aliases=["Induction Head"])], "already used by 'induction-head'"),
        (
            [
                make_head(),
                make_prev(
                    evidence=[
                        {
                            "cite": "wang2022interpretability",
                            "model": "gpt2-small",
                            "locations": ["L12H0"],
                            "method": "scoring",
                            "source": "x",
                            "source_kind": "body",
                        }
                    ]
                ),
            ],
            "L12H0 is outside gpt2-small",
        ),
        (
            [
                make_head(),
                make_prev(
                    evidence=[
                        {
                            "cite": "wang2022interpretability",
                            "model": "gpt2-small",
                            "locations": ["L0H12"],
                            "method": "scoring",
                            "source": "x",
                            "source_kind": "body",
                        }
                    ]
                ),
            ],
            "L0H12 is outside gpt2-small",
        ),
    ],
)
def test_cross_reference_errors(write_data: WriteData, heads: list[dict[str, object]], fragment: str) -> None:
    assert any(fragment in e for e in _errors(write_data(heads=heads)))


def test_alias_bomb_rejected_quickly(write_data: WriteData) -> None:
    bomb = (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
        + "heads: *i\n"
    )
    (err,) = _errors(write_data(head_texts={"x-head": bomb}))
    assert "anchors and aliases" in err
    assert 1 <= int(err.split(":")[1]) <= 10


def test_duplicate_mapping_key_rejected(write_data: WriteData) -> None:
    (err,) = _errors(write_data(head_texts={"x-head": "id: x-head\nid: x-head\n"}))
    assert "duplicate key 'id'" in err and "x-head.yaml:2:" in err


def test_custom_tag_rejected(write_data: WriteData) -> None:
    (err,) = _errors(write_data(head_texts={"x-head": "id: !!python/object:os.system []\n"}))
    assert "x-head.yaml:1:" in err


def test_huge_file_rejected_without_reading(write_data: WriteData) -> None:
    d = write_data()
    with open(d / "heads" / "induction-head.yaml", "ab") as f:
        f.truncate(MAX_BYTES + 1)
    (err,) = _errors(d)
    assert "over the" in err and "MiB limit" in err


def test_non_utf8_names_line(write_data: WriteData) -> None:
    d = write_data()
    f = d / "heads" / "induction-head.yaml"
    raw = f.read_bytes().replace(b"Completes", b"Compl\xe9tes", 1)
    f.write_bytes(raw)
    (err,) = _errors(d)
    line = raw[: raw.index(b"\xe9")].count(b"\n") + 1
    assert f"induction-head.yaml:{line}: byte 0xe9 is not UTF-8" in err


def test_nul_byte_is_an_error_not_a_truncation(write_data: WriteData) -> None:
    """A NUL byte must not end the reading early: an invalid field after it would pass unseen."""
    d = write_data()
    f = d / "heads" / "induction-head.yaml"
    f.write_bytes(f.read_bytes().replace(b"check: induction", b"check: induction\n\x00\ncolour: red", 1))
    (err,) = _errors(d)
    line = f.read_bytes()[: f.read_bytes().index(b"\x00")].count(b"\n") + 1
    assert f"induction-head.yaml:{line}: the file holds a NUL byte" in err


@pytest.mark.parametrize(
    "text",
    [
        "id: x-head\nname:\n" + "".join(" " * i + "- \n" for i in range(400)),
        "id: x-head\nname: " + "[" * 11_400 + "]" * 11_400 + "\n",
        "id: x-head\nname:\n" + "- " * 5_000 + "x\n",
    ],
    ids=["block", "flow", "compact"],
)
def test_deep_nesting_is_an_error_with_a_line(write_data: WriteData, text: str) -> None:
    """Deeply nested YAML crashed the parsers (segmentation fault); it is refused before parsing."""
    errors = _errors(write_data(head_texts={"x-head": text}))
    assert any("x-head.yaml:" in e and "nesting deeper than" in e for e in errors)


def test_file_name_must_be_the_id(write_data: WriteData) -> None:
    d = write_data()
    (d / "heads" / "induction-head.yaml").rename(d / "heads" / "induct.yaml")
    assert any("induct.yaml:" in e and "does not match the file name 'induct.yaml'" in e for e in _errors(d))


def test_yml_suffix_refused(write_data: WriteData) -> None:
    d = write_data()
    (d / "heads" / "induction-head.yaml").rename(d / "heads" / "induction-head.yml")
    assert any("end in .yaml" in e for e in _errors(d))


@pytest.mark.parametrize("missing", ["models.yaml", "taxonomy.yaml", "references.bib"])
def test_missing_file(write_data: WriteData, missing: str) -> None:
    d = write_data()
    (d / missing).unlink()
    assert any(missing in e and "file not found" in e for e in _errors(d))


def test_missing_heads_folder(write_data: WriteData) -> None:
    d = write_data()
    shutil.rmtree(d / "heads")
    assert any("heads" in e and "folder not found" in e for e in _errors(d))


def test_empty_or_wrong_top_level(write_data: WriteData) -> None:
    assert any("file is empty" in e for e in _errors(write_data(head_texts={"x-head": ""})))
    assert any("a mapping of the head type" in e for e in _errors(write_data(head_texts={"x-head": "- id: x\n"})))


def test_malformed_bibtex_names_line(write_data: WriteData) -> None:
    bib = BIB + "\n@article{broken2020,\n  title = {Unclosed\n  year = 2020\n\n@misc{other2021, title={x}}\n"
    errors = _errors(write_data(bib=bib))
    line = bib.splitlines().index("@article{broken2020,") + 1
    assert any(f"references.bib:{line}: @broken2020: BibTeX syntax error" in e for e in errors)


def test_bibtex_duplicate_key_and_missing_fields(write_data: WriteData) -> None:
    bib = (
        BIB + "\n@misc{wang2022interpretability, title={Again}, author={X}, year={2022}}\n@misc{nofields, title={T}}\n"
    )
    text = "\n".join(_errors(write_data(bib=bib)))
    assert "duplicate key 'wang2022interpretability'" in text
    assert "@nofields: missing field(s) author, year" in text


def test_bad_arxiv_id_rejected(write_data: WriteData) -> None:
    bib = BIB.replace("2209.11895", "22.09")
    assert any("eprint" in e for e in _errors(write_data(bib=bib)))


def test_uncited_reference_is_a_warning(write_data: WriteData) -> None:
    bib = BIB + "\n@misc{lonely2020, title={Lonely}, author={Doe, J}, year={2020}}\n"
    cat, problems = check(write_data(bib=bib))
    assert cat is not None
    assert [p.where for p in problems if p.severity == "warning"] == ["@lonely2020"]


def test_model_dims_need_source(write_data: WriteData) -> None:
    models = [{**MODELS[0], "source": None}, MODELS[1]]
    assert any("need a `source:`" in e for e in _errors(write_data(models=models)))


def test_load_raises_with_all_problems(write_data: WriteData) -> None:
    d = write_data(
        heads=[
            make_head(
                evidence=[
                    {"cite": "x1", "method": "scoring", "source": "s", "source_kind": "body"},
                    {"cite": "x2", "method": "scoring", "source": "s", "source_kind": "body"},
                ]
            )
        ]
    )
    with pytest.raises(CatalogueError) as info:
        load(d)
    assert len(info.value.problems) >= 3  # two unknown keys + unknown related head


def test_yaml_written_by_safe_dump_round_trips(write_data: WriteData) -> None:
    d = write_data()
    cat = load(d)
    for h in cat.heads.values():
        doc = yaml.safe_load((d / "heads" / f"{h.id}.yaml").read_text())
        assert h.model_dump(mode="json", exclude_defaults=True) == HeadType.model_validate(doc).model_dump(
            mode="json", exclude_defaults=True
        )


def test_public_load_is_the_function_even_after_the_module_is_imported(write_data: WriteData) -> None:
    import catalogue.loader  # noqa: F401 - importing the submodule must not shadow catalogue.load
    from catalogue import load as public_load

    assert callable(public_load)
    assert set(public_load(str(write_data())).heads) == {"induction-head", "previous-token-head"}


def test_catalogue_digest_is_the_files_digest(write_data: WriteData) -> None:
    """The hash of the bytes validated equals the hash a query computes from disk, so the index
    that `heads validate` builds is the one the next query opens."""
    from catalogue.paths import data_paths

    d = write_data()
    assert load(d).digest == data_paths(d).digest()


def test_a_broken_models_file_does_not_cascade(write_data: WriteData) -> None:
    """models.yaml that does not parse is one error at its own line, not an unknown model per evidence record."""
    d = write_data()
    (d / "models.yaml").write_text("models:\n- id: gpt2-small\n  source: a: b\n")
    errors = _errors(d)
    assert any("models.yaml:3:" in e for e in errors), errors
    assert not any("unknown model" in e for e in errors), errors


def _too_deep_reference(text: str) -> int | None:
    """The nesting rule written line by line (the loader's own version scans with two regexes)."""
    from catalogue.loader import MAX_DEPTH

    depth = 0
    for i, line in enumerate(text.split("\n"), start=1):
        if len(line) - len(line.lstrip(" -?:\t")) > MAX_DEPTH:
            return i
        for c in line:
            if c in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return i
            elif c in "]}":
                depth = max(0, depth - 1)
    return None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 230), st.sampled_from([" ", "-", "- ", "\t", "?", ":"]), st.text("[[[{]}x:, ", max_size=260)
        ),
        max_size=6,
    )
)
def test_nesting_check_finds_the_first_deep_line(parts: list[tuple[int, str, str]]) -> None:
    from catalogue.loader import _too_deep

    text = "\n".join(pad * n + rest for n, pad, rest in parts)
    assert _too_deep(text) == _too_deep_reference(text)


# --------------------------------------------------------------------------- audit.yaml (second readings)
def test_rereads_load_by_evidence_id(write_data: WriteData) -> None:
    d = write_data()
    (d / "audit.yaml").write_text(GOOD_REREAD)
    cat = load(d)
    assert cat.rereads["ev-inductaa"].outcome == "matched"
    assert str(cat.rereads["ev-inductaa"].date) == "2026-12-01"


def test_the_audit_file_is_optional(write_data: WriteData) -> None:
    assert load(write_data()).rereads == {}


@pytest.mark.parametrize(
    ("old", "new", "line", "fragment"),
    [
        ("id: ev-inductaa", "id: ev-unknowna", 2, "unknown evidence id 'ev-unknowna'"),
        ("outcome: matched", "outcome: agreed", 6, "outcome"),
        ("outcome: matched", "outcome: corrected", 2, "needs a `note:` saying what was changed"),
        ("heads: 4", "heads: -1", 5, "heads"),
        ("date: 2026-12-01", "date: yesterday", 3, "write the date as YYYY-MM-DD"),
        ("date: 2026-12-01", "date: 2026-13-02", 3, "write the date as YYYY-MM-DD"),
        ("heads: 4", "heads: four", 5, "write a whole number"),
        ("outcome: matched\n", "outcome: matched\n    by: me\n", 7, "the fields are id, date, read, heads"),
        ("read: Section 3.3, Figure 2", "read:\tSection 3.3", 4, "a tab after `read:`"),
        ("read: Section 3.3, Figure 2", "read: the paper", 4, "so that someone else can open it too"),
    ],
    ids=[
        "unknown-id",
        "bad-outcome",
        "correction-without-note",
        "negative-heads",
        "bad-date",
        "impossible-date",
        "heads-in-words",
        "extra-key",
        "tab",
        "no-pointer",
    ],
)
def test_a_bad_reread_is_named_with_its_line(
    write_data: WriteData, old: str, new: str, line: int, fragment: str
) -> None:
    d = write_data()
    (d / "audit.yaml").write_text(GOOD_REREAD.replace(old, new))
    errors = _errors(d)
    assert any(f"audit.yaml:{line}:" in e and fragment in e for e in errors), errors


def test_a_record_reread_twice_is_an_error(write_data: WriteData) -> None:
    d = write_data()
    (d / "audit.yaml").write_text(GOOD_REREAD + GOOD_REREAD.removeprefix("rereads:\n"))
    assert any("audit.yaml:7:" in e and "re-read twice (also at line 2)" in e for e in _errors(d))


def test_a_reread_of_a_record_without_heads_is_refused(write_data: WriteData) -> None:
    d = write_data()
    (d / "audit.yaml").write_text(GOOD_REREAD.replace("ev-inductaa", "ev-inductab").replace("heads: 4", "heads: 0"))
    assert any("audit.yaml:2:" in e and "places no heads" in e for e in _errors(d))


def test_a_record_changed_since_its_reread_is_a_warning(write_data: WriteData) -> None:
    d = write_data()
    (d / "audit.yaml").write_text(GOOD_REREAD.replace("heads: 4", "heads: 3"))
    cat, problems = check(d)
    assert cat is not None
    (warning,) = problems.warnings
    assert "audit.yaml:5:" in str(warning) and "it has 4 now" in str(warning)
    assert problems.has_errors(strict=True)


def test_an_audit_without_its_list_says_what_to_write(write_data: WriteData) -> None:
    d = write_data()
    (d / "audit.yaml").write_text("- id: ev-inductaa\n")
    (err,) = _errors(d)
    assert "audit.yaml:1:" in err and "`rereads:`" in err
