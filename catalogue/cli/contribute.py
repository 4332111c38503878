"""Commands for contributors: new, add-evidence, diff.

Each parses its flags (asking for a missing required value when run in a terminal), calls one library
function (:mod:`catalogue.contribute`, :mod:`catalogue.history`) and prints the result, always naming
the file written. Bad input raises :class:`~catalogue.errors.UsageError`.
"""

import sys
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from catalogue.cli._state import Convention, state
from catalogue.errors import UsageError

__all__ = ["app"]

app = typer.Typer()
PANEL = "Contribute"


def _interactive() -> bool:
    return sys.stdin.isatty()


def _ask(
    value: Optional[str],
    flag: str,
    label: str,
    *,
    check: str | None = None,
    required: bool = True,
    answers: dict[str, str] | None = None,
) -> Optional[str]:
    """The flag's value, or in a terminal a prompt for it, each answer checked as it is given (``check``
    names the rule of :func:`catalogue.contribute.answer_problem`) and asked again until it stands.
    Without a terminal, a missing required value is a clear error."""
    from catalogue import contribute

    if value is not None and value.strip():
        return value
    if _interactive():
        while True:
            answer = str(typer.prompt(label, default="" if not required else None, show_default=False)).strip()
            if not answer:
                if not required:
                    return None
                typer.echo("  an answer is needed", err=True)
                continue
            problem = None
            if check is not None:
                problem = contribute.answer_problem(
                    check, answer, answers or {}, data=state.data, cache=state.cache_dir
                )
            if problem is None:
                if answers is not None and check is not None:
                    answers[check] = answer
                return answer
            typer.echo(f"  {problem}", err=True)
    if required:
        raise UsageError(f"{flag} is required: pass {flag} VALUE (or run in a terminal to be asked)")
    return None


def _need(value: Optional[str]) -> str:
    assert value is not None  # _ask returns a value when required
    return value


def _locations(values: Optional[list[str]]) -> list[str]:
    """``-l L5H5 -l L5H8`` or ``-l "L5H5, L5H8"`` or ``-l "5.5 5.8"``."""
    out: list[str] = []
    for v in values or []:
        out += [x for x in v.replace(",", " ").split() if x]
    return out


def _float(value: Optional[str], flag: str) -> Optional[float]:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a number") from None


def _related(values: Optional[list[str]]) -> list[dict[str, str]]:
    out = []
    for v in values or []:
        kind, sep, head = v.partition(":")
        if not sep or not kind.strip() or not head.strip():
            raise UsageError(f"--related {v!r}: write KIND:HEAD-ID, e.g. composes-with:previous-token-head")
        out.append({"kind": kind.strip(), "head": head.strip()})
    return out


def _evidence(
    cite: Optional[str],
    model: Optional[str],
    location: Optional[list[str]],
    method: Optional[str],
    method_detail: Optional[str],
    task: Optional[str],
    metric: Optional[str],
    value: Optional[str],
    source: Optional[str],
    note: Optional[str],
    source_kind: Optional[str],
    stance: Optional[str],
    scores: Optional[str],
    answers: dict[str, str] | None = None,
) -> dict[str, Any]:
    answers = answers if answers is not None else {}
    cite = _ask(cite, "--cite", "BibTeX key of the work (in data/references.bib)", check="cite", answers=answers)
    if model is None and not location:
        model = _ask(
            None,
            "--model",
            "Model (registry id or HF id; empty for none)",
            check="model",
            required=False,
            answers=answers,
        )
    else:
        answers["model"] = model or ""
    locations = _locations(location)
    if not locations and model:
        asked = _ask(
            None,
            "--location",
            "Heads, e.g. L5H5 L5H8 (0-indexed; empty for none)",
            check="locations",
            required=False,
            answers=answers,
        )
        locations = _locations([asked] if asked else None)
    return {
        "cite": cite,
        "model": model,
        "locations": locations,
        "method": _ask(
            method,
            "--method",
            "Method (e.g. path-patching, scoring, activation-patching)",
            check="method",
            answers=answers,
        ),
        "method_detail": method_detail,
        "task": task,
        "metric": metric,
        "value": _float(value, "--value"),
        "source": _ask(source, "--source", "Where in the work you read this (section, table, figure)"),
        "source_kind": _ask(
            source_kind,
            "--source-kind",
            "What the source is: body, code, data, abstract or third-party",
            check="source_kind",
            answers=answers,
        ),
        "note": note,
    } | {k: v for k, v in (("stance", stance), ("scores", scores)) if v is not None}


