"""The command line shared by the per-check scripts: ``python -m catalogue.verify.<check> --model M``.

Prints the check's score table, its top heads and, when the catalogue has a head type linked to
the check, every claim it makes about the model (confirmed / not confirmed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from catalogue.errors import CatalogueError, UsageError
from catalogue.schema import Catalogue

__all__ = ["main", "run_check"]


def run_check(
    check: str,
    model_name: str,
    *,
    heads: str | None = None,
    data: str | None = None,
    batch: int = 16,
    seed: int = 0,
) -> str:
    """The full text report of ``check`` on ``model_name``. Raises :class:`VerifyError`."""
    from catalogue.verify.errors import VerifyError
    from catalogue.verify.models import load_model
    from catalogue.verify.report import check_report, verify_report
    from catalogue.verify.runner import parse_heads, registry_of, scan, verify_loaded

    catalogue, note = _catalogue(data)
    model = load_model(model_name, registry=registry_of(catalogue))
    chosen = parse_heads(heads, model)
    linked = [h for h in catalogue.heads.values() if h.check == check] if catalogue else []
    if not linked:
        result = scan(model, [check], heads=chosen, batch=batch, seed=seed)
        if result.results[check].skipped:
            raise VerifyError(f"the {check} check cannot run on {model.name}: {result.results[check].skipped}")
        tail = note or f"no head type in the catalogue is linked to the {check} check: no claims to test"
        return check_report(result.results[check], result) + f"\n  {tail}"
    return "\n".join(verify_report(verify_loaded(h, model, heads=chosen, batch=batch, seeds=(seed,))) for h in linked)


def _catalogue(data: str | None) -> tuple[Catalogue | None, str]:
    from catalogue.loader import load

    try:
        return load(data), ""
    except CatalogueError as exc:
        return None, f"the catalogue data did not load ({len(exc.problems)} problem(s)): claims not tested"


def main(check: str, argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m catalogue.verify.{check.replace('-', '_')}",
        description=f"Score every head of a model for the {check} check and test the catalogue's claims.",
    )
    parser.add_argument(
        "--model", required=True, help="toy-induction, all-minilm-l6-v2, a registry id, hub id or folder"
    )
    parser.add_argument("--heads", help="only these heads, e.g. 1.2,L0H3 (0-indexed)")
    parser.add_argument("--data", help="catalogue data folder (default: the bundled data/)")
    parser.add_argument("--batch", type=int, default=16, help="probe sequences per forward pass")
    parser.add_argument("--seed", type=int, default=0, help="probe seed")
    args = parser.parse_args(argv)
    try:
        print(run_check(check, args.model, heads=args.heads, data=args.data, batch=args.batch, seed=args.seed))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
