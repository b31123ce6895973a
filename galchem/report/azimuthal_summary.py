"""Sentences and tables for the azimuthal tests, saying plainly what was not computed.

The azimuthal stage may leave the permutation test's p-value or the arm
contrasts out when the data cannot support them (``None``, or NaN after the
stage cache); these helpers then print the stage's reason instead of a number.
"""
from __future__ import annotations

import math

__all__ = ["arm_contrast_status", "is_number", "p_value_sentence", "tests_line"]


def is_number(value: object) -> bool:
    """True for a finite int or float (not None, not NaN, not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _status(tests: dict, key: str) -> str:
    status = tests.get(key)
    return status if isinstance(status, str) and status else "not computed"


def p_value_sentence(tests: dict) -> str:
    """The permutation test in one Markdown sentence: its p-value, or why there is none."""
    p_value = tests.get("p_value")
    if not is_number(p_value):
        return f"Permutation test for azimuthal structure: {_status(tests, 'p_value_status')}."
    n = int(tests["n_permutations"])
    floor = " (the smallest value this number of shuffles can give)" if p_value <= 1.5 / (n + 1) else ""
    return f"With {n:,} shuffles, the permutation test gives p = **{p_value:.3g}**{floor}."


def arm_contrast_status(tests: dict) -> str:
    """Why the arm contrast is missing, or an empty string when it was computed."""
    return "" if is_number(tests.get("arm_contrast")) else _status(tests, "arm_contrast_status")



def tests_line(tests: dict) -> str:
    """The azimuthal tests in one plain-text line (for the command line), saying what was not computed."""
    p_value, contrast = tests.get("p_value"), tests.get("arm_contrast")
    first = f"p = {p_value:.3g}" if is_number(p_value) else f"permutation test {_status(tests, 'p_value_status')}"
    second = (f"arm contrast {contrast:+.4f} ± {tests['arm_contrast_err']:.4f} dex" if is_number(contrast)
              else f"arm contrast {arm_contrast_status(tests)}")
    return f"{first}; {second}"
