"""The "Run this chapter" box the build adds to every executed chapter.

The box gives the exact commands that rerun the page from the notebook a
reader downloads (the download button at the top) and the source
distribution the site serves: one command reproduces the page (the
downloaded notebook keeps the parameters this build injected), another runs
it at the study's sizes.  The box is added to the executed notebook, so it
is in the download too.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

__all__ = ["SETUP_TAG", "insert_run_box", "run_box", "study_parameters"]

SETUP_TAG = "chapter-setup"
"""Tag of a chapter's setup cell; the box goes right after it (else after the parameters)."""
BOX_TAG = "run-chapter-box"


def _options(parameters: dict) -> str:
    """papermill's ``-p NAME VALUE`` options (it reads ``None`` and numbers as Python values)."""
    return "".join(f" -p {name} {value}" for name, value in parameters.items())


def study_parameters(built_with: dict, defaults: dict, full: dict) -> dict:
    """Parameters that undo this build's settings: the full profile's value, else the chapter's own default."""
    return {name: full.get(name, defaults.get(name)) for name in built_with}


def run_box(stem: str, sdist: str, profile: str, built_with: dict, study: dict) -> str:
    """The box's MyST text for notebook ``stem``.ipynb (links are relative to a page in ``book/``)."""
    same = f".venv/bin/papermill {stem}.ipynb {stem}-rerun.ipynb"
    lines = [
        ":::{admonition} Run this chapter\n:class: note run-chapter",
        f"Download this notebook (the download button at the top of the page, `.ipynb`) and "
        f'<a href="../downloads/{sdist}">{sdist}</a>, the galchem package this site was built with, into one '
        f'folder (or use <a href="../downloads/environment.yml">environment.yml</a> with conda). There, with '
        f"Python 3.11 or newer:",
        "",
        "```bash",
        "python3 -m venv .venv",
        f'.venv/bin/pip install "./{sdist}[notebook]"',
        f"# rerun this page as built ({profile} profile):",
        f"{same}",
    ]
    if study:
        lines += ["# or at the study's sizes (as the full profile):",
                  f".venv/bin/papermill {stem}.ipynb {stem}-full.ipynb{_options(study)}"]
    lines += [
        "```",
        "",
        "papermill reruns every cell and writes the results to the second file; "
        "open either in Jupyter (`.venv/bin/pip install jupyterlab`, then `.venv/bin/jupyter lab`)."
        + (" Other values go in with `-p name value`, for the parameters listed in the *What ran* box."
           if built_with else ""),
        ":::",
    ]
    return "\n".join(lines)


def insert_run_box(path: Path, box: str) -> None:
    """Put ``box`` into the executed notebook at ``path``, after its setup cell (replacing an earlier box)."""
    nb = nbformat.read(path, 4)
    nb.cells = [c for c in nb.cells if BOX_TAG not in c.get("metadata", {}).get("tags", [])]
    tags = [c.get("metadata", {}).get("tags", []) for c in nb.cells]
    after = next((i for i, t in enumerate(tags) if SETUP_TAG in t), None)
    if after is None:
        after = next((i for i, t in reversed(list(enumerate(tags))) if "injected-parameters" in t or "parameters" in t), 0)
    cell = nbformat.v4.new_markdown_cell(box)
    cell.metadata["tags"] = [BOX_TAG]
    nb.cells.insert(after + 1, cell)
    nbformat.write(nb, path)
