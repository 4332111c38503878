"""Give every evidence record without an ``id:`` its permanent id; never change an id that exists.

Deterministic and re-runnable (a second run changes nothing): the id of a record is derived from its head
type, cite key, model, method and locations (catalogue/evidence_ids.py explains the choice), and each
``id:`` line is inserted after the first line of its record, so no other line changes. Run it after
merging branches that add evidence, then `heads validate --strict`.

Usage: python scripts/assign_evidence_ids.py [--data DATA_FOLDER]
"""

from __future__ import annotations

import argparse
import sys

from catalogue.contribute import fill_evidence_ids
from catalogue.errors import UsageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="data folder (default: the catalogue's data/)")
    args = parser.parse_args(argv)
    try:
        changed = fill_evidence_ids(data=args.data)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path, ids in changed.items():
        print(f"{path}: {len(ids)} new id(s): {', '.join(ids)}")
    total = sum(len(v) for v in changed.values())
    print(f"{total} evidence id(s) assigned in {len(changed)} file(s)" if total else "every evidence record has an id")
    return 0


if __name__ == "__main__":
    sys.exit(main())
