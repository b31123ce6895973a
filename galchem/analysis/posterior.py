"""One line fit's posterior as a small frozen value: the fitted numbers and how far its chain can be trusted.

A :class:`~galchem.analysis.fitting.LineFit` keeps the whole chain; a
gradient bin keeps only this summary of it (:class:`Posterior`) and writes it
to a table as columns named after its fields (:func:`posterior_columns`, read
back by :func:`posterior_from_columns`); a corrected line, which has no
chain, under a tag (:func:`column_name`, :func:`values_columns`).
"""
from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np
import pandas as pd

from galchem.analysis.fitting import LineFit
from galchem.analysis.line_values import VALUES, LineValues

__all__ = ["Posterior", "column_name", "posterior_columns", "posterior_from_columns", "values_columns",
           "values_from_columns"]


@dataclass(frozen=True)
class Posterior(LineValues):
    """Medians and standard deviations of m, b, lam, and the chain's diagnostics."""

    tau: float  # the longest autocorrelation time [steps]
    n_eff: float  # independent samples after burn-in
    acceptance: float
    reliable: bool  # emcee's rule (at least 50 tau) held and no prior bound shapes the posterior

    @classmethod
    def of(cls, fit: LineFit) -> Posterior:
        """The summary of ``fit``."""
        return cls(fit.m, fit.m_err, fit.b, fit.b_err, fit.lam, fit.lam_err, float(np.max(fit.autocorr_time)),
                   float(fit.effective_samples), fit.acceptance_fraction, fit.reliable)


_FIELDS = tuple(f.name for f in fields(Posterior))


def column_name(name: str, tag: str) -> str:
    """The table column of field ``name`` under ``tag``: the tag follows the quantity, before an ``_err``
    (``m``, ``m_err``, ``lam`` tagged ``_deconv``: ``m_deconv``, ``m_deconv_err``, ``lam_deconv``)."""
    base, error = (name[:-4], "_err") if name.endswith("_err") else (name, "")
    return f"{base}{tag}{error}"


def posterior_columns(posterior: Posterior | None) -> dict[str, object]:
    """``posterior``'s fields by their table column (named as the fields); NaN and a missing verdict (None) where
    no chain ran."""
    values = (*[np.nan] * (len(_FIELDS) - 1), None) if posterior is None else astuple(posterior)
    return dict(zip(_FIELDS, values))


def posterior_from_columns(row: dict) -> Posterior | None:
    """The posterior of :func:`posterior_columns` read back from a table row (None where its verdict is missing:
    no chain ran); a field the table does not carry reads NaN."""
    verdict = row["reliable"]
    if pd.isna(verdict):
        return None
    numbers = {name: row.get(name, np.nan) for name in _FIELDS if name != "reliable"}
    return Posterior(**numbers, reliable=bool(verdict))


def values_columns(values: LineValues | None, tag: str) -> dict[str, object]:
    """The fitted numbers of ``values`` by their table column (:func:`column_name`); NaN where there are none."""
    return {column_name(name, tag): np.nan if values is None else getattr(values, name) for name in VALUES}


def values_from_columns(row: dict, tag: str) -> LineValues:
    """The :func:`values_columns` of a table row read back."""
    return LineValues(**{name: row[column_name(name, tag)] for name in VALUES})
