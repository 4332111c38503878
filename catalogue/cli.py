"""The `heads` command line: parse arguments, call one library function, print, map errors to exit codes."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from catalogue import __version__
from catalogue.errors import CatalogueError, UsageError

if TYPE_CHECKING:
    from catalogue.index import Index
    from catalogue.schema import Reference

app = typer.Typer(
    name="heads",
    help="Look up attention-head types in language models: what they do, where they are, who found them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class _State:
    data: Optional[Path] = None
    cache_dir: Optional[Path] = None


state = _State()


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    yaml = "yaml"


class ShowFormat(str, Enum):
    text = "text"
    json = "json"
    yaml = "yaml"


class ExportFormat(str, Enum):
    json = "json"
    csv = "csv"
    bibtex = "bibtex"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"heads {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    data: Annotated[
        Optional[Path], typer.Option("--data", envvar="HEADS_DATA_DIR", help="Data folder (or its heads.yaml).")
    ] = None,
    cache_dir: Annotated[
        Optional[Path], typer.Option("--cache-dir", envvar="HEADS_CACHE_DIR", help="Where the SQLite index is kept.")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    state.data = data
    state.cache_dir = cache_dir


def _index() -> Index:
    from catalogue.index import Index
    from catalogue.paths import data_paths

    return Index.open(data_paths(state.data), cache=state.cache_dir)


def _refs(index: Index) -> dict[str, Reference]:
    from catalogue import query

    return {r.key: r for r in query.references(index)}


@app.command("list")
def list_(
    stage: Annotated[Optional[str], typer.Option(help="Stage id, name or abbreviation (KR, ICI, LR, EP).")] = None,
    method: Annotated[Optional[str], typer.Option(help="Discovery method id, e.g. path-patching, scoring.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Model registry id or Hugging Face id.")] = None,
    paper: Annotated[Optional[str], typer.Option(help="Cite key or arXiv id of a work.")] = None,
    year: Annotated[Optional[int], typer.Option(help="Year of a work in the evidence.", min=1900, max=2100)] = None,
    in_survey: Annotated[
        Optional[bool], typer.Option("--in-survey/--not-in-survey", help="Only types the survey names (or does not).")
    ] = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")] = ListFormat.table,
) -> None:
    """List head types, filtered by stage, method, model, paper, year or survey membership."""
    from catalogue import formats, query

    index = _index()
    filters = query.Filters(stage, method, model, paper, year, in_survey)
    if format in (ListFormat.json, ListFormat.yaml):  # complete records
        full = [h.model_dump(mode="json", exclude_defaults=True) for h in query.list_heads(index, filters)]
        typer.echo(formats.render_rows([], format.value, full=full))
        return
    rows = query.list_rows(index, filters)
    if not rows and format is ListFormat.table:
        typer.echo("no head type matches these filters", err=True)
        return
    cols = ["id", "stages", "evidence", "years", "summary"] if format is ListFormat.table else None
    typer.echo(formats.render_rows(rows, format.value, columns=cols))


@app.command()
def show(
    name: Annotated[str, typer.Argument(help="Head-type id, name or alias (any case).")],
    format: Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = ShowFormat.text,
) -> None:
    """Everything the catalogue records about one head type."""
    from catalogue import formats, query

    index = _index()
    h = query.show(index, name)
    if format is ShowFormat.text:
        typer.echo(formats.head_text(h, _refs(index)))
    else:
        typer.echo(formats.render_rows([], format.value, full=h.model_dump(mode="json", exclude_defaults=True)))


@app.command()
def search(
    text: Annotated[list[str], typer.Argument(help="Words to search for (all must match; word* for a prefix).")],
    limit: Annotated[int, typer.Option(help="Most results to show.", min=1, max=1000)] = 20,
    format: Annotated[ListFormat, typer.Option("--format", "-f")] = ListFormat.table,
) -> None:
    """Ranked full-text search over names, aliases, summaries, mechanisms and evidence."""
    from catalogue import formats, query

    hits = query.search(_index(), " ".join(text), limit=limit)
    rows = [{"id": h.head.id, "score": f"{h.score:.2f}", "match": h.snippet} for h in hits]
    if not hits:
        typer.echo("no match", err=True)
        raise typer.Exit(1)
    typer.echo(formats.render_rows(rows, format.value))


@app.command()
def where(
    model: Annotated[str, typer.Argument(help="Model registry id or Hugging Face id, e.g. gpt2-small.")],
    head: Annotated[str, typer.Argument(help="The head: L9H9, 9.9 or 9:9 (0-indexed layer and head).")],
    format: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.text,
) -> None:
    """Every head type recorded at one head of a model, with its evidence."""
    from catalogue import query

    index = _index()
    m, loc, found = query.where(index, model, head)
    if format is not ShowFormat.text:
        data = {
            "model": m.id,
            "head": str(loc),
            "head_types": [
                {"id": h.id, "name": h.name, "evidence": [e.model_dump(mode="json", exclude_defaults=True) for e in ev]}
                for h, ev in found
            ],
        }
        from catalogue import formats

        typer.echo(formats.render_rows([], format.value, full=data))
        return
    if not found:
        typer.echo(f"{m.id} {loc}: no head type is recorded at this head")
        return
    refs = _refs(index)
    typer.echo(f"{m.id} {loc}:")
    for h, ev in found:
        typer.echo(f"  {h.id} ({h.name})")
        for e in ev:
            who = refs[e.cite].short if e.cite in refs else e.cite
            typer.echo(f"    {who} [{e.cite}], {e.method}; source: {e.source}")


@app.command("model")
def model_(
    model: Annotated[str, typer.Argument(help="Model registry id or Hugging Face id.")],
) -> None:
    """A layer x head map of the roles the catalogue records in one model."""
    from catalogue import formats, query

    mm = query.model_map(_index(), model)
    m = mm.model
    typer.echo(f"{m.name} [{m.id}]: {m.layers} layers x {m.heads} heads" + (f", hf: {m.hf_id}" if m.hf_id else ""))
    if m.layers is None or m.heads is None:
        typer.echo("dimensions unknown: no map can be drawn")
    else:
        typer.echo(formats.model_grid(m.layers, m.heads, mm.cells, mm.stages))
    by_type: dict[str, list[str]] = {}
    for (layer, head), ids in sorted(mm.cells.items()):
        for i in ids:
            by_type.setdefault(i, []).append(f"L{layer}H{head}")
    for i, locs in sorted(by_type.items()):
        typer.echo(f"  {i}: {' '.join(locs)}")
    if not by_type:
        typer.echo("no head of this model has a recorded role yet")


@app.command("models")
def models_() -> None:
    """The model registry: ids, Hugging Face ids and dimensions."""
    from catalogue import formats, query

    rows = [[m.id, m.hf_id or "", m.family, m.layers or "?", m.heads or "?"] for m in query.models(_index())]
    typer.echo(formats.table(["id", "hf_id", "family", "layers", "heads"], rows))


@app.command()
def cite(names: Annotated[list[str], typer.Argument(help="Head-type ids, names or aliases.")]) -> None:
    """BibTeX for the works cited in these head types' evidence."""
    from catalogue import query

    typer.echo("\n\n".join(r.bibtex for r in query.cite(_index(), names)))


