"""Catalogue -> the site's pages, as Markdown strings. Deterministic, no I/O; imports only the schema.

:func:`pages` returns ``{path: markdown}`` for every generated page (``index.md``, ``stages/*.md``,
``heads/*.md``, ``models/*.md``, ``papers/*.md``, ``methods.md``, ``benchmarks.md``, ``cli.md``);
the mkdocs hook in ``site/_hooks/`` adds them to the build. Paths are POSIX and relative to the docs folder.

Every string that comes from the data goes through :func:`esc`, which turns HTML and Markdown syntax
into character references, so a contribution can neither inject markup nor break a table. Links inside
raw HTML (the stage diagram, model maps) are final URLs computed for ``use_directory_urls: true``.
"""

from __future__ import annotations

import html
import json

from catalogue.render._heads import _head, _heads_index, _home, _stage
from catalogue.render._markup import (  # noqa: F401 - re-exported
    STAGE_CLASS,
    _attr,
    _code,
    _Ctx,
    _ext_link,
    _fence,
    _link,
    _num,
    _paras,
    _slug,
    _stage_order,
    _table,
    check_module,
    esc,
    head_path,
    model_path,
    paper_path,
    stage_path,
    url,
)
from catalogue.render._works import _benchmarks, _methods, _model, _models_index, _paper, _papers_index
from catalogue.schema import Catalogue
from catalogue.vocab import STAGES

__all__ = [
    "check_module",
    "esc",
    "head_path",
    "model_path",
    "edit_paths",
    "nav",
    "pages",
    "paper_path",
    "stage_path",
    "url",
]

# --------------------------------------------------------------------------- pages


def pages(cat: Catalogue, *, repo_url: str, intro: str = "") -> dict[str, str]:
    """Every generated page, ``{docs-relative path: Markdown}``. ``intro`` is trusted hand-written Markdown."""
    ctx = _Ctx(cat, repo_url)
    out: dict[str, str] = {"index.md": _home(ctx, intro)}
    for s in cat.taxonomy.stages:
        out[stage_path(s.id)] = _stage(ctx, s)
    out["heads/index.md"] = _heads_index(ctx)
    for h in ctx.heads:
        out[head_path(h.id)] = _head(ctx, h)
    out["models/index.md"] = _models_index(ctx)
    for m in sorted(cat.models.values(), key=lambda m: m.id):
        out[model_path(m.id)] = _model(ctx, m)
    out["papers/index.md"] = _papers_index(ctx)
    for key in sorted(cat.references):
        out[paper_path(key)] = _paper(ctx, cat.references[key])
    out["methods.md"] = _methods(ctx)
    out["benchmarks.md"] = _benchmarks(ctx)
    return {k: _front_matter(v.rstrip()) + "\n" for k, v in out.items()}


def _front_matter(markdown: str) -> str:
    """Give the page an HTML-escaped ``title``: mkdocs puts the title into ``<title>`` and the nav unescaped."""
    first = markdown.split("\n", 1)[0]
    if not first.startswith("# "):
        return markdown
    title = html.escape(html.unescape(first[2:].strip()), quote=True)
    return f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\n---\n\n{markdown}"


def nav(cat: Catalogue, *, max_items: int = 150) -> list[object]:
    """The mkdocs ``nav``: Models, Papers and Methods first (always in reach), then the stages and the head
    types grouped by their first stage (listed one by one while there are at most ``max_items``)."""
    ctx = _Ctx(cat, "")
    heads: list[object] = ["heads/index.md"]
    if len(ctx.heads) <= max_items:
        for s in cat.taxonomy.stages:
            members = [{html.escape(h.name): head_path(h.id)} for h in ctx.heads if STAGES[_stage_order(h)] == s.id]
            if members:
                heads.append({html.escape(f"{s.name} ({s.abbreviation})"): members})
    return [
        {"Home": "index.md"},
        {"Framework": [{html.escape(s.name): stage_path(s.id)} for s in cat.taxonomy.stages]},
        {"Models": "models/index.md"},
        {"Papers": "papers/index.md"},
        {"Methods": "methods.md"},
        {"Benchmarks": "benchmarks.md"},
        {"Head types": heads},
        {"CLI reference": "cli.md"},
        {"Data, API and releases": "api.md"},
        {"Contributing": "contributing.md"},
    ]


def edit_paths(cat: Catalogue) -> dict[str, str]:
    """Generated page -> the data file a contributor edits to change it (repository-relative)."""
    return {head_path(h): f"data/heads/{h}.yaml" for h in sorted(cat.heads)}
