"""The gradient pages' comparison tables and the sentences that read them.

Every gradient bin has two lines (:mod:`galchem.analysis.gradients`): the
study's fit with a flat prior on the true coordinate, and the line corrected
for the errors in the coordinate (one latent distance per star under a
population prior; columns ``m_deconv``...), with SIMEX as an independent
cross-check.  On the
mock all are set beside the truth of the same stars.  The sentences here
are built from the table the page shows, so the text never quotes a number
the page did not compute.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from galchem.analysis import gradients
from galchem.report.numbers import MINUS
from galchem.report.numbers import signed as signed_number

__all__ = ["CALIBRATION_LIMIT", "HEADERS", "PULL_LIMIT", "calibration_summary", "comparison", "comparison_display",
           "corrected_text", "correction_sentences", "readable", "reliability_sentence",
           "value_text"]

PULL_LIMIT = 2.0
"""A pull beyond this many errors is called out in the text (a unit normal exceeds it 5 % of the time)."""

CALIBRATION_LIMIT = 3.0
"""A fit that misses the truth by more than this many errors is not calibrated there (a unit normal exceeds it
0.3 % of the time)."""


def comparison(measured: pd.DataFrame, published: pd.DataFrame | None, truth: pd.DataFrame | None,
               binning: gradients.Binning) -> pd.DataFrame:
    """Per bin: the study's slope (if published), the flat, corrected and SIMEX slopes, the truth and the pulls,
    the flat chain's verdict (``reliable``) and why a corrected slope is withheld
    (``status_deconv``).

    The numbers are those of :func:`galchem.analysis.gradients.compare`;
    without a published table (the Gaia giants) the study's columns are left out.
    """
    center = binning.columns[2]
    if published is None:
        published = pd.DataFrame({center: measured[center], "n": np.nan, "m": np.nan, "m_err": np.nan})
        table = gradients.compare(measured, published, truth, binning).drop(columns=["n_paper", "m_paper", "m_paper_err"])
    else:
        table = gradients.compare(measured, published, truth, binning)
    return table.merge(measured[[center, "status", "reliable", "status_deconv"]], on=center,
                       how="left")


HEADERS = {
    "z_lo": "|Z| from (kpc)", "z_hi": "|Z| to (kpc)", "r_lo": "R from (kpc)", "r_hi": "R to (kpc)",
    "z_center": "|Z| (kpc)", "r_center": "R (kpc)", "m_err": "m error", "b_err": "b error", "lam": "λ",
    "lam_err": "λ error", "m_deconv": "m corrected", "m_deconv_err": "m corrected error", "b_deconv": "b corrected",
    "lam_deconv": "λ corrected", "status_deconv": "why withheld", "m_simex": "m SIMEX", "m_simex_err": "m SIMEX error",
    "tau": "τ (steps)", "n_eff": "effective samples", "reliable": "chain long enough",
}
"""Readable headers for the columns of a gradient fit table (:func:`readable`)."""


def readable(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``table[columns]`` for the page: headers from :data:`HEADERS`, numbers formatted as
    :data:`galchem.analysis.gradients.TABLE_FORMAT` with one kind of minus sign and no signed zero, a chain's
    verdict as yes or no; a missing value stays missing (the table helper writes it out)."""
    return pd.DataFrame({HEADERS.get(column, column): [_cell(value, gradients.TABLE_FORMAT.get(column))
                                                       for value in table[column]] for column in columns})


