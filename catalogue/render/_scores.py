"""Model pages: one head map per per-head score table, each head's cell shaded by its score (static HTML)."""

from __future__ import annotations

from catalogue.render._markup import _attr, _code, _link, esc, paper_path
from catalogue.schema import ModelInfo
from catalogue.scores import ScoreTable, ranks
from catalogue.vocab import format_location

__all__ = ["score_maps"]


def _shade(score: float, low: float, high: float) -> str:
    """The cell's colour: the score's place between the table's lowest and highest, as an opacity."""
    frac = 0.0 if high <= low else (score - low) / (high - low)
    return f"background: rgba(197, 48, 48, {frac:.3f})"


def _map(t: ScoreTable, layers: int, heads: int) -> str:
    low = min(r[2] for r in t.rows)
    high = max(r[2] for r in t.rows)
    by_head = {(la, he): (sc, rk) for la, he, sc, rk in ranks(t.rows)}
    unit = "KV" if t.head_unit == "kv_head" else "H"
    head_row = "".join(f"<th>{j}</th>" for j in range(heads))
    body = []
    for layer in range(layers):
        tds = []
        for j in range(heads):
            got = by_head.get((layer, j))
            if got is None:
                tds.append("<td></td>")
                continue
            score, rank = got
            where = format_location(layer, j) if unit == "H" else f"L{layer}KV{j}"
            title = _attr(f"{where}: {score:.4g} (rank {rank} of {len(t.rows)})")
            tds.append(f'<td style="{_shade(score, low, high)}" title="{title}"></td>')
        body.append(f"<tr><th>{layer}</th>{''.join(tds)}</tr>")
    legend = (
        '<p class="head-map-legend"><span class="legend-item">'
        '<span class="swatch" style="background: rgba(197, 48, 48, 0)"></span>'
        f"{low:.4g} (lowest)</span> "
        '<span class="legend-item"><span class="swatch" style="background: rgba(197, 48, 48, 1)"></span>'
        f"{high:.4g} (highest)</span></p>"
    )
    return (
        legend
        + '\n\n<div class="head-map-wrap"><table class="head-map score-map">'
        + f'<thead><tr><th class="corner">L \\ {unit}</th>{head_row}</tr></thead>'
        + f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def score_maps(page: str, m: ModelInfo, tables: list[ScoreTable], labels: dict[str, str]) -> list[str]:
    """Markdown lines: a section per score table of model ``m`` (sorted by path), each with its map."""
    if not tables:
        return []
    lines = [
        "## Per-head scores",
        "",
        "Whole per-head score files released by the authors; each cell is shaded by its score "
        "between the table's lowest and highest; hover for the score and rank.",
        "",
    ]
    for t in sorted(tables, key=lambda t: t.path):
        title = labels.get(t.cite, t.cite) + (f": {t.name}" if t.name else "")
        lines += [f"### {esc(title)}", ""]
        lines += [
            f"{_code(t.path)}, from {esc(t.source)}; by "
            + _link(labels.get(t.cite, t.cite), page, paper_path(t.cite))
            + ".",
            "",
            f"Score: {esc(t.definition)}",
            "",
            f"The authors' selection: {esc(t.selection_rule)}",
            "",
        ]
        layers = max(r[0] for r in t.rows) + 1
        heads = max(r[1] for r in t.rows) + 1
        if t.head_unit == "head" and m.layers and m.heads:
            layers, heads = m.layers, m.heads
        lines += [_map(t, layers, heads), ""]
    return lines
