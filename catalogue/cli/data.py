"""Commands about the data as a whole: validate, export, schema, release, neuronpedia import."""

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from catalogue.cli._state import fail, print_problems, state

__all__ = ["app"]

app = typer.Typer()
PANEL = "Data"


class ExportFormat(str, Enum):
    json = "json"
    csv = "csv"
    bibtex = "bibtex"
    parquet = "parquet"


@app.command(rich_help_panel=PANEL)
def validate(
    path: Annotated[Optional[Path], typer.Argument(help="Data folder (default: the catalogue's data).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors.")] = False,
) -> None:
    """Check heads/*.yaml, models.yaml, taxonomy.yaml, references.bib, audit.yaml and the score tables: every
    error at once, with file:line."""
    from catalogue.index import Index
    from catalogue.loader import check
    from catalogue.paths import data_paths

    folder = path or state.data
    cat, report = check(folder)
    if cat is None or report.has_errors(strict=strict):
        shown = report.problems if strict else report.errors
        print_problems(report.problems, f"{len(shown)} error(s): fix them and run `heads validate` again")
        raise typer.Exit(1)
    if report.warnings:
        print_problems(report.warnings, f"{len(report.warnings)} warning(s)")
    Index.open(data_paths(folder), cache=state.cache_dir, catalogue=cat).dispose()  # ready for queries
    ev = sum(len(h.evidence) for h in cat.heads.values())
    typer.echo(
        f"ok: {len(cat.heads)} head types, {ev} evidence records, {len(cat.references)} works, {len(cat.models)} models"
    )


@app.command(rich_help_panel=PANEL)
def export(
    format: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-f",
            help="json: everything; csv: one row per evidence; bibtex: all works; parquet: one row per model, "
            "layer, head, head type and evidence id (needs --output and pyarrow: the `export` extra).",
        ),
    ] = ExportFormat.json,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write to this file (atomically) instead of stdout.")
    ] = None,
) -> None:
    """Export the whole catalogue."""
    from catalogue import exporting, query
    from catalogue.files import write_atomic

    index = state.index()
    if format is ExportFormat.parquet:
        if output is None:
            fail("--format parquet writes a binary file: give --output FILE.parquet", 2)
        data = exporting.parquet(exporting.location_rows(query.all_heads(index), query.models(index)))
        typer.echo(f"wrote {write_atomic(output, data)}", err=True)
        return
    text = exporting.export(
        format.value, query.all_heads(index), query.models(index), query.references(index), query.taxonomy(index)
    )
    if output is None:
        typer.echo(text)
    else:
        typer.echo(f"wrote {write_atomic(output, text + chr(10))}", err=True)


@app.command(rich_help_panel=PANEL)
def schema(
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Write the JSON Schema to this file.")
    ] = None,
    check_current: Annotated[
        bool, typer.Option("--check", help="Exit 1 if --output differs from the current schema.")
    ] = False,
    release: Annotated[
        bool, typer.Option("--release", help="The schema of the release file (catalogue-<version>.json) instead.")
    ] = False,
) -> None:
    """Print the JSON Schema of a head-type file, data/heads/<id>.yaml (editors use it for completion and checks)."""
    from catalogue import exporting
    from catalogue.files import write_atomic

    text = exporting.release_schema() if release else exporting.json_schema()
    if output is None:
        typer.echo(text, nl=False)
    elif check_current:
        if not output.is_file() or output.read_text(encoding="utf-8") != text:
            typer.echo(f"{output} is out of date: run `heads schema -o {output}`", err=True)
            raise typer.Exit(1)
    else:
        typer.echo(f"wrote {write_atomic(output, text)}", err=True)


@app.command("release", rich_help_panel=PANEL)
def release_(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder to write catalogue-<version>.json into.")
    ] = Path("dist"),
) -> None:
    """Write the single-file data release, dist/catalogue-<data version>.json (schema: heads schema --release)."""
    from catalogue import exporting, query
    from catalogue.files import write_atomic
    from catalogue.paths import data_version

    index = state.index()
    version = data_version(state.data)
    text = exporting.release(
        query.all_heads(index),
        query.models(index),
        query.references(index),
        query.taxonomy(index),
        data_version=version,
    )
    output.mkdir(parents=True, exist_ok=True)
    typer.echo(f"wrote {write_atomic(output / exporting.release_name(version), text)}", err=True)


neuronpedia = typer.Typer(help="Neuronpedia's per-head attention metrics (on natural text), beside the catalogue's.")
app.add_typer(neuronpedia, name="neuronpedia", rich_help_panel=PANEL)


@neuronpedia.command("import")
def neuronpedia_import(
    export: Annotated[
        Path,
        typer.Argument(
            help="A HeadVis export folder from Neuronpedia's exports (v1/<neuronpedia id>/headvis/<dataset>/), "
            "or its scatter_data.json with config.json beside it."
        ),
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Registry id or Hugging Face id of the model.")],
) -> None:
    """Store Neuronpedia's per-head metrics of a model as score tables under data/scores/neuronpedia/."""
    from catalogue.neuronpedia import import_export

    for path in import_export(export, model, data=state.data, cache=state.cache_dir):
        typer.echo(path)
