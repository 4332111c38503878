"""Loading reports every bad input with file:line, and never half-loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import BIB, MODELS, WriteData, make_head, make_prev

from catalogue.errors import CatalogueError
from catalogue.loader import MAX_BYTES, check, load


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
    d = write_data(heads_text="heads:\n  - id: a-head\n    name: [unclosed\n")
    (err,) = _errors(d)
    assert "heads.yaml:4:" in err or "heads.yaml:3:" in err
    assert "YAML error" in err


def test_every_error_reported_at_once_with_lines(write_data: WriteData) -> None:
    bad = make_head(evidence=[{"cite": "nobody2020", "model": "gpt5", "method": "scoring", "source": "x"}])
    d = write_data(heads=[bad, make_prev(related=[{"kind": "feeds", "head": "ghost-head"}])])
    errors = _errors(d)
    text = "\n".join(errors)
    assert "unknown cite key 'nobody2020'" in text
    assert "unknown model 'gpt5'" in text
    assert "unknown head type 'ghost-head'" in text
    lines = (d / "heads.yaml").read_text().splitlines()
    for err in errors:
        lineno = int(err.split(":")[1])
        assert 1 <= lineno <= len(lines)
    cite_err = next(e for e in errors if "nobody2020" in e)
    assert "nobody2020" in lines[int(cite_err.split(":")[1]) - 1]


def test_pydantic_error_points_at_field_line(write_data: WriteData) -> None:
    d = write_data(heads=[make_head(stages=[{"stage": "thinking", "placed_by": "survey"}]), make_prev()])
    (err,) = _errors(d)
    lineno = int(err.split(":")[1])
    assert "thinking" in (d / "heads.yaml").read_text().splitlines()[lineno - 1]
    assert "heads[0] (induction-head).stages[0].stage" in err


def test_unknown_field_is_named(write_data: WriteData) -> None:
    d = write_data(heads=[make_head(colour="red"), make_prev()])
    (err,) = _errors(d)
    assert "colour: unknown field" in err


@pytest.mark.parametrize(
    ("heads", "fragment"),
    [
        ([make_head(), make_head()], "duplicate id 'induction-head'"),
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
    (err,) = _errors(write_data(heads_text=bomb))
    assert "anchors and aliases" in err
    assert 1 <= int(err.split(":")[1]) <= 10


def test_duplicate_mapping_key_rejected(write_data: WriteData) -> None:
    (err,) = _errors(write_data(heads_text="heads: []\nheads: []\n"))
    assert "duplicate key 'heads'" in err and ":2:" in err


def test_custom_tag_rejected(write_data: WriteData) -> None:
    (err,) = _errors(write_data(heads_text="heads: !!python/object:os.system []\n"))
    assert "heads.yaml:1:" in err


def test_huge_file_rejected_without_reading(write_data: WriteData) -> None:
    d = write_data()
    with open(d / "heads.yaml", "ab") as f:
        f.truncate(MAX_BYTES + 1)
    (err,) = _errors(d)
    assert "over the" in err and "MiB limit" in err


def test_non_utf8_names_line(write_data: WriteData) -> None:
    d = write_data()
    raw = (d / "heads.yaml").read_bytes().replace(b"Completes", b"Compl\xe9tes", 1)
    (d / "heads.yaml").write_bytes(raw)
    (err,) = _errors(d)
    line = raw[: raw.index(b"\xe9")].count(b"\n") + 1
    assert f"heads.yaml:{line}: byte 0xe9 is not UTF-8" in err


@pytest.mark.parametrize("missing", ["heads.yaml", "models.yaml", "taxonomy.yaml", "references.bib"])
def test_missing_file(write_data: WriteData, missing: str) -> None:
    d = write_data()
    (d / missing).unlink()
    assert any(missing in e and "file not found" in e for e in _errors(d))


def test_empty_or_wrong_top_level(write_data: WriteData) -> None:
    assert any("file is empty" in e for e in _errors(write_data(heads_text="")))
    assert any("`heads:` list" in e for e in _errors(write_data(heads_text="- id: x\n")))


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
    models = [dict(MODELS[0], source=None), MODELS[1]]
    assert any("need a `source:`" in e for e in _errors(write_data(models=models)))


def test_load_raises_with_all_problems(write_data: WriteData) -> None:
    d = write_data(
        heads=[
            make_head(
                evidence=[
                    {"cite": "x1", "method": "scoring", "source": "s"},
                    {"cite": "x2", "method": "scoring", "source": "s"},
                ]
            )
        ]
    )
    with pytest.raises(CatalogueError) as info:
        load(d)
    assert len(info.value.problems) >= 3  # two unknown keys + unknown related head


def test_yaml_written_by_safe_dump_round_trips(write_data: WriteData) -> None:
    d = write_data()
    doc = yaml.safe_load((d / "heads.yaml").read_text())
    cat = load(d)
    assert [h["id"] for h in doc["heads"]] == list(cat.heads)


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