Cite = Annotated[Optional[str], typer.Option(help="BibTeX key of the work, already in references.bib.")]
Model = Annotated[Optional[str], typer.Option(help="Model registry id or Hugging Face id (omit for theory).")]
Loc = Annotated[
    Optional[list[str]],
    typer.Option("--location", "-l", help="Head location, L<layer>H<head>, 0-indexed; repeat or comma-separate."),
]
Method = Annotated[Optional[str], typer.Option(help="Discovery method id, e.g. path-patching (see the site).")]
MethodDetail = Annotated[Optional[str], typer.Option(help="How the method was applied, in a sentence.")]
Task = Annotated[Optional[str], typer.Option(help="Task or data set, e.g. IOI.")]
Metric = Annotated[Optional[str], typer.Option(help="What --value measures.")]
Value = Annotated[Optional[str], typer.Option(help="A score reported by the work (needs --metric).")]
Source = Annotated[Optional[str], typer.Option(help="Where in the work this was read: section, table or figure.")]
Note = Annotated[Optional[str], typer.Option(help="Anything a reader should know about this record.")]
SourceKindOpt = Annotated[
    Optional[str],
    typer.Option(
        "--source-kind",
        help="What the source is: body (text, table, figure, appendix), code, data, abstract or third-party.",
    ),
]
StanceOpt = Annotated[Optional[str], typer.Option(help="support (default), qualify, contradict or fail-to-replicate.")]
ScoresOpt = Annotated[
    Optional[str], typer.Option(help="The authors' per-head score table, data/scores/<cite>/<model>.csv.")
]


Conv = Annotated[
    Optional[Convention],
    typer.Option(
        help="Read --location as the paper wrote it ('8-10', '(8, 10)', a flattened index...) in this numbering; "
        "converted to 0-indexed, and `source` says so (`heads id` shows the readings)."
    ),
]


@app.command("new", rich_help_panel=PANEL)
def new(
    id: Annotated[Optional[str], typer.Option("--id", help="Kebab-case id, e.g. name-mover-head.")] = None,
    name: Annotated[Optional[str], typer.Option(help="Display name, e.g. 'Name mover head'.")] = None,
    stage: Annotated[Optional[str], typer.Option(help="Stage id or abbreviation: KR, ICI, LR or EP.")] = None,
    subcategory: Annotated[Optional[str], typer.Option(help="Sub-category id within the stage.")] = None,
    placed_by: Annotated[str, typer.Option(help="survey or catalogue: who placed it in the stage.")] = "catalogue",
    in_survey: Annotated[bool, typer.Option("--in-survey/--not-in-survey", help="Named by the survey.")] = False,
    summary: Annotated[Optional[str], typer.Option(help="What the head does, in one or two sentences.")] = None,
    mechanism: Annotated[Optional[str], typer.Option(help="How it does it (QK/OV circuit, composition).")] = None,
    alias: Annotated[Optional[list[str]], typer.Option(help="Another name used in the literature; repeat.")] = None,
    related: Annotated[
        Optional[list[str]], typer.Option(help="KIND:HEAD-ID, e.g. composes-with:previous-token-head; repeat.")
    ] = None,
    check: Annotated[Optional[str], typer.Option(help="The verification check for this type, if one exists.")] = None,
    cite: Cite = None,
    model: Model = None,
    location: Loc = None,
    method: Method = None,
    method_detail: MethodDetail = None,
    task: Task = None,
    metric: Metric = None,
    value: Value = None,
    source: Source = None,
    note: Note = None,
    source_kind: SourceKindOpt = None,
    stance: StanceOpt = None,
    scores: ScoresOpt = None,
    convention: Conv = None,
) -> None:
    """Add a new head type, with its first evidence record, as data/heads/<id>.yaml."""
    from catalogue import contribute

    answers: dict[str, str] = {}
    fields: dict[str, Any] = {
        "id": _ask(id, "--id", "Id (kebab-case, e.g. name-mover-head)", check="id", answers=answers),
        "name": _ask(name, "--name", "Name"),
        "aliases": alias or [],
    }
    stage = _need(_ask(stage, "--stage", "Stage (KR, ICI, LR or EP)", check="stage", answers=answers))
    answers["stage"] = stage
    if subcategory is None and _interactive():
        subcategory = _ask(
            None,
            "--subcategory",
            "Sub-category (`heads taxonomy stages`; empty for none)",
            check="subcategory",
            required=False,
            answers=answers,
        )
    fields |= {
        "stages": [{"stage": stage, "subcategory": subcategory, "placed_by": placed_by}],
        "in_survey": in_survey,
        "summary": _ask(summary, "--summary", "Summary"),
        "mechanism": mechanism,
        "related": _related(related),
        "check": check,
    }
    fields["evidence"] = [
        _evidence(
            cite,
            model,
            location,
            method,
            method_detail,
            task,
            metric,
            value,
            source,
            note,
            source_kind,
            stance,
            scores,
            answers,
        )
    ]
    conv = convention.value if convention else None
    edit = contribute.new_head(fields, convention=conv, data=state.data, cache=state.cache_dir)
    typer.echo(f"wrote {edit.path}: head type {edit.head.id} with 1 evidence record; next, open a pull request")


