"""Pages about head types: the home page, stage pages, the head-type index and one page per head type."""

from __future__ import annotations

from collections.abc import Mapping

from catalogue.addressing import depth_band, relative_depth
from catalogue.formats import reread_text, selection_text
from catalogue.render._markup import (
    STAGE_CLASS,
    _attr,
    _code,
    _Ctx,
    _ext_link,
    _fence,
    _link,
    _num,
    _paras,
    _stage_order,
    _table,
    check_module,
    checked_cell,
    esc,
    head_path,
    heads_cell,
    model_path,
    paper_path,
    stage_path,
    url,
)
from catalogue.schema import STAGES, HeadType, Reread, StageInfo
from catalogue.vocab import STANDING_RULE, VERDICTS


def _home(ctx: _Ctx, intro: str) -> str:
    cat = ctx.cat
    n_ev = sum(len(h.evidence) for h in cat.heads.values())
    boxes = []
    for i, s in enumerate(cat.taxonomy.stages):
        if i:
            boxes.append('<div class="framework-arrow" aria-hidden="true">&#8594;</div>')
        count = sum(1 for h in cat.heads.values() if any(p.stage == s.id for p in h.stages))
        subs = "".join(f"<li>{esc(c.name)}</li>" for c in s.subcategories)
        boxes.append(
            f'<a class="framework-stage stage-{STAGE_CLASS[s.id]}" href="{url("index.md", stage_path(s.id))}">'
            f'<span class="framework-abbr">{esc(s.abbreviation)}</span>'
            f'<span class="framework-name">{esc(s.name)}</span>'
            f'<span class="framework-depth">{esc(s.typical_depth)}</span>'
            f"<ul>{subs}</ul>"
            f'<span class="framework-count">{count} head type{"s" if count != 1 else ""}</span></a>'
        )
    diagram = (
        '<figure class="framework" role="img" aria-label="The four-stage framework">'
        '<div class="framework-row">' + "".join(boxes) + "</div>"
        "<figcaption>The four-stage framework of the survey (Zheng et al., arXiv 2409.03752): "
        "each stage links to its head types.</figcaption></figure>"
    )
    lines = [
        "# Attention Head Catalogue",
        "",
        intro.strip(),
        "",
        "## The four-stage framework",
        "",
        diagram,
        "",
        f"The catalogue records **{len(cat.heads)}** head types, **{n_ev}** evidence records from "
        f"**{len(cat.references)}** works, and **{len(cat.models)}** models.",
        "",
        "- [Head types](heads/index.md), by stage",
        "- [Models](models/index.md), each with a layer x head map",
        "- [Papers](papers/index.md), with BibTeX to copy",
        "- [Methods](methods.md) and [benchmarks](benchmarks.md)",
        "- [The `heads` command line](cli.md)",
        "- [Contributing](contributing.md) a head type or evidence",
    ]
    return "\n".join(lines)


def _heads_table(ctx: _Ctx, page: str, heads: list[HeadType]) -> str:
    if not heads:
        return "_No head type is recorded here yet._"
    rows = [
        [
            _link(h.name, page, head_path(h.id)),
            ctx.stage_badges(h),
            esc(ctx.cat.standing(h)),
            str(len(h.evidence)),
            esc(h.summary),
        ]
        for h in heads
    ]
    return _table(["Head type", "Stages", "Standing", "Evidence", "Summary"], rows)


def _stage(ctx: _Ctx, s: StageInfo) -> str:
    page = stage_path(s.id)
    here = [h for h in ctx.heads if any(p.stage == s.id for p in h.stages)]
    lines = [
        f"# {esc(s.name)} ({esc(s.abbreviation)})",
        "",
        _paras(s.description),
        "",
        f"**Typical depth:** {esc(s.typical_depth)}",
        "",
    ]
    for c in s.subcategories:
        members = [h for h in here if any(p.stage == s.id and p.subcategory == c.id for p in h.stages)]
        lines += [f"## {esc(c.name)} {{#{c.id}}}", "", _paras(c.description), "", _heads_table(ctx, page, members), ""]
    loose = [h for h in here if any(p.stage == s.id and p.subcategory is None for p in h.stages)]
    if loose:
        lines += ["## Not placed in a sub-category", "", _heads_table(ctx, page, loose), ""]
    return "\n".join(lines)


def _heads_index(ctx: _Ctx) -> str:
    page = "heads/index.md"
    lines = ["# Head types", "", f"{len(ctx.heads)} head types, grouped by their first stage.", ""]
    for s in ctx.cat.taxonomy.stages:
        members = [h for h in ctx.heads if STAGES[_stage_order(h)] == s.id]
        lines += [f"## {esc(s.name)}", "", _heads_table(ctx, page, members), ""]
    return "\n".join(lines)


