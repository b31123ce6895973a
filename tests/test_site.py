"""The ci-profile site: built from the current sources, every page present, figures real, no errors."""
import json
import re

import nbformat
import pytest
from bs4 import BeautifulSoup

from galchem.site import builder as book
from galchem.site import profiles

ROOT = book.find_root()
PAGES = profiles.toc_files(ROOT)
CHAPTERS = [page for page in PAGES if re.fullmatch(r"book/\d\d_\w+", page)]
ERROR_SELECTORS = (".output.traceback", ".output.stderr .ansi-red-fg", "#papermill-error-cell", ".papermill-error-cell-tag")


def soup(built_site, page):
    return BeautifulSoup((built_site / f"{page}.html").read_text(), "html.parser")


def test_site_is_a_ci_build_of_these_sources(built_site):
    stamp = json.loads((built_site / book.STAMP).read_text())
    assert stamp["profile"] == "ci"
    assert stamp["sources"] == book.sources_digest(ROOT, profiles.load_profile(ROOT, "ci"))
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
        assert data.startswith(b"<?xml") and b"<svg" in data[:2000] and len(data) > 10_000
    maps = [(built_site / "book" / img["src"]).read_bytes() for img in images[:2]]
    assert all(b"data:image/png;base64," in data for data in maps)  # the hexagon maps are embedded, rasterised
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
    assert len(CHAPTERS) == 8
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


# --- Reading, running and citing the site (issue 16) -------------------------------------------------------

import tarfile
import unicodedata

import galchem
import papermill
import yaml

from galchem.site import site_config

HTML_PAGES = [*PAGES]
NOTEBOOK_CHAPTERS = [page for page in CHAPTERS if (ROOT / f"{page}.ipynb").is_file()]
STUDY_FIGURES = {"fig-density": 1, "fig-feh-map": 2, "fig-radial-plane": 3, "fig-radial-vs-z": 4,
                 "fig-residual-map": 5, "fig-azimuthal-study": 6, "fig-vertical-vs-r": 7, "fig-gaia-residual-map": 8}
"""The book's figures that have a counterpart in the study, with the study's figure number."""
COUNT_COLUMNS = {"n", "n_paper", "removed", "remaining", "bins", "halo", "thick", "thin"}
"""Table columns that hold counts, which must print as integers."""


def page_text(built_site, page):
    return (built_site / f"{page}.html").read_text()


@pytest.mark.parametrize("page", HTML_PAGES)
def test_no_numpy_scalar_reprs(built_site, page):
    text = page_text(built_site, page)
    for marker in ("np.float64(", "np.int64(", "np.float32(", "np.str_("):
        assert marker not in text, f"{page}: {marker}"


@pytest.mark.parametrize("page", HTML_PAGES)
def test_every_script_is_declared_once(built_site, page):
    html = soup(built_site, page)
    sources = [s["src"].split("?")[0] for s in html.select("script[src]")]
    bodies = [s.get_text().strip() for s in html.select("script:not([src])") if s.get_text().strip()]
    assert len(sources) == len(set(sources)), [s for s in sources if sources.count(s) > 1]
    assert len(bodies) == len(set(bodies)), [b[:60] for b in bodies if bodies.count(b) > 1]


def test_counts_print_as_integers(built_site):
    checked = 0
    for page in HTML_PAGES:
        for table in soup(built_site, page).select("article table"):
            headers = [th.get_text(" ", strip=True) for th in table.select("thead th")]
            for row in table.select("tbody tr"):
                for header, cell in zip(headers, row.select("td")):
                    text = cell.get_text(" ", strip=True)
                    if header in COUNT_COLUMNS and text and text[0].isdigit():
                        checked += 1
                        assert re.fullmatch(r"\d{1,3}(,\d{3})*", text), f"{page}: {header} = {text!r}"
                    assert not re.fullmatch(r"-?[\d,]+\.0000", text), f"{page}: {header} = {text!r}"
    assert checked > 50  # the check saw the cut flows and the gradient tables


