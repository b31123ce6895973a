"""The gradient pages' comparison tables and the sentences that read them.

Every gradient bin is fitted twice (:mod:`galchem.analysis.gradients`): with
the study's flat prior on the true coordinate, and corrected for the errors
in the coordinate (one latent distance per star under a population prior;
columns ``m_deconv``...), with SIMEX as an independent cross-check.  On the
mock all are set beside the truth of the same stars.  The sentences here
are built from the table the page shows, so the text never quotes a number
the page did not compute.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from galchem.analysis import gradients

__all__ = ["PULL_LIMIT", "comparison", "comparison_display", "corrected_text", "correction_sentences", "reliability_sentence"]

PULL_LIMIT = 2.0
"""A pull beyond this many errors is called out in the text (a unit normal exceeds it 5 % of the time)."""


def comparison(measured: pd.DataFrame, published: pd.DataFrame | None, truth: pd.DataFrame | None,
               binning: gradients.Binning) -> pd.DataFrame:
    """Per bin: the study's slope (if published), the flat, corrected and SIMEX slopes, the truth and the pulls,
    each chain's verdict (``reliable``, ``reliable_deconv``) and why a corrected slope is withheld
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
    return table.merge(measured[[center, "status", "reliable", "reliable_deconv", "status_deconv"]], on=center,
                       how="left")


def _value(m: float, err: float, digits: int = 4) -> str:
    if not np.isfinite(m):
        return "not fitted"
    return f"{m:+.{digits}f}\u00a0±\u00a0{err:.{digits}f}".replace("-", "−")  # no-break spaces: one line


def corrected_text(row: pd.Series, digits: int = 4) -> str:
    """A bin's corrected slope for a sentence: "-0.0712 ± 0.0012 dex/kpc", or why it is withheld."""
    status = row.get("status_deconv")
    if isinstance(status, str) and status not in (gradients.CORRECTED_OK, ""):
        return f"withheld ({status})"
    if not np.isfinite(row["m_deconv"]):
        return "not fitted"
    return f"{_value(row['m_deconv'], row['m_deconv_err'], digits)} dex/kpc".replace("\u00a0", " ")


def _signed(value: float) -> str:
    return f"{value:+.4f}".replace("-", "−")


