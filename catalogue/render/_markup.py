"""Escaping, paths, links, tables and fences shared by the page renderers; the page context."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping

from catalogue.schema import STAGES, Catalogue, Evidence, HeadType, ModelInfo
from catalogue.vocab import STAGE_ABBREVIATIONS, neuronpedia_head_url

#: The CSS class suffix of each stage (``stage-kr``): its abbreviation in lower case.
STAGE_CLASS = {s: a.lower() for s, a in STAGE_ABBREVIATIONS.items()}

# Characters that Markdown, its extensions (attr_list, tables, superfences) or HTML give a meaning anywhere in
# a line. Brackets are escaped, so parentheses and "!" can no longer form links or images.
_SPECIAL = re.compile(r"[\\`*_{}\[\]<>#&|]")
# What means something only at the start of a line: lists ("-", "+", "1."), quotes, fences, setext rules.
_LEADING = re.compile(r"^(?:[-+=~:>.!]|\d+(?=[.)]))")


def esc(text: object) -> str:
    """Data text as inert Markdown: syntax characters become references, whitespace folds to one space."""
    s = " ".join(str(text).split())
    s = _SPECIAL.sub(lambda m: f"&#{ord(m.group(0))};", s)
    m = _LEADING.match(s)
    if m and m.group(0).isdigit():  # "1." or "1)" would start an ordered list
        i = m.end()
        s = s[:i] + f"&#{ord(s[i])};" + s[i + 1 :]
    elif m:
        s = f"&#{ord(s[0])};" + s[1:]
    return s


def _attr(text: object) -> str:
    """Text for an HTML attribute value inside double quotes."""
    return html.escape(" ".join(str(text).split()), quote=True)


def _paras(text: str | None) -> str:
    """Multi-paragraph data text (blank lines separate paragraphs), escaped."""
    if not text:
        return ""
    return "\n\n".join(esc(p) for p in re.split(r"\n\s*\n", text) if p.strip())


# --------------------------------------------------------------------------- paths and links


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "x"


def stage_path(stage: str) -> str:
    return f"stages/{stage}.md"


def head_path(head_id: str) -> str:
    return f"heads/{head_id}.md"


def model_path(model_id: str) -> str:
    return f"models/{model_id}.md"


def paper_path(key: str) -> str:
    """Cite keys may hold ``:`` or ``+``; pages use a lowercase slug plus a short hash when the slug is lossy."""
    slug = _slug(key)
    if slug != key:
        import hashlib

        slug += "-" + hashlib.sha256(key.encode()).hexdigest()[:6]
    return f"papers/{slug}.md"


def url(from_page: str, to_page: str, anchor: str = "") -> str:
    """A relative URL from one page to another, as mkdocs serves them with ``use_directory_urls``."""

    def directory(page: str) -> list[str]:
        stem = page.removesuffix(".md")
        parts = stem.split("/")
        return parts[:-1] if parts[-1] == "index" else parts

    src, dst = directory(from_page), directory(to_page)
    common = 0
    while common < min(len(src), len(dst)) and src[common] == dst[common]:
        common += 1
    rel = "../" * (len(src) - common) + "".join(p + "/" for p in dst[common:])
    return (rel or "./") + (f"#{anchor}" if anchor else "")


def _link(text: str, from_page: str, to_page: str, anchor: str = "") -> str:
    """A Markdown link to another page (mkdocs checks it); ``text`` is escaped here."""
    rel = to_page if "/" not in from_page else "../" * from_page.count("/") + to_page
    return f"[{esc(text)}]({rel}{'#' + anchor if anchor else ''})"


def _ext_link(text: str, href: str) -> str:
    """An external link, only for http(s) URLs; anything else is shown as text."""
    if not re.match(r"^https?://[^\s<>\"'()\[\]]+$", href):
        return esc(text)
    return f"[{esc(text)}](<{href}>)"


def check_module(check: str) -> str:
    """The verification script of a check: ``catalogue/verify/<module>.py``."""
    return f"catalogue/verify/{check.replace('-', '_')}.py"


def _table(headers: list[str], rows: Iterable[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(c or " " for c in r) + " |" for r in rows]
    return "\n".join(out)


def _fence(code: str, lang: str = "") -> str:
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{code.rstrip()}\n{ticks}"


def _code(text: str) -> str:
    """An inline code span; Markdown escapes HTML inside it, and the fence outgrows any backtick run."""
    s = " ".join(text.split())
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def _locations(e: Evidence) -> str:
    return " ".join(str(loc) for loc in e.locations)


def heads_cell(e: Evidence, models: Mapping[str, ModelInfo]) -> str:
    """The "Heads" cell of an evidence row: each located head, linked to its Neuronpedia dashboard where
    Neuronpedia publishes head metrics for the model (``neuronpedia_id``), or ``—``."""
    m = models.get(e.model) if e.model else None
    if m is None or m.neuronpedia_id is None:
        return _locations(e) or "—"
    links = [_ext_link(str(loc), neuronpedia_head_url(m.neuronpedia_id, loc.layer, loc.head)) for loc in e.locations]
    return " ".join(links) or "—"


def _num(value: float) -> str:
    return f"{value:g}"


def checked_cell(e: Evidence) -> str:
    """The "Checked" cell of an evidence row: the verdict, each head's score and the date, or why there is none."""
    if e.checked is None:
        return "not yet measured" if e.locations else "—"
    c = e.checked
    scores = ", ".join(f"{h.head} {h.score:.2f}" for h in c.heads)
    return f"**{esc(c.verdict)}** ({esc(c.check)}: {esc(scores)}; {c.date.isoformat()})"


# --------------------------------------------------------------------------- context shared by pages


class _Ctx:
    def __init__(self, cat: Catalogue, repo_url: str) -> None:
        self.cat = cat
        self.repo_url = repo_url.rstrip("/")
        self.stages = {s.id: s for s in cat.taxonomy.stages}
        self.sub_names = {c.id: c.name for s in cat.taxonomy.stages for c in s.subcategories}
        self.methods = {m.id: m for m in cat.taxonomy.methods}
        self.heads = sorted(cat.heads.values(), key=lambda h: (_stage_order(h), h.id))
        self.by_paper: dict[str, list[tuple[HeadType, Evidence]]] = {}
        self.by_model: dict[str, list[tuple[HeadType, Evidence]]] = {}
        self.incoming: dict[str, list[tuple[HeadType, str]]] = {}
        for h in self.heads:
            for e in h.evidence:
                self.by_paper.setdefault(e.cite, []).append((h, e))
                if e.model:
                    self.by_model.setdefault(e.model, []).append((h, e))
            for r in h.related:
                self.incoming.setdefault(r.head, []).append((h, r.kind))

    def ref_label(self, key: str) -> str:
        ref = self.cat.references.get(key)
        return ref.short if ref else key

    def stage_badges(self, h: HeadType) -> str:
        return " ".join(
            f'<span class="stage-badge stage-{STAGE_CLASS[p.stage]}">{esc(self.stages[p.stage].abbreviation)}</span>'
            if p.stage in self.stages
            else esc(p.stage)
            for p in sorted(h.stages, key=lambda p: STAGES.index(p.stage))
        )


def _stage_order(h: HeadType) -> int:
    return min(STAGES.index(p.stage) for p in h.stages)