@app.command("add-evidence", rich_help_panel=PANEL)
def add_evidence(
    head: Annotated[str, typer.Argument(help="Head-type id, name or alias.")],
    cite: Cite = None,
    model: Model = None,
    location: Loc = None,
    method: Method = None,
    method_detail: MethodDetail = None,
    task: Task = None,
    metric: Metric = None,
    value: Value = None,
    source: Source = None,
    note: Note = None,
    source_kind: SourceKindOpt = None,
    stance: StanceOpt = None,
    scores: ScoresOpt = None,
    convention: Conv = None,
) -> None:
    """Add an evidence record to an existing head type's file (its comments and order are kept)."""
    from catalogue import contribute

    fields = _evidence(
        cite, model, location, method, method_detail, task, metric, value, source, note, source_kind, stance, scores
    )
    conv = convention.value if convention else None
    edit = contribute.add_evidence(head, fields, convention=conv, data=state.data, cache=state.cache_dir)
    where = f" on {edit.evidence.model}" if edit.evidence.model else ""
    heads = f" at {', '.join(str(x) for x in edit.evidence.locations)}" if edit.evidence.locations else ""
    typer.echo(
        f"wrote {edit.path}: evidence {edit.evidence.id} from {edit.evidence.cite}{where}{heads} added to "
        f"{edit.head.id} ({len(edit.head.evidence)} records)"
    )


class DiffFormat(str, Enum):
    text = "text"
    json = "json"


@app.command("diff", rich_help_panel=PANEL)
def diff(
    rev: Annotated[str, typer.Argument(help="Git revision to compare with, e.g. origin/main or HEAD~1.")] = "HEAD",
    format: Annotated[DiffFormat, typer.Option("--format", "-f", help="Output format.")] = DiffFormat.text,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when something changed.")] = False,
) -> None:
    """Which head types, evidence records, models and works changed since a git revision (for reviewers)."""
    from catalogue import history

    d = history.diff(rev, data=state.data)
    typer.echo(d.json() if format is DiffFormat.json else d.text())
    if exit_code and not d.empty:
        raise typer.Exit(1)


@app.command("changelog", rich_help_panel=PANEL)
def changelog(
    to: Annotated[str, typer.Option("--to", help="The release's git revision (a tag such as data-v1.1.0).")] = "HEAD",
    from_: Annotated[
        Optional[str], typer.Option("--from", help="The previous release's tag (omit for the first release).")
    ] = None,
    title: Annotated[
        Optional[str], typer.Option(help="Section title (default: the data version in data/VERSION).")
    ] = None,
) -> None:
    """A CHANGELOG.md section for a data release: head types and evidence added, changed and withdrawn (heads diff)."""
    from catalogue import history
    from catalogue.paths import data_version

    heading = title or f"Data {data_version(state.data)}"
    typer.echo(history.changelog(from_, to, title=heading, data=state.data), nl=False)
