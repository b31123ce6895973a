"""Sphinx extension for the book's API page (``book/api.md``): galchem's docstrings read as they are written.

galchem's docstrings are plain reST prose, and they write absolute values the
way astronomers do, ``|Z|``; to reST, ``|Z|`` is a substitution reference, an
error on a page that defines none.  Before autodoc parses a docstring, this
extension escapes every ``|word|`` so it prints as written.  Listed in
``_config.yml`` under ``sphinx.extra_extensions``, after ``sphinx.ext.autodoc``.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["escape_bars", "setup"]

BARS = re.compile(r"(?<![\w\\|`])\|([^|\s`](?:[^|`]*[^|\s`\\])?)\|(?![\w|])")
"""``|text|`` as reST reads a substitution reference: no spaces inside its ends, not glued to a word."""


def escape_bars(line: str) -> str:
    """``line`` with every ``|text|`` (outside ``literal`` text) escaped as ``\\|text\\|``."""
    parts = re.split(r"(``.*?``)", line)  # keep inline literals as they are
    return "".join(part if part.startswith("``") else BARS.sub(r"\\|\1\\|", part) for part in parts)


def _process_docstring(app, what: str, name: str, obj, options, lines: list[str]) -> None:
    lines[:] = [escape_bars(line) for line in lines]


def setup(app) -> dict[str, Any]:
    """Escape absolute-value bars in every docstring autodoc reads."""
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("autodoc-process-docstring", _process_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
