"""`heads new` and `heads add-evidence`: a valid entry appended, every other line kept, bad input refused."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalogue.cli import app
from catalogue.contribute import add_evidence, new_head, render_entry
from catalogue.errors import UnknownHeadError, UnknownModelError, UsageError
from catalogue.loader import load
from catalogue.schema import Evidence
from tests.conftest import WriteData
from tests.helpers import make_head, make_prev

runner = CliRunner()

# A hand-edited file: comments everywhere, lists indented, folded and quoted text, flow lists, blank lines.
HAND_WRITTEN = """\
# yaml-language-server: $schema=../heads.schema.json
# --- latent reasoning ---
id: induction-head
name: Induction head
aliases: [Induction Head, 'statistical induction head']
stages:
  - stage: latent-reasoning  # survey figure
    subcategory: icl-task-learning
    placed_by: survey
in_survey: true
summary: >-
  Completes [A][B] ... [A] with [B] by attending
  to the token after an earlier copy of [A].
check: induction
evidence:
  - cite: wang2022interpretability
    model: gpt2-small
    locations: [L5H5, '5.8']
    method: path-patching
    source: "Section 3.3"  # quoted on purpose
    source_kind: body

# end of file
"""

PREV = """\
id: previous-token-head
name: Previous-token head
stages:
- stage: in-context-identification
  placed_by: survey
in_survey: true
summary: Attends to the token just before the current one.
evidence:
- cite: wang2022interpretability
  model: gpt2-small
  locations: [L2H2]
  method: path-patching
  source: Figure 2
  source_kind: body
"""

EVIDENCE = {
    "cite": "olsson2022incontext",
    "model": "gpt2",
    "locations": ["L1H4", "2.3"],
    "method": "scoring",
    "source": "Table 1",
    "source_kind": "body",
}


def added_lines(before: str, after: str) -> list[str]:
    """The lines ``after`` adds to ``before``; fails if any line of ``before`` was changed or removed."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    assert not [d for d in diff if d.startswith("- ")], "a line of the original file changed"
    return [d[2:] for d in diff if d.startswith("+ ")]


@pytest.fixture
def data(write_data: WriteData) -> Path:
    return write_data(head_texts={"induction-head": HAND_WRITTEN, "previous-token-head": PREV})


def induction(data: Path) -> Path:
    return data / "heads" / "induction-head.yaml"


def snapshot(data: Path) -> dict[str, str]:
    """Every file of the data folder, by name (to check that a refused edit changed nothing)."""
    return {
        str(p.relative_to(data)): p.read_text()
        for p in sorted(data.rglob("*"))
        if p.is_file() and p.name != ".edit.lock"  # the writers' lock file (git-ignored) may stay
    }


def test_add_evidence_appends_one_record_and_changes_nothing_else(data: Path) -> None:
    before = induction(data).read_text()
    prev = (data / "heads" / "previous-token-head.yaml").read_text()
    edit = add_evidence("statistical induction head", dict(EVIDENCE), data=data)
    head, ev = edit.head, edit.evidence
    assert head.id == "induction-head" and ev.model == "gpt2-small"  # the Hugging Face id resolved
    assert edit.path == induction(data)
    after = induction(data).read_text()
    assert added_lines(before, after) == [
        "  - cite: olsson2022incontext",
        f"    id: {ev.id}",
        "    model: gpt2-small",
        "    locations: [L1H4, L2H3]",
        "    method: scoring",
        "    source: Table 1",
        "    source_kind: body",
    ]
    assert after.index("olsson2022incontext") < after.index("# end of file")
    assert (data / "heads" / "previous-token-head.yaml").read_text() == prev  # other head types untouched
    assert load(data).heads["induction-head"].evidence[-1] == ev == head.evidence[-1]


def test_new_head_is_written_to_its_own_file(data: Path) -> None:
    before = snapshot(data)
    fields = make_head(
        id="name-mover-head",
        name="Name mover head",
        aliases=["name mover"],
        stages=[{"stage": "ICI", "subcategory": "Semantic information", "placed_by": "catalogue"}],
        related=[{"kind": "feeds", "head": "induction-head"}],
        check=None,
        mechanism=None,
        summary="Copies the name it attends to. " * 6,
        evidence=[dict(EVIDENCE)],
    )
    edit = new_head(fields, data=data)
    head = edit.head
    assert edit.path == data / "heads" / "name-mover-head.yaml"
    assert head.stages[0].stage == "in-context-identification"
    assert head.stages[0].subcategory == "semantic-information"
    after = snapshot(data)
    assert {k: v for k, v in after.items() if k in before} == before  # no other file changed
    text = edit.path.read_text()
    assert text.startswith("# yaml-language-server: $schema=../heads.schema.json\n")
    assert "id: name-mover-head\n" in text and "aliases: [name mover]\n" in text
    assert all(len(line) <= 120 and line == line.rstrip() for line in text.splitlines())
    assert load(data).heads["name-mover-head"] == head


