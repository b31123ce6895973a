"""The built site in a real browser: Debian's headless Chromium, driven by Playwright.

Every page of ``_toc.yml`` must load from a local server, have a heading,
decode every figure, show no error output, raise no JavaScript error
beyond :data:`ALLOWED_JS_ERRORS`, and, at the 1400 px desktop width, keep
every element inside the text column and every figure's text at least
:data:`MIN_TEXT_PX` CSS pixels tall.  Requests to other hosts are blocked, so
a page that needs the network fails.  Set ``GALCHEM_REQUIRE_BROWSER=1`` (as
``.ci/run`` does) to fail rather than skip when Chromium is missing.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import threading
import xml.etree.ElementTree as ET
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

import pytest
from bs4 import BeautifulSoup

from galchem.site import builder as book
from galchem.site import profiles

ROOT = book.find_root()
PAGES = profiles.toc_files(ROOT)
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ALLOWED_JS_ERRORS: tuple[str, ...] = ()
"""JavaScript errors tolerated, each with the reason it is harmless.  None: the duplicated thebe script that
used to throw ``Identifier 'THEBE_JS_URL' has already been declared`` is removed by galchem.site.sphinx_extension."""
DESKTOP = {"width": 1400, "height": 900}
MIN_TEXT_PX = 9.0
"""Smallest figure text allowed at the desktop width [CSS px]."""
WIDE_ELEMENTS_JS = """() => {
  const article = document.querySelector('article.bd-article');
  const edge = article.getBoundingClientRect().right + 1;
  const name = el => el.tagName.toLowerCase() + ' ' + (el.textContent || '').trim().slice(0, 40);
  const found = [];
  for (const el of article.querySelectorAll('*')) {
    if (el.getClientRects().length === 0) continue;
    if (el.getBoundingClientRect().right > edge) found.push('sticks out: ' + name(el));
  }
  for (const el of article.querySelectorAll('table, mjx-container[display="true"]')) {
    const holder = el.parentElement;
    if (el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().width > holder.clientWidth + 1)
      found.push('scrolls, hiding part of it: ' + name(el));
  }
  return found.slice(0, 5);
}"""
SVG = "{http://www.w3.org/2000/svg}"
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


def smallest_svg_font(svg_file: Path) -> float:
    """The smallest font size in an SVG figure, in units of its own width (user units = pt for matplotlib)."""
    root = ET.parse(svg_file).getroot()
    parents = {child: parent for parent in root.iter() for child in parent}
    sizes = []
    for element in root.iter():
        if element.tag not in (f"{SVG}text", f"{SVG}tspan"):
            continue
        match = re.search(r"font-size:\s*([\d.]+)px", element.get("style", ""))
        if match:
            sizes.append(float(match.group(1)))
        node = element
        while node is not None:  # a scaled group would change the size the browser draws
            assert "scale(" not in (node.get("transform") or ""), f"{svg_file.name}: scaled text cannot be measured"
            node = parents.get(node)
    width = float(root.get("viewBox").split()[2])
    return min(sizes) / width if sizes else float("inf")


def figure_text_px(page, site_root: Path) -> list[tuple[str, float]]:
    """(figure, smallest text in CSS px) for every SVG figure of the loaded page, as displayed now."""
    shown = page.evaluate("() => Array.from(document.querySelectorAll('article img'))"
                          ".map(img => [img.getAttribute('src'), img.getBoundingClientRect().width])")
    base = site_root / page.url.split("/", 3)[3].rsplit("/", 1)[0]
    return [(src, width * smallest_svg_font(base / src)) for src, width in shown if src.endswith(".svg")]


def page_problems(browser, url: str) -> list[str]:
    """Everything wrong with one page as a reader's browser sees it (empty when all is well)."""
    context = browser.new_context(viewport=DESKTOP)
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
        problems += [f"wider than the text column: {e}" for e in page.evaluate(WIDE_ELEMENTS_JS)]
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
    html.select_one("article").append(BeautifulSoup('<div style="width:2000px">too wide</div>', "html.parser"))
    chapter.write_text(str(html))
    server = serve(broken)
    try:
        problems = page_problems(browser, f"http://127.0.0.1:{server.server_address[1]}/book/01_data.html")
    finally:
        server.shutdown()
    assert any("figure does not decode" in p for p in problems)
    assert any("error output" in p for p in problems)
    assert any("JavaScript error" in p for p in problems)
    assert any("wider than the text column" in p for p in problems)


def test_figure_text_is_legible_at_desktop_width(browser, site, built_site):
    """Every figure's smallest text renders at >= MIN_TEXT_PX CSS px at 1400 px (SVG font size x displayed scale)."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    measured = []
    for name in (p for p in PAGES if re.fullmatch(r"book/\d\d_\w+", p)):
        page.goto(f"{site}/{name}.html", wait_until="load")
        measured += [(name, src, px) for src, px in figure_text_px(page, built_site)]
    context.close()
    assert len(measured) >= 15
    small = [(name, src, round(px, 1)) for name, src, px in measured if px < MIN_TEXT_PX]
    smallest = min(px for *_, px in measured)
    print(f"smallest figure text at 1400 px: {smallest:.1f} CSS px over {len(measured)} figures")
    assert not small, small


def test_figures_enlarge_on_click(browser, site):
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{site}/book/05_azimuthal.html", wait_until="load")
    figure = page.locator("article figure img").first
    shown = figure.bounding_box()["width"]
    figure.click()
    overlay = page.locator(".galchem-lightbox img")
    overlay.wait_for(state="visible")
    enlarged = overlay.bounding_box()["width"]
    alt = overlay.get_attribute("alt")
    page.keyboard.press("Escape")
    closed = page.locator(".galchem-lightbox").count() == 0
    context.close()
    assert enlarged > 1.3 * shown and alt and closed
