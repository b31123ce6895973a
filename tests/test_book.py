"""The book runner's failure modes, on a tiny throwaway book."""
import json

import nbformat
import pytest

from galchem.site import builder as book
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
    profile = book.load_profile(tmp_path, "t")
    assert profile.parameters("ch", book.declared_parameters(tmp_path / "book" / "ch.ipynb")) == {"x": 5}
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
    assert book.toc_files(root)[:2] == ["book/intro", "book/01_data"]
    for name in ("ci", "full"):
        profile = book.load_profile(root, name)
        for page in book.notebooks(root):
            book.check_parameters(root / page, profile.notebooks.get(page.stem, {}))
            assert set(profile.parameters(page.stem, book.declared_parameters(root / page))) <= set(
                book.declared_parameters(root / page))


def test_committed_notebooks_have_no_outputs_and_python3_kernel():
    root = book.find_root()
    for page in book.notebooks(root):
        nb = json.loads((root / page).read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, page


def test_ci_runs_exactly_the_readme_commands():
    root = book.find_root()
    readme = (root / "README.md").read_text().splitlines()
    commands = [readme[i + 1].strip() for i, line in enumerate(readme) if line.strip() == "```bash"][:2]
    ci = [line.strip() for line in (root / ".ci" / "run").read_text().splitlines()]
    assert len(commands) == 2
    for command in commands:
        assert command in ci
