"""Commands that run checks on a model: verify, scan.

They import :mod:`catalogue.verify` (and with it torch) only when run, so the `heads` CLI starts
without torch; without it they say how to install the ``verify`` extra and exit 1.
"""

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, NoReturn

import typer

from catalogue.cli._state import fail, print_problems, state
from catalogue.errors import CatalogueError, UsageError

__all__ = ["INSTALL_HINT", "app"]

app = typer.Typer()
PANEL = "Verify against a model"

#: The package is not on PyPI yet: the verify extra is installed from a clone of the repository.
INSTALL_HINT = (
    "in a clone of github.com/attention-head-catalogue/attention-head-catalogue, "
    "pip install -e '.[verify]' -c constraints/ci.txt (the package is not published on PyPI yet)"
)

_MODEL_HELP = (
    "Model: toy-induction, toy-retrieval, toy-parity, toy-random, all-minilm-l6-v2, smollm2-135m-instruct-q4-1 "
    "(offline), a registry id, a Hugging Face hub id or folder, or tl:NAME (TransformerLens)."
)
_SEEDS = Annotated[str, typer.Option("--seeds", help="Probe seeds to average over, comma-separated.")]
_BATCH = Annotated[int, typer.Option(help="Probe sequences per forward pass.", min=1, max=1024)]
_DEVICE = Annotated[str, typer.Option("--device", help="torch device, e.g. cpu or cuda.")]
_DTYPE = Annotated[
    str | None, typer.Option("--dtype", help="float32, bfloat16 or float16 (default: bfloat16 above 1B parameters).")
]
_DEVICE_MAP = Annotated[
    str | None,
    typer.Option(
        "--device-map",
        help="transformers device_map, e.g. auto: accelerate spreads the layers over the GPUs, then CPU and disk.",
    ),
]
_BACKEND = Annotated[
    str, typer.Option("--backend", help="transformers, or nnsight (traces; with --remote on NDIF's servers).")
]
_REMOTE = Annotated[
    bool,
    typer.Option("--remote", help="With --backend nnsight: run on NDIF (needs NDIF_API_KEY or `nnsight login`)."),
]
_STREAM = Annotated[
    bool,
    typer.Option(
        "--stream/--no-stream", help="Score patterns one layer at a time (memory: one layer's patterns, not all)."
    ),
]
_FORMAT = Annotated[
    str,
    typer.Option(
        "--format", help="text, or json: per check the (n_layers, n_heads) scores, threshold, chance, passing heads."
    ),
]


def _api() -> ModuleType:
    try:
        found = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # a broken or blocked torch install
        found = False
    if not found:
        fail(f"verification needs PyTorch, which is not installed: {INSTALL_HINT}")
    import catalogue.verify

    return catalogue.verify


def _engine(api: ModuleType, device_map: str | None, backend: str, remote: bool, stream: bool) -> Any:
    """The scan's :class:`catalogue.verify.Engine`; the memory estimate goes to stderr."""
    return api.Engine(
        device_map=device_map,
        backend=backend,
        remote=remote,
        stream=stream,
        report=lambda line: typer.echo(line, err=True),
    )


def _load() -> Any:
    from catalogue.loader import load

    return load(state.data)


def _registry_name(name: str, catalogue: Any) -> str:
    """The registry id of ``name`` when the registry knows it by id or Hugging Face id (the lookup every
    other command uses, :func:`catalogue.schema.find_model`); otherwise ``name`` unchanged (a toy model,
    a hub id or a folder)."""
    from catalogue.errors import UnknownModelError
    from catalogue.schema import find_model

    if catalogue is None:
        return name
    try:
        return str(find_model(catalogue.models.values(), name).id)
    except UnknownModelError:
        return name


#: Where the Hugging Face hub answers; probed once before a model that may need it is loaded.
HUB_HOST = ("huggingface.co", 443)