@pytest.mark.parametrize("page", NOTEBOOK_CHAPTERS)
def test_figures_are_svg_with_their_caption_as_alt_text(built_site, page):
    html = soup(built_site, page)
    figures = html.select("article figure")
    assert figures, page
    for figure in figures:
        img, caption = figure.select_one("img"), figure.select_one("figcaption")
        assert img["src"].endswith(".svg"), img["src"]
        caption_text = " ".join(caption.select_one(".caption-text").get_text(" ", strip=True).split())
        assert img["alt"] and img["alt"] != img["src"]
        assert " ".join(img["alt"].split())[:60] == caption_text[:60]
        svg = (built_site / "book" / img["src"]).read_text()
        assert "<text" in svg, f"{page}: figure text should be SVG text ({img['src']})"


def test_captions_name_the_studys_figures(built_site):
    found = {}
    for page in NOTEBOOK_CHAPTERS:
        for figure in soup(built_site, page).select("article figure"):
            name = figure.get("id")
            if name in STUDY_FIGURES:
                found[name] = figure.select_one("figcaption").get_text(" ", strip=True)
    assert set(found) == set(STUDY_FIGURES)
    for name, caption in found.items():
        assert f"the study’s Figure {STUDY_FIGURES[name]}" in caption.replace("'", "’"), name


def test_favicon_and_no_empty_index_page(built_site):
    for page in HTML_PAGES:
        html = soup(built_site, page)
        icon = html.select_one("link[rel~=icon]")
        assert icon is not None and (built_site / "book" / icon["href"]).is_file(), page
        assert not html.select('a[href$="genindex.html"], link[href$="genindex.html"]'), page
    assert not (built_site / "genindex.html").exists()


def test_footer_names_version_date_authors_and_licences(built_site):
    stamp = json.loads((built_site / book.STAMP).read_text())
    for page in HTML_PAGES:
        footer = soup(built_site, page).select_one(".galchem-footer")
        assert footer is not None, page
        text = footer.get_text(" ", strip=True)
        assert f"galchem {galchem.__version__}" in text and re.search(r"built \d{4}-\d\d-\d\d", text)
        assert "the galchem developers" in text and "MIT" in text and "CC BY 4.0" in text
        assert footer.select_one('a[href="citing.html"]') is not None
    assert stamp["version"] == galchem.__version__


def test_site_serves_the_sdist_and_environment_file(built_site):
    stamp = json.loads((built_site / book.STAMP).read_text())
    sdist = built_site / "downloads" / stamp["sdist"]
    assert sdist.name == f"galchem-{galchem.__version__}.tar.gz"
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        init = archive.extractfile(f"galchem-{galchem.__version__}/galchem/__init__.py").read().decode()
    assert f'__version__ = "{galchem.__version__}"' in init
    assert f"galchem-{galchem.__version__}/LICENSE" in names
    assert any(n.endswith("galchem/data/survey_files/lamost.toml") for n in names)
    environment = yaml.safe_load((built_site / "downloads" / "environment.yml").read_text())
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip == [f"./{sdist.name}[notebook]"]


@pytest.mark.parametrize("page", NOTEBOOK_CHAPTERS)
def test_chapter_has_a_run_box_with_commands_that_fit_its_notebook(built_site, page):
    html = soup(built_site, page)
    boxes = [a for a in html.select(".admonition.run-chapter")]
    assert len(boxes) == 1, page
    links = {a.get("href") for a in boxes[0].select("a")}
    stamp = json.loads((built_site / book.STAMP).read_text())
    assert f"../downloads/{stamp['sdist']}" in links and "../downloads/environment.yml" in links
    commands = boxes[0].select_one("pre").get_text()
    stem = page.split("/")[-1]
    assert f'pip install "./{stamp["sdist"]}[notebook]"' in commands
    declared = set(papermill.inspect_notebook(str(ROOT / f"{page}.ipynb")))
    runs = [line for line in commands.splitlines() if "papermill" in line]
    assert runs and all(f"papermill {stem}.ipynb " in line for line in runs)
    for line in runs:
        assert set(re.findall(r"-p (\w+) ", line)) <= declared, line
    nb = nbformat.read(built_site / "_sources" / f"{page}.ipynb", 4)  # the download carries the box too
    assert any("Run this chapter" in cell.source for cell in nb.cells if cell.cell_type == "markdown")