def test_evidence_list_in_flow_style_is_extended(write_data: WriteData) -> None:
    """A file whose evidence list is written in flow style still takes a new record, and validates."""
    data = write_data()
    add_evidence("previous-token-head", dict(EVIDENCE), data=data)
    assert load(data).heads["previous-token-head"].evidence[-1].cite == "olsson2022incontext"


def test_pyyaml_written_file_keeps_its_wrapping(write_data: WriteData) -> None:
    long = " ".join(["a long summary"] * 20)
    data = write_data(heads=[make_head(summary=long), make_prev()])
    before = induction(data).read_text()
    add_evidence("induction-head", dict(EVIDENCE), data=data)
    added = added_lines(before, induction(data).read_text())
    assert added[0] == "- cite: olsson2022incontext"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"cite": "nobody2099"}, UsageError, "unknown cite key 'nobody2099'"),
        ({"model": "gtp2-small"}, UnknownModelError, "Did you mean: gpt2-small"),
        ({"locations": ["L12H0"]}, UsageError, "L12H0 is outside gpt2-small"),
        ({"locations": ["L1H12"]}, UsageError, "12 heads per layer (0-11)"),
        ({"locations": ["layer 1"]}, UsageError, "is not a head location"),
        ({"method": "vibes"}, UsageError, "method:"),
        ({"source": None}, UsageError, "source: is required"),
        ({"value": 0.5}, UsageError, "a value needs its metric"),
    ],
)
def test_bad_evidence_is_refused_and_the_file_is_untouched(
    data: Path, change: dict[str, object], error: type[Exception], message: str
) -> None:
    before = snapshot(data)
    with pytest.raises(error, match=None) as info:
        add_evidence("induction-head", {**EVIDENCE, **change}, data=data)
    assert message in str(info.value)
    assert snapshot(data) == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "induction-head"}, "already exists"),
        ({"id": "fresh", "name": "Induction Head"}, "already belongs to 'induction-head'"),
        ({"id": "Not_Kebab"}, "id:"),
        ({"id": "fresh", "name": "Fresh", "aliases": [], "related": [{"kind": "feeds", "head": "ghost"}]}, "ghost"),
        ({"id": "fresh", "name": "Fresh", "aliases": [], "stages": [{"stage": "XX", "placed_by": "survey"}]}, "stage"),
    ],
)
def test_bad_head_types_are_refused(data: Path, change: dict[str, object], message: str) -> None:
    before = snapshot(data)
    with pytest.raises(UsageError) as info:
        new_head(make_head(**change), data=data)
    assert message in str(info.value)
    assert snapshot(data) == before


def test_unknown_head_type_suggests_names(data: Path) -> None:
    with pytest.raises(UnknownHeadError, match="Did you mean: induction-head"):
        add_evidence("induction heda", dict(EVIDENCE), data=data)


def test_a_duplicate_record_is_refused(data: Path) -> None:
    existing = yaml.safe_load(PREV)["evidence"][0]
    with pytest.raises(UsageError, match="already has this evidence record"):
        add_evidence("previous-token-head", existing, data=data)


