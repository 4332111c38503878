"""The index is rebuilt from validated data when the data changes, atomically, and round-trips objects."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue import query
from catalogue.db import build
from catalogue.errors import CatalogueError
from catalogue.index import Index
from catalogue.loader import load
from catalogue.paths import cache_dir, data_paths
from catalogue.schema import HeadType
from tests.conftest import WriteData
from tests.helpers import make_head, make_prev


def test_index_answers_and_is_cached(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    first = Index.open(data_paths(d))
    assert first.path.parent == cache
    assert query.show(first, "induction")["id"] == "induction-head"
    again = Index.open(data_paths(d))
    assert again.path == first.path
    assert len(list(cache.glob("index-*.sqlite"))) == 1


def test_edit_rebuilds_never_stale(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    before = Index.open(data_paths(d))
    assert query.show(before, "induction-head")["summary"].startswith("Completes")
    write_data(heads=[make_head(summary="Changed summary."), make_prev()])
    after = Index.open(data_paths(d))
    assert after.path != before.path
    assert query.show(after, "induction-head")["summary"] == "Changed summary."
    assert not before.path.exists(), "the stale index is removed"


def test_bib_edit_rebuilds(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    old = Index.open(data_paths(d)).path
    (d / "references.bib").write_text((d / "references.bib").read_text().replace("In-context Learning", "ICL"))
    new = Index.open(data_paths(d))
    assert new.path != old
    assert any(r["title"].startswith("ICL") for r in query.references(new))


def test_invalid_data_keeps_old_index_and_writes_nothing(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    good = Index.open(data_paths(d)).path
    (d / "heads" / "induction-head.yaml").write_text("id: [")
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
    ev: dict[str, object] = {
        "cite": "wang2022interpretability",
        "model": "gpt2-small",
        "locations": [f"L{a}H{b}" for a, b in locs],
        "method": "scoring",
        "source": "Table 1",
        "source_kind": "body",
    }
    if value is not None:
        ev.update(metric="score", value=value)
    head = make_head(summary=summary, aliases=aliases, evidence=[ev])
    d = write_data(head_texts={h["id"]: yaml.safe_dump(h, allow_unicode=True) for h in (head, make_prev())})
    try:
        cat = load(d)
    except CatalogueError:
        return  # e.g. a generated alias that normalizes onto another head's name
    idx = Index.open(data_paths(d), cache=tmp_path / "rt", rebuild=True)
    for h in cat.heads.values():
        shown = query.show(idx, h.id)
        assert shown.pop("standing") == cat.standing(h)
        assert HeadType.model_validate(shown) == h
    stored = {h["id"]: h for h in query.all_heads(idx)}
    assert {k: HeadType.model_validate({f: v for f, v in h.items() if f != "standing"}) for k, h in stored.items()} == (
        cat.heads
    )
    idx.dispose()


def test_corrupt_index_is_rebuilt(write_data: WriteData, cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A truncated or overwritten index file is derived data: the query rebuilds it and answers."""
    d = write_data()
    path = Index.open(data_paths(d)).path
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    assert query.show(Index.open(data_paths(d)), "induction-head")["id"] == "induction-head"
    assert "rebuilding it from the data" in capsys.readouterr().err
    path.write_bytes(b"not a database at all" * 100)
    assert query.show(Index.open(data_paths(d)), "induction-head")["id"] == "induction-head"


def test_missing_table_is_rebuilt(write_data: WriteData, cache: Path) -> None:
    import sqlite3

    d = write_data()
    path = Index.open(data_paths(d)).path
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE name")
    assert query.show(Index.open(data_paths(d)), "induction-head")["id"] == "induction-head"


def test_index_file_mode_follows_the_umask(write_data: WriteData, cache: Path) -> None:
    """Index files were created 0600, so another user sharing the cache could not read them."""
    import os

    old = os.umask(0o022)
    try:
        path = Index.open(data_paths(write_data())).path
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_stale_temporary_files_of_dead_processes_are_removed(write_data: WriteData, cache: Path) -> None:
    """A killed build leaves .index-<pid>-*.tmp (and -journal) files; the next build removes them."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    cache.mkdir(parents=True, exist_ok=True)
    stale = [cache / f".index-{pid}-abc.tmp", cache / f".index-{pid}-abc.tmp-journal"]
    mine = cache / f".index-{os.getpid()}-live.tmp"
    odd = cache / f".index-{10**30}-x.tmp"  # a pid os.kill cannot take: counted as running, left alone
    for p in [*stale, mine, odd]:
        p.write_bytes(b"x")
    Index.open(data_paths(write_data()))
    assert not any(p.exists() for p in stale)
    assert mine.exists() and odd.exists()  # a live process's file is left alone
    mine.unlink()


def test_full_disk_is_reported_and_old_indexes_make_room(
    write_data: WriteData, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the build fails with ENOSPC, indexes of other data versions are removed and the build retried."""
    import errno

    from catalogue import db

    d = write_data()
    old = Index.open(data_paths(d)).path
    write_data(heads=[make_head(summary="Changed."), make_prev()])
    real = db.build
    calls: list[Path] = []

    def full_once(cat: object, target: Path) -> None:
        calls.append(target)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(cat, target)  # type: ignore[arg-type]

    monkeypatch.setattr(db, "build", full_once)
    new = Index.open(data_paths(d))
    assert len(calls) == 2 and not old.exists() and new.path.exists()


def _age(folder: Path, seconds: float = 60.0) -> None:
    """Set every file's mtime into the past (older than the racy window)."""
    import time

    for p in folder.rglob("*"):
        if p.is_file():
            t = time.time() - seconds
            os.utime(p, (t, t))


