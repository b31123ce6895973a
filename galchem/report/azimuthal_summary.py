"""Sentences and tables for the azimuthal tests, saying plainly what was not computed.

The azimuthal stage may leave the permutation test's p-value or the arm
contrasts out when the data cannot support them (``None``, or NaN after the
stage cache); these helpers then print the stage's reason instead of a number.
"""
from __future__ import annotations

import math

import pandas as pd

from galchem.report.gradient_tables import PULL_LIMIT
from galchem.report.numbers import signed

__all__ = ["arm_contrast_status", "arm_contrast_verdict", "is_number", "p_value_sentence", "tests_line"]

REFERENCE_NAMES = ("the straight line", "the mean at the same radius", "the smooth radial spline")
"""The references of :func:`~galchem.report.truth.arm_contrast_table`'s rows, in its order, for prose."""


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
    if p_value <= 1.5 / (n + 1):  # no shuffle varied as much as the data: p is 1 / (n + 1)
        return (f"With {n:,} shuffles, the permutation test gives p ≈ **{p_value:.2g}**, "
                f"the smallest value {n:,} shuffles can give.")
    return f"With {n:,} shuffles, the permutation test gives p = **{p_value:.3g}**."


def arm_contrast_status(tests: dict) -> str:
    """Why the arm contrast is missing, or an empty string when it was computed."""
    return "" if is_number(tests.get("arm_contrast")) else _status(tests, "arm_contrast_status")


def _measured(row: pd.Series) -> str:
    return f"{signed(row['measured [dex]'], 4)} ± {row['error [dex]']:.4f} dex"


def arm_contrast_verdict(table: pd.DataFrame, limit: float = PULL_LIMIT) -> str:
    """The answer to "do metal-rich stars sit in the arms?" from an arm-contrast table, in Markdown.

    ``table`` is :func:`~galchem.report.truth.arm_contrast_table`'s (rows: the
    straight line, the ring mean, the spline).  A contrast counts as a
    detection when it is more than ``limit`` errors from zero.  With the mock's
    counterparts (a ``pull`` column) the sentence also says which references
    recover what was put in, and applies the rule that a large pull for the
    straight line alone means the line, not the arms, makes the difference.
    """
    rows = table.assign(reference=list(REFERENCE_NAMES[:len(table)]))
    rows = rows[[is_number(v) and is_number(e) and e > 0 for v, e in zip(rows["measured [dex]"], rows["error [dex]"])]]
    if rows.empty:
        return "No arm contrast could be computed, so these data cannot answer the question."
    significance = rows["measured [dex]"] / rows["error [dex]"]
    detected = significance.abs() > limit
    line = rows.iloc[0]
    sentences = [f"Against {line['reference']}, arm stars are "
                 + (f"{'richer' if line['measured [dex]'] > 0 else 'poorer'} than stars between the arms by "
                    f"{_measured(line)}, {abs(significance.iloc[0]):.1f} errors from zero."
                    if detected.iloc[0] else f"no different from stars between the arms within the errors ({_measured(line)}).")]
    others = rows.iloc[1:]
    if len(others):
        sentences.append("Against " + " and against ".join(
            f"{r['reference']} the contrast is {_measured(r)}" for _, r in others.iterrows()) + ".")
    if detected.all():
        sign = "richer" if (rows["measured [dex]"] > 0).all() else "poorer" if (rows["measured [dex]"] < 0).all() else ""
        answer = (f"every reference finds arm stars {sign} by more than {limit:g} errors, so in these data the "
                  "metal-rich stars do sit in the arms" if sign else
                  "the references disagree in sign, so these data give no clear answer")
    elif not detected.any():
        answer = (f"no reference finds a contrast more than {limit:g} errors from zero, so these data show no sign "
                  "that metal-rich stars sit in the arms")
    else:
        found = " and ".join(rows.loc[detected, "reference"])
        answer = (f"only {found} finds a contrast beyond {limit:g} errors, so the answer depends on the reference and "
                  "these data do not show that metal-rich stars sit in the arms")
    sentences.append(f"**Answer for these data:** {answer}.")
    if "pull" in rows and all(is_number(p) for p in rows["pull"]):
        sentences.append(_pull_sentence(rows, limit))
    return " ".join(sentences)


def _pull_sentence(rows: pd.DataFrame, limit: float) -> str:
    """What the mock's injected counterparts and the pulls against them say about the references."""
    off = rows["pull"].abs() > limit
    injected = ", ".join(f"{signed(v, 4)} dex for {name}" for name, v in zip(rows["reference"], rows["injected [dex]"]))
    pulls = ", ".join(signed(p, 1) for p in rows["pull"])
    text = f"On the mock the injected pattern, treated in the same way, gives {injected} (pulls {pulls}): "
    if not off.any():
        blind = rows.loc[(rows["injected [dex]"] / rows["error [dex]"]).abs() <= limit, "reference"]
        return text + (f"every reference lies within {limit:g} errors of what was put in." + (
            f" For {' and '.join(blind)} the injected counterpart is itself within {limit:g} errors of zero, so "
            "with this many stars no detection could be expected there." if len(blind) else ""))
    if off.iloc[0] and not off.iloc[1:].any():
        return text + ("the pull is large for the straight line and small for the others, so the straight line, "
                       "not the arms, drives the first row's difference.")
    one = off.sum() == 1
    return text + (f"{' and '.join(rows.loc[off, 'reference'])} {'is' if one else 'are'} more than {limit:g} errors "
                   f"from {'its counterpart, so that contrast does' if one else 'their counterparts, so those contrasts do'}"
                   " not measure the arms as put in.")


def tests_line(tests: dict) -> str:
    """The azimuthal tests in one plain-text line (for the command line), saying what was not computed."""
    p_value, contrast = tests.get("p_value"), tests.get("arm_contrast")
    first = f"p = {p_value:.3g}" if is_number(p_value) else f"permutation test {_status(tests, 'p_value_status')}"
    second = (f"arm contrast {contrast:+.4f} ± {tests['arm_contrast_err']:.4f} dex" if is_number(contrast)
              else f"arm contrast {arm_contrast_status(tests)}")
    return f"{first}; {second}"
