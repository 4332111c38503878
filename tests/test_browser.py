"""The built site in headless Chromium: pages render, search answers, dark mode switches, hostile data stays text.

The site is served by ``http.server`` on 127.0.0.1 (a random port) and driven through chromedriver's
W3C WebDriver HTTP API with a few lines of urllib (no selenium needed). Chromium and chromedriver are
Debian packages installed by ``tests/browser_setup.sh``. Screenshots go to ``tests/artifacts/`` (git-ignored).
Run: ``pytest -m browser``.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import make_prev
from tests.test_site import build, hostile_head, write_fixture

pytestmark = pytest.mark.browser

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def browsers() -> tuple[str, str]:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        setup = subprocess.run(["bash", str(HERE / "browser_setup.sh")], capture_output=True, text=True, timeout=900)
        if setup.returncode != 0:
            pytest.skip(f"chromium could not be installed by tests/browser_setup.sh: {setup.stderr.strip()[-300:]}")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "tests/browser_setup.sh ran but chromium/chromedriver are not on PATH"
    return chromium, driver


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser")
    data = write_fixture(tmp / "data", [hostile_head(), _wide_prev()])
    result = build(data, tmp / "public")
    assert result.returncode == 0, result.stderr
    handler = functools.partial(_QuietHandler, directory=str(tmp / "public"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _wide_prev() -> dict[str, object]:
    """previous-token-head with an evidence record as long as real ones: long details, a source
    naming files and URLs (long words a browser cannot break by itself)."""
    ev = make_prev()["evidence"]
    ev[0] = {
        **ev[0],
        "method_detail": "path patching of every head's output to the residual stream at the final position, "
        "then mean ablation of the circuit found, on 500 prompts of each template",
        "task": "indirect object identification (IOI), BABA and ABBA templates",
        "source": "github:redwoodresearch/Easy-Transformer/blob/main/easy_transformer/ioi_circuit_extraction.py"
        "#L1-L200_CIRCUIT_dictionary_previous_token_heads and Appendix K, Figure 20 (layer.head, 0-indexed); "
        "https://arxiv.org/abs/2211.00593v1/appendix-K/figure-20-previous-token-heads-of-the-circuit",
    }
    return make_prev(evidence=ev)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Browser:
    """Just enough of the W3C WebDriver protocol: navigate, run a script, find, click, type, screenshot."""

    def __init__(self, driver: str, chromium: str, user_data: Path, *, dark: bool = False) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [driver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._call("GET", "/status")["value"]["ready"]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("chromedriver did not start within 30 s")
            time.sleep(0.2)
        args = [*CHROMIUM_ARGS, f"--user-data-dir={user_data}"] + (["--force-dark-mode"] if dark else [])
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"binary": chromium, "args": args}}}}
        self.session = self._call("POST", "/session", caps)["value"]["sessionId"]

    def _call(self, method: str, path: str, body: object = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # WebDriver reports errors as JSON with a 4xx/5xx status
            detail = json.loads(exc.read() or b"{}").get("value", {})
            raise AssertionError(f"WebDriver {method} {path}: {detail.get('error')}: {detail.get('message')}") from None

    def _s(self, method: str, path: str, body: object = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)["value"]

    def get(self, url: str) -> None:
        self._s("POST", "/url", {"url": url})

    def js(self, script: str, *args: object) -> Any:
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(script)
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for: {script}")

    def find(self, css: str) -> str:
        found = self._s("POST", "/element", {"using": "css selector", "value": css})
        return str(next(iter(found.values())))

    def click(self, css: str) -> None:
        self._s("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str) -> None:
        self._s("POST", f"/element/{self.find(css)}/value", {"text": text})

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        path.write_bytes(base64.b64decode(self._s("GET", "/screenshot")))
        return path

    def quit(self) -> None:
        try:
            self._call("DELETE", f"/session/{self.session}")
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(browsers: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium, driver = browsers
    b = Browser(driver, chromium, tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.quit()


def test_home_page_shows_the_framework(browser: Browser, server: str) -> None:
    browser.get(server + "/")
    assert browser.js("return document.title").startswith("Attention Head Catalogue")
    stages = browser.js(
        "return [...document.querySelectorAll('.framework-stage .framework-abbr')].map(e => e.textContent)"
    )
    assert stages == ["KR", "ICI", "LR", "EP"]
    widths = browser.js("return [...document.querySelectorAll('.framework-stage')].map(e => e.offsetWidth)")
    assert min(widths) > 100, "the four stage boxes are drawn side by side"
    assert browser.screenshot("home").stat().st_size > 10_000


def test_head_page_shows_hostile_text_as_text(browser: Browser, server: str) -> None:
    browser.get(server + "/heads/induction-head/")
    assert browser.js("return window.__pwned === undefined")
    h1 = browser.js("return document.querySelector('h1').textContent")
    assert h1.startswith("</title><script>alert(0)</script> Evil head")
    assert browser.js("return document.querySelectorAll('article img, article iframe').length") == 0
    rows = browser.js("return document.querySelector('article table').querySelectorAll('tbody tr').length")
    assert rows == 2  # the two evidence records (the first table; "Across models" follows it)
    browser.screenshot("head-page")


def test_evidence_table_fits_the_content_column_at_1400px(browser: Browser, server: str) -> None:
    """Every column of an evidence table, "Where it was read" last, is in view at 1400 px without scrolling."""
    browser._s("POST", "/window/rect", {"width": 1400, "height": 1000})
    try:
        browser.get(server + "/heads/previous-token-head/")
        last = browser.js(
            "const t = document.querySelector('article table');"
            "const th = [...t.querySelectorAll('thead th')].pop();"
            "const col = document.querySelector('article').getBoundingClientRect();"
            "return [th.textContent.trim(), th.getBoundingClientRect().right, col.right, window.innerWidth,"
            " t.parentElement.scrollWidth, t.parentElement.clientWidth];"
        )
        name, right, column, window_width, scroll_width, client_width = last
        assert name == "Where it was read"
        assert (
            right <= column + 2 and right <= window_width
        )  # 2 px: sub-pixel borders, f"last column ends at {right}px, content at {column}px"
        assert scroll_width <= client_width + 1, "the table scrolls sideways"
        browser.screenshot("head-page-1400")
    finally:
        browser._s("POST", "/window/rect", {"width": 1280, "height": 1000})


def test_model_page_map_is_coloured_by_stage(browser: Browser, server: str) -> None:
    browser.get(server + "/models/gpt2-small/")
    cells = browser.js("return document.querySelectorAll('table.head-map tbody td').length")
    assert cells == 144
    colours = browser.js(
        "return [...document.querySelectorAll('table.head-map td[class^=stage-]')]"
        ".map(td => getComputedStyle(td).backgroundColor)"
    )
    assert len(colours) == 6 and len(set(colours)) == 2  # two stages, two colours
    browser.click("table.head-map td.stage-ici a")
    browser.wait_for("return location.pathname.endsWith('/heads/previous-token-head/')")
    browser.get(server + "/models/gpt2-small/")
    browser.screenshot("model-map")


def test_search_finds_a_head_type(browser: Browser, server: str) -> None:
    browser.get(server + "/")
    browser.click("input.md-search__input")
    browser.type("input.md-search__input", "previous")
    hits = browser.wait_for(
        "const a = [...document.querySelectorAll('.md-search-result__item a')].map(a => a.href);"
        "return a.length ? a : null"
    )
    assert any("/heads/previous-token-head/" in h for h in hits)
    browser.screenshot("search")


def test_dark_mode_follows_the_system_and_toggles(browsers: tuple[str, str], server: str, tmp_path: Path) -> None:
    chromium, driver = browsers
    b = Browser(driver, chromium, tmp_path / "profile", dark=True)
    try:
        b.get(server + "/")
        assert b.js("return document.body.dataset.mdColorScheme") == "slate"
        b.screenshot("home-dark")
        b.click("label.md-header__button[for=__palette_0]")  # the toggle shown while the dark option is on
        b.wait_for("return document.body.dataset.mdColorScheme === 'default'")
    finally:
        b.quit()