def test_warm_query_reads_no_data_file(write_data: WriteData, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Freshness is checked by size and mtime (a stamp next to the index); the files are hashed only on a change."""
    d = write_data()
    _age(d)
    first = Index.open(data_paths(d))
    reads: list[Path] = []
    real = Path.read_bytes

    def spy(self: Path) -> bytes:
        reads.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    again = Index.open(data_paths(d))
    assert again.path == first.path
    assert [p for p in reads if d in p.parents] == []


def test_same_size_edit_with_new_mtime_is_seen(write_data: WriteData, cache: Path) -> None:
    d = write_data()
    _age(d)
    before = Index.open(data_paths(d))
    f = d / "heads" / "induction-head.yaml"
    f.write_text(f.read_text().replace("Completes", "Complete!"))  # same size, new content
    _age(d, 30.0)  # a different, still old mtime
    after = Index.open(data_paths(d))
    assert after.path != before.path
    assert query.show(after, "induction-head")["summary"].startswith("Complete!")


def test_edit_within_the_racy_window_is_seen(write_data: WriteData, cache: Path) -> None:
    """Two edits in the same clock tick keep size and mtime: a just-modified file's fingerprint is not trusted."""
    d = write_data()
    f = d / "heads" / "induction-head.yaml"
    st = f.stat()
    before = Index.open(data_paths(d))
    f.write_text(f.read_text().replace("Completes", "Complete!"))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime
    after = Index.open(data_paths(d))
    assert after.path != before.path


@pytest.mark.parametrize("where", ["heads/new-file", "models.yaml", "scores/some2024work/table.csv", "scores/x.txt"])
def test_freshness_key_changes_with_any_data_file(write_data: WriteData, where: str) -> None:
    """The stat key covers head files, the three whole files and the score tables (one folder per work):
    adding or changing one changes the key (a stale index is never trusted)."""
    from catalogue.index import fingerprint

    d = write_data()
    (d / "scores" / "some2024work").mkdir(parents=True, exist_ok=True)
    _age(d)
    before, _ = fingerprint(data_paths(d))
    target = d / where
    target.write_text((target.read_text() if target.exists() else "") + "# changed\n")
    after, _ = fingerprint(data_paths(d))
    assert after != before
    assert fingerprint(data_paths(d))[0] == after  # deterministic


def _without(feature: str, marker: str) -> type[sqlite3.Connection]:
    """An SQLite connection that behaves as if built without ``feature``: SQL holding ``marker`` fails."""

    class Without(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if marker in sql:
                raise sqlite3.OperationalError(f"no {feature} in this SQLite")
            return super().execute(sql, *args)

    return Without


_NoJson = _without("JSON functions", "json_each")
_NoWindow = _without("window functions", "OVER (")


@pytest.mark.parametrize("factory", [sqlite3.Connection, _NoJson])
def test_locations_are_indexed_in_record_order_with_or_without_json(factory: type[sqlite3.Connection]) -> None:
    from catalogue.db import _PACK, _insert_locations

    raw = sqlite3.connect(":memory:", factory=factory)
    raw.execute("CREATE TABLE location (id INTEGER PRIMARY KEY, evidence_id, layer, head)")
    located = [(1, json.dumps([9999 * _PACK + 9999])), (2, json.dumps([9 * _PACK + 9, 0]))]
    _insert_locations(raw, located)
    rows = raw.execute("SELECT evidence_id, layer, head FROM location ORDER BY id").fetchall()
    assert rows == [(1, 9999, 9999), (2, 9, 9), (2, 0, 0)]


@pytest.mark.parametrize("factory", [sqlite3.Connection, _NoWindow])
def test_score_ranks_match_the_ranks_function(factory: type[sqlite3.Connection]) -> None:
    """Rank 1 is a table's highest score, ties share the best rank, each table ranks on its own."""
    from catalogue.db import _insert_scores
    from catalogue.scores import ranks

    tables = {"a.csv": [(0, 0, 0.5), (0, 1, 0.9), (1, 0, 0.5), (1, 1, -1.0)], "b.csv": [(0, 0, 2.0), (0, 1, 2.0)]}
    raw = sqlite3.connect(":memory:", factory=factory)
    raw.execute("CREATE TABLE score (table_path, layer, head, score, rank)")
    _insert_scores(raw, tables)
    got = sorted(raw.execute("SELECT table_path, layer, head, score, rank FROM score").fetchall())
    assert got == sorted((path, *r) for path, rows in tables.items() for r in ranks(rows))
    assert [r[4] for r in got] == [2, 1, 2, 4, 1, 1]


def test_the_ddl_file_is_the_ddl_of_the_sqlmodel_tables() -> None:
    from catalogue import tables
    from catalogue.db import DDL_FILE

    assert DDL_FILE.read_text(encoding="utf-8") == tables.ddl(), "catalogue/index.sql is stale: bash scripts/generate"


def test_a_build_imports_no_sqlalchemy(write_data: WriteData, tmp_path: Path) -> None:
    """The index is built with plain sqlite3 from the generated DDL: importing SQLAlchemy took about 0.3 s."""
    import subprocess
    import sys

    data = write_data()
    code = (
        "import sys, pathlib\n"
        "from catalogue.loader import load\n"
        "from catalogue.db import build\n"
        f"build(load({str(data)!r}), pathlib.Path({str(tmp_path / 'index.sqlite')!r}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
    assert (tmp_path / "index.sqlite").stat().st_size > 0
