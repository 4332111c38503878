"""The index is rebuilt from validated data when the data changes, atomically, and round-trips objects."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import WriteData, make_head, make_prev
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue import query
from catalogue.db import build
from catalogue.errors import CatalogueError
from catalogue.index import Index, cache_dir
from catalogue.loader import load
from catalogue.paths import data_paths


def test_index_answers_and_is_cached(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    first = Index.open(data_paths(d))
    assert first.path.parent == cache
    assert query.show(first, "induction").id == "induction-head"
    again = Index.open(data_paths(d))
    assert again.path == first.path
    assert len(list(cache.glob("index-*.sqlite"))) == 1


def test_edit_rebuilds_never_stale(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    before = Index.open(data_paths(d))
    assert query.show(before, "induction-head").summary.startswith("Completes")
    write_data(heads=[make_head(summary="Changed summary."), make_prev()])
    after = Index.open(data_paths(d))
    assert after.path != before.path
    assert query.show(after, "induction-head").summary == "Changed summary."
    assert not before.path.exists(), "the stale index is removed"


def test_bib_edit_rebuilds(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    old = Index.open(data_paths(d)).path
    (d / "references.bib").write_text((d / "references.bib").read_text().replace("In-context Learning", "ICL"))
    new = Index.open(data_paths(d))
    assert new.path != old
    assert any(r.title.startswith("ICL") for r in query.references(new))


def test_invalid_data_keeps_old_index_and_writes_nothing(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    good = Index.open(data_paths(d)).path
    write_data(heads_text="heads: [")
    with pytest.raises(CatalogueError):
        Index.open(data_paths(d))
    assert good.exists()
    assert sorted(p.name for p in cache.iterdir()) == [good.name], "no temp or partial file left"


def test_build_failure_leaves_no_partial_file(
    write_data: WriteData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = load(write_data())
    target = tmp_path / "out" / "index.sqlite"

    def boom(*_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("catalogue.db._fill", boom)
    with pytest.raises(RuntimeError):
        build(cat, target)
    assert list(target.parent.iterdir()) == []


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HEADS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "attention-head-catalogue"
    monkeypatch.setenv("HEADS_CACHE_DIR", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "opt") == tmp_path / "opt"


_text = (
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    summary=_text,
    aliases=st.lists(_text, max_size=3, unique_by=lambda s: s.lower()),
    locs=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=6, unique=True),
    value=st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32)),
)
def test_yaml_to_index_round_trip(
    write_data: WriteData,
    tmp_path: Path,
    summary: str,
    aliases: list[str],
    locs: list[tuple[int, int]],
    value: float | None,
) -> None:
    aliases = [a for a in aliases if a.lower().strip() not in ("previous-token head", "prev-token head")]
    ev = {
        "cite": "wang2022interpretability",
        "model": "gpt2-small",
        "locations": [f"L{a}H{b}" for a, b in locs],
        "method": "scoring",
        "source": "Table 1",
    }
    if value is not None:
        ev.update(metric="score", value=value)
    head = make_head(summary=summary, aliases=aliases, evidence=[ev])
    d = write_data(heads_text=yaml.safe_dump({"heads": [head, make_prev()]}, allow_unicode=True))
    try:
        cat = load(d)
    except CatalogueError:
        return  # e.g. a generated alias that normalizes onto another head's name
    idx = Index.open(data_paths(d), cache=tmp_path / "rt", rebuild=True)
    for h in cat.heads.values():
        assert query.show(idx, h.id) == h
    assert {h.id: h for h in query.all_heads(idx)} == cat.heads
    idx.dispose()