def test_an_edit_that_breaks_cross_checks_writes_nothing(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The final check on a temporary copy is the last line of defence, whatever slipped past the pre-checks."""
    from catalogue import contribute

    monkeypatch.setattr(contribute, "_checked_evidence", lambda index, ev: ev.model_copy(update={"cite": "ghost"}))
    before = snapshot(data)
    with pytest.raises(UsageError, match="(?s)nothing was written.*induction-head.yaml:.*unknown cite key 'ghost'"):
        add_evidence("induction-head", dict(EVIDENCE), data=data)
    assert snapshot(data) == before
    assert [p.name for p in (data / "heads").iterdir() if p.name.endswith(".tmp")] == []  # no temporary file left


def test_invalid_existing_data_is_reported_not_edited(write_data: WriteData) -> None:
    from catalogue.errors import CatalogueError

    data = write_data(heads=[make_head(related=[])], bib="")
    with pytest.raises(CatalogueError):
        add_evidence("induction-head", dict(EVIDENCE), data=data)


def test_render_entry_writes_locations_compactly() -> None:
    node = render_entry(Evidence.model_validate({**EVIDENCE, "model": "gpt2-small"}))
    assert list(node) == ["cite", "model", "locations", "method", "source", "source_kind"]
    assert list(node["locations"]) == ["L1H4", "L2H3"]


# --------------------------------------------------------------------------- the commands


def test_cli_add_evidence(data: Path) -> None:
    r = runner.invoke(
        app,
        ["--data", str(data), "add-evidence", "induction-head", "--cite", "olsson2022incontext", "--model",
         "gpt2-small", "-l", "L1H4, L2H3", "--method", "scoring", "--metric", "score", "--value", "0.7",
         "--source", "Table 1", "--source-kind", "body"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    ev = load(data).heads["induction-head"].evidence[-1]
    assert (
        f"wrote {induction(data)}: evidence {ev.id} from olsson2022incontext on gpt2-small at L1H4, L2H3 added to "
        "induction-head" in r.output.replace("\n", "")
    )
    assert ev.value == 0.7 and [str(x) for x in ev.locations] == ["L1H4", "L2H3"]


def test_cli_new(data: Path) -> None:
    r = runner.invoke(
        app,
        ["--data", str(data), "new", "--id", "copy-head", "--name", "Copy head", "--stage", "EP",
         "--summary", "Copies.", "--alias", "copier", "--related", "feeds:induction-head",
         "--cite", "olsson2022incontext", "--method", "other", "--source", "Section 5", "--source-kind", "body"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert str(data / "heads" / "copy-head.yaml") in r.output.replace("\n", "")
    assert load(data).heads["copy-head"].related[0].head == "induction-head"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add-evidence", "nosuch", "--cite", "olsson2022incontext", "--method", "scoring", "--source", "x",
          "--source-kind", "body"], "no head type is called 'nosuch'"),
        (["add-evidence", "induction-head", "--cite", "olsson2022incontext", "--method", "scoring"],
         "--source is required"),
        (["add-evidence", "induction-head", "--cite", "olsson2022incontext", "--method", "scoring",
          "--source", "x", "--source-kind", "body", "--value", "high"], "--value 'high' is not a number"),
        (["add-evidence", "induction-head", "--cite", "olsson2022incontext", "--method", "scoring",
          "--source", "x", "--source-kind", "body", "--model", "gpt2-small", "-l", "L99H0"],
         "L99H0 is outside gpt2-small"),
        (["new", "--id", "x-head", "--name", "X", "--stage", "KR", "--summary", "s", "--related", "feeds",
          "--cite", "olsson2022incontext", "--method", "other", "--source", "s", "--source-kind", "body"],
         "write KIND:HEAD-ID"),
    ],
)  # fmt: skip
def test_cli_bad_input_exits_1_with_a_message(data: Path, args: list[str], message: str) -> None:
    import subprocess
    import sys

    before = snapshot(data)
    r = subprocess.run(
        [sys.executable, "-m", "catalogue", "--data", str(data), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr
    assert snapshot(data) == before


def test_concurrent_writers_lose_nothing(data: Path, tmp_path: Path) -> None:
    """Two `heads add-evidence` at once: both report success and both records are saved (no lost update)."""
    import subprocess
    import sys

    env_cache = str(tmp_path / "cache-concurrent")
    cmds = [
        [sys.executable, "-m", "catalogue", "--data", str(data), "--cache-dir", env_cache, "add-evidence",
         "induction-head", "--cite", "olsson2022incontext", "--method", "scoring", "--source", f"Table {i}",
         "--source-kind", "body"]
        for i in range(4)
    ]  # fmt: skip
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cmds]
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert [code for _, _, code in results] == [0, 0, 0, 0], results
    sources = [e.source for e in load(data).heads["induction-head"].evidence]
    assert sorted(s for s in sources if s.startswith("Table")) == [f"Table {i}" for i in range(4)]


def test_interactive_new_checks_each_answer_and_asks_for_model_and_heads(
    write_data: WriteData, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a terminal, `heads new` checks every answer as it is given and asks again (id, stage,
    sub-category, cite key, model, heads, method), and asks for the model and the heads too."""
    from typer.testing import CliRunner

    import catalogue.cli.contribute as cli_contribute
    from catalogue.cli import app

    d = write_data()
    monkeypatch.setattr(cli_contribute, "_interactive", lambda: True)
    answers = [
        *("Bad Id", "induction-head", "new-test-head", "New test head"),
        *("XX", "LR", "overall-structure", "icl-task-learning", "A summary."),
        *("nobody2020", "olsson2022incontext", "gpt5", "gpt2", "L99H0", "L5H5 L6H9", "magic", "scoring", "Section 2"),
        *("paper", "body"),
    ]
    result = CliRunner().invoke(app, ["--data", str(d), "new"], input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    out = result.output
    for complaint in (
        "'Bad Id' is not an id",
        "'induction-head' already names 'induction-head'",
        "'XX' is not a stage",
        "'overall-structure' belongs to stage 'in-context-identification'",
        "unknown cite key 'nobody2020'",
        "no model is called 'gpt5'",
        "L99H0 is outside gpt2-small",
        "'magic' is not a method",
        "'paper' is not a source kind",
    ):
        assert complaint in out, complaint
    written = yaml.safe_load((d / "heads" / "new-test-head.yaml").read_text(encoding="utf-8"))
    assert written["stages"][0]["subcategory"] == "icl-task-learning"
    assert written["evidence"][0]["model"] == "gpt2-small"
    assert written["evidence"][0]["locations"] == ["L5H5", "L6H9"]
