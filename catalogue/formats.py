"""Turning query answers into text: terminal tables and reports, JSON, CSV and YAML. No I/O, no pydantic.

Every command prints through this module. Text for the terminal wraps to its width (``$COLUMNS``, else
the terminal's, else 80 columns, as rich does when output is not a terminal).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from catalogue.headmap import SEVERAL, HeadMap
from catalogue.vocab import (
    STAGE_ABBREVIATIONS,
    STAGES,
    STANDING_RULE,
    format_location,
    neuronpedia_head_url,
    score_manifest,
)

__all__ = [
    "Format",
    "evidence_rows",
    "checked_text",
    "claims_report",
    "head_text",
    "model_text",
    "render_rows",
    "reread_text",
    "selection_text",
    "stats_text",
    "table",
    "terminal_width",
    "where_text",
    "year_span",
]

Format = Literal["table", "json", "csv", "yaml"]
Record = Mapping[str, Any]


def terminal_width() -> int:
    return max(40, shutil.get_terminal_size((80, 24)).columns)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, width: int | None = None) -> str:
    """A plain aligned text table that fits in ``width`` columns: the widest cells are cut with "…".

    Columns shrink down to their header's width (at most 12) first, then to 3 characters; a table that
    still does not fit (very many columns) has its lines cut at ``width``. Output to a pipe or file (no
    terminal, no ``COLUMNS``) keeps every cell whole, so ids can be copied and scripts read them."""
    cells = [[str(c) if c is not None else "" for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if width is None and not os.environ.get("COLUMNS") and not sys.stdout.isatty():
        width = sum(widths) + 2 * (len(widths) - 1)
    width = width or terminal_width()
    for floor in ([max(3, min(len(h), 12)) for h in headers], [3] * len(headers)):
        while sum(widths) + 2 * (len(widths) - 1) > width:
            i = max(range(len(widths)), key=lambda k: widths[k] - floor[k])
            if widths[i] <= floor[i]:
                break
            widths[i] -= 1

    def fmt(r: Sequence[str]) -> str:
        parts = []
        for i, c in enumerate(r):
            c = c if len(c) <= widths[i] else c[: widths[i] - 1] + "…"
            parts.append(c.ljust(widths[i]) if i < len(r) - 1 else c)
        return _cut("  ".join(parts).rstrip(), width)

    lines = [fmt(list(headers)), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in cells]
    return "\n".join(lines)


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def year_span(years: str) -> str:
    """``2019,2021,2024`` -> ``2019-2024`` (a column that stays narrow)."""
    ys = [y for y in years.split(",") if y]
    if not ys:
        return ""
    return ys[0] if ys[0] == ys[-1] else f"{ys[0]}-{ys[-1]}"


def render_rows(rows: Sequence[Record], fmt: Format, *, full: Any = None, columns: Sequence[str] | None = None) -> str:
    """Render records as a table, CSV or YAML; JSON and YAML render ``full`` (the complete objects) when given."""
    if fmt == "json":
        return json.dumps(full if full is not None else rows, indent=2, ensure_ascii=False)
    if fmt == "yaml":
        import yaml

        data = full if full is not None else [dict(r) for r in rows]
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100).rstrip()
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt == "csv":
        buf = io.StringIO()
        import csv  # here: only CSV output needs it, and `heads show` should not load it

        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue().rstrip("\n")
    return table(cols, [[r[c] for c in cols] for r in rows])


def _locations(e: Record) -> str:
    return " ".join(format_location(loc["layer"], loc["head"]) for loc in e.get("locations", []))


def evidence_rows(heads: Sequence[Record]) -> list[dict[str, Any]]:
    """One flat record per evidence record (CSV export)."""
    return [
        {
            "head_id": h["id"],
            "evidence_id": e.get("id") or "",
            "status": "withdrawn" if e.get("deprecated") else "current",
            "cite": e["cite"],
            "model": e.get("model") or "",
            "locations": _locations(e),
            "method": e["method"],
            "method_detail": e.get("method_detail") or "",
            "task": e.get("task") or "",
            "metric": e.get("metric") or "",
            "value": "" if e.get("value") is None else e["value"],
            "source": e["source"],
            "source_kind": e["source_kind"],
            "stance": e.get("stance", "support"),
            "scores": e.get("scores") or "",
        }
        for h in heads
        for e in h["evidence"]
    ]


class _Text:
    """Lines wrapped to a width, with a hanging indent for labelled fields."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.lines: list[str] = []

    def add(self, text: str, indent: int = 0, hang: int = 0) -> None:
        if not text:
            self.lines.append("")
            return
        if indent + len(text) <= self.width and text == text.strip() and text.isprintable():
            self.lines.append(" " * indent + text)  # what textwrap would return, without its regex work
            return
        self.lines += textwrap.wrap(
            text,
            self.width,
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + hang),
            break_on_hyphens=False,
        ) or [""]

    def field(self, label: str, text: str, indent: int = 0) -> None:
        self.add(f"{label} {text}", indent, hang=len(label) + 1)

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _evidence_lines(out: _Text, e: Record, labels: Mapping[str, str], indent: int, owner: Record | None = None) -> None:
    """One evidence record as text; ``owner`` is its head type's JSON, which holds the records' re-reads."""
    who = labels.get(e["cite"], e["cite"])
    ev_id = f"{e['id']} " if e.get("id") else ""
    head = f"- {ev_id}{who} [{e['cite']}]: {e.get('model') or 'no specific model'}, {e['method']}"
    if e.get("method_detail"):
        head += f" ({e['method_detail']})"
    out.add(head, indent, hang=2)
    inner = indent + 4
    if e.get("locations"):
        out.field("heads:", _locations(e), inner)
    if e.get("task"):
        out.field("task:", e["task"], inner)
    if e.get("metric"):
        out.add(e["metric"] + (f" = {e['value']:g}" if e.get("value") is not None else ""), inner, hang=2)
    stance = e.get("stance", "support")
    out.field("source:", f"{e['source']} ({e['source_kind']}{'' if stance == 'support' else '; ' + stance})", inner)
    if e.get("scores"):
        out.field("scores:", e["scores"], inner)
    reread = (owner or {}).get("rereads", {}).get(e.get("id"))
    if reread:
        out.field("re-read:", reread_text(reread, e["source"]), inner)
    selection = (owner or {}).get("selections", {}).get(e.get("id"))
    if selection:
        out.field("re-read:", selection_text(selection, e["scores"]), inner)
    dep = e.get("deprecated")
    if dep:
        out.field("WITHDRAWN:", f"{dep['date']}: {dep['reason']}", inner)
    if e.get("note"):
        out.field("note:", e["note"], inner)
    c = e.get("checked")
    if c:
        out.field("checked:", checked_text(c), inner)
    elif e.get("locations"):
        out.field("checked:", "not yet measured", inner)
    r = e.get("reproduced")
    if r:
        out.field(
            "reproduced:",
            f"{r['check']} on {r['model']} score {r['score']:.3f} (threshold {r['threshold']}) v{r['version']}",
            inner,
        )


