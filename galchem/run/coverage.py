"""How often the gradient errors cover the mock's truth: the pipeline over many mock realisations.

Each realisation is a mock of the same model drawn from its own seed
(``config.mock_seed + r``), run through the kinematic stage and the gradient
fits exactly as ``galchem analyse`` runs them (cached like any run).  Per
bin and estimate -- flat, corrected (``m_deconv``) and SIMEX -- the pull
(fit - truth) / error against :func:`galchem.analysis.gradients.truth_gradients`;
:func:`coverage_summary` then gives the share of realisations within one
and two errors (68 % and 95 % for calibrated errors) and the mean pull.
The errors are the posterior standard deviations of the chains (the
corrected fit's only where its status is ``ok``) and SIMEX's jackknife error.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from galchem.analysis import gradients
from galchem.data.sources import load_dataset
from galchem.data.surveys import load_survey
from galchem.run.config import RunConfig
from galchem.run.stages import binnings, gradient_fits, kinematic_sample

__all__ = ["ESTIMATES", "coverage_pulls", "coverage_summary"]

ESTIMATES = {"flat": ("m", "m_err"), "corrected": ("m_deconv", "m_deconv_err"), "simex": ("m_simex", "m_simex_err")}
"""Each estimate's slope and error columns in a gradient table."""


def coverage_pulls(survey: str, n_realisations: int, config: RunConfig) -> pd.DataFrame:
    """One row per realisation, binning, bin and estimate: the slope, its error, the truth and the pull."""
    rows = []
    for r in range(n_realisations):
        run = replace(config, mock_seed=config.mock_seed + r)
        dataset = load_dataset(load_survey(survey), "mock", run.mock_stars, run.mock_seed)
        sample = kinematic_sample(dataset, run).sample
        fits = gradient_fits(dataset, run)
        for binning, result in zip(binnings(run), (fits.radial, fits.vertical)):
            table = result.table
            truth = gradients.truth_gradients(sample, dataset.truth, binning, min_stars=run.min_stars)
            for k in range(len(table)):
                for name, (slope, error) in ESTIMATES.items():
                    m, err, m_true = table[slope].iloc[k], table[error].iloc[k], truth["m_true"].iloc[k]
                    rows.append({"realisation": r, "binning": binning.name, "bin": binning.label(k), "estimate": name,
                                 "m": m, "m_err": err, "m_true": m_true, "pull": (m - m_true) / err})
    return pd.DataFrame(rows)


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