def _evidence_rows(ctx: _Ctx, page: str, h: HeadType) -> list[list[str]]:
    rows = []
    for i, e in enumerate(h.evidence, 1):
        method = ctx.methods.get(e.method)
        score = f"{esc(e.metric)} = {_num(e.value)}" if e.value is not None and e.metric else esc(e.metric or "")
        # the permanent id is the row's anchor (heads/<type>/#ev-...), so a paper can cite one claim
        ident = f'<a id="{_attr(e.id)}" href="#{_attr(e.id)}"><code>{esc(e.id)}</code></a>' if e.id else ""
        withdrawn = " **withdrawn**" if e.deprecated else ""
        rows.append(
            [
                f"{i} {ident}{withdrawn}".strip(),
                _link(ctx.ref_label(e.cite), page, paper_path(e.cite)) if e.cite in ctx.cat.references else esc(e.cite),
                _link(e.model, page, model_path(e.model))
                if e.model and e.model in ctx.cat.models
                else esc(e.model or "—"),
                heads_cell(e, ctx.cat.models),
                _link(method.name, page, "methods.md", e.method) if method else esc(e.method),
                esc(e.task or ""),
                score,
                checked_cell(e),
                esc(e.source_kind) + ("" if e.stance == "support" else f" ({esc(e.stance)})"),
                esc(e.source) + (f" · scores: {_code(e.scores)}" if e.scores else ""),
            ]
        )
    return rows


def _checked_summary(h: HeadType) -> list[str]:
    """How many of the located claims the catalogue's own checks confirmed."""
    located = [e for e in h.evidence if e.locations]
    if not located or h.check is None:
        return []
    counts = {v: sum(1 for e in located if e.checked and e.checked.verdict == v) for v in VERDICTS}
    unchecked = sum(1 for e in located if e.checked is None)
    parts = [f"{counts['below-threshold']} below threshold", f"{counts['contradicted']} contradicted"]
    parts.append(f"{unchecked} not yet measured")
    return [
        f"**Checked:** {counts['confirmed']} of {len(located)} located claims confirmed by the catalogue's "
        f"`{esc(h.check)}` check ({', '.join(parts)}).",
        "",
    ]


def _evidence_details(h: HeadType, rereads: Mapping[str, Reread], selections: Mapping[str, str]) -> list[str]:
    """How each method was applied, the notes and the second reading of its heads, numbered like the table's rows."""
    out = []
    for i, e in enumerate(h.evidence, 1):
        reread = rereads.get(e.id) if e.id else None
        parts = [
            f"Withdrawn on {e.deprecated.date.isoformat()}: {esc(e.deprecated.reason)}" if e.deprecated else "",
            f"How: {esc(e.method_detail)}" if e.method_detail else "",
            f"Note: {esc(e.note)}" if e.note else "",
            f"Re-read on {esc(reread_text(reread.model_dump(mode='json'), e.source))}" if reread else "",
            f"Re-read {esc(selection_text(selections[e.id], e.scores))}"
            if e.id and e.id in selections and e.scores
            else "",
        ]
        if any(parts):
            out.append(f"{i}. " + "<br>".join(p for p in parts if p))
    return ["Details, by row:", "", *out, ""] if out else []


