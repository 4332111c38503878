"""Commands that look things up in the catalogue: list, show, search, where, model, models, cite, stats, taxonomy.

They read the SQLite index only (no pydantic, no YAML parsing), so they start fast.
"""

from enum import Enum
from typing import Annotated, Optional

import typer

from catalogue.cli._state import Convention, state

__all__ = ["app"]

app = typer.Typer()
PANEL = "Look up"


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    yaml = "yaml"


class ShowFormat(str, Enum):
    text = "text"
    json = "json"
    yaml = "yaml"


class TaxonomyPart(str, Enum):
    stages = "stages"
    methods = "methods"
    benchmarks = "benchmarks"


Many = Optional[list[str]]


@app.command("list", rich_help_panel=PANEL)
def list_(
    stage: Annotated[Many, typer.Option(help="Stage id, name or abbreviation (KR, ICI, LR, EP).")] = None,
    subcategory: Annotated[Many, typer.Option(help="Sub-category id, e.g. icl-task-learning.")] = None,
    method: Annotated[Many, typer.Option(help="Discovery method id, e.g. path-patching, scoring.")] = None,
    model: Annotated[Many, typer.Option(help="Model registry id or Hugging Face id.")] = None,
    family: Annotated[Many, typer.Option(help="Model family, e.g. gpt, llama, gemma (`heads models`).")] = None,
    paper: Annotated[Many, typer.Option(help="Cite key or arXiv id of a work.")] = None,
    year: Annotated[Many, typer.Option(help="Year of a cited work or a range: 2022, 2023-2025, 2023-, -2021.")] = None,
    layers: Annotated[Many, typer.Option(help="Layers of a recorded location (0-indexed): 5, 0-5, 20-.")] = None,
    source_kind: Annotated[
        Many, typer.Option(help="How the evidence was read: body, code, data, abstract or third-party.")
    ] = None,
    in_survey: Annotated[
        Optional[bool], typer.Option("--in-survey/--not-in-survey", help="Only types the survey names (or does not).")
    ] = None,
    status: Annotated[
        Many,
        typer.Option(
            help="Claims measured by the catalogue's checks: confirmed, below-threshold, contradicted or unchecked "
            "(JSON and YAML then hold only those evidence records)."
        ),
    ] = None,
    standing: Annotated[
        Many, typer.Option(help="Only types of this standing: established, single-source, contested.")
    ] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.table,
) -> None:
    """List head types, filtered by stage, sub-category, method, model, family, paper, year, layers, source kind,
    survey membership, claim status or standing.

    A filter given twice is a union (--stage KR --stage EP: either stage); different filters all apply, and the
    evidence filters must hold for one evidence record.
    """
    from catalogue import formats, query

    index = state.index()
    filters = query.Filters(
        stage=tuple(stage or ()),
        subcategory=tuple(subcategory or ()),
        method=tuple(method or ()),
        model=tuple(model or ()),
        family=tuple(family or ()),
        paper=tuple(paper or ()),
        year=tuple(year or ()),
        layers=tuple(layers or ()),
        source_kind=tuple(source_kind or ()),
        in_survey=in_survey,
        status=tuple(status or ()),
        standing=tuple(standing or ()),
    )
    if format in (ListFormat.json, ListFormat.yaml):  # complete records
        typer.echo(formats.render_rows([], format.value, full=query.list_heads(index, filters)))
        return
    rows = query.list_rows(index, filters)
    if not rows and format is ListFormat.table:
        typer.echo("no head type matches these filters", err=True)
        return
    if format is ListFormat.table:
        rows = [{**r, "years": formats.year_span(str(r["years"]))} for r in rows]
        typer.echo(
            formats.render_rows(rows, "table", columns=["id", "stages", "standing", "evidence", "years", "summary"])
        )
    else:
        typer.echo(formats.render_rows(rows, format.value))


