"""Build profiles and the book's notebooks: which parameters each chapter is executed with.

A profile is ``profiles/<name>.yml``::

    description: what the profile is for
    execution_timeout: 900        # seconds per cell
    defaults: {catalog: mock, seed: 42}   # given to every notebook that declares them
    notebooks:
      01_data: {n_stars: 60000}   # by notebook name

Every parameter a profile gives a notebook by name must be declared in its
``parameters`` cell; a typo is an error, not a silent no-op.  A page without
parameters (no such cell) simply runs as it is.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill
import yaml

from galchem.errors import GalchemError

__all__ = ["PROFILE_KEYS", "Profile", "check_parameters", "check_profile_notebooks", "declared_parameters",
           "load_profile", "notebook_defaults", "notebooks", "toc_files"]

PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PROFILE_KEYS = ("description", "execution_timeout", "defaults", "notebooks")


@dataclass(frozen=True)
class Profile:
    """Papermill parameters for every notebook of the book."""

    name: str
    description: str
    execution_timeout: int
    defaults: dict
    notebooks: dict

    def parameters(self, notebook: str, declared: Iterable[str] = ()) -> dict:
        """The parameters of one notebook: the defaults it ``declared``, then its own."""
        defaults = {name: value for name, value in self.defaults.items() if name in set(declared)}
        return {**defaults, **self.notebooks.get(notebook, {})}


def _error(path: Path, message: str) -> GalchemError:
    return GalchemError(f"{path}: {message}")


def load_profile(root: Path, name: str) -> Profile:
    """Read ``profiles/<name>.yml``: a name (no path), valid YAML, known keys of the right types."""
    known = ", ".join(sorted(p.stem for p in (root / "profiles").glob("*.yml")))
    path = root / "profiles" / f"{name}.yml"
    if not PROFILE_NAME.fullmatch(name) or ".." in name or not path.is_file():
        raise GalchemError(f"no profile {name!r} ({path}); known profiles: {known}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        reason = " ".join(str(err).split())
        raise _error(path, f"not valid YAML ({reason[:200]})") from None
    except OSError as err:
        raise _error(path, f"cannot read it ({err.strerror or err})") from None
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise _error(path, f"should be a mapping of {', '.join(PROFILE_KEYS)}, not a {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - set(PROFILE_KEYS))
    if unknown:
        raise _error(path, f"unknown key(s) {', '.join(unknown)}; a profile has {', '.join(PROFILE_KEYS)}")
    timeout = data.get("execution_timeout", 900)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
        raise _error(path, f"execution_timeout = {timeout!r} should be a whole number of seconds (at least 1)")
    defaults, pages = data.get("defaults") or {}, data.get("notebooks") or {}
    if not isinstance(defaults, dict):
        raise _error(path, f"defaults should be a mapping of parameter: value, not {defaults!r}")
    if not isinstance(pages, dict) or not all(isinstance(v, dict) or v is None for v in pages.values()):
        raise _error(path, "notebooks should map each notebook's name to a mapping of parameter: value")
    return Profile(
        name=name,
        description=str(data.get("description", "")),
        execution_timeout=timeout,
        defaults=dict(defaults),
        notebooks={str(page): dict(values or {}) for page, values in pages.items()},
    )


def check_profile_notebooks(profile: Profile, pages: list[Path]) -> None:
    """Fail if the profile gives parameters to a notebook the table of contents does not have (a typo)."""
    unknown = sorted(set(profile.notebooks) - {page.stem for page in pages})
    if unknown:
        raise GalchemError(f"profile {profile.name!r} sets parameters of {', '.join(unknown)}, which is not a notebook "
                           f"of the book (its notebooks: {', '.join(page.stem for page in pages) or 'none'})")


def toc_files(root: Path) -> list[str]:
    """The files of ``_toc.yml`` in reading order, without suffix, relative to the root."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries: list) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            for part in entry.get("parts", []):
                walk(part.get("chapters", []))

    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return files


def notebooks(root: Path) -> list[Path]:
    """The notebooks of the table of contents, relative to the root."""
    return [Path(f"{f}.ipynb") for f in toc_files(root) if (root / f"{f}.ipynb").is_file()]


def declared_parameters(notebook: Path) -> list[str]:
    """The names the notebook's ``parameters`` cell declares (none without such a cell)."""
    return list(papermill.inspect_notebook(str(notebook)))


def check_parameters(notebook: Path, parameters: dict) -> None:
    """Fail unless the notebook has a ``parameters`` cell declaring every given parameter."""
    if not parameters:
        return
    declared = declared_parameters(notebook)
    has_cell = any("parameters" in c.get("metadata", {}).get("tags", []) for c in nbformat.read(notebook, 4).cells)
    if not has_cell:
        raise GalchemError(f"{notebook.name}: the profile sets {', '.join(parameters)}, but no cell is tagged 'parameters'")
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise GalchemError(
            f"{notebook.name}: the profile sets {', '.join(unknown)}, which the parameters cell does not declare "
            f"(declared: {', '.join(declared) or 'nothing'})"
        )


def notebook_defaults(notebook: Path) -> dict:
    """The defaults of the notebook's ``parameters`` cell, as Python values."""
    return {name: ast.literal_eval(info["default"]) for name, info in papermill.inspect_notebook(str(notebook)).items()}