def _cell(value, fmt: str | None) -> str | None:
    if not isinstance(value, str) and pd.isna(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if fmt is None:
        return value
    text = fmt.format(int(value) if fmt == "{:,}" else value)
    return text.lstrip("+-") if float(text.replace(",", "")) == 0 else _minus(text)


def _minus(text: str) -> str:
    """One kind of minus sign on the pages: the typographic one."""
    return text.replace("-", MINUS)


def _number(value: float, digits: int, signed: bool = True) -> str:
    """``value`` to ``digits`` decimals, without a sign on a value that rounds to zero (no "-0.000")."""
    if signed:
        return signed_number(value, digits)
    return f"{0:.{digits}f}" if round(value, digits) == 0 else _minus(f"{value:.{digits}f}")


def _decimals(err: float) -> int:
    """Decimals that show an error's first significant digit, at least three (the study's precision)."""
    return max(3, int(np.ceil(-np.log10(err)))) if np.isfinite(err) and err > 0 else 3


def _value(m: float, err: float, digits: int | None = None) -> str:
    """"slope±error" in one unbreakable cell, to ``digits`` decimals (None: as many as show the error's first
    significant digit, at least three); more decimals where the error would round to zero."""
    if not np.isfinite(m):
        return "not fitted"
    if digits is None:
        digits = _decimals(err)
    while np.isfinite(err) and round(err, digits) == 0 and digits < 6:
        digits += 1
    return f"{_number(m, digits)}±{_number(err, digits, signed=False)}"


def value_text(m: float, err: float, digits: int = 4) -> str:
    """A slope and its error for a sentence: "−0.0712 ± 0.0012" (the page's minus sign, no "−0.0000")."""
    return _value(m, err, digits).replace("±", " ± ")


def corrected_text(row: pd.Series, digits: int = 4) -> str:
    """A bin's corrected slope for a sentence: "−0.0712 ± 0.0012 dex/kpc", or why it is withheld."""
    status = row.get("status_deconv")
    if isinstance(status, str) and status not in (gradients.CORRECTED_OK, ""):
        return f"withheld ({status})"
    if not np.isfinite(row["m_deconv"]):
        return "not fitted"
    return f"{value_text(row['m_deconv'], row['m_deconv_err'], digits)} dex/kpc"


def _pull(value: float) -> str:
    return "–" if not np.isfinite(value) else _number(value, 1)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def comparison_display(table: pd.DataFrame, center_label: str) -> pd.DataFrame:
    """:func:`comparison` for the page, narrow enough for the text column: "slope±error" [dex/kpc] per estimate
    (to the decimal that shows the error, at least three), the flat and the corrected fit's pulls beside them,
    SIMEX where there is no study column (a page with one lists SIMEX beside the corrected fits), and the truth
    as precise as the flat fit; a corrected slope that cannot be trusted reads "withheld" (the reasons, the
    chains' verdicts and SIMEX's pulls are in :func:`correction_sentences`, :func:`reliability_sentence` and
    the pulls figure)."""
    center = next(c for c in table.columns if c.endswith("_center"))
    columns = [(center_label, table[center].map(lambda v: f"{v:.1f}"))]  # the stars per bin: the fits' table
    if "m_paper" in table:
        columns.append(("the study", [_value(m, e, 3) for m, e in zip(table["m_paper"], table["m_paper_err"])]))
    columns.append(("flat prior", [_value(m, e, None) for m, e in zip(table["m"], table["m_err"])]))
    if "pull" in table:
        columns.append(("pull", table["pull"].map(_pull)))
    columns.append(("corrected", [_value(m, e, None) if status in (gradients.CORRECTED_OK, "") or not isinstance(status, str)
                                  else "withheld" for m, e, status in
                                  zip(table["m_deconv"], table["m_deconv_err"], table["status_deconv"])]))
    if "pull_deconv" in table:
        columns.append(("pull", table["pull_deconv"].map(_pull)))
    if "m_paper" not in table:  # beside the study's column there is no room: its page lists SIMEX with the fits
        columns.append(("SIMEX", [_value(m, e, 3) for m, e in zip(table["m_simex"], table["m_simex_err"])]))
    if "m_true" in table:
        columns.append(("truth", ["–" if not np.isfinite(v) else _number(v, _decimals(e))  # as precise as the fit
                                  for v, e in zip(table["m_true"], table["m_err"])]))
    return pd.concat([pd.Series(list(values), name=name) for name, values in columns], axis=1)


def reliability_sentence(table: pd.DataFrame, binning: gradients.Binning) -> str:
    """Whether every fitted bin's chain (the study's fit, flat prior) reached 50 autocorrelation times, in one
    sentence (the corrected line is computed from sums and has no chain)."""
    ran = ((table["status"] == gradients.FITTED) & table["reliable"].notna()).to_numpy(dtype=bool)
    short = [binning.label(k) for k in np.flatnonzero(ran & ~table["reliable"].fillna(False).to_numpy(dtype=bool))]
    if not short:
        return f"All {int(ran.sum())} chains of the flat-prior fits reached 50 autocorrelation times."
    return (f"Of the flat-prior fits, {_plural(len(short), 'chain')} did not reach 50 τ within `max_steps` "
            f"({', '.join(short)}).")


def correction_sentences(table: pd.DataFrame, binning: gradients.Binning, limit: float = PULL_LIMIT) -> str:
    """What the correction did, in Markdown: the bins whose corrected slope is withheld and why; on the mock,
    how many bins each estimate puts within ``limit`` errors of the truth, the bins where the flat or the
    corrected slope misses it by more than ``limit`` errors and in which direction, and whether each fit is
    calibrated (:func:`calibration_summary`)."""
    withheld = [f"{binning.label(int(k))}: {r['status_deconv']}" for k, r in table.iterrows()
                if isinstance(r["status_deconv"], str) and r["status_deconv"] not in (gradients.CORRECTED_OK, "")]
    text = (f"The corrected slope is withheld in {_plural(len(withheld), 'bin')} ({'; '.join(withheld)}). "
            if withheld else "")
    return text + _truth_sentences(table, binning, limit)


def _compared(table: pd.DataFrame) -> pd.DataFrame:
    """The bins with a flat and a corrected pull (none without the truth)."""
    if "pull_deconv" not in table:
        return table.iloc[:0]
    return table[np.isfinite(table["pull"]) & np.isfinite(table["pull_deconv"])]


def _steeper(rows: pd.DataFrame, pull_column: str) -> pd.Series:
    """Per bin, whether the slope lies further from zero than the truth (a positive pull on a falling gradient
    means shallower)."""
    return np.sign(rows["m_true"]) * rows[pull_column] > 0


def _misses(rows: pd.DataFrame, binning: gradients.Binning, pull_column: str, name: str, limit: float) -> str:
    """The sentence naming the bins where one estimate misses the truth by more than ``limit`` errors."""
    off = rows[np.abs(rows[pull_column]) > limit]
    if off.empty:
        return ""
    steeper = _steeper(off, pull_column)
    items = [f"{binning.label(int(k))} ({'steeper' if steeper[k] else 'shallower'} than the truth, "
             f"pull {_pull(r[pull_column])})" for k, r in off.iterrows()]
    return f"The {name} misses the truth by more than {limit:g} errors in {_plural(len(off), 'bin')}: {'; '.join(items)}. "


def calibration_summary(tables: list[pd.DataFrame], limit: float = CALIBRATION_LIMIT) -> str:
    """Over the bins of ``tables`` (:func:`comparison` on the mock), in how many the flat and the corrected
    slope miss the truth by more than ``limit`` errors, and so whether each fit is calibrated on this sample
    (empty without the truth)."""
    rows = pd.concat([_compared(table) for table in tables])
    if rows.empty:
        return ""
    flat, corrected = (int(np.sum(np.abs(rows[column]) > limit)) for column in ("pull", "pull_deconv"))
    text = (f"Against the truth, the flat prior's slope misses by more than {limit:g} errors in **{flat}** of "
            f"{_plural(len(rows), 'bin')}, the corrected slope in **{corrected}**: ")
    if flat and corrected:
        return text + ("**on these stars neither fit is calibrated everywhere**, and where they miss, their "
                       "quoted errors understate how far off they are.")
    if flat or corrected:
        return text + (f"**on these stars the {'flat prior' if flat else 'corrected fit'} is not calibrated "
                       "everywhere**, and where it misses, its quoted error understates how far off it is.")
    return (f"Neither fit misses the truth by more than {limit:g} errors in any of the "
            f"{_plural(len(rows), 'bin')}.")


def _truth_sentences(table: pd.DataFrame, binning: gradients.Binning, limit: float) -> str:
    """The part of :func:`correction_sentences` that needs the truth (empty without it)."""
    rows = _compared(table)
    if rows.empty:
        return ""
    n = len(rows)
    flat_ok = int(np.sum(np.abs(rows["pull"]) <= limit))
    deconv_ok = int(np.sum(np.abs(rows["pull_deconv"]) <= limit))
    steeper = int(np.sum(np.abs(rows["m_deconv"]) > np.abs(rows["m"])))
    simex_ok = int(np.sum(np.abs(rows["pull_simex"]) <= limit)) if "pull_simex" in rows else 0
    text = (f"Of the {n} bins with a flat and a corrected slope, the flat prior's slope lies within {limit:g} errors "
            f"of the truth in **{flat_ok}**, the corrected slope's in **{deconv_ok}**, SIMEX's in **{simex_ok}**. "
            f"The corrected slope is steeper than the flat one in {steeper} of the {n} bins. ")
    text += _misses(rows, binning, "pull", "flat prior's slope", limit)
    text += _misses(rows, binning, "pull_deconv", "corrected slope", limit)
    text += calibration_summary([table])
    flat_off = rows[np.abs(rows["pull"]) > limit]
    if _steeper(flat_off, "pull").any():
        text += (" A flat slope steeper than the truth cannot come from attenuation, which only flattens a slope. "
                 "Likelier causes are a bin that mixes thin- and thick-disk stars, whose spread the line's single "
                 "intrinsic scatter describes poorly, and [Fe/H] errors that grow with distance; chapter 03's "
                 "coverage section measures how often each fit misses its truth over repeated mocks.")
    return text
