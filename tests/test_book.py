"""The book runner's failure modes, on a tiny throwaway book."""
import json
import re

import nbformat
import pytest

from galchem.site import builder as book
from galchem.site import profiles
from galchem.errors import GalchemError


def tiny_book(root, body: str, profile: str = "defaults: {}\nnotebooks:\n  ch: {x: 2}\n"):
    (root / "book").mkdir()
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/intro\nchapters:\n  - file: book/ch\n")
    (root / "book" / "intro.md").write_text("# Intro\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(body)])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "book" / "ch.ipynb")
    (root / "profiles").mkdir()
    (root / "profiles" / "t.yml").write_text(profile)


def test_undeclared_parameter_is_an_error(tmp_path):
    tiny_book(tmp_path, "print(x)", profile="defaults: {seed: 1}\nnotebooks:\n  ch: {x: 2, y: 3}\n")
    with pytest.raises(GalchemError, match=r"ch\.ipynb: the profile sets y, which"):
        book.build(tmp_path, "t", log=lambda line: None)


def test_defaults_reach_only_notebooks_that_declare_them(tmp_path):
    tiny_book(tmp_path, "pass", profile="defaults: {seed: 1, x: 5}\nnotebooks: {}\n")
    profile = profiles.load_profile(tmp_path, "t")
    assert profile.parameters("ch", profiles.declared_parameters(tmp_path / "book" / "ch.ipynb")) == {"x": 5}
    assert profile.parameters("other", []) == {}


def test_failing_notebook_names_notebook_and_cell(tmp_path):
    tiny_book(tmp_path, "1 / 0")
    with pytest.raises(GalchemError, match=r"ch\.ipynb failed in cell 2 .*ZeroDivisionError"):
        book.build(tmp_path, "t", log=lambda line: None)
    assert not (tmp_path / "_build" / "html").exists()  # no site from a failed notebook


def test_unknown_profile(tmp_path):
    tiny_book(tmp_path, "pass")
    with pytest.raises(GalchemError, match="no profile 'full'.*known profiles: t"):
        book.build(tmp_path, "full", log=lambda line: None)


def test_toc_order_and_profiles_of_the_real_book():
    root = book.find_root()
    files = profiles.toc_files(root)
    assert files[:2] == ["book/intro", "book/01_data"]
    chapters = [f for f in files if re.fullmatch(r"book/\d\d_\w+", f)]
    assert [c[5:7] for c in chapters] == [f"{i:02d}" for i in range(1, 9)]  # 01 ... 08, in order, none missing
    assert files.index("book/08_your_survey") == files.index("book/07_gaia") + 1 < files.index("book/real_data")
    assert files.index("book/api") < files.index("book/bibliography") and (root / "book" / "api.md").is_file()
    for name in ("ci", "full"):
        profile = profiles.load_profile(root, name)
        assert profile.notebooks["08_your_survey"]["mock_stars"] > 0  # the chapter's mock size is the profile's
        for page in profiles.notebooks(root):
            profiles.check_parameters(root / page, profile.notebooks.get(page.stem, {}))
            assert set(profile.parameters(page.stem, profiles.declared_parameters(root / page))) <= set(
                profiles.declared_parameters(root / page))


def test_committed_notebooks_have_no_outputs_and_python3_kernel():
    root = book.find_root()
    for page in profiles.notebooks(root):
        nb = json.loads((root / page).read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, page


def test_ci_profile_keeps_the_survey_chapter_quick():
    ci = profiles.load_profile(book.find_root(), "ci").notebooks["08_your_survey"]
    assert ci["mock_stars"] <= 30_000 and ci["n_mc"] <= 100 and ci["n_steps"] <= 500  # about 15 s on two cores


def test_ci_runs_exactly_the_readme_commands():
    root = book.find_root()
    readme = (root / "README.md").read_text().splitlines()
    commands = [readme[i + 1].strip() for i, line in enumerate(readme) if line.strip() == "```bash"][:2]
    ci = [line.strip() for line in (root / ".ci" / "run").read_text().splitlines()]
    assert len(commands) == 2
    for command in commands:
        assert command in ci


# --- The site's own pieces: config, run box, Sphinx extension -------------------------------------------------

from datetime import date

from galchem.site import api_docstrings, run_box, site_config, sphinx_extension


def test_api_page_names_only_what_exists():
    """Every object book/api.md documents imports and has a docstring (a rename would otherwise fail the build)."""
    import importlib

    text = (book.find_root() / "book" / "api.md").read_text()
    summary = text[text.index(".. autosummary::"):text.index("```", text.index(".. autosummary::"))]
    names = re.findall(r"^\.\. auto\w+:: (galchem[\w.]*)", text, re.M)
    names += ["galchem." + n for n in re.findall(r"^   ([A-Za-z][\w.]+)$", summary, re.M)]
    assert len(names) >= 25
    for name in names:
        module, _, attribute = name.rpartition(".")
        try:
            target = importlib.import_module(name)
        except ModuleNotFoundError:
            target = getattr(importlib.import_module(module), attribute)
        assert (target.__doc__ or "").strip(), name


def test_api_page_prints_absolute_values_as_written():
    assert api_docstrings.escape_bars("stars with |Z| < z_max") == "stars with \\|Z\\| < z_max"
    assert api_docstrings.escape_bars("in words, e.g. ``|Z| 1.2-1.4 kpc``") == "in words, e.g. ``|Z| 1.2-1.4 kpc``"
    assert api_docstrings.escape_bars("a |link|_ and \\|x\\|") == "a |link|_ and \\|x\\|"


def test_buttons_only_with_a_repository_url():
    base = {"html": {"use_repository_button": True}, "launch_buttons": {"binderhub_url": "https://example.org"}}
    without = site_config.site_config(base, version="9.9", built=date(2026, 1, 2), sdist="galchem-9.9.tar.gz")
    assert without["html"]["use_repository_button"] is False and without["html"]["use_issues_button"] is False
    assert "binderhub_url" not in without["launch_buttons"]
    assert "galchem 9.9 · built 2026-01-02" in without["html"]["extra_footer"]
    assert without["parse"]["myst_substitutions"]["version"] == "9.9"
    with_url = site_config.site_config({**base, "repository": {"url": "https://github.com/o/galchem"}},
                                       version="9.9", built=date(2026, 1, 2), sdist="galchem-9.9.tar.gz")
    assert with_url["html"]["use_repository_button"] is True
    assert with_url["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert base["html"]["use_repository_button"] is True  # the input is left alone


def test_run_box_reruns_as_built_and_at_the_studys_sizes():
    study = run_box.study_parameters({"mock_stars": 80000, "seed": 42}, {"mock_stars": None, "seed": 42}, {})
    assert study == {"mock_stars": None, "seed": 42}
    box = run_box.run_box("04_radial", "galchem-9.9.tar.gz", "ci", {"mock_stars": 80000}, {"mock_stars": None})
    assert 'pip install "./galchem-9.9.tar.gz[notebook]"' in box
    assert "# rerun this page as built (ci profile):\n.venv/bin/papermill 04_radial.ipynb 04_radial-rerun.ipynb\n" in box
    assert ".venv/bin/papermill 04_radial.ipynb 04_radial-full.ipynb -p mock_stars None\n" in box
    assert "*What ran* box" in box
    assert "What ran" not in run_box.run_box("real_data", "galchem-9.9.tar.gz", "ci", {}, {})  # a page without one


def test_run_box_goes_after_the_setup_cell_once(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_code_cell("setup()"), nbformat.v4.new_markdown_cell("text")])
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.cells[2].metadata["tags"] = [run_box.SETUP_TAG]
    path = tmp_path / "ch.ipynb"
    nbformat.write(nb, path)
    run_box.insert_run_box(path, "BOX 1")
    run_box.insert_run_box(path, "BOX 2")  # a second build replaces the box
    sources = [cell.source for cell in nbformat.read(path, 4).cells]
    assert sources == ["# T", "x = 1", "setup()", "BOX 2", "text"]


def test_scripts_declared_once_even_when_named_none_and_empty():
    from sphinx.builders.html._assets import _JavaScript

    scripts = [_JavaScript(None, body="const A = 1"), _JavaScript("", body="const A = 1"), _JavaScript("x.js"),
               _JavaScript("x.js"), _JavaScript("", body="const B = 2")]
    assert [s.filename for s in sphinx_extension.unique_scripts(scripts)] == [None, "x.js", ""]


def test_bibliography_labels_and_names():
    from pybtex.database import parse_string

    bib = parse_string("""
        @article{a, author = {{\\"O}nal Ta{\\c s}, {\\"O}. and Bilir, S. and others}, year = {2016}, title = {T}}
        @article{b, author = {Drimmel, R. and Poggio, E.}, year = {2018}, title = {T}}
        @article{c, author = {{GRAVITY Collaboration}}, year = {2021}, title = {T}}
        @article{d, author = {Boeche, C. and Siebert, A.}, year = {2013}, title = {U}}
        @article{e, author = {Boeche, C. and Siebert, A.}, year = {2013}, title = {V}}
    """, "bibtex")
    entries = list(bib.entries.values())
    assert sphinx_extension.plain_name("{\\\"O}nal Ta{\\c s}") == "Önal Taş"
    labels = list(sphinx_extension.AuthorYearLabels().format_labels(entries))
    assert labels == ["Önal Taş et al. 2016", "Drimmel & Poggio 2018", "GRAVITY Collaboration 2021",
                      "Boeche & Siebert 2013a",
                      "Boeche & Siebert 2013b"]
    order = sorted(entries, key=sphinx_extension.AuthorYearSorting().sorting_key)
    assert [e.key for e in order] == ["d", "e", "b", "c", "a"]
