"""The site: `mkdocs build --strict` from the fixture data and from the real catalogue; every internal link
and anchor in the built HTML resolves; hostile data cannot inject markup; nothing loads from other hosts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import typer

from catalogue.cli import app
from tests.conftest import WriteData
from tests.helpers import make_head, make_prev, write_data

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)> {: onclick=alert(4)}"


def write_fixture(folder: Path, heads: list[dict[str, object]]) -> Path:
    return write_data(folder, heads=heads)


def build(data: Path | None, out: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HEADS_DATA_DIR"}
    if data is not None:
        env["HEADS_DATA_DIR"] = str(data)
    env["NO_MKDOCS_2_WARNING"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def hostile_head() -> dict[str, object]:
    ev = make_head()["evidence"]
    ev[0] = {**ev[0], "source": HOSTILE, "source_kind": "body", "note": "<iframe src=x></iframe>"}
    return make_head(name="</title><script>alert(0)</script> Evil head", summary=HOSTILE, evidence=ev)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("site")
    data = write_fixture(tmp / "data", [hostile_head(), make_prev()])
    result = build(data, tmp / "public")
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "public"


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (tag, url)
        self.loads: list[str] = []  # what the browser fetches: scripts, style sheets, images, icons
        self.handlers: list[str] = []  # on* attributes
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        if d.get("id"):
            self.ids.add(str(d["id"]))
        for attr in ("href", "src"):
            if d.get(attr):
                self.links.append((tag, str(d[attr])))
        if tag in ("script", "img", "iframe") and d.get("src"):
            self.loads.append(str(d["src"]))
        if tag == "link" and d.get("rel") in ("stylesheet", "icon", "preload", "modulepreload") and d.get("href"):
            self.loads.append(str(d["href"]))
        self.handlers += [k for k in d if k.startswith("on")]
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def pages(site: Path) -> Iterator[tuple[Path, _Page]]:
    for f in sorted(site.rglob("*.html")):
        p = _Page()
        p.feed(f.read_text(encoding="utf-8"))
        yield f, p


def _site_prefix() -> str:
    import yaml

    url = str(yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["site_url"])
    return urlsplit(url).path  # 404.html links absolutely, under the site's path


def _target(site: Path, page: Path, href: str) -> Path:
    path = unquote(urlsplit(href).path)
    if path.startswith("/"):
        target = (site / path.removeprefix(_site_prefix()).lstrip("/")).resolve()
    else:
        target = (page.parent / path).resolve() if path else page
    return target / "index.html" if target.is_dir() else target


def test_every_internal_link_and_anchor_resolves(site: Path) -> None:
    parsed = dict(pages(site))
    broken = []
    for page, p in parsed.items():
        for tag, href in p.links:
            parts = urlsplit(href)
            if parts.scheme or href.startswith(("//", "mailto:", "data:")):
                continue
            target = _target(site, page, href)
            rel = page.relative_to(site)
            if not target.exists():
                broken.append(f"{rel}: <{tag}> {href} -> missing {target}")
            elif parts.fragment and target in parsed and unquote(parts.fragment) not in parsed[target].ids:
                broken.append(f"{rel}: {href} -> no id {parts.fragment!r}")
    assert not broken, "\n".join(broken[:20])


def test_every_record_has_its_page(site: Path) -> None:
    for path in (
        "index.html",
        "heads/index.html",
        "heads/induction-head/index.html",
        "heads/previous-token-head/index.html",
        "stages/latent-reasoning/index.html",
        "models/gpt2-small/index.html",
        "papers/wang2022interpretability/index.html",
        "methods/index.html",
        "benchmarks/index.html",
        "cli/index.html",
        "contributing/index.html",
        "search/search_index.json",
    ):
        assert (site / path).is_file(), path


def test_hostile_data_is_shown_as_text(site: Path) -> None:
    for page, p in pages(site):
        assert not any("alert(" in s for s in p.scripts), page
        text = page.read_text(encoding="utf-8")
        assert "<script>alert" not in text and "<iframe" not in text and not p.handlers, page
        assert not any(u.lower().startswith("javascript:") for _, u in p.links), page
    head = (site / "heads" / "induction-head" / "index.html").read_text(encoding="utf-8")
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(0)&lt;/script&gt; Evil head" in head


def test_pages_load_nothing_from_other_hosts(site: Path) -> None:
    for page, p in pages(site):
        external = [u for u in p.loads if urlsplit(u).scheme or u.startswith("//")]
        assert not external, (page, external)


def test_cli_reference_lists_every_command(site: Path) -> None:
    text = (site / "cli" / "index.html").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    for name in getattr(group, "commands", {}):
        assert f'id="heads-{name}"' in text, name
    assert "--cache-dir" in text


def test_cli_reference_is_current() -> None:
    """site/cli.md is typer's own Markdown of the app; `bash scripts/generate` rewrites it."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "typer",
            "--app",
            "app",
            "catalogue.cli",
            "utils",
            "docs",
            "--name",
            "heads",
            "--title",
            "CLI reference",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "100"},
        check=True,
    )
    assert out.stdout.strip() == (ROOT / "site" / "cli.md").read_text(encoding="utf-8").strip()


