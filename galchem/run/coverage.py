"""How often the gradient errors cover the mock's truth: the pipeline over many mock realisations and models.

Each realisation is a mock of the same model drawn from its own seed
(``config.mock_seed + r``), run through the kinematic stage and the gradient
fits exactly as ``galchem analyse`` runs them (cached like any run).  Per
bin and estimate -- flat, corrected (``m_deconv``) and SIMEX -- the pull
(fit - truth) / error against :func:`galchem.analysis.gradients.truth_gradients`;
:func:`coverage_summary` then gives the share of realisations within one
and two errors (68 % and 95 % for calibrated errors) and the mean pull.
The errors are the posterior standard deviations of the chains (the
corrected fit's only where its status is ``ok``) and SIMEX's jackknife error.

The model need not be the book's: :data:`VARIANTS` are Galaxies with other
truths (steeper and flatter metallicity gradients) or other errors (twice
Gaia DR3's parallax errors), so that the correction is checked on more
than the one Galaxy it was developed on (:func:`variant_model`).
"""
from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pandas as pd

from galchem.analysis import gradients
from galchem.data.mock import MetallicityField, MockModel, mock_model
from galchem.data.sources import Dataset, load_mock
from galchem.run.config import RunConfig
from galchem.run.stages import binnings, gradient_fits, kinematic_sample

__all__ = ["ESTIMATES", "VARIANTS", "coverage_pulls", "coverage_summary", "truth_pulls", "variant_model"]

ESTIMATES = {"flat": ("m", "m_err"), "corrected": ("m_deconv", "m_deconv_err"), "simex": ("m_simex", "m_simex_err")}
"""Each estimate's slope and error columns in a gradient table."""


VARIANTS: dict[str, dict[str, float]] = {
    "steeper": {"radial_gradient": -0.12, "vertical_inner": -0.36, "vertical_outer": -0.07},
    "flatter": {"radial_gradient": -0.03, "vertical_inner": -0.10, "vertical_outer": -0.015},
    "parallax_x2": {"parallax_error_scale": 2.0},
}
"""Mock models other than the book's, by name: their changes to a survey's default model (fields of
:class:`galchem.data.mock.MetallicityField` or of :class:`galchem.data.mock.MockModel`)."""


def variant_model(survey: str, name: str) -> MockModel:
    """The default mock model of ``survey`` with the changes of the variant ``name`` (:data:`VARIANTS`)."""
    changes = dict(VARIANTS[name])
    field_names = {f.name for f in fields(MetallicityField)}
    metallicity = {key: changes.pop(key) for key in list(changes) if key in field_names}
    return replace(mock_model(survey, **metallicity), **changes)


def truth_pulls(dataset: Dataset, config: RunConfig) -> pd.DataFrame:
    """One row per binning, bin and estimate of one run on a mock: the bin's star count and corrected status,
    the slope, its error, the truth and the pull."""
    sample = kinematic_sample(dataset, config).sample
    fits = gradient_fits(dataset, config)
    rows = []
    for binning, result in zip(binnings(config), (fits.radial, fits.vertical)):
        table = result.table
        truth = gradients.truth_gradients(sample, dataset.truth, binning, min_stars=config.min_stars)
        for k in range(len(table)):
            for name, (slope, error) in ESTIMATES.items():
                m, err, m_true = table[slope].iloc[k], table[error].iloc[k], truth["m_true"].iloc[k]
                rows.append({"binning": binning.name, "bin": binning.label(k), "n": int(table["n"].iloc[k]),
                             "status_deconv": table["status_deconv"].iloc[k], "estimate": name,
                             "m": m, "m_err": err, "m_true": m_true, "pull": (m - m_true) / err})
    return pd.DataFrame(rows)


def coverage_pulls(survey: str, n_realisations: int, config: RunConfig, model: MockModel | None = None
                   ) -> pd.DataFrame:
    """:func:`truth_pulls` of ``n_realisations`` mocks of ``model`` (default: the survey's), with a column
    ``realisation``."""
    tables = []
    for r in range(n_realisations):
        run = replace(config, mock_seed=config.mock_seed + r)
        table = truth_pulls(load_mock(survey, run.mock_stars, run.mock_seed, model=model), run)
        table.insert(0, "realisation", r)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def coverage_summary(pulls: pd.DataFrame) -> pd.DataFrame:
    """Per binning, bin and estimate: realisations with a value, the shares within 1 and 2 errors, the mean pull."""
    def summary(group: pd.DataFrame) -> pd.Series:
        pull = group["pull"].to_numpy(dtype=float)
        pull = pull[np.isfinite(pull)]
        count = pull.size
        return pd.Series({"n": count,
                          "within_1": np.mean(np.abs(pull) <= 1) if count else np.nan,
                          "within_2": np.mean(np.abs(pull) <= 2) if count else np.nan,
                          "mean_pull": pull.mean() if count else np.nan})

    grouped = pulls.groupby(["binning", "bin", "estimate"], sort=False)[["pull"]]
    return grouped.apply(summary).reset_index()
