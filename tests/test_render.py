"""catalogue.render: golden pages for the fixture catalogue, determinism, links, and escaping of data text.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_render.py``.
"""

from __future__ import annotations

import html
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue import render
from catalogue.loader import load
from catalogue.schema import Catalogue
from tests.conftest import WriteData
from tests.helpers import GOOD_REREAD, make_head, make_prev

GOLDEN = Path(__file__).parent / "assets" / "render"
REPO = "https://github.com/attention-head-catalogue/attention-head-catalogue"
# The Markdown extensions of mkdocs.yml, so the escaping is tested against what the site runs.
EXTENSIONS = ["tables", "attr_list", "admonition", "toc", "pymdownx.highlight", "pymdownx.superfences"]


@pytest.fixture
def cat(write_data: WriteData) -> Catalogue:
    return load(write_data())


def _pages(cat: Catalogue) -> dict[str, str]:
    return render.pages(cat, repo_url=REPO, intro="Intro text.")


def _golden_name(path: str) -> str:
    return path.replace("/", "__")


def test_pages_match_golden_files(cat: Catalogue) -> None:
    pages = _pages(cat)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN.glob("*.md"):
            old.unlink()
        for path, text in pages.items():
            (GOLDEN / _golden_name(path)).write_text(text, encoding="utf-8")
    expected = {p.name: p.read_text(encoding="utf-8") for p in GOLDEN.glob("*.md")}
    got = {_golden_name(k): v for k, v in pages.items()}
    assert sorted(got) == sorted(expected), "pages differ from tests/assets/render: UPDATE_GOLDEN=1 regenerates"
    for name, text in got.items():
        assert text == expected[name], f"{name} differs from its golden file: UPDATE_GOLDEN=1 regenerates"


def test_every_record_has_a_page(cat: Catalogue) -> None:
    pages = _pages(cat)
    expected = {"index.md", "heads/index.md", "models/index.md", "papers/index.md", "methods.md", "benchmarks.md"}
    expected |= {render.stage_path(s.id) for s in cat.taxonomy.stages}
    expected |= {render.head_path(h) for h in cat.heads} | {render.model_path(m) for m in cat.models}
    expected |= {render.paper_path(k) for k in cat.references}
    assert set(pages) == expected


def test_output_is_deterministic_and_independent_of_input_order(write_data: WriteData, tmp_path: Path) -> None:
    a = load(write_data(heads=[make_head(), make_prev()], folder="a"))
    b = load(write_data(heads=[make_prev(), make_head()], folder="b"))
    assert _pages(a) == _pages(a) == _pages(b)


def test_head_page_has_evidence_bibtex_verification_and_related(cat: Catalogue) -> None:
    page = _pages(cat)["heads/induction-head.md"]
    assert page.startswith('---\ntitle: "Induction head"\n---\n\n# Induction head')
    assert (
        '| 1 <a id="ev-inductaa" href="#ev-inductaa"><code>ev-inductaa</code></a> | '
        "[Wang et al., 2023](../papers/wang2022interpretability.md)" in page
    )
    # where the type sits across models: relative depth and the survey's band (thirds)
    assert "## Across models" in page and "| 5 of 12 |" in page and "| middle |" in page
    assert "L5H5 L5H8 L5H9 L6H9" in page
    assert "[Path patching](../methods.md#path-patching)" in page
    assert "prefix matching score = 0.9" in page
    assert f"{REPO}/blob/main/catalogue/verify/induction.py" in page
    assert "heads verify induction-head --model gpt2-small" in page
    assert "```bibtex\n@article{olsson2022incontext," in page
    assert "- composes with [Previous-token head](../heads/previous-token-head.md)" in page


def test_reproduction_results_are_shown(write_data: WriteData) -> None:
    ev = make_head()["evidence"]
    ev[0]["reproduced"] = {
        "check": "induction",
        "model": "gpt2-small",
        "score": 0.93,
        "threshold": 0.5,
        "version": "0.1.0",
        "heads": ["L5H5"],
    }
    page = _pages(load(write_data(heads=[make_head(evidence=ev), make_prev()])))["heads/induction-head.md"]
    assert "## Reproduction" in page
    assert "| induction | [gpt2-small](../models/gpt2-small.md) | 0.93 | 0.5 | yes | L5H5 |" in page


def test_a_reread_is_shown_with_its_record(write_data: WriteData) -> None:
    d = write_data()
    (d / "audit.yaml").write_text(GOOD_REREAD)
    page = _pages(load(d))["heads/induction-head.md"]
    assert "Re-read on 2026-12-01, matched: Section 3.3, Figure 2" in page
    assert "Re-read on" not in _pages(load(write_data(folder="plain")))["heads/induction-head.md"]


def test_model_page_map_colours_cells_by_stage(cat: Catalogue) -> None:
    page = _pages(cat)["models/gpt2-small.md"]
    assert page.count("<tr><th>") == 12
    assert '<td class="stage-lr"><a href="../../heads/induction-head/"' in page
    assert '<td class="stage-ici"><a href="../../heads/previous-token-head/"' in page
    assert 'title="L2H2: Previous-token head"' in page


