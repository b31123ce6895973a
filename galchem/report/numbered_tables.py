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


def _cell(value, fmt: str | None, missing: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return missing
    text = fmt.format(value) if fmt else str(value)
    return text.replace("|", "\\|")


def pipe_table(table: pd.DataFrame, formats: Mapping[str, str] | None = None, missing: str = "–") -> str:
    """``table`` as a Markdown pipe table, each column formatted with ``formats[column]`` if given."""
    formats = formats or {}
    lines = ["| " + " | ".join(str(c).replace("|", "\\|") for c in table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(_cell(row[c], formats.get(c), missing) for c in table.columns) + " |")
    return "\n".join(lines)


def numbered_table(table: pd.DataFrame, name: str, caption: str, formats: Mapping[str, str] | None = None,
                   missing: str = "–") -> Markdown:
    """A numbered table with a caption, referable as ``{numref}`name```."""
    return Markdown(f":::{{table}} {caption}\n:name: {name}\n\n{pipe_table(table, formats, missing)}\n:::")
