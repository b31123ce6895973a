"""How the pages write a number in prose and tables: one minus sign, and no sign on a value that rounds to zero."""
from __future__ import annotations

__all__ = ["MINUS", "signed"]

MINUS = "\u2212"
"""The typographic minus sign the pages use (never the hyphen)."""


def signed(value: float, decimals: int = 4) -> str:
    """``value`` with its sign and ``decimals`` decimals ("+0.0123", "−0.0456"), and no sign when it rounds to zero
    (no "−0.000")."""
    text = f"{value:+.{decimals}f}"
    return text[1:] if float(text) == 0 else text.replace("-", MINUS)