@app.command()
def stats(format: Annotated[ShowFormat, typer.Option("--format", "-f")] = ShowFormat.text) -> None:
    """Counts by stage, method, model and year."""
    from catalogue import query

    s = query.stats(_index())
    data = {
        "head_types": s.heads,
        "evidence": s.evidence,
        "evidence_with_locations": s.located_evidence,
        "locations": s.locations,
        "works": s.references,
        "models_with_evidence": s.models,
        "by_stage": dict(s.by_stage.most_common()),
        "by_method": dict(s.by_method.most_common()),
        "by_model": dict(s.by_model.most_common()),
        "works_by_year": dict(sorted(s.by_year.items())),
    }
    if format is not ShowFormat.text:
        typer.echo(json.dumps(data, indent=2))
        return
    for k, v in data.items():
        if isinstance(v, dict):
            typer.echo(f"{k}:")
            for kk, vv in v.items():
                typer.echo(f"  {kk:<32} {vv}")
        else:
            typer.echo(f"{k:<34} {v}")


class TaxonomyPart(str, Enum):
    stages = "stages"
    methods = "methods"
    benchmarks = "benchmarks"


@app.command()
def taxonomy(
    part: Annotated[
        Optional[TaxonomyPart], typer.Argument(help="stages, methods or benchmarks (default: all).")
    ] = None,
) -> None:
    """The survey's frameworks: the four stages and their sub-categories, the discovery methods, the benchmarks."""
    from catalogue import formats, query

    tax = query.taxonomy(_index())
    blocks = []
    if part in (None, TaxonomyPart.stages):
        rows = [[f"{s.abbreviation} {s.id}", c.id, c.name] for s in tax.stages for c in s.subcategories]
        blocks.append(formats.table(["stage", "sub-category", "name"], rows))
    if part in (None, TaxonomyPart.methods):
        rows = [[m.id, m.family, m.type, "yes" if m.in_survey else "no"] for m in tax.methods]
        blocks.append(formats.table(["method", "family", "type", "in survey"], rows))
    if part in (None, TaxonomyPart.benchmarks):
        rows = [[b.id, b.kind, b.task_type, b.description] for b in tax.benchmarks]
        blocks.append(formats.table(["benchmark", "kind", "task type", "description"], rows))
    typer.echo("\n\n".join(blocks))