def selection_text(selection: str, scores: str) -> str:
    """How a record on a score table was re-read by machine: which list of the table's manifest its heads are."""
    manifest = score_manifest(scores)
    if selection.startswith("not "):
        return f"by machine: its heads are all the model's heads outside `{selection[4:]}` in {manifest}"
    return f"by machine: its heads are the list `{selection}` in {manifest}"


def reread_text(r: Record, source: str | None = None) -> str:
    """``2026-12-01, matched: <what was read>`` (+ ``; <note>``): a second reading at the record's pointer;
    ``what was read`` is ``the source above`` when it is the record's own ``source``."""
    read = "at the source above" if r["read"] == source else r["read"]
    return f"{r['date']}, {r['outcome']}: {read}" + (f"; {r['note']}" if r.get("note") else "")


def checked_text(c: Record) -> str:
    """``confirmed: induction L1H0 0.91 (rank 1/8, chance 0.03, threshold 0.40); ... on MODEL, DATE``."""
    heads = "; ".join(
        f"{format_location(x['head']['layer'], x['head']['head'])} {x['score']:.2f} "
        f"(rank {x['rank']}/{x['of']}, chance {x['baseline']:.2f}, threshold {x['threshold']:.2f}, {x['verdict']})"
        for x in c["heads"]
    )
    return f"{c['verdict']}: {c['check']} {heads}; {c['model']}, {c['date']}"