def _pull(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{value:+.1f}".replace("-", "−")


def comparison_display(table: pd.DataFrame, center_label: str) -> pd.DataFrame:
    """:func:`comparison` for the page: "value ± error" [dex/kpc] per estimate (SIMEX, whose jackknife errors
    are larger, to three decimals), the flat and the corrected fit's pulls beside them, and the truth; a corrected slope that cannot be trusted reads "withheld" (the reasons,
    the chains' verdicts and SIMEX's pulls are in :func:`correction_sentences`, :func:`reliability_sentence` and
    the pulls figure, so the table fits the page)."""
    center = next(c for c in table.columns if c.endswith("_center"))
    columns = [(center_label, table[center].map(lambda v: f"{v:.1f}"))]  # the stars per bin: the fits' table
    if "m_paper" in table:
        columns.append(("the study", [_value(m, e, 3) for m, e in zip(table["m_paper"], table["m_paper_err"])]))
    columns.append(("flat prior", [_value(m, e) for m, e in zip(table["m"], table["m_err"])]))
    if "pull" in table:
        columns.append(("pull", table["pull"].map(_pull)))
    columns.append(("corrected", [_value(m, e) if status in (gradients.CORRECTED_OK, "") or not isinstance(status, str)
                                  else "withheld" for m, e, status in
                                  zip(table["m_deconv"], table["m_deconv_err"], table["status_deconv"])]))
    if "pull_deconv" in table:
        columns.append(("pull", table["pull_deconv"].map(_pull)))
    columns.append(("SIMEX", [_value(m, e, 3) for m, e in zip(table["m_simex"], table["m_simex_err"])]))
    if "m_true" in table:
        columns.append(("truth", table["m_true"].map(lambda v: "–" if not np.isfinite(v) else _signed(v))))
    return pd.concat([pd.Series(list(values), name=name) for name, values in columns], axis=1)


def reliability_sentence(table: pd.DataFrame, binning: gradients.Binning) -> str:
    """Whether every fitted bin's chains reached 50 autocorrelation times, for each prior, in one sentence."""
    fitted = table["status"] == gradients.FITTED
    parts = []
    for prior, column in (("flat prior", "reliable"), ("corrected fit", "reliable_deconv")):
        ran = (fitted & table[column].notna()).to_numpy(dtype=bool)  # NA: no chain ran (no prior, or not fitted)
        short = [binning.label(k) for k in np.flatnonzero(ran & ~table[column].fillna(False).to_numpy(dtype=bool))]
        parts.append(f"all {int(ran.sum())} chains of the {prior} reached 50 autocorrelation times"
                     if not short else
                     f"of the {prior} {len(short)} chain(s) did not reach 50 τ within `max_steps` ({', '.join(short)})")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."


def correction_sentences(table: pd.DataFrame, binning: gradients.Binning, limit: float = PULL_LIMIT) -> str:
    """What the correction did, in Markdown: the bins whose corrected slope is withheld and why; on the mock,
    how many bins each estimate puts within ``limit`` errors of the truth, and which bins the correction
    over-corrects (steeper than the truth by more than ``limit`` errors), with their numbers."""
    withheld = [f"{binning.label(int(k))}: {r['status_deconv']}" for k, r in table.iterrows()
                if isinstance(r["status_deconv"], str) and r["status_deconv"] not in (gradients.CORRECTED_OK, "")]
    text = (f"The corrected slope is withheld in {len(withheld)} bin(s) ({'; '.join(withheld)}). " if withheld else "")
    return text + _truth_sentences(table, binning, limit)


def _truth_sentences(table: pd.DataFrame, binning: gradients.Binning, limit: float) -> str:
    """The part of :func:`correction_sentences` that needs the truth (empty without it)."""
    if "pull_deconv" not in table:
        return ""
    rows = table[np.isfinite(table["pull"]) & np.isfinite(table["pull_deconv"])]
    if rows.empty:
        return ""
    n = len(rows)
    flat_ok = int(np.sum(np.abs(rows["pull"]) <= limit))
    deconv_ok = int(np.sum(np.abs(rows["pull_deconv"]) <= limit))
    away = np.sign(rows["m_true"]) * rows["pull_deconv"]  # > 0: further from zero than the truth, i.e. steeper
    over = rows[away > limit]
    shallow = rows[np.sign(rows["m_true"]) * rows["pull"] < -limit]
    steeper = int(np.sum(np.abs(rows["m_deconv"]) > np.abs(rows["m"])))
    simex_ok = int(np.sum(np.abs(rows["pull_simex"]) <= limit)) if "pull_simex" in rows else 0
    text = (f"Of the {n} bins with a flat and a corrected slope, the flat prior's slope lies within {limit:g} errors "
            f"of the truth in **{flat_ok}**, the corrected slope's in **{deconv_ok}**, SIMEX's in **{simex_ok}**. "
            f"The corrected slope is steeper than the flat one in {steeper} of the {n} bins. ")
    if len(shallow):
        text += (f"The flat slope is shallower than the truth by more than {limit:g} errors in "
                 f"{len(shallow)} bin(s), as attenuation predicts. ")
    if len(over):
        items = [f"{binning.label(int(k))} (corrected {_value(r['m_deconv'], r['m_deconv_err'])}, truth "
                 f"{_signed(r['m_true'])}, pull {_pull(r['pull_deconv'])}; flat pull {_pull(r['pull'])})"
                 for k, r in over.iterrows()]
        text += (f"The correction **over-corrects** in {len(over)} bin(s), where the corrected slope is steeper "
                 f"than the truth by more than {limit:g} errors: " + "; ".join(items) + ".")
    else:
        text += f"In no bin is the corrected slope steeper than the truth by more than {limit:g} errors."
    return text
