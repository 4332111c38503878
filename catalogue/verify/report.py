"""Plain-text reports of check results, the terminal head map, and candidate evidence as YAML.

Output is deterministic: heads sorted by score then position, floats at fixed precision.
"""

from __future__ import annotations

from typing import Any

import yaml

from catalogue.schema import CATALOGUE_CITE, CHECKS, Catalogue, Evidence
from catalogue.verify.runner import CheckResult, ScanResult, VerifyResult, reproduced_record

__all__ = [
    "MAP_LETTERS",
    "candidate_evidence",
    "check_report",
    "head_map",
    "render",
    "scan_json",
    "verify_json",
    "verify_report",
]

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
            if s != s:
                cells.append(f"{'n/a':>7s}")  # a layer without attention (hybrid models)
                continue
            mark = "*" if s >= result.threshold and s > result.chance_max else " "
            cells.append(f"{s:6.2f}{mark}")
        lines.append(f"  L{layer:<3d}" + "".join(cells))
    return lines


def check_report(result: CheckResult, scan: ScanResult, *, top: int = 5) -> str:
    """Score table (``*`` marks heads at or above the threshold) and the top heads."""
    c = result.check
    head = f"{c.id}: {c.title} on {scan.model.name} ({c.reference})"
    if result.skipped or result.scores is None:
        return f"{head}\n  skipped: {result.skipped}"
    lines = [
        head,
        f"  score: {c.metric}",
        f"  normalisation: {c.normalisation or c.reference}; mean over {len(result.seeds) or 1} probe seed(s)",
        f"  chance baseline: mean {_mean(result.chance):.3f}, max {result.chance_max:.3f} over heads; "
        f"perfect head {result.perfect:.3f}",
        f"  threshold {result.threshold:.3f} ({result.threshold_rule})",
        *_table(result, scan),
    ]
    ranked = result.ranked(scan.heads)[:top]
    spread = result.spread
    lines.append(
        "  top heads: "
        + ", ".join(
            f"{loc} {s:.3f}" + (f" ±{float(spread[loc.layer, loc.head]):.3f}" if spread is not None else "")
            for loc, s in ranked
        )
    )
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
            f"  claim {claim.location} ({claim.evidence.cite}): {verdict}: score {score}, "
            f"threshold {claim.threshold:.3f}, chance {claim.chance:.3f}"
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
                and float(s[layer, h]) >= scan.results[c].threshold
                and float(s[layer, h]) > scan.results[c].chance_max
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
    """Check id -> head-type id, read only from the data (``check:`` on a head type); a check that
    no head type links keys its candidates by the check id."""
    out: dict[str, str] = {}
    if catalogue is not None:
        for h in sorted(catalogue.heads.values(), key=lambda h: h.id):
            if h.check is not None:
                out.setdefault(h.check, h.id)
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
                f"score as defined in {r.check.reference} ({r.check.cite}); normalisation "
                f"{r.check.normalisation or 'as defined'}; `heads scan {model.name}` on {scan.batch} probe sequences "
                f"x seeds {','.join(map(str, scan.seeds))}; chance (shuffled keys) max {r.chance_max:.3f}; "
                f"threshold {r.threshold:.3f} ({r.threshold_rule}); {_versions(model)}"
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
        out.setdefault(ids.get(cid, cid), []).append(data)
    header = (
        f"# candidate evidence from `heads scan {model.name}`: paste each entry under its head type's "
        "`evidence:` in data/heads/<id>.yaml\n"
    )
    return header + yaml.dump(out, Dumper=_FlowLists, sort_keys=True, allow_unicode=True, width=100)


def _mean(t: Any) -> float:
    if t is None:
        return float("nan")
    return float(t.nanmean())


def _versions(model: Any) -> str:
    from catalogue import __version__

    parts = [f"catalogue {__version__}", *(f"{k} {v}" for k, v in sorted(model.versions.items()))]
    return "versions: " + "; ".join(parts)


def _matrix(t: Any) -> list[list[float | None]] | None:
    if t is None:
        return None
    return [[None if x != x else round(float(x), 6) for x in row] for row in t.tolist()]


def _check_json(r: CheckResult) -> dict[str, Any]:
    c = r.check
    return {
        "title": c.title,
        "metric": c.metric,
        "normalisation": c.normalisation,
        "reference": c.reference,
        "cite": c.cite,
        "version": c.version,
        "skipped": r.skipped,
        "seeds": list(r.seeds),
        "scores": _matrix(r.scores),
        "spread": _matrix(r.spread),
        "chance": _matrix(r.chance),
        "chance_max": None if r.scores is None else round(r.chance_max, 6),
        "perfect": None if r.scores is None else round(r.perfect, 6),
        "threshold": None if r.scores is None else round(r.threshold, 6),
        "threshold_rule": None if r.scores is None else r.threshold_rule,
        "passing": [str(loc) for loc in sorted(r.passing(), key=lambda loc: (loc.layer, loc.head))],
        "extras": {k: _matrix(v) for k, v in sorted(r.extras.items())},
    }


def render(result: ScanResult | VerifyResult, fmt: str) -> str:
    """``text`` (head map, or the verify report) or ``json`` (:func:`scan_json` / :func:`verify_json`).

    Raises :class:`~catalogue.verify.errors.VerifyError` for another format.
    """
    import json

    from catalogue.verify.errors import VerifyError

    if fmt not in ("text", "json"):
        raise VerifyError(f"--format {fmt!r}: choose text or json")
    if isinstance(result, VerifyResult):
        return verify_report(result) if fmt == "text" else json.dumps(verify_json(result), indent=1)
    return head_map(result) if fmt == "text" else json.dumps(scan_json(result), indent=1)


def scan_json(scan: ScanResult) -> dict[str, Any]:
    """The scan as JSON-ready data: for each check id its ``(n_layers, n_heads)`` score matrix
    (mean over seeds; null on layers without attention), spread, chance baseline, threshold and
    passing heads, plus the model's dimensions and the versions that produced it."""
    from catalogue import __version__

    m = scan.model
    return {
        "model": {
            "name": m.name,
            "registry_id": m.registry_id,
            "n_layers": m.n_layers,
            "n_heads": m.n_heads,
            "n_kv_heads": m.n_kv_heads,
            "attention_layers": list(m.layer_ids),
            "causal": m.causal,
            "dtype": m.dtype,
            "device": m.device,
        },
        "versions": {"catalogue": __version__, **dict(sorted(m.versions.items()))},
        "batch": scan.batch,
        "seeds": list(scan.seeds),
        "forward_passes": scan.forward_passes,
        "checks": {cid: _check_json(r) for cid, r in scan.results.items()},
    }


def verify_json(v: VerifyResult) -> dict[str, Any]:
    """:func:`scan_json` of the check's scan plus the head type and every claim's verdict."""
    out = scan_json(v.scan)
    out["head"] = v.head.id
    out["check"] = v.head.check
    out["claims"] = [
        {
            "location": str(c.location),
            "cite": c.evidence.cite,
            "score": c.score,
            "threshold": round(c.threshold, 6),
            "chance": round(c.chance, 6),
            "confirmed": c.confirmed,
        }
        for c in v.claims
    ]
    return out


class _FlowLists(yaml.SafeDumper):
    """Block style, except lists of plain values (head locations) stay on one line: ``[L1H1, L1H3]``."""


def _flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(x, str | int | float) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_FlowLists.add_representer(list, _flow_list)
