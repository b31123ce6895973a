"""Numbered, captioned tables for the book's pages.

A notebook displays ``numbered_table(...)``: a MyST ``{table}`` directive
around a Markdown pipe table.  The book renders Markdown outputs as MyST, so
the table gets a number and a caption like a figure, and the text can refer
to it with ``{numref}`` by its ``name``.
"""
from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from IPython.display import Markdown

__all__ = ["numbered_table", "pipe_table", "plain_table"]


def _cell(value, fmt: str | None, missing: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return missing
    if isinstance(value, float) and value.is_integer() and fmt in (None, "{:,}", "{:d}"):
        value = int(value)  # a count stored as a float (after a merge with missing rows) prints as an integer
    if fmt is None and isinstance(value, int) and not isinstance(value, bool):
        fmt = "{:,}"  # counts with thousands separators, as everywhere in the book
    text = fmt.format(value) if fmt else str(value)
    return text.replace("|", "\\|")


def pipe_table(table: pd.DataFrame, formats: Mapping[str, str] | None = None, missing: str = "–") -> str:
    """``table`` as a Markdown pipe table, each column formatted with ``formats[column]`` if given.

    Column names may repeat (e.g. a "pull" beside each of two estimates).
    """
    formats = formats or {}
    lines = ["| " + " | ".join(str(c).replace("|", "\\|") for c in table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    columns = [table.iloc[:, k].tolist() for k in range(table.shape[1])]  # by position: repeated names are allowed
    for row in zip(*columns):
        lines.append("| " + " | ".join(_cell(v, formats.get(c), missing) for c, v in zip(table.columns, row)) + " |")
    return "\n".join(lines)


def numbered_table(table: pd.DataFrame, name: str, caption: str, formats: Mapping[str, str] | None = None,
                   missing: str = "–") -> Markdown:
    """A numbered table with a caption, referable as ``{numref}`name```."""
    return Markdown(f":::{{table}} {caption}\n:name: {name}\n\n{pipe_table(table, formats, missing)}\n:::")


def plain_table(table: pd.DataFrame, formats: Mapping[str, str] | None = None, missing: str = "–") -> Markdown:
    """An unnumbered table in the book's table style (for small tables the text does not refer to)."""
    return Markdown(pipe_table(table, formats, missing))
