"""Build the book: execute every notebook with papermill, then render the site with Jupyter Book.

The sources (``_config.yml``, ``_toc.yml``, ``references.bib``, ``book/``)
are mirrored into ``_build/src`` and executed there, so the committed
notebooks stay free of outputs.  Parameters come from a profile (:mod:`galchem.site.profiles`).

Besides the pages, the build puts galchem's source distribution and an
``environment.yml`` on the site (:mod:`galchem.site.downloads`), writes the
site's ``_config.yml`` with the version and build date
(:mod:`galchem.site.site_config`) and adds a "Run this chapter" box to every
executed notebook (:mod:`galchem.site.run_box`).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import papermill
import yaml

from galchem import __version__
from galchem.data import folders
from galchem.errors import GalchemError
from galchem.site import downloads, run_box
from galchem.site.profiles import (Profile, check_parameters, check_profile_notebooks, declared_parameters, load_profile,
                                   notebook_defaults, notebooks)
from galchem.site.site_config import site_config

__all__ = ["STAMP", "SOURCES", "TIMEOUT_HELP", "build", "check_build_dir", "execute", "find_root", "kernel_log",
           "mirror_sources", "sources_digest", "tidy_executed", "vendor_mathjax"]

SOURCES = ("_config.yml", "_toc.yml", "references.bib", "book")
"""What Jupyter Book reads: mirrored into ``_build/src``."""
DIGESTED = (*SOURCES, "environment.yml", "pyproject.toml", "LICENSE", "CITATION.cff")
"""Everything a build is made of, besides the profile and the galchem package."""
STAMP = ".galchem-build.json"


def find_root(start: Path | None = None) -> Path:
    """The book's root: the nearest folder at or above ``start`` holding ``_toc.yml``."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_toc.yml").is_file():
            return folder
    raise GalchemError(f"no _toc.yml in {start} or above: run this inside the galchem repository")


def tidy_executed(path: Path) -> None:
    """Collapse (and label) the injected-parameters cell and drop local paths papermill recorded."""
    nb = nbformat.read(path, 4)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags:
            if "hide-input" not in tags:
                tags.append("hide-input")
            cell.metadata.setdefault("mystnb", {}).update(
                code_prompt_show="Show the parameters this build passed in", code_prompt_hide="Hide them")
    for key in ("input_path", "output_path"):
        nb.metadata.get("papermill", {}).pop(key, None)
    nb.metadata.get("papermill", {}).get("environment_variables", {}).clear()
    nbformat.write(nb, path)


TIMEOUT_HELP = "raise it with galchem book --timeout SECONDS or the profile's execution_timeout"


def _timed_out_line(err: Exception) -> str:
    """The first line of the cell a timeout stopped, from nbclient's preview of it."""
    parts = str(err).split("-------------------\n")
    preview = parts[1] if len(parts) >= 3 else ""
    return next((line.strip() for line in preview.splitlines() if line.strip()), "(not shown)")


