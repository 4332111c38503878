"""Pages about what the evidence rests on: models (with head maps), papers, methods, benchmarks, the CLI."""

from __future__ import annotations

from catalogue.headmap import SEVERAL, HeadMap, build
from catalogue.render._markup import (
    STAGE_CLASS,
    _attr,
    _code,
    _Ctx,
    _ext_link,
    _fence,
    _link,
    _paras,
    _table,
    checked_cell,
    esc,
    head_path,
    heads_cell,
    model_path,
    paper_path,
    url,
)
from catalogue.render._scores import score_maps
from catalogue.schema import ModelInfo, Reference
from catalogue.vocab import format_location


def _models_index(ctx: _Ctx) -> str:
    page = "models/index.md"
    rows = [
        [
            _link(m.name, page, model_path(m.id)),
            _code(m.id),
            esc(m.family),
            str(m.layers or "?"),
            str(m.heads or "?"),
            str(len({h.id for h, _ in ctx.by_model.get(m.id, [])})),
        ]
        for m in sorted(ctx.cat.models.values(), key=lambda m: m.id)
    ]
    body = _table(["Model", "Id", "Family", "Layers", "Heads", "Head types"], rows) if rows else "_No model yet._"
    return "\n".join(["# Models", "", body])


def _grid(ctx: _Ctx, page: str, hm: HeadMap) -> str:
    assert hm.layers is not None and hm.heads is not None
    names = {h.id: h.name for h in ctx.heads}
    head_row = "".join(f"<th>{j}</th>" for j in range(hm.heads))
    body = []
    for layer in range(hm.layers):
        tds = []
        for j in range(hm.heads):
            ids = hm.cells.get((layer, j), [])
            stage = hm.stage(layer, j)
            if stage is None:
                tds.append("<td></td>")
                continue
            cls = f"stage-{STAGE_CLASS[stage]}" if stage != SEVERAL else "stage-multi"
            title = _attr(f"{format_location(layer, j)}: " + ", ".join(names[i] for i in ids))
            label = len(ids) if len(ids) > 1 else ""
            href = url(page, head_path(ids[0]))
            tds.append(f'<td class="{cls}"><a href="{href}" title="{title}">{label}</a></td>')
        body.append(f"<tr><th>{layer}</th>{''.join(tds)}</tr>")
    return (
        '<div class="head-map-wrap"><table class="head-map">'
        f'<thead><tr><th class="corner">L \\ H</th>{head_row}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _legend(ctx: _Ctx) -> str:
    items = [
        f'<span class="legend-item"><span class="swatch stage-{STAGE_CLASS[s.id]}"></span>{esc(s.name)}</span>'
        for s in ctx.cat.taxonomy.stages
    ]
    items.append('<span class="legend-item"><span class="swatch stage-multi"></span>several stages</span>')
    return '<p class="head-map-legend">' + " ".join(items) + "</p>"


def _model(ctx: _Ctx, m: ModelInfo) -> str:
    page = model_path(m.id)
    facts = [f"**Id:** {_code(m.id)}", f"**Family:** {esc(m.family)}"]
    if m.hf_id:
        facts.append("**Hugging Face:** " + _ext_link(m.hf_id, f"https://huggingface.co/{m.hf_id}"))
    if m.layers and m.heads:
        facts.append(
            f"**Size:** {m.layers} layers x {m.heads} heads"
            + (f" ({m.kv_heads} key-value heads)" if m.kv_heads else "")
            + (
                f"; attention only in layers {', '.join(map(str, m.attention_layers))}"
                if m.attention_layers is not None
                else ""
            )
        )
    if m.parameters:
        facts.append(f"**Parameters:** {m.parameters:,}")
    lines = [f"# {esc(m.name)}", "", " · ".join(facts), ""]
    if m.source:
        lines += [f"Dimensions read from: {esc(m.source)}", ""]
    if m.note:
        lines += [_paras(m.note), ""]
    found = ctx.by_model.get(m.id, [])
    hm = build(
        m.id,
        m.layers,
        m.heads,
        [(h.id, loc.layer, loc.head) for h, e in found for loc in e.locations],
        {h.id: [p.stage for p in h.stages] for h, _ in found},
        m.attention_layers,
    )
    lines += ["## Head map", ""]
    if hm.drawable and hm.cells:
        lines += [
            "Each coloured cell is a head with a recorded role; hover for its types, click for the first.",
            "",
            _legend(ctx),
            "",
            _grid(ctx, page, hm),
            "",
        ]
    elif hm.cells:
        lines += ["_The model's dimensions are not recorded, so no map is drawn._", ""]
    else:
        lines += ["_No head of this model has a recorded location yet._", ""]
    tables = [t for t in ctx.cat.scores.values() if t.model == m.id]
    lines += score_maps(page, m, tables, {k: ctx.ref_label(k) for k in {t.cite for t in tables}})
    if found:
        rows = []
        for h, e in found:
            rows.append(
                [
                    _link(h.name, page, head_path(h.id)),
                    heads_cell(e, ctx.cat.models),
                    esc(e.method),
                    _link(ctx.ref_label(e.cite), page, paper_path(e.cite))
                    if e.cite in ctx.cat.references
                    else esc(e.cite),
                    checked_cell(e),
                    esc(e.source),
                ]
            )
        lines += [
            "## Evidence in this model",
            "",
            _table(["Head type", "Heads", "Method", "Work", "Checked", "Where it was read"], rows),
            "",
        ]
    return "\n".join(lines)


def _papers_index(ctx: _Ctx) -> str:
    page = "papers/index.md"
    refs = sorted(ctx.cat.references.values(), key=lambda r: (-r.year, r.key))
    rows = [
        [
            _link(r.short, page, paper_path(r.key)),
            esc(r.title),
            str(r.year),
            str(len({h.id for h, _ in ctx.by_paper.get(r.key, [])})),
        ]
        for r in refs
    ]
    body = _table(["Work", "Title", "Year", "Head types"], rows) if rows else "_No work cited yet._"
    return "\n".join(["# Papers", "", body])


def _paper(ctx: _Ctx, r: Reference) -> str:
    page = paper_path(r.key)
    lines = [
        f"# {esc(r.title)}",
        "",
        esc(", ".join(map(str, r.authors)) + (" et al." if r.others else "")) + f" ({r.year})",
        "",
    ]
    if r.venue:
        lines += [f"_{esc(r.venue)}_", ""]
    links = [f"Cite key: {_code(r.key)}"]
    if r.eprint:
        links.append(_ext_link(f"arXiv:{r.eprint}", f"https://arxiv.org/abs/{r.eprint}"))
    if r.doi:
        links.append(_ext_link(f"doi:{r.doi}", f"https://doi.org/{r.doi}"))
    if r.url:
        links.append(_ext_link("link", r.url))
    lines += [" · ".join(links), ""]
    found = ctx.by_paper.get(r.key, [])
    if found:
        rows = [
            [
                _link(h.name, page, head_path(h.id)),
                _link(e.model, page, model_path(e.model))
                if e.model and e.model in ctx.cat.models
                else esc(e.model or "—"),
                heads_cell(e, ctx.cat.models),
                esc(e.method),
                esc(e.source),
            ]
            for h, e in found
        ]
        lines += [
            "## Evidence from this work",
            "",
            _table(["Head type", "Model", "Heads", "Method", "Where it was read"], rows),
            "",
        ]
    bench = [b for b in ctx.cat.taxonomy.benchmarks if b.cite == r.key]
    if bench:
        lines += ["## Benchmarks", "", ", ".join(_link(b.name, page, "benchmarks.md", b.id) for b in bench), ""]
    lines += ["## BibTeX", "", _fence(r.bibtex, "bibtex"), ""]
    return "\n".join(lines)


def _methods(ctx: _Ctx) -> str:
    page = "methods.md"
    lines = ["# Methods", "", "How the evidence was found, following the survey's taxonomy of methods.", ""]
    for family in ("modeling-free", "modeling-required"):
        lines += [f"## {family.capitalize()} methods", ""]
        for m in (m for m in ctx.cat.taxonomy.methods if m.family == family):
            users = sorted(
                {h.id: h for h in ctx.heads for e in h.evidence if e.method == m.id}.values(), key=lambda h: h.id
            )
            lines += [
                f"### {esc(m.name)} {{#{m.id}}}",
                "",
                f"{_code(m.id)} · {esc(m.type.replace('-', ' '))}"
                + ("" if m.in_survey else " · added by the catalogue"),
                "",
                _paras(m.description),
                "",
            ]
            if users:
                lines += ["Used for: " + ", ".join(_link(h.name, page, head_path(h.id)) for h in users), ""]
    return "\n".join(lines)


def _benchmarks(ctx: _Ctx) -> str:
    page = "benchmarks.md"
    lines = ["# Benchmarks", "", "Data sets the survey lists for studying and evaluating attention heads.", ""]
    for kind in ("mechanism-exploration", "common-evaluation"):
        lines += [f"## {kind.replace('-', ' ').capitalize()}", ""]
        for b in (b for b in ctx.cat.taxonomy.benchmarks if b.kind == kind):
            cite = (
                (" · " + _link(ctx.ref_label(b.cite), page, paper_path(b.cite)))
                if b.cite and b.cite in ctx.cat.references
                else ""
            )
            lines += [
                f"### {esc(b.name)} {{#{b.id}}}",
                "",
                f"_{esc(b.task_type)}_{cite}",
                "",
                _paras(b.description),
                "",
            ]
    return "\n".join(lines)