def claims_report(rows: Sequence[Record], fmt: str = "text") -> str:
    """`heads verify --claims`: one line per claim with its verdict and the claimed heads' scores (text), or the
    rows as JSON. ``rows`` come from :meth:`catalogue.claims.Measured.rows`."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2, ensure_ascii=False)
    cols = ["head_type", "evidence", "verdict", "threshold", "chance", "scores"]
    if rows and "recorded" in rows[0]:
        cols.insert(3, "recorded")
    counts: dict[str, int] = {}
    for r in rows:
        counts[str(r["verdict"])] = counts.get(str(r["verdict"]), 0) + 1
    summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    return table(cols, [[r.get(c, "") for c in cols] for r in rows]) + f"\n{len(rows)} claim(s): {summary}"


def head_text(h: Record, labels: Mapping[str, str], *, width: int | None = None) -> str:
    """`heads show` as text: ``h`` is a head type's JSON, ``labels`` maps cite keys to short labels."""
    out = _Text(width or terminal_width())
    out.add(f"{h['name']}  [{h['id']}]")
    if h.get("aliases"):
        out.field("aliases:  ", ", ".join(h["aliases"]))
    for p in h["stages"]:
        sub = f" / {p['subcategory']}" if p.get("subcategory") else ""
        out.field("stage:    ", f"{p['stage']}{sub}  (placed by {p['placed_by']})")
    badges = f"; list badges {', '.join(h['list_badges'])}" if h.get("list_badges") else ""
    out.field("survey:   ", ("named in the survey" if h["in_survey"] else "not in the survey") + badges)
    if h.get("standing"):
        out.field("standing: ", f"{h['standing']}  ({STANDING_RULE[h['standing']]})")
    if h.get("check"):
        out.field("verify:   ", f"heads verify {h['id']} --model MODEL   (check: {h['check']})")
    out.add("")
    out.add(h["summary"])
    if h.get("mechanism"):
        out.add("")
        out.add("Mechanism: " + h["mechanism"])
    if h.get("related"):
        out.add("")
        out.add("Related:")
        for r in h["related"]:
            out.add(f"{r['kind']} {r['head']}" + (f" ({r['note']})" if r.get("note") else ""), 2, hang=2)
    out.add("")
    out.add(f"Evidence ({len(h['evidence'])}):")
    for e in h["evidence"]:
        _evidence_lines(out, e, labels, 2, h)
    if h.get("notes"):
        out.add("")
        out.add("Notes: " + h["notes"])
    return str(out)


def where_text(
    model: Record,
    loc: tuple[int, int],
    found: Sequence[tuple[Record, Sequence[Record]]],
    labels: Mapping[str, str],
    scores: Sequence[Record] = (),
    *,
    width: int | None = None,
) -> str:
    """`heads where` as text: each head type recorded at this head, with the evidence placing it there,
    then the head's score and rank in each per-head score table of the model."""
    here = f"{model['id']} {format_location(*loc)}"
    out = _Text(width or terminal_width())
    if not found:
        out.add(f"{here}: no head type is recorded at this head")
    else:
        out.add(f"{here}:")
    for h, evidence in found:
        out.add(f"{h['id']} ({h['name']})", 2)
        for e in evidence:
            _evidence_lines(out, e, labels, 4, h)
    if scores:
        out.add("Scores in the authors' per-head tables:")
        for r in scores:
            unit = " (its key/value head)" if r["head_unit"] == "kv_head" else ""
            out.add(f"{r['score']:.4g}  rank {r['rank']} of {r['rows']}{unit}  {r['table']}", 2, hang=4)
    if found and model.get("neuronpedia_id"):  # a dashboard link for a head with a recorded role
        out.add("")
        out.field("Neuronpedia:", neuronpedia_head_url(model["neuronpedia_id"], *loc))
    return str(out)


def where_json(
    model: Record, loc: tuple[int, int], found: Sequence[tuple[Record, Sequence[Record]]], scores: Sequence[Record] = ()
) -> Any:
    npid = model.get("neuronpedia_id")
    return {
        "model": model["id"],
        "head": format_location(*loc),
        "head_types": [{"id": h["id"], "name": h["name"], "evidence": list(ev)} for h, ev in found],
        "scores": list(scores),
        **({"neuronpedia": neuronpedia_head_url(npid, *loc)} if npid and found else {}),
    }


def stats_text(figures: Mapping[str, object], *, width: int | None = None) -> str:
    """`heads stats` as text: one figure a line, counters indented below their name (names cut to fit)."""
    width = width or terminal_width()
    lines = []
    for k, v in figures.items():
        if isinstance(v, dict):
            lines.append(f"{k}:")
            for kk, vv in v.items():
                name = _cut(str(kk), max(8, width - 3 - len(str(vv))))
                lines.append(f"  {name:<32} {vv}")
        else:
            lines.append(f"{k:<34} {v}")
    return "\n".join(_cut(line, width) for line in lines)


def _mark(stage: str | None) -> str:
    if stage is None:
        return "."
    return "*" if stage == SEVERAL else STAGE_ABBREVIATIONS[stage][0]