def test_head_type_pages_link_to_their_data_file(site: Path) -> None:
    """ "Edit this page" on a head type opens its data/heads/<id>.yaml; generated pages without a file get none."""
    head = (site / "heads" / "induction-head" / "index.html").read_text(encoding="utf-8")
    assert "/edit/main/data/heads/induction-head.yaml" in head
    models = (site / "models" / "index.html").read_text(encoding="utf-8")
    assert "/edit/main/" not in models


def test_home_page_draws_the_framework_and_links_each_stage(site: Path) -> None:
    text = (site / "index.html").read_text(encoding="utf-8")
    assert text.count('class="framework-stage') == 4
    for stage in ("knowledge-recalling", "in-context-identification", "latent-reasoning", "expression-preparation"):
        assert f'href="stages/{stage}/"' in text


def test_no_generated_page_is_committed_in_site_sources() -> None:
    markdown = sorted(p.relative_to(ROOT / "site").as_posix() for p in (ROOT / "site").rglob("*.md"))
    # api.md is hand-written; cli.md is generated by scripts/generate and checked current
    assert markdown == ["_sources/intro.md", "api.md", "cli.md"]


def test_a_data_error_fails_the_build(tmp_path: Path) -> None:
    data = write_fixture(tmp_path / "data", [make_head(evidence=[{**make_head()["evidence"][0], "cite": "nope"}])])
    result = build(data, tmp_path / "public")
    assert result.returncode != 0
    assert "unknown cite key 'nope'" in result.stdout + result.stderr


def test_the_real_catalogue_builds(tmp_path: Path) -> None:
    result = build(None, tmp_path / "public")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "public" / "heads" / "index.html").is_file()


def test_install_instructions_name_the_repository_not_an_unpublished_package(site: Path) -> None:
    """The package is not on PyPI: every `pip install` the site shows installs a clone (`-e .`), and the
    contributing page says so."""
    from catalogue.cli.verify import INSTALL_HINT

    text = "\n".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    installs = re.findall(r"pip install ([^<\n]*)", text)
    assert installs, "the contributing page shows how to install"
    assert all(i.startswith("-e ") for i in installs), installs
    assert "not published on PyPI yet" in (site / "contributing" / "index.html").read_text(encoding="utf-8")
    assert "clone" in INSTALL_HINT and "-e" in INSTALL_HINT


def test_validate_output_becomes_annotations(write_data: WriteData, tmp_path: Path) -> None:
    """.github/annotate.py turns `heads validate` lines into ::error annotations on file and line."""
    data = write_data(heads=[make_head(evidence=[{**make_head()["evidence"][0], "cite": "nope"}])])
    validate = subprocess.run(
        [sys.executable, "-m", "catalogue", "validate", str(data)], capture_output=True, text=True, cwd=tmp_path
    )
    assert validate.returncode == 1
    annotate = subprocess.run(
        [sys.executable, str(ROOT / ".github" / "annotate.py")], input=validate.stderr, capture_output=True, text=True
    )
    assert annotate.returncode == 1
    errors = [line for line in annotate.stdout.splitlines() if line.startswith("::error ")]
    assert errors, annotate.stdout
    assert any(
        line.startswith("::error file=data/heads/induction-head.yaml,line=") and "unknown cite key 'nope'" in line
        for line in errors
    ), errors
    ok = subprocess.run(
        [sys.executable, str(ROOT / ".github" / "annotate.py")],
        input="ok: 2 head types\n",
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and ok.stdout == "ok: 2 head types\n"