@pytest.mark.parametrize("page", NOTEBOOK_CHAPTERS)
def test_chapter_opens_with_goals_prerequisites_and_run_times(built_site, page):
    html = soup(built_site, page)
    first = html.select_one("article .admonition")
    assert "In this chapter" in first.select_one(".admonition-title").get_text()
    text = first.get_text(" ", strip=True)
    for part in ("After it you can", "Before you start", "Run time", "ci", "full"):
        assert part in text, (page, part)


@pytest.mark.parametrize("page", NOTEBOOK_CHAPTERS)
def test_what_ran_shows_the_values_the_page_ran_with(built_site, page):
    html = soup(built_site, page)
    box = html.select_one(".admonition.what-ran")
    assert box is not None, page
    rows = {tr.select("td")[0].get_text(strip=True): tr.select("td")[1].get_text(" ", strip=True)
            for tr in box.select("tbody tr")}
    declared = set(papermill.inspect_notebook(str(ROOT / f"{page}.ipynb")))
    assert set(rows) == declared, page
    executed = nbformat.read(ROOT / "_build" / "src" / f"{page}.ipynb", 4).metadata["papermill"]["parameters"]
    assert executed, page
    for name, value in executed.items():
        shown = rows[name].replace(",", "")
        expected = "; ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
        assert shown.startswith(expected), (page, name, value, rows[name])
    # the setup the exercises rely on is on the page (collapsed), not removed
    setup = html.select_one(".tag_chapter-setup")
    assert setup is not None and "hide-input" in " ".join(setup.get("class", [])) and setup.select_one("pre")


def test_known_limitations_once_where_real_data_differ(built_site):
    for page in HTML_PAGES:
        boxes = soup(built_site, page).select(".admonition.known-limitations")
        assert len(boxes) <= 1, page
        if page in ("book/01_data", "book/02_kinematics", "book/07_gaia", "book/real_data"):
            assert len(boxes) == 1, page
            assert boxes[0].select_one(".admonition-title").get_text(strip=True) == "Known limitations"


def test_no_repository_or_launch_buttons_without_a_repository(built_site):
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    if site_config.has_repository(config):
        pytest.skip("a repository URL is configured")
    for page in HTML_PAGES:
        html = soup(built_site, page)
        assert not html.select('a[href*="github.com"], a[href*="mybinder"], .btn-launch, [class*="repository"]'), page
        assert not html.select(".dropdown-launch-buttons"), page


def test_bibliography_labels_order_titles_and_links(built_site):
    entries = soup(built_site, "book/bibliography").select("div.citation")
    labels = [e.select_one(".label").get_text(" ", strip=True).strip("[] ") for e in entries]
    assert len(entries) >= 20
    assert all(re.fullmatch(r"[^\W\d][\w\s&.'-]* \d{4}[a-z]?", label) for label in labels), labels
    folded = ["".join(c for c in unicodedata.normalize("NFKD", label) if not unicodedata.combining(c)).casefold()
              for label in labels]
    assert folded == sorted(folded), labels
    bib = (ROOT / "references.bib").read_text()
    assert len(re.findall(r"^@\w+\{", bib, re.M)) == len(re.findall(r"^\s*title\s*=", bib, re.M))  # all have titles
    links = [a["href"] for e in entries for a in e.select("a.reference.external")]
    assert sum("ui.adsabs.harvard.edu/abs/" in h for h in links) >= 14
    assert sum("arxiv.org/abs/" in h for h in links) >= 7
    for entry in entries:
        assert entry.select("a.reference.external"), entry.get_text()[:60]


def test_licences_citation_file_and_citing_page(built_site):
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["message"] and citation["title"]
    assert citation["authors"] == [{"name": "the galchem developers"}]
    assert citation["version"] == galchem.__version__
    text = soup(built_site, "book/citing").get_text(" ", strip=True)
    assert "CC BY 4.0" in text and "MIT" in text and galchem.__version__ in text and "Hawkins" in text