@app.command(rich_help_panel=PANEL)
def show(
    name: Annotated[str, typer.Argument(help="Head-type id, name or alias (any case).")],
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = ShowFormat.text,
) -> None:
    """Everything the catalogue records about one head type."""
    from catalogue import formats, query

    index = state.index()
    h = query.show(index, name)
    if format is ShowFormat.text:
        typer.echo(formats.head_text(h, query.reference_labels(index, [h])))
    else:
        typer.echo(formats.render_rows([], format.value, full=h))


@app.command(rich_help_panel=PANEL)
def search(
    text: Annotated[list[str], typer.Argument(help="Words to search for (all must match; word* for a prefix).")],
    limit: Annotated[int, typer.Option(help="Most results to show.", min=1, max=1000)] = 20,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.table,
) -> None:
    """Ranked full-text search over names, aliases, summaries, mechanisms and evidence."""
    from catalogue import formats, query

    hits = query.search(state.index(), " ".join(text), limit=limit)
    if not hits:
        typer.echo("no match", err=True)
        raise typer.Exit(1)
    rows = [{"id": h.head["id"], "score": f"{h.score:.2f}", "match": h.snippet} for h in hits]
    typer.echo(formats.render_rows(rows, format.value))


@app.command(rich_help_panel=PANEL)
def where(
    model: Annotated[str, typer.Argument(help="Model registry id or Hugging Face id, e.g. gpt2-small.")],
    head: Annotated[str, typer.Argument(help="The head: L9H9, 9.9 or 9:9 (0-indexed layer and head).")],
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = ShowFormat.text,
) -> None:
    """Every head type recorded at one head of a model, with its evidence, and the head's score and rank in
    every per-head score table of the model."""
    from catalogue import formats, query

    index = state.index()
    m, loc, found, scores = query.where(index, model, head)
    if format is ShowFormat.text:
        typer.echo(formats.where_text(m, loc, found, query.reference_labels(index), scores))
    else:
        typer.echo(formats.render_rows([], format.value, full=formats.where_json(m, loc, found, scores)))


@app.command("model", rich_help_panel=PANEL)
def model_(model: Annotated[str, typer.Argument(help="Model registry id or Hugging Face id.")]) -> None:
    """A layer x head map of the roles the catalogue records in one model."""
    from catalogue import formats, query

    m, head_map = query.model_map(state.index(), model)
    typer.echo(formats.model_text(m, head_map))


class ModelsFormat(str, Enum):
    table = "table"
    json = "json"


@app.command("models", rich_help_panel=PANEL)
def models_(
    claims: Annotated[
        bool,
        typer.Option(
            "--claims",
            help="Only Hugging Face models with claims a check can measure and a recorded size up to "
            "--max-parameters (the list the check-claims workflow runs).",
        ),
    ] = False,
    max_parameters: Annotated[
        float, typer.Option(help="With --claims: the largest parameter count to include.", min=1)
    ] = 1.5e9,
    format: Annotated[ModelsFormat, typer.Option("--format", "-f", help="Output format.")] = ModelsFormat.table,
) -> None:
    """The model registry: ids, Hugging Face ids and dimensions."""
    from catalogue import formats, query

    index = state.index()
    found = query.models_to_check(index, max_parameters=max_parameters) if claims else query.models(index)
    if format is ModelsFormat.json:
        typer.echo(formats.render_rows([], "json", full=found))
    else:
        typer.echo(formats.models_table(found))


@app.command(rich_help_panel=PANEL)
def cite(names: Annotated[list[str], typer.Argument(help="Head-type ids, names or aliases.")]) -> None:
    """BibTeX for the works cited in these head types' evidence."""
    from catalogue import query

    typer.echo("\n\n".join(str(r["bibtex"]) for r in query.cite(state.index(), names)))


@app.command(rich_help_panel=PANEL)
def stats(
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = ShowFormat.text,
) -> None:
    """Counts by stage, method, model and year."""
    from catalogue import formats, query

    figures = query.stats(state.index()).as_dict()
    if format is ShowFormat.text:
        typer.echo(formats.stats_text(figures))
    else:
        typer.echo(formats.render_rows([], format.value, full=figures))