@contextlib.contextmanager
def kernel_log(path: Path) -> Iterator[None]:
    """Send standard error (which the notebook's kernel inherits) to ``path`` while a notebook runs.

    The kernel's own messages (its start-up warnings, the traceback of a
    kernel stopped in mid-cell) go to the log, not to the terminal.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with path.open("wb") as log:
            os.dup2(log.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def execute(source: Path, target: Path, parameters: dict, timeout: int, log: Path | None = None) -> None:
    """Run one notebook with papermill; a failure or a cell past ``timeout`` seconds names the notebook and the cell.

    ``log`` receives the kernel's standard error (see :func:`kernel_log`).
    """
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        with kernel_log(log) if log else contextlib.nullcontext():
            papermill.execute_notebook(
                str(source),
                str(target),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(target.parent),
                progress_bar=False,
                execution_timeout=timeout,
            )
    except papermill.PapermillExecutionError as err:
        raise GalchemError(
            f"{source.name} failed in cell {err.cell_index} (execution count {err.exec_count}): "
            f"{err.ename}: {err.evalue.splitlines()[0] if err.evalue else ''} -- see {target}"
        ) from None
    except CellTimeoutError as err:
        raise GalchemError(
            f"{source.name}: the cell starting {_timed_out_line(err)!r} ran past the limit of {timeout} s per cell; "
            f"on a slower machine {TIMEOUT_HELP}"
        ) from None
    except DeadKernelError:
        raise GalchemError(f"{source.name}: its kernel died (out of memory?); its messages are in "
                           f"{log or 'standard error'}") from None
    finally:
        if target.is_file():
            tidy_executed(target)


def sources_digest(root: Path, profile: Profile) -> str:
    """A hash of the book's sources, the profile and the galchem package: what a build is of."""
    digest = hashlib.sha256(json.dumps(profile.__dict__, sort_keys=True, default=str).encode())
    files = [root / s for s in DIGESTED] + [Path(__file__).resolve().parents[1]]
    for top in files:
        paths = sorted(top.rglob("*")) if top.is_dir() else [top]
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts and ".ipynb_checkpoints" not in path.parts:
                digest.update(str(path.relative_to(top.parent)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def mirror_sources(root: Path, src: Path) -> None:
    """Copy the book's sources into the build folder, replacing what was there."""
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name in SOURCES:
        path = root / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        elif path.is_file():
            shutil.copy2(path, src / name)


VENDOR = "_vendor"
"""Static folder of the mirrored sources for third-party files (not ``_static``: Jupyter Book would
load every .js file under ``_static`` on every page, MathJax a second time)."""
MATHJAX = "mathjax"
"""Folder under the site's ``_static`` that holds the vendored MathJax 3 (see :func:`vendor_mathjax`)."""


def vendor_mathjax(static: Path) -> None:
    """Copy MathJax 3's TeX-to-CHTML bundle and its fonts into ``static/mathjax``, so equations render offline.

    The files come from the ``django-static-mathjax`` wheel (MathJax 3.2.2,
    Apache-2.0), installed with the ``book`` extra; the package is located,
    not imported.  ``_config.yml`` points Sphinx's ``mathjax_path`` at them.
    """
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise GalchemError("MathJax is missing: install the book extra (pip install -e '.[book]')")
    es5 = Path(spec.submodule_search_locations[0]) / "static" / "mathjax" / "es5"
    target = static / MATHJAX
    shutil.rmtree(target, ignore_errors=True)
    for folder in (Path("output") / "chtml" / "fonts" / "woff-v2", Path("input") / "tex" / "extensions"):
        shutil.copytree(es5 / folder, target / folder)  # the fonts, and the TeX packages MathJax loads on demand
    shutil.copy2(es5 / "tex-chtml.js", target / "tex-chtml.js")


def prepare_site(root: Path, src: Path, log: Callable[[str], None]) -> str:
    """Downloads and the site's ``_config.yml`` in the mirrored sources; return the sdist's file name."""
    target = src / downloads.DOWNLOADS
    sdist = downloads.build_sdist(root, target)
    (target / "environment.yml").write_text(downloads.environment_file(root, sdist.name))
    log(f"built {sdist.name} ({sdist.stat().st_size / 1e3:.0f} kB) for the site's downloads")
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    built = datetime.now(timezone.utc).date()
    site = site_config(config, version=__version__, built=built, sdist=sdist.name)
    (src / "_config.yml").write_text(yaml.safe_dump(site, sort_keys=False, allow_unicode=True))
    return sdist.name


def add_run_box(root: Path, page: Path, target: Path, sdist: str, profile: Profile, built_with: dict) -> None:
    """Add the "Run this chapter" box to an executed chapter, with this build's and the study's parameters."""
    try:
        full = load_profile(root, "full")
    except GalchemError:
        full = None
    declared = declared_parameters(root / page)
    full_values = full.parameters(page.stem, declared) if full else {}
    study = run_box.study_parameters(built_with, notebook_defaults(root / page), full_values)
    study = {name: value for name, value in study.items() if value != built_with.get(name)}
    run_box.insert_run_box(target, run_box.run_box(page.stem, sdist, profile.name, built_with, study))


def _sign_what_was_written(folder: Path) -> None:
    """Sign a build folder galchem (or Jupyter Book for it) wrote, also after a failure, so the next build may replace
    it; a folder that cannot be signed is left to be refused, and removed by hand, next time."""
    if folder.is_dir():
        with contextlib.suppress(OSError):
            folders.sign(folder)


def check_build_dir(build_dir: Path) -> None:
    """Fail unless ``build_dir`` can be written and its ``src`` and ``html`` hold only what galchem wrote there."""
    if build_dir.exists() and not build_dir.is_dir():
        raise GalchemError(f"{build_dir} is a file, not a folder: move it away to build the book")
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GalchemError(f"{build_dir}: cannot create the build folder ({err.strerror or err})") from None
    if not os.access(build_dir, os.W_OK | os.X_OK):
        raise GalchemError(f"{build_dir}: cannot write in the build folder (permission denied)")
    for name in ("src", "html"):
        folders.check_replaceable(build_dir / name, "the book's build folder")


def build(root: Path, profile_name: str = "ci", log: Callable[[str], None] = print, timeout: int | None = None
          ) -> Path:
    """Execute the book's notebooks with a profile and build the HTML; return the site's index.

    ``timeout`` (seconds per cell) overrides the profile's ``execution_timeout``.
    ``_build/src`` and ``_build/html`` are signed folders
    (:mod:`galchem.data.folders`): replaced only when they hold nothing
    galchem did not write.  The kernels' own messages go to ``_build/logs``.
    """
    profile = load_profile(root, profile_name)
    timeout = timeout or profile.execution_timeout
    pages = notebooks(root)
    check_profile_notebooks(profile, pages)
    parameters = {}
    for page in pages:
        check_parameters(root / page, profile.notebooks.get(page.stem, {}))
        parameters[page] = profile.parameters(page.stem, declared_parameters(root / page))
    build_dir = root / "_build"
    src = build_dir / "src"
    html = build_dir / "html"
    check_build_dir(build_dir)
    try:
        mirror_sources(root, src)
        vendor_mathjax(src / VENDOR)
    except OSError as err:
        raise GalchemError(f"{src}: cannot write the book's sources there ({err.strerror or err})") from None
    finally:
        _sign_what_was_written(src)
    os.environ.setdefault("GALCHEM_CACHE_DIR", str(build_dir / "cache"))
    os.environ.pop("MPLBACKEND", None)  # a non-inline backend would drop every figure
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    log(f"galchem book: profile {profile.name!r} ({profile.description}); {len(pages)} notebook(s)")
    timings = {}
    start = time.perf_counter()
    try:
        for i, page in enumerate(pages, 1):
            log(f"[{i}/{len(pages)}] {page} ...")
            t0 = time.perf_counter()
            execute(root / page, src / page, parameters[page], timeout, log=build_dir / "logs" / f"{page.stem}.log")
            timings[str(page)] = round(time.perf_counter() - t0, 1)
            log(f"[{i}/{len(pages)}] {page} done in {timings[str(page)]:.1f} s")
        t0 = time.perf_counter()
        sdist = prepare_site(root, src, log)
        for page in pages:
            add_run_box(root, page, src / page, sdist, profile, parameters[page])
        timings["downloads"] = round(time.perf_counter() - t0, 1)
    finally:  # executed notebooks and downloads are galchem's too, also after a failure
        _sign_what_was_written(src)
    log("building HTML with jupyter-book ...")
    t0 = time.perf_counter()
    folders.check_replaceable(html, "the book's build folder")  # nothing added by hand while the notebooks ran
    shutil.rmtree(html, ignore_errors=True)  # no figures or pages left over from earlier builds
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    command = [str(jupyter_book if jupyter_book.exists() else "jupyter-book"), "build", str(src),
               "--path-output", str(root), "-W", "-n", "--keep-going"]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            problems = [line for line in (result.stdout + result.stderr).splitlines()
                        if re.search(r"WARNING|ERROR", line)]
            sys.stderr.write("\n".join(problems or (result.stdout + result.stderr).splitlines()[-40:]) + "\n")
            raise GalchemError(f"jupyter-book build failed (exit {result.returncode}); its problems are listed above")
        timings["jupyter-book build"] = round(time.perf_counter() - t0, 1)
        stamp = {"profile": profile.name, "sources": sources_digest(root, profile), "seconds": timings,
                 "total_seconds": round(time.perf_counter() - start, 1), "version": __version__,
                 "sdist": sdist}
        (html / STAMP).write_text(json.dumps(stamp, indent=2))
    finally:
        _sign_what_was_written(html)
    log(f"HTML built in {timings['jupyter-book build']:.1f} s; total {stamp['total_seconds']:.1f} s")
    index = html / "index.html"
    log(f"the site is at {index}")
    return index
