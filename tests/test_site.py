"""The ci-profile site: built from the current sources, every page present, figures real, no errors."""
import json
import re

import nbformat
import pytest
from bs4 import BeautifulSoup

from galchem.site import builder as book

ROOT = book.find_root()
PAGES = book.toc_files(ROOT)
CHAPTERS = [page for page in PAGES if re.fullmatch(r"book/\d\d_\w+", page)]
ERROR_SELECTORS = (".output.traceback", ".output.stderr .ansi-red-fg", "#papermill-error-cell", ".papermill-error-cell-tag")


def soup(built_site, page):
    return BeautifulSoup((built_site / f"{page}.html").read_text(), "html.parser")


def test_site_is_a_ci_build_of_these_sources(built_site):
    stamp = json.loads((built_site / book.STAMP).read_text())
    assert stamp["profile"] == "ci"
    assert stamp["sources"] == book.sources_digest(ROOT, book.load_profile(ROOT, "ci"))
    assert (built_site / "index.html").is_file()


@pytest.mark.parametrize("page", PAGES)
def test_page_has_heading_and_no_error_output(built_site, page):
    html = soup(built_site, page)
    assert html.select_one("article h1") is not None
    for selector in ERROR_SELECTORS:
        assert not html.select(selector), f"{page}: {selector}"


def test_data_chapter_has_its_figures(built_site):
    html = soup(built_site, "book/01_data")
    images = html.select("div.cell_output img")
    assert len(images) >= 3
    for img in images:
        data = (built_site / "book" / img["src"]).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    captions = " ".join(c.get_text() for c in html.select("figcaption"))
    assert "Median [Fe/H]" in captions
    assert "Mock data with known truth" in html.get_text()


@pytest.mark.parametrize("page", [p for p in PAGES if (ROOT / f"{p}.ipynb").is_file()])
def test_executed_notebook_is_clean(built_site, page):
    nb = nbformat.read(ROOT / "_build" / "src" / f"{page}.ipynb", 4)
    assert not nb.metadata["papermill"].get("exception")
    assert "input_path" not in nb.metadata["papermill"]
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error"


LOCAL_PATH_MARKERS = (str(ROOT), "/home/", "/root/", "/tmp/", "site-packages", "/Users/")


@pytest.mark.parametrize("page", [p for p in PAGES if (ROOT / f"{p}.ipynb").is_file()])
def test_page_offers_its_executed_notebook_without_local_paths(built_site, page):
    html = soup(built_site, page)
    name = page.split("/")[-1]
    assert any(a.get("href", "").endswith(f"_sources/book/{name}.ipynb") for a in html.select("a")), page
    text = (built_site / "_sources" / f"{page}.ipynb").read_text()
    found = [marker for marker in LOCAL_PATH_MARKERS if marker in text]
    assert not found, f"{page}: the download mentions {found}"
    nb = nbformat.reads(text, 4)
    assert any(cell.get("outputs") for cell in nb.cells)  # executed, not the bare source


def test_every_chapter_ends_with_exercises_and_hidden_solutions(built_site):
    assert len(CHAPTERS) == 7
    for page in CHAPTERS:
        html = soup(built_site, page)
        exercises, solutions = html.select(".exercise"), html.select(".solution")
        assert 2 <= len(exercises) <= 3 and len(solutions) == len(exercises), page
        assert all("dropdown" in " ".join(s.get("class", [])) for s in solutions), page


def test_main_tables_are_numbered_and_referenced(built_site):
    for page, names in (("book/04_radial", ("tbl-radial", "tbl-radial-compare")),
                        ("book/06_vertical", ("tbl-vertical", "tbl-vertical-compare"))):
        html = soup(built_site, page)
        captions = [c.get_text(" ", strip=True) for c in html.select("table caption")]
        assert len(captions) >= 2 and all(c.startswith("Table ") for c in captions), page
        links = {a.get("href", "").split("#")[-1] for a in html.select("a.reference.internal")}
        assert set(names) <= links, page
