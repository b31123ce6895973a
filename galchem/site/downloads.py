"""What the site offers for download: the galchem source distribution and a matching environment.yml.

Both are written to ``<sources>/_extra/downloads/``; ``_config.yml`` lists
``_extra`` in ``html_extra_path``, so they are served as ``downloads/...``
next to the pages.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from galchem.errors import GalchemError

__all__ = ["DOWNLOADS", "build_sdist", "environment_file"]

DOWNLOADS = Path("_extra") / "downloads"
"""Where the downloads go, relative to the mirrored sources (served at ``downloads/``)."""


def build_sdist(root: Path, target: Path) -> Path:
    """Build galchem's source distribution from ``root`` into ``target`` with ``python -m build``; return it.

    ``--no-isolation`` uses the build tools already installed by the ``book``
    extra, so the build needs no network.
    """
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("galchem-*.tar.gz"):
        old.unlink()
    command = [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(target), str(root)]
    result = subprocess.run(command, capture_output=True, text=True)
    built = sorted(target.glob("galchem-*.tar.gz"))
    if result.returncode != 0 or len(built) != 1:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise GalchemError(f"python -m build --sdist failed (exit {result.returncode}); install the book extra:\n{tail}")
    return built[0]


def environment_file(root: Path, sdist: str) -> str:
    """The repository's ``environment.yml``, made to install the downloaded ``sdist`` instead of a checkout."""
    lines = []
    for line in (root / "environment.yml").read_text().splitlines():
        if line.strip().startswith("- -e ."):
            line = line[: line.index("- -e .")] + f"- ./{sdist}[notebook]"
        elif line.startswith("# conda alternative"):
            line = f"# conda alternative to pip: put this file beside {sdist}, then `conda env create -f environment.yml`"
        lines.append(line)
    text = "\n".join(lines) + "\n"
    if sdist not in text:
        raise GalchemError("environment.yml has no '- -e .[...]' pip line to point at the source distribution")
    return text