def _head(ctx: _Ctx, h: HeadType) -> str:
    page = head_path(h.id)
    lines = [
        f"# {esc(h.name)}",
        "",
        f"{_code(h.id)} {ctx.stage_badges(h)}" + (" · named in the survey" if h.in_survey else ""),
        "",
    ]
    if h.aliases:
        lines += ["**Also called:** " + ", ".join(esc(a) for a in h.aliases), ""]
    standing = ctx.cat.standing(h)
    lines += [f"**Standing:** {esc(standing)} ({esc(STANDING_RULE[standing])})", ""]
    lines += [_paras(h.summary), ""]
    lines += ["## Place in the framework", ""]
    for p in sorted(h.stages, key=lambda p: STAGES.index(p.stage)):
        st = ctx.stages.get(p.stage)
        where = _link(st.name, page, stage_path(p.stage)) if st else esc(p.stage)
        if p.subcategory:
            where += " › " + _link(
                ctx.sub_names.get(p.subcategory, p.subcategory), page, stage_path(p.stage), p.subcategory
            )
        who = "the survey" if p.placed_by == "survey" else "the catalogue's reading"
        lines.append(f"- {where} (placed by {who})" + (f": {esc(p.note)}" if p.note else ""))
    lines.append("")
    if h.list_badges:
        lines += ["Paper-list badges: " + ", ".join(_code(b) for b in h.list_badges), ""]
    if h.mechanism:
        lines += ["## Mechanism", "", _paras(h.mechanism), ""]
    lines += [
        "## Evidence",
        "",
        *_checked_summary(h),
        _table(
            [
                "# and id",
                "Work",
                "Model",
                "Heads",
                "Method",
                "Task",
                "Score",
                "Checked",
                "Source kind",
                "Where it was read",
            ],
            _evidence_rows(ctx, page, h),
        ),
        "",
        *_evidence_details(h, ctx.cat.rereads, ctx.cat.selections),
    ]
    lines += _across_models(ctx, page, h)
    reproduced = [e for e in h.evidence if e.reproduced]
    if reproduced:
        rows = []
        for e in reproduced:
            r = e.reproduced
            assert r is not None
            model = _link(r.model, page, model_path(r.model)) if r.model in ctx.cat.models else esc(r.model)
            heads = " ".join(str(x) for x in r.heads) or "—"
            passed = "yes" if r.score >= r.threshold else "no"
            rows.append(
                [
                    esc(ctx.ref_label(e.cite)),
                    esc(r.check),
                    model,
                    _num(r.score),
                    _num(r.threshold),
                    passed,
                    heads,
                    esc(r.version),
                ]
            )
        lines += [
            "## Reproduction",
            "",
            _table(
                ["Claim", "Check", "Model", "Score", "Threshold", "Reproduced", "Heads over threshold", "Version"], rows
            ),
            "",
        ]
    if h.check:
        models = sorted({e.model for e in h.evidence if e.model and e.locations}) or sorted(
            {e.model for e in h.evidence if e.model}
        )
        model = models[0] if models else "gpt2-small"
        src = check_module(h.check)
        lines += [
            "## Verify it yourself",
            "",
            f"The check {_code(h.check)} scores every head of a model; its source is "
            f"{_ext_link(src, f'{ctx.repo_url}/blob/main/{src}')}.",
            "",
            _fence(f"heads verify {h.id} --model {model}", "console"),
            "",
        ]
    if h.related or ctx.incoming.get(h.id):
        lines += ["## Related head types", ""]
        for rel in h.related:
            target = ctx.cat.heads.get(rel.head)
            name = _link(target.name, page, head_path(rel.head)) if target else esc(rel.head)
            lines.append(f"- {esc(rel.kind.replace('-', ' '))} {name}" + (f": {esc(rel.note)}" if rel.note else ""))
        for other, kind in sorted(ctx.incoming.get(h.id, []), key=lambda x: (x[0].id, x[1])):
            lines.append(
                f"- {_link(other.name, page, head_path(other.id))} {esc(kind.replace('-', ' '))} this head type"
            )
        lines.append("")
    if h.notes:
        lines += ["## Notes", "", _paras(h.notes), ""]
    bib = [ctx.cat.references[k].bibtex for k in sorted({e.cite for e in h.evidence}) if k in ctx.cat.references]
    if bib:
        lines += ["## Cite", "", _fence("\n\n".join(bib), "bibtex"), ""]
    return "\n".join(lines)


#: How the depth bands are defined, said once on every head-type page that shows them.
DEPTH_NOTE = (
    "Relative depth is layer / layers (0-indexed layer). The bands are the survey's shallow, middle and deep "
    "layers taken as thirds of each model's depth: the survey (Zheng et al., arXiv 2409.03752, stage-layer "
    "figure) splits GPT-2 small's 12 layers as 1-4, 5-8 and 9-12 and gives no numeric cut-offs for other models."
)


def _across_models(ctx: _Ctx, page: str, h: HeadType) -> list[str]:
    """Where the head type sits in every model of known depth, by relative depth (current claims only)."""
    by_layer: dict[tuple[str, int], set[str]] = {}
    for e in h.evidence:
        m = ctx.cat.models.get(e.model or "")
        if m is None or not m.layers or e.deprecated:
            continue
        for loc in e.locations:
            by_layer.setdefault((m.id, loc.layer), set()).add(str(loc))
    if not by_layer:
        return []
    rows = []
    for (model, layer), heads in sorted(by_layer.items()):
        n = ctx.cat.models[model].layers
        assert n is not None
        rel = relative_depth(layer, n)
        bar = f'<meter min="0" max="1" value="{rel:.3f}" title="{rel:.2f}"></meter>'
        rows.append(
            [
                _link(model, page, model_path(model)),
                f"{layer} of {n}",
                f"{bar} {rel:.2f}",
                depth_band(layer, n),
                " ".join(sorted(heads, key=lambda s: int(s.split("H")[1]))),
            ]
        )
    return [
        "## Across models",
        "",
        esc(DEPTH_NOTE),
        "",
        _table(["Model", "Layer", "Relative depth", "Band", "Heads"], rows),
        "",
    ]