def model_grid(hm: HeadMap, *, width: int | None = None) -> str:
    """A layer x head map: one character per head (K/I/L/E by stage, * for several stages, . none).

    A model with more heads than fit in ``width`` columns is drawn in panels of consecutive heads."""
    assert hm.layers is not None and hm.heads is not None
    width = width or terminal_width()
    cell = max(2, len(str(hm.heads - 1)) + 1)
    per_panel = max(1, (width - 6) // cell)
    out: list[str] = []
    for start in range(0, hm.heads, per_panel):
        heads = range(start, min(hm.heads, start + per_panel))
        if out:
            out.append("")
        out.append("layer " + "".join(str(h).rjust(cell) for h in heads))
        for layer in range(hm.layers):
            marks = (_mark(hm.stage(layer, h)) if hm.has_attention(layer) else "-" for h in heads)
            out.append(str(layer).rjust(5) + " " + "".join(m.rjust(cell) for m in marks))
    out.append("")
    legend = "  ".join(f"{STAGE_ABBREVIATIONS[s][0]} {s.replace('-', ' ')}" for s in STAGES) + "  * several"
    if hm.attention_layers is not None:
        legend += "  - no attention in this layer"
    out += textwrap.wrap(legend, width, break_on_hyphens=False)
    return "\n".join(out)


def model_text(m: Record, hm: HeadMap, *, width: int | None = None) -> str:
    """`heads model` as text: the model's size, its head map and the heads of each head type."""
    width = width or terminal_width()
    dims = f"{m.get('layers') or '?'} layers x {m.get('heads') or '?'} heads"
    if m.get("attention_layers") is not None:
        dims += f" (attention only in layers {', '.join(map(str, m['attention_layers']))})"
    w = _Text(width)
    w.add(f"{m['name']} [{m['id']}]: {dims}" + (f", hf: {m['hf_id']}" if m.get("hf_id") else ""), hang=4)
    out = [str(w)]
    out.append(model_grid(hm, width=width) if hm.drawable else "dimensions unknown: no map can be drawn")
    w = _Text(width)
    for hid, locs in hm.by_type().items():
        w.add(f"{hid}: {' '.join(locs)}", 2, hang=4)
    out.append(str(w) if w.lines else "no head of this model has a recorded role yet")
    return "\n".join(out)


def models_table(models: Sequence[Record]) -> str:
    rows = [[m["id"], m.get("hf_id") or "", m["family"], m.get("layers") or "?", m.get("heads") or "?"] for m in models]
    return table(["id", "hf_id", "family", "layers", "heads"], rows)


def taxonomy_text(tax: Record, parts: Sequence[str]) -> str:
    """`heads taxonomy`: the stages with their sub-categories, the methods and the benchmarks."""
    blocks = []
    if "stages" in parts:
        rows = [
            [f"{STAGE_ABBREVIATIONS[s['id']]} {s['id']}", c["id"], c["name"]]
            for s in tax["stages"]
            for c in s["subcategories"]
        ]
        blocks.append(table(["stage", "sub-category", "name"], rows))
    if "methods" in parts:
        rows = [[m["id"], m["family"], m["type"], "yes" if m["in_survey"] else "no"] for m in tax["methods"]]
        blocks.append(table(["method", "family", "type", "in survey"], rows))
    if "benchmarks" in parts:
        rows = [[b["id"], b["kind"], b["task_type"], b["description"]] for b in tax["benchmarks"]]
        blocks.append(table(["benchmark", "kind", "task type", "description"], rows))
    return "\n\n".join(blocks)


def resolution_text(r: Any) -> str:
    """`heads id` as text: the canonical head and the convention assumed, or every reading when ambiguous."""
    first = r.assumed
    if not r.ambiguous:
        return f"{first.canonical}  ({r.form}; {first.convention}: {first.description})"
    lines = [
        f"{first.canonical}  (assumed {first.convention}: {first.description})",
        f"ambiguous: {r.text!r} has {len(r.readings)} readings; pass --convention to choose one:",
    ]
    width = max(len(x.convention) for x in r.readings)
    lines += [f"  {x.canonical:<8} {x.convention:<{width}}  {x.description}" for x in r.readings]
    return "\n".join(lines)


def compare_text(h: Record, rows: Sequence[Record], *, width: int = 30) -> str:
    """`heads compare` as text: one line per model and layer with a bar of the relative depth, banded in thirds."""
    if not rows:
        return f"{h['id']}: no located evidence in a model of known depth"
    out = [
        f"{h['name']} [{h['id']}] by relative depth (layer / layers; the survey's shallow / middle / deep as thirds)",
        "",
    ]
    mw = max(len(str(r["model"])) for r in rows)
    for r in rows:
        pos = min(width - 1, int(float(r["relative_depth"]) * width))
        bar = "".join(
            "|" if i == pos else ("." if (3 * i) // width == (3 * pos) // width else " ") for i in range(width)
        )
        out.append(
            f"{str(r['model']):<{mw}}  L{r['layer']:<3}/{r['layers']:<4} {float(r['relative_depth']):.2f} "
            f"{r['band']:<7} [{bar}] {r['heads']}"
        )
    return "\n".join(out)
