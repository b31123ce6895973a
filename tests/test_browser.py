"""The built site in a real browser: Debian's headless Chromium, driven by Playwright.

Every page of ``_toc.yml`` must load from a local server, have a heading,
decode every figure, show no error output, and raise no JavaScript error
beyond :data:`ALLOWED_JS_ERRORS`.  Requests to other hosts are blocked, so a
page that needs the network fails.  Set ``GALCHEM_REQUIRE_BROWSER=1`` (as
``.ci/run`` does) to fail rather than skip when Chromium is missing.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

from galchem.site import builder as book

ROOT = book.find_root()
PAGES = book.toc_files(ROOT)
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ALLOWED_JS_ERRORS = (
    # Jupyter Book 1.0.4 + sphinx-thebe register the thebe config script twice on every page (harmless)
    "Identifier 'THEBE_JS_URL' has already been declared",
)
ERROR_SELECTORS = (".output.traceback", ".output.error", "#papermill-error-cell", ".papermill-error-cell-tag")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


def serve(directory: Path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not CHROMIUM.exists():
        if os.environ.get("GALCHEM_REQUIRE_BROWSER") == "1":
            pytest.fail("browser tests required but playwright or /usr/bin/chromium is missing")
        pytest.skip("playwright or /usr/bin/chromium is missing")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(built_site):
    server = serve(built_site)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def page_problems(browser, url: str) -> list[str]:
    """Everything wrong with one page as a reader's browser sees it (empty when all is well)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname in ("127.0.0.1", None)
                  else route.abort())
    page = context.new_page()
    js_errors: list[str] = []
    page.on("pageerror", lambda error: js_errors.append(str(error)))
    problems = []
    try:
        response = page.goto(url, wait_until="load")
        if response is None or not response.ok:
            return [f"HTTP {response.status if response else 'no response'}"]
        if page.locator("article h1").count() == 0:
            problems.append("no heading")
        for selector in ERROR_SELECTORS:
            if page.locator(selector).count():
                problems.append(f"error output ({selector})")
        broken = page.evaluate(
            "() => Array.from(document.querySelectorAll('article img'))"
            ".filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.getAttribute('src'))"
        )
        problems += [f"figure does not decode: {src}" for src in broken]
        problems += [f"JavaScript error: {e}" for e in js_errors if not any(a in e for a in ALLOWED_JS_ERRORS)]
    finally:
        context.close()
    return problems


@pytest.mark.parametrize("page", PAGES)
def test_page_in_browser(browser, site, page):
    assert page_problems(browser, f"{site}/{page}.html") == []


def test_chapters_show_figures(browser, site):
    context = browser.new_context()
    page = context.new_page()
    for name in (p for p in PAGES if re.fullmatch(r"book/\d\d_\w+", p)):
        page.goto(f"{site}/{name}.html")
        assert page.locator("div.cell_output img").count() >= 1, name
    context.close()


def test_equations_render_offline(browser, site):
    context = browser.new_context()
    context.route("**/*", lambda route: route.continue_() if urlparse(route.request.url).hostname == "127.0.0.1"
                  else route.abort())
    page = context.new_page()
    page.goto(f"{site}/book/03_method.html")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.document", timeout=15_000)
    page.evaluate("() => MathJax.startup.promise")
    rendered = page.locator("mjx-container").count()
    raw = page.evaluate("() => document.querySelector('article').innerText.includes('\\\\ln')")
    context.close()
    assert rendered >= 5 and not raw


def test_a_broken_page_is_caught(browser, built_site, tmp_path):
    """The checks above are not vacuous: break a copy of a chapter and they must complain."""
    broken = tmp_path / "html"
    shutil.copytree(built_site, broken)
    chapter = broken / "book" / "01_data.html"
    html = BeautifulSoup(chapter.read_text(), "html.parser")
    (chapter.parent / html.select_one("div.cell_output img")["src"]).unlink()  # a figure goes missing
    html.select_one("article").insert(0, BeautifulSoup(
        '<div class="output traceback"><pre>ValueError: boom</pre></div>', "html.parser"))  # an error cell
    html.body.append(BeautifulSoup("<script>undefinedFunction()</script>", "html.parser"))  # a script error
    chapter.write_text(str(html))
    server = serve(broken)
    try:
        problems = page_problems(browser, f"http://127.0.0.1:{server.server_address[1]}/book/01_data.html")
    finally:
        server.shutdown()
    assert any("figure does not decode" in p for p in problems)
    assert any("error output" in p for p in problems)
    assert any("JavaScript error" in p for p in problems)
