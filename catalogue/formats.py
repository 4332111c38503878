"""Turning query results into text: terminal tables, JSON, CSV, YAML and BibTeX. No I/O."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Sequence
from typing import Any, Literal

from catalogue.schema import STAGES, HeadType, Reference

__all__ = ["Format", "evidence_rows", "head_rows", "render_rows", "table"]

Format = Literal["table", "json", "csv", "yaml"]

_ABBR = {
    "knowledge-recalling": "KR",
    "in-context-identification": "ICI",
    "latent-reasoning": "LR",
    "expression-preparation": "EP",
}


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, width: int | None = None) -> str:
    """A plain aligned text table; the last column is cut to fit the terminal."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    cells = [[str(c) if c is not None else "" for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if len(widths) > 1:
        room = max(20, width - sum(widths[:-1]) - 2 * (len(widths) - 1))
        widths[-1] = min(widths[-1], room)

    def fmt(r: Sequence[str]) -> str:
        parts = []
        for i, c in enumerate(r):
            c = c if len(c) <= widths[i] else c[: widths[i] - 1] + "…"
            parts.append(c.ljust(widths[i]) if i < len(r) - 1 else c)
        return "  ".join(parts).rstrip()

    lines = [fmt(list(headers)), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in cells]
    return "\n".join(lines)


def stage_label(h: HeadType) -> str:
    return ",".join(_ABBR[p.stage] for p in sorted(h.stages, key=lambda p: STAGES.index(p.stage)))


def head_rows(heads: Sequence[HeadType], refs: dict[str, Reference] | None = None) -> list[dict[str, Any]]:
    """One flat record per head type, for tables, CSV and YAML."""
    out = []
    for h in heads:
        years = sorted({refs[e.cite].year for e in h.evidence if refs and e.cite in refs})
        out.append(
            {
                "id": h.id,
                "name": h.name,
                "stages": stage_label(h),
                "in_survey": h.in_survey,
                "evidence": len(h.evidence),
                "models": ",".join(sorted({e.model for e in h.evidence if e.model})),
                "years": ",".join(str(y) for y in years),
                "summary": h.summary,
            }
        )
    return out


def evidence_rows(heads: Sequence[HeadType]) -> list[dict[str, Any]]:
    """One flat record per evidence record (CSV export)."""
    return [
        {
            "head_id": h.id,
            "cite": e.cite,
            "model": e.model or "",
            "locations": " ".join(str(loc) for loc in e.locations),
            "method": e.method,
            "method_detail": e.method_detail or "",
            "task": e.task or "",
            "metric": e.metric or "",
            "value": "" if e.value is None else e.value,
            "source": e.source,
        }
        for h in heads
        for e in h.evidence
    ]


def render_rows(
    rows: list[dict[str, Any]], fmt: Format, *, full: Any = None, columns: Sequence[str] | None = None
) -> str:
    """Render records as a table, CSV or YAML; JSON renders ``full`` (the complete objects) when given."""
    if fmt == "json":
        return json.dumps(full if full is not None else rows, indent=2, ensure_ascii=False)
    if fmt == "yaml":
        import yaml

        data = full if full is not None else rows
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip()
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue().rstrip("\n")
    return table(cols, [[r[c] for c in cols] for r in rows])


def head_text(h: HeadType, refs: dict[str, Reference]) -> str:
    """`heads show` as plain text."""
    lines = [f"{h.name}  [{h.id}]"]
    if h.aliases:
        lines.append(f"aliases:   {', '.join(h.aliases)}")
    for p in h.stages:
        sub = f" / {p.subcategory}" if p.subcategory else ""
        lines.append(f"stage:     {p.stage}{sub}  (placed by {p.placed_by})")
    lines.append(
        f"survey:    {'named in the survey' if h.in_survey else 'not in the survey'}"
        + (f"; list badges {', '.join(h.list_badges)}" if h.list_badges else "")
    )
    if h.check:
        lines.append(f"verify:    heads verify {h.id} --model MODEL   (check: {h.check})")
    lines += ["", h.summary]
    if h.mechanism:
        lines += ["", "Mechanism: " + h.mechanism]
    if h.related:
        lines += ["", "Related:"] + [f"  {r.kind} {r.head}" + (f" ({r.note})" if r.note else "") for r in h.related]
    lines += ["", f"Evidence ({len(h.evidence)}):"]
    for e in h.evidence:
        ref = refs.get(e.cite)
        who = f"{ref.short}" if ref else e.cite
        head = f"  - {who} [{e.cite}]: {e.model or 'no specific model'}, {e.method}"
        if e.method_detail:
            head += f" ({e.method_detail})"
        lines.append(head)
        if e.locations:
            lines.append(f"      heads: {' '.join(str(loc) for loc in e.locations)}")
        if e.task:
            lines.append(f"      task: {e.task}")
        if e.metric:
            lines.append(f"      {e.metric}" + (f" = {e.value:g}" if e.value is not None else ""))
        lines.append(f"      source: {e.source}")
        if e.note:
            lines.append(f"      note: {e.note}")
        if e.reproduced:
            r = e.reproduced
            lines.append(
                f"      reproduced: {r.check} on {r.model} score {r.score:.3f} (threshold {r.threshold}) v{r.version}"
            )
    if h.notes:
        lines += ["", "Notes: " + h.notes]
    return "\n".join(lines)


_STAGE_CHAR = {
    "knowledge-recalling": "K",
    "in-context-identification": "I",
    "latent-reasoning": "L",
    "expression-preparation": "E",
}


def model_grid(layers: int, heads: int, cells: dict[tuple[int, int], list[str]], stages: dict[str, list[str]]) -> str:
    """A layer x head map: one character per head (K/I/L/E by stage, * for several stages, . unknown)."""
    width = max(2, len(str(heads - 1)) + 1)
    out = ["layer " + "".join(str(h).rjust(width) for h in range(heads))]
    for layer in range(layers):
        row = []
        for head in range(heads):
            ids = cells.get((layer, head), [])
            chars = {_STAGE_CHAR[s] for i in ids for s in stages.get(i, [])}
            row.append((chars.pop() if len(chars) == 1 else "*" if chars else ".").rjust(width))
        out.append(str(layer).rjust(5) + " " + "".join(row))
    out.append("")
    out.append(
        "K knowledge recalling  I in-context identification  L latent reasoning  E expression preparation  * several"
    )
    return "\n".join(out)