@pytest.mark.parametrize(
    ("src", "dst", "anchor", "want"),
    [
        ("index.md", "heads/x.md", "", "heads/x/"),
        ("heads/x.md", "heads/y.md", "", "../y/"),
        ("heads/index.md", "heads/y.md", "", "y/"),
        ("models/m.md", "heads/index.md", "", "../../heads/"),
        ("methods.md", "index.md", "a", "../#a"),
        ("index.md", "index.md", "", "./"),
    ],
)
def test_url_follows_directory_urls(src: str, dst: str, anchor: str, want: str) -> None:
    assert render.url(src, dst, anchor) == want


def test_paper_paths_are_distinct_and_safe() -> None:
    keys = ["wang2022", "Wang2022", "a:b", "a+b", "a.b", "a-b"]
    paths = [render.paper_path(k) for k in keys]
    assert len(set(paths)) == len(keys)
    assert all(re.fullmatch(r"papers/[a-z0-9_-]+\.md", p) for p in paths)


# --------------------------------------------------------------------------- escaping

EVIL = (
    "<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)> "
    '{: onclick="alert(4)" } | cell | **bold** `code` ![i](http://e/x.png) <http://e> &amp; &#60;'
)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _html(md: str) -> _Tags:
    parser = _Tags()
    parser.feed(markdown.markdown(md, extensions=EXTENSIONS))
    return parser


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80))
def test_escaped_text_renders_as_itself_and_nothing_else(text: str) -> None:
    parsed = _html(render.esc(text))
    assert [t for t, _ in parsed.tags] in ([], ["p"])
    assert html.unescape("".join(parsed.text)).strip() == " ".join(text.split())


def test_escaped_text_in_a_table_cell_stays_in_its_cell() -> None:
    md = "| a | b |\n|---|---|\n| " + render.esc(EVIL) + " | z |"
    parsed = _html(md)
    assert [t for t, _ in parsed.tags].count("td") == 2
    assert {t for t, _ in parsed.tags} <= {"table", "thead", "tbody", "tr", "th", "td"}


def test_a_hostile_head_cannot_inject_markup(write_data: WriteData) -> None:
    evil = make_head(
        name="<script>alert(0)</script> Evil head",
        summary=EVIL,
        aliases=["<b>bold alias</b>"],
        mechanism="```\n</code></pre><script>x()</script>\n```",
    )
    ev = evil["evidence"]
    ev[0]["source"] = EVIL
    ev[0]["note"] = "<iframe src=x>"
    pages = _pages(load(write_data(heads=[make_prev(), {**evil, "evidence": ev}])))
    for path, md in pages.items():
        body = md.split("---\n", 2)[-1]
        parsed = _Tags()
        parsed.feed(markdown.markdown(body, extensions=EXTENSIONS))
        tags = {t for t, _ in parsed.tags}
        assert not tags & {"script", "img", "iframe", "b"}, path
        for _, attrs in parsed.tags:
            for name, value in attrs:
                assert not name.startswith("on"), (path, name)
                assert not (value or "").lower().startswith("javascript:"), (path, value)
    assert 'title: "&lt;script&gt;alert(0)&lt;/script&gt; Evil head"' in pages["heads/induction-head.md"]


@given(st.text(alphabet="`~ab\n", max_size=30))
def test_code_spans_and_fences_cannot_be_closed_early(code: str) -> None:
    from catalogue.render._markup import _code, _fence

    fenced = _html(_fence(code + "<script>", "text"))
    assert "script" not in {t for t, _ in fenced.tags}
    if code.strip():
        span = _html(_code(code + "<b>"))
        assert "b" not in {t for t, _ in span.tags}


def test_rendering_compares_no_pydantic_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rendering grew quadratically when it tested membership of pydantic objects in lists inside a loop
    (`if h not in bucket`: each test compares whole models field by field). Pages are built from dicts keyed
    by id: no pydantic equality test runs at all."""
    from pydantic import BaseModel

    from catalogue import render
    from catalogue.loader import load

    cat = load()
    compared: list[str] = []
    real = BaseModel.__eq__

    def counting(self: BaseModel, other: object) -> bool:
        compared.append(type(self).__name__)
        return real(self, other)

    monkeypatch.setattr(BaseModel, "__eq__", counting)
    render.pages(cat, repo_url="https://example.org/repo")
    assert compared == []


def test_claimed_heads_link_their_neuronpedia_dashboards(write_data: WriteData) -> None:
    from tests.helpers import MODELS

    on_np = {**MODELS[0], "neuronpedia_id": "gpt2-small", "source": "test fixture; neuronpedia_id: test fixture"}
    pages = _pages(load(write_data(models=[on_np, MODELS[1]])))
    link = "[L5H9](<https://www.neuronpedia.org/gpt2-small/head/5/9>)"
    assert link in pages["heads/induction-head.md"] and link in pages["models/gpt2-small.md"]
    plain = _pages(load(write_data(folder="plain")))
    assert "neuronpedia" not in plain["heads/induction-head.md"] + plain["models/gpt2-small.md"]
