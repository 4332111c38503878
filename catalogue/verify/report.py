"""Plain-text reports of check results, the terminal head map, and candidate evidence as YAML.

Output is deterministic: heads sorted by score then position, floats at fixed precision.
"""

from __future__ import annotations

from typing import Any

import yaml

from catalogue.schema import CATALOGUE_CITE, CHECKS, Catalogue, Evidence
from catalogue.verify.runner import CheckResult, ScanResult, VerifyResult, reproduced_record

__all__ = ["CHECK_HEADS", "MAP_LETTERS", "candidate_evidence", "check_report", "head_map", "verify_report"]

#: Default head-type id for each check (used when the catalogue links none via ``check:``).
CHECK_HEADS: dict[str, str] = {
    "previous-token": "previous-token-head",
    "duplicate-token": "duplicate-token-head",
    "induction": "induction-head",
    "positional": "positional-head",
    "first-token": "attention-sink-head",
    "delimiter": "delimiter-head",
    "rare-word": "rare-words-head",
    "retrieval": "retrieval-head",
    "successor": "successor-head",
    "copy-suppression": "copy-suppression-head",
    "iteration": "iteration-head",
    "local": "local-context-head",
}

#: One letter per check for the head map.
MAP_LETTERS: dict[str, str] = {
    "previous-token": "P",
    "duplicate-token": "D",
    "induction": "I",
    "positional": "O",
    "first-token": "F",
    "delimiter": "S",
    "rare-word": "W",
    "retrieval": "R",
    "successor": "N",
    "copy-suppression": "C",
    "iteration": "T",
    "local": "L",
}


def _table(result: CheckResult, scan: ScanResult) -> list[str]:
    assert result.scores is not None
    n_layers, n_heads = result.scores.shape
    chosen = {(loc.layer, loc.head) for loc in scan.heads} if scan.heads else None
    lines = ["      " + "".join(f"  H{h:<4d}" for h in range(n_heads))]
    for layer in range(n_layers):
        cells = []
        for h in range(n_heads):
            if chosen is not None and (layer, h) not in chosen:
                cells.append(f"{'-':>7s}")
                continue
            s = float(result.scores[layer, h])
            mark = "*" if s >= result.check.threshold else " "
            cells.append(f"{s:6.2f}{mark}")
        lines.append(f"  L{layer:<3d}" + "".join(cells))
    return lines


def check_report(result: CheckResult, scan: ScanResult, *, top: int = 5) -> str:
    """Score table (``*`` marks heads at or above the threshold) and the top heads."""
    c = result.check
    head = f"{c.id}: {c.title} on {scan.model.name} ({c.reference})"
    if result.skipped or result.scores is None:
        return f"{head}\n  skipped: {result.skipped}"
    lines = [head, f"  score: {c.metric}; threshold {c.threshold:g}", *_table(result, scan)]
    ranked = result.ranked(scan.heads)[:top]
    lines.append("  top heads: " + ", ".join(f"{loc} {s:.3f}" for loc, s in ranked))
    for name, extra in sorted(result.extras.items()):
        lines.append(f"  {name}: " + ", ".join(f"{loc} {float(extra[loc.layer, loc.head]):.3f}" for loc, _ in ranked))
    return "\n".join(lines)


def verify_report(v: VerifyResult) -> str:
    """The check report, then one line per claim: confirmed / not confirmed, score and threshold."""
    lines = [check_report(v.result, v.scan)]
    model_id = v.scan.model.registry_id or v.scan.model.name
    if not v.claims:
        lines.append(f"  claims: the catalogue lists no locations of {v.head.id} in {model_id}")
    for claim in v.claims:
        verdict = "confirmed" if claim.confirmed else "not confirmed"
        score = "n/a (outside the model)" if claim.score is None else f"{claim.score:.3f}"
        lines.append(
            f"  claim {claim.location} ({claim.evidence.cite}): {verdict}: score {score}, threshold {claim.threshold:g}"
        )
    return "\n".join(lines)


def head_map(scan: ScanResult) -> str:
    """A layer x head grid; each cell lists the letters of the checks that head passes."""
    m = scan.model
    cells = [
        [
            "".join(
                MAP_LETTERS[c]
                for c in CHECKS
                if c in scan.results
                and (s := scan.results[c].scores) is not None
                and float(s[layer, h]) >= scan.results[c].check.threshold
            )
            or "."
            for h in range(m.n_heads)
        ]
        for layer in range(m.n_layers)
    ]
    w = max(2, *(len(c) for row in cells for c in row)) + 1
    lines = [f"head map of {m.name}: {m.n_layers} layers x {m.n_heads} heads, {scan.forward_passes} forward passes"]
    lines.append("      " + "".join(f"H{h}".ljust(w) for h in range(m.n_heads)))
    for layer, row in enumerate(cells):
        lines.append(f"  L{layer:<3d}" + "".join(c.ljust(w) for c in row).rstrip())
    legend = [f"{MAP_LETTERS[c]}={c}" for c in CHECKS if c in scan.results and scan.results[c].scores is not None]
    lines.append("  " + " ".join(legend) + "  .=none")
    skipped = [f"{c} ({r.skipped})" for c, r in scan.results.items() if r.skipped]
    if skipped:
        lines.append("  not run: " + "; ".join(skipped))
    return "\n".join(lines)


def head_ids(catalogue: Catalogue | None) -> dict[str, str]:
    """Check id -> head-type id: the catalogue's ``check:`` links where present, else :data:`CHECK_HEADS`."""
    out = dict(CHECK_HEADS)
    if catalogue is not None:
        for h in sorted(catalogue.heads.values(), key=lambda h: h.id):
            if h.check is not None and out.get(h.check) not in catalogue.heads:
                out[h.check] = h.id
    return out


def candidate_evidence(scan: ScanResult, *, catalogue: Catalogue | None = None) -> str:
    """YAML of candidate evidence entries, keyed by head-type id, for checks with passing heads."""
    model = scan.model
    if model.registry_id is None:
        raise ValueError(f"{model.name} is not a registry model: evidence needs a registry id (data/models.yaml)")
    ids = head_ids(catalogue)
    out: dict[str, list[dict[str, Any]]] = {}
    for cid, r in scan.results.items():
        passing = sorted(r.passing(), key=lambda loc: (loc.layer, loc.head)) if r.scores is not None else []
        if not passing:
            continue
        rec = reproduced_record(r, model)
        ev = Evidence(
            cite=CATALOGUE_CITE,
            model=model.registry_id,
            locations=passing,
            method="scoring",
            method_detail=(
                f"score as defined in {r.check.reference} ({r.check.cite}); "
                f"`heads scan {model.name}` on {scan.batch} probe sequences (seed {scan.seed})"
            ),
            metric=r.check.metric,
            value=rec.score,
            source=r.check.version,
            source_kind="code",
            reproduced=rec,
        )
        data = ev.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        data["locations"] = [str(loc) for loc in ev.locations]
        data["reproduced"]["heads"] = [str(loc) for loc in sorted(rec.heads, key=lambda loc: (loc.layer, loc.head))]
        out.setdefault(ids[cid], []).append(data)
    header = (
        f"# candidate evidence from `heads scan {model.name}`: paste each entry under its head type's "
        "`evidence:` in data/heads/<id>.yaml\n"
    )
    return header + yaml.dump(out, Dumper=_FlowLists, sort_keys=True, allow_unicode=True, width=100)


class _FlowLists(yaml.SafeDumper):
    """Block style, except lists of plain values (head locations) stay on one line: ``[L1H1, L1H3]``."""


def _flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(x, str | int | float) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FlowLists.add_representer(list, _flow_list)