@app.command(rich_help_panel=PANEL)
def taxonomy(
    part: Annotated[
        Optional[TaxonomyPart], typer.Argument(help="stages, methods or benchmarks (default: all).")
    ] = None,
) -> None:
    """The survey's frameworks: the four stages and their sub-categories, the discovery methods, the benchmarks."""
    from catalogue import formats, query

    parts = [part.value] if part is not None else [p.value for p in TaxonomyPart]
    typer.echo(formats.taxonomy_text(query.taxonomy(state.index()), parts))


class RowFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class Status(str, Enum):
    current = "current"
    withdrawn = "withdrawn"
    all = "all"


@app.command("heads-of", rich_help_panel=PANEL)
def heads_of(
    model: Annotated[str, typer.Argument(help="Model registry id or Hugging Face id, e.g. gpt2-small.")],
    head_type: Annotated[Optional[str], typer.Argument(help="Head-type id, name or alias (default: all).")] = None,
    status: Annotated[Status, typer.Option(help="current claims, withdrawn ones, or all.")] = Status.current,
    format: Annotated[RowFormat, typer.Option("--format", "-f", help="Output format.")] = RowFormat.table,
) -> None:
    """The recorded heads of a model, ready to hook: TransformerLens hook names, Hugging Face module paths, KV head."""
    from catalogue import formats
    from catalogue.heads_of import KNOWN_HEAD_FIELDS, known_heads_in

    rows = known_heads_in(state.index(), model, head_type, status=status.value)
    if not rows and format is RowFormat.table:
        typer.echo("no head with a recorded location matches", err=True)
        raise typer.Exit(1)
    short = ["location", "head_type", "evidence_id", "cite", "tl_hook_z", "tl_head_index", "hf_module", "kv_head"]
    columns = short if format is RowFormat.table else list(KNOWN_HEAD_FIELDS)
    typer.echo(formats.render_rows(rows, format.value, columns=columns))


@app.command("id", rich_help_panel=PANEL)
def id_(
    text: Annotated[
        str, typer.Argument(help="A head as a paper writes it: '8-10', '(8, 10)', L8H10, 170, hook names.")
    ],
    model: Annotated[
        Optional[str], typer.Option(help="Model registry id: checks the range; needed for flattened indices.")
    ] = None,
    convention: Annotated[
        Optional[Convention], typer.Option(help="How the paper counts (default: list every reading that fits).")
    ] = None,
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format (text or json).")] = (
        ShowFormat.text
    ),
) -> None:
    """Turn a paper's head numbering into the canonical 0-indexed L<layer>H<head>, naming the convention assumed."""
    from dataclasses import asdict

    from catalogue import formats
    from catalogue.heads_of import identify

    r = identify(state.index(), text, model=model, convention=convention.value if convention else None)
    if format is ShowFormat.text:
        typer.echo(formats.resolution_text(r))
        return
    full = {
        "text": r.text,
        "form": r.form,
        "ambiguous": r.ambiguous,
        "canonical": r.assumed.canonical,
        "readings": [{**asdict(x), "canonical": x.canonical} for x in r.readings],
    }
    typer.echo(formats.render_rows([], format.value, full=full))


@app.command(rich_help_panel=PANEL)
def compare(
    head_type: Annotated[str, typer.Argument(help="Head-type id, name or alias.")],
    format: Annotated[RowFormat, typer.Option("--format", "-f", help="Output format.")] = RowFormat.table,
) -> None:
    """Where a head type sits in every model, by relative depth (layer / layers; shallow, middle, deep thirds)."""
    from catalogue import formats
    from catalogue.heads_of import compare as compare_

    h, rows = compare_(state.index(), head_type)
    if format is RowFormat.table:
        typer.echo(formats.compare_text(h, rows))
    else:
        typer.echo(formats.render_rows(rows, format.value))