@app.command()
def validate(
    path: Annotated[
        Optional[Path], typer.Argument(help="Data folder or heads.yaml (default: the catalogue's data).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False,
) -> None:
    """Check heads.yaml, models.yaml, taxonomy.yaml and references.bib: every error at once, with file:line."""
    from catalogue.loader import check

    cat, problems = check(path or state.data)
    for p in problems:
        typer.echo(str(p), err=True)
    errors = [p for p in problems if p.severity == "error" or strict]
    if errors or cat is None:
        typer.echo(f"{len(errors)} error(s): fix them and run `heads validate` again", err=True)
        raise typer.Exit(1)
    from catalogue.index import Index
    from catalogue.paths import data_paths

    Index.open(data_paths(path or state.data), cache=state.cache_dir, catalogue=cat).dispose()  # ready for queries
    ev = sum(len(h.evidence) for h in cat.heads.values())
    typer.echo(
        f"ok: {len(cat.heads)} head types, {ev} evidence records, {len(cat.references)} works, "
        f"{len(cat.models)} models" + (f" ({len(problems)} warning(s))" if problems else "")
    )


@app.command()
def export(
    format: Annotated[
        ExportFormat,
        typer.Option("--format", "-f", help="json: everything; csv: one row per evidence; bibtex: all works."),
    ] = ExportFormat.json,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")
    ] = None,
) -> None:
    """Export the whole catalogue."""
    from catalogue import exporting, query

    index = _index()
    text = exporting.export(
        format.value, query.all_heads(index), query.models(index), query.references(index), query.taxonomy(index)
    )
    if output is None:
        typer.echo(text)
    else:
        exporting.write_atomic(output, text + "\n")
        typer.echo(f"wrote {output}", err=True)


@app.command()
def schema(
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write the JSON Schema to this file.")
    ] = None,
    check_current: Annotated[
        bool, typer.Option("--check", help="Exit 1 if --output differs from the current schema.")
    ] = False,
) -> None:
    """Print the JSON Schema of heads.yaml (editors use it for completion and checks)."""
    from catalogue import exporting

    text = exporting.json_schema()
    if output is None:
        typer.echo(text, nl=False)
    elif check_current:
        if not output.is_file() or output.read_text(encoding="utf-8") != text:
            typer.echo(f"{output} is out of date: run `heads schema -o {output}`", err=True)
            raise typer.Exit(1)
    else:
        exporting.write_atomic(output, text)


def _register_optional() -> None:
    import importlib

    from catalogue import cli_site

    app.command("new")(cli_site.new)
    app.command("add-evidence")(cli_site.add_evidence)
    app.command("diff")(cli_site.diff)
    try:
        cli_verify = importlib.import_module("catalogue.cli_verify")
    except ImportError:  # pragma: no cover - the module ships with the package
        return
    app.command("verify")(cli_verify.verify)
    app.command("scan")(cli_verify.scan)


_register_optional()


def main() -> None:
    """Entry point: run the app; domain errors become a message and exit 1, never a traceback."""
    try:
        app()
    except CatalogueError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(
            f"{len(exc.problems)} error(s) in the catalogue data: fix them (`heads validate` lists them)",
            file=sys.stderr,
        )
        sys.exit(1)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