def _hub_reachable(timeout: float = 2.0) -> bool:
    try:
        import socket  # only when verifying: `heads show` does not pay for it

        with socket.create_connection(HUB_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def _go_offline_if_unreachable(name: str, api_loaded: bool) -> None:
    """Without a network, huggingface_hub retries every request (~28 s) before its error. When the hub
    cannot be reached, set ``HF_HUB_OFFLINE`` (read by huggingface_hub at import) so that cached
    models load at once and others fail at once with the loader's message."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return
    if name.startswith(("toy-", "tl:")) or Path(name).is_dir() or name.lower().startswith("all-minilm"):
        return
    if not _hub_reachable():
        if api_loaded:
            return  # huggingface_hub was imported already (in-process callers): leave its settings alone
        typer.echo(
            "note: the Hugging Face hub (huggingface.co) cannot be reached: loading from the local cache only",
            err=True,
        )
        os.environ["HF_HUB_OFFLINE"] = "1"


def _announce_training(api: ModuleType, name: str) -> None:
    """Say so before a toy model is trained (the first run only; it then sits in the cache)."""
    from catalogue.paths import cache_dir

    toys = getattr(getattr(api, "models", None), "TOY_MODELS", {})
    if name in toys:
        path = cache_dir(state.cache_dir) / "toy" / f"{name}-{toys[name].key()}.pt"
        if not path.is_file():
            typer.echo(
                f"note: training the toy model {name} (first run only, about a minute); it is cached in {path.parent}",
                err=True,
            )


def _catalogue_failed(exc: CatalogueError) -> NoReturn:
    print_problems(
        exc.problems, f"{len(exc.problems)} error(s) in the catalogue data: fix them (`heads validate` lists them)"
    )
    raise typer.Exit(1)


@app.command(rich_help_panel=PANEL)
def verify(
    head: Annotated[
        str | None, typer.Argument(help="Head type id, name or alias, e.g. induction-head (not with --claims).")
    ] = None,
    model: Annotated[str, typer.Option("--model", "-m", help=_MODEL_HELP)] = "",
    claims: Annotated[
        bool, typer.Option("--claims", help="Measure every claim on the model: each located record of a checked type.")
    ] = False,
    record: Annotated[
        bool, typer.Option("--record", help="With --claims: write each claim's `checked` block into the data.")
    ] = False,
    heads: Annotated[str | None, typer.Option("--heads", help="Only these heads, e.g. 1.2,L0H3 (0-indexed).")] = None,
    batch: _BATCH = 16,
    seeds: _SEEDS = "0,1,2",
    device: _DEVICE = "cpu",
    dtype: _DTYPE = None,
    device_map: _DEVICE_MAP = None,
    backend: _BACKEND = "transformers",
    remote: _REMOTE = False,
    stream: _STREAM = True,
    fmt: _FORMAT = "text",
) -> None:
    """Run a head type's check on a model and test the catalogue's claims about it.

    Prints per-head scores (mean and spread over probe seeds), the chance baseline, the
    threshold, the top heads, and each claimed location: confirmed or not confirmed.
    With --claims, measures every claim on the model in one scan and prints each claim's
    verdict; --record writes them into the data as `checked` blocks (idempotent).
    Exits 1 when a claim is not confirmed (with --record: when a claim could not be measured).
    """
    if not model:
        fail("--model is required: pass --model MODEL (`heads models` lists the registry)")
    if claims == (head is not None):
        fail("give a HEAD type, or --claims to measure every claim on the model (not both)")
    if record and not claims:
        fail("--record goes with --claims: `heads verify --claims --model MODEL --record`")
    try:
        catalogue = _load()
    except CatalogueError as exc:
        _catalogue_failed(exc)
    name = _registry_name(model, catalogue)  # gpt2 -> gpt2-small: the lookup every command uses
    _go_offline_if_unreachable(name, "huggingface_hub" in sys.modules)
    api = _api()
    engine = _engine(api, device_map, backend, remote, stream)
    _announce_training(api, name)
    if claims:
        _claims(
            name,
            record=record,
            batch=batch,
            seeds=api.parse_seeds(seeds),
            device=device,
            dtype=dtype,
            engine=engine,
            fmt=fmt,
        )
        return
    assert head is not None
    try:
        result = api.verify(
            catalogue,
            head,
            name,
            heads=heads,
            cache=state.cache_dir,
            batch=batch,
            seeds=api.parse_seeds(seeds),
            device=device,
            dtype=dtype,
            engine=engine,
        )
        text = api.render(result, fmt)
    except CatalogueError as exc:
        _catalogue_failed(exc)
    except UsageError as exc:
        fail(str(exc))
    typer.echo(text)
    failed = [c for c in result.claims if not c.confirmed]
    if failed:
        fail(f"{len(failed)} of {len(result.claims)} claim(s) not confirmed")


def _claims(
    model: str,
    *,
    record: bool,
    batch: int,
    seeds: tuple[int, ...],
    device: str,
    dtype: str | None,
    engine: Any,
    fmt: str,
) -> None:
    from catalogue import claims as claims_lib
    from catalogue import formats

    try:
        catalogue = _load()
        measured = claims_lib.measure(
            catalogue, model, cache=state.cache_dir, batch=batch, seeds=seeds, device=device, dtype=dtype, engine=engine
        )
        done = claims_lib.record(measured.blocks, data=state.data, cache=state.cache_dir) if record else None
    except CatalogueError as exc:
        _catalogue_failed(exc)
    except UsageError as exc:
        fail(str(exc))
    typer.echo(formats.claims_report(measured.rows(done), fmt))
    not_confirmed = any(b.verdict != "confirmed" for b in measured.blocks.values())
    if measured.skipped or (not_confirmed and not record):
        raise typer.Exit(1)


@app.command(rich_help_panel=PANEL)
def scan(
    model: Annotated[str, typer.Argument(help=_MODEL_HELP)],
    check: Annotated[
        list[str] | None, typer.Option("--check", "-c", help="Run only this check (repeatable); default: all.")
    ] = None,
    heads: Annotated[str | None, typer.Option("--heads", help="Only these heads in the tables, e.g. 1.2,L0H3.")] = None,
    emit_yaml: Annotated[
        Path | None,
        typer.Option("--emit-yaml", help="Write candidate evidence entries for heads.yaml to this file ('-': stdout)."),
    ] = None,
    details: Annotated[bool, typer.Option("--details", help="Print every check's score table.")] = False,
    batch: _BATCH = 16,
    seeds: _SEEDS = "0,1,2",
    device: _DEVICE = "cpu",
    dtype: _DTYPE = None,
    device_map: _DEVICE_MAP = None,
    backend: _BACKEND = "transformers",
    remote: _REMOTE = False,
    stream: _STREAM = True,
    fmt: _FORMAT = "text",
) -> None:
    """Run every check over every head of a model and print a head map.

    One forward pass per probe and seed, not per check. --emit-yaml writes candidate evidence
    entries (with `reproduced` records) ready to paste into a head type's file.
    """
    try:
        catalogue = _load()
    except CatalogueError:
        catalogue = None  # the registry is optional for a scan: toy models and hub ids still load
    name = _registry_name(model, catalogue)
    _go_offline_if_unreachable(name, "huggingface_hub" in sys.modules)
    api = _api()
    _announce_training(api, name)
    try:
        result = api.scan_model(
            name,
            check,
            catalogue=catalogue,
            heads=heads,
            cache=state.cache_dir,
            batch=batch,
            seeds=api.parse_seeds(seeds),
            device=device,
            dtype=dtype,
            engine=_engine(api, device_map, backend, remote, stream),
        )
        text = api.candidate_evidence(result, catalogue=catalogue) if emit_yaml is not None else None
        if fmt != "text" and emit_yaml is None:
            typer.echo(api.render(result, fmt))
            return
    except UsageError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))
    to_stderr = emit_yaml is not None and str(emit_yaml) == "-"  # stdout carries the YAML alone
    if details:
        for r in result.results.values():
            typer.echo(api.check_report(r, result) + "\n", err=to_stderr)
    typer.echo(api.head_map(result), err=to_stderr)
    if text is not None and emit_yaml is not None:
        if str(emit_yaml) == "-":
            typer.echo(text, nl=False)
        else:
            emit_yaml.write_text(text, encoding="utf-8")
            typer.echo(f"wrote candidate evidence to {emit_yaml}")
