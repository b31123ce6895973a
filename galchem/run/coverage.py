"""How often the gradient errors cover the mock's truth: the pipeline over many mock realisations.

Each realisation is a mock of the same model drawn from its own seed
(``config.mock_seed + r``), run through the kinematic stage and the gradient
fits exactly as ``galchem analyse`` runs them (cached like any run).  Per
bin and estimate -- flat, corrected (``m_deconv``) and SIMEX -- the pull is
(fit - truth) / error, and :func:`coverage_summary` gives the share of
realisations within one and two errors (68 % and 95 % for calibrated
errors) and the mean pull.  The errors are the posterior standard
deviations of the flat fit's chains and the jackknife errors of the
corrected line (only where its status is ``ok``) and of SIMEX.

Which truth.  A bin's fit describes the line the bin's *population* follows:
its error counts the intrinsic scatter of [Fe/H] about that line as well as
the measurement errors.  The noise-free least-squares slope of a
realisation's own stars (:func:`galchem.analysis.gradients.truth_gradients`,
``m_sample``) shares that intrinsic scatter with the fit, so the fit is
closer to it than its error says and the coverage against it comes out too
high.  The truth the pulls use is therefore the population's: the same
least-squares slope (true coordinate, noise-free [Fe/H], stars selected by
the bin on their measured coordinates) over the stars of all the *other*
realisations, so it is independent of the fit it judges.  Its own standard
error (about the fit's error divided by the square root of the number of
other realisations) is added in quadrature to the fit's in the pull.

The model need not be the book's: :data:`VARIANTS` are Galaxies with other
truths (steeper and flatter metallicity gradients) or other errors (twice
Gaia DR3's parallax errors), so that the correction is checked on more
than the one Galaxy it was developed on (:func:`variant_model`);
:func:`truth_pulls` gives one run's pulls against its own stars' truth.
"""
from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pandas as pd

from galchem.analysis import gradients
from galchem.data.mock import MetallicityField, MockModel, mock_model
from galchem.data.sources import Dataset, load_dataset
from galchem.data.surveys import load_survey
from galchem.run.config import RunConfig
from galchem.run.stages import binnings, gradient_fits, kinematic_sample

__all__ = ["COVERAGE_N_MC", "ESTIMATES", "TRUTH_SUMS", "VARIANTS", "coverage_pulls", "coverage_summary",
           "least_squares_slopes", "truth_pulls", "truth_sums", "variant_model"]

ESTIMATES = {"flat": ("m", "m_err"), "corrected": ("m_deconv", "m_deconv_err"), "simex": ("m_simex", "m_simex_err")}
"""Each estimate's slope and error columns in a gradient table."""

COVERAGE_N_MC = 100
"""Monte Carlo draws per star for coverage runs (the study's 1,000 cost ten times as much).

The draws only set each star's R and |Z| errors, which only the flat fit
reads, as m^2 sigma_x^2 beside the [Fe/H] error and intrinsic scatter in each
star's variance.  With 100 draws a star's variance is unbiased and about 14 %
noisy (its error about 7 %), and the noise averages out over the hundreds of
stars of a bin.  The positions, the halo cut (the study's ``point`` rule),
the corrected line and SIMEX (both from the catalogue's distance measure) do
not depend on them.
"""

TRUTH_SUMS = ("n", "x", "y", "xx", "xy", "yy")
"""The columns of :func:`truth_sums`: the count and the sums of x, y, x^2, xy and y^2."""


def truth_sums(sample: pd.DataFrame, truth: pd.DataFrame, binning: gradients.Binning) -> np.ndarray:
    """Per bin (rows), the :data:`TRUTH_SUMS` of the stars' true coordinate x and noise-free [Fe/H] y.

    Stars are binned on their measured coordinates, as the fits bin them;
    sums of several samples add up to the sums of the pooled sample.
    """
    x, y = gradients.true_values(sample, truth, binning)
    index = gradients.bin_index(sample, binning)
    sums = np.zeros((len(binning.edges) - 1, len(TRUTH_SUMS)))
    for k in range(len(sums)):
        xk, yk = x[index == k], y[index == k]
        sums[k] = (xk.size, xk.sum(), yk.sum(), xk @ xk, xk @ yk, yk @ yk)
    return sums


def least_squares_slopes(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares slope and its standard error for each row of :func:`truth_sums` (NaN below 3 stars)."""
    n, sx, sy, sxx, sxy, syy = np.asarray(sums, dtype=float).T
    enough = n >= 3
    n = np.where(enough, n, np.nan)
    spread_x, spread_xy, spread_y = sxx - sx * sx / n, sxy - sx * sy / n, syy - sy * sy / n
    slope = spread_xy / spread_x
    residual_variance = np.maximum(spread_y - slope * spread_xy, 0.0) / (n - 2)
    return slope, np.sqrt(residual_variance / spread_x)


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


def _own_pulls(dataset: Dataset, config: RunConfig) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One run on a mock: its pulls against its own stars' truth (rows of :func:`truth_pulls`) and, per binning,
    the :func:`truth_sums` of its stars (from the same sample, read once)."""
    sample = kinematic_sample(dataset, config).sample
    fits = gradient_fits(dataset, config)
    rows, sums = [], {}
    for binning, result in zip(binnings(config), (fits.radial, fits.vertical)):
        table = result.table
        truth = gradients.truth_gradients(sample, dataset.truth, binning, min_stars=config.min_stars)
        sums[binning.name] = truth_sums(sample, dataset.truth, binning)
        for k in range(len(table)):
            for name, (slope, error) in ESTIMATES.items():
                m, err, m_true = table[slope].iloc[k], table[error].iloc[k], truth["m_true"].iloc[k]
                rows.append({"binning": binning.name, "bin": binning.label(k), "k": k, "n": int(table["n"].iloc[k]),
                             "status_deconv": table["status_deconv"].iloc[k], "estimate": name,
                             "m": m, "m_err": err, "m_true": m_true, "pull": (m - m_true) / err})
    return pd.DataFrame(rows), sums


def truth_pulls(dataset: Dataset, config: RunConfig) -> pd.DataFrame:
    """One row per binning, bin and estimate of one run on a mock: the bin's star count and corrected status,
    the slope, its error, the truth of the run's own stars (:func:`galchem.analysis.gradients.truth_gradients`)
    and the pull against it."""
    return _own_pulls(dataset, config)[0].drop(columns="k")


def coverage_pulls(survey: str, n_realisations: int, config: RunConfig) -> pd.DataFrame:
    """One row per realisation, binning, bin and estimate: the slope, its error, the truths and the pulls.

    ``m_true`` and ``m_true_err`` are the population's truth from the other
    realisations and ``pull`` is measured against it; ``m_sample`` and
    ``pull_sample`` are the realisation's own stars' truth and the pull
    against it (see the module's docstring).  Needs two realisations at least.
    """
    if n_realisations < 2:
        raise ValueError(f"coverage needs at least 2 realisations (each one's truth comes from the others), "
                         f"got {n_realisations}")
    runs = []
    for r in range(n_realisations):
        run = replace(config, mock_seed=config.mock_seed + r)
        runs.append(_own_pulls(load_dataset(load_survey(survey), "mock", run.mock_stars, run.mock_seed), run))
    tables = []
    for r, (own, sums) in enumerate(runs):
        own = own.rename(columns={"m_true": "m_sample", "pull": "pull_sample"})
        m_true, m_true_err = np.empty(len(own)), np.empty(len(own))
        for name in sums:
            others = sum(other[name] for _, other in runs) - sums[name]
            slope, slope_err = least_squares_slopes(others)
            rows = (own["binning"] == name).to_numpy()
            m_true[rows], m_true_err[rows] = slope[own["k"][rows]], slope_err[own["k"][rows]]
        pull = (own["m"] - m_true) / np.hypot(own["m_err"], m_true_err)
        tables.append(own.drop(columns="k").assign(m_true=m_true, m_true_err=m_true_err, pull=pull)
                      .assign(realisation=r))
    columns = ["realisation", "binning", "bin", "n", "status_deconv", "estimate", "m", "m_err", "m_true",
               "m_true_err", "m_sample", "pull", "pull_sample"]
    return pd.concat(tables, ignore_index=True)[columns]


def coverage_summary(pulls: pd.DataFrame, pull: str = "pull") -> pd.DataFrame:
    """Per binning, bin and estimate: realisations with a value, the shares within 1 and 2 errors, the mean pull.

    ``pull`` names the pull column: ``pull`` (against the population's truth) or ``pull_sample``.
    """
    def summary(group: pd.DataFrame) -> pd.Series:
        values = group[pull].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        count = values.size
        return pd.Series({"n": count,
                          "within_1": np.mean(np.abs(values) <= 1) if count else np.nan,
                          "within_2": np.mean(np.abs(values) <= 2) if count else np.nan,
                          "mean_pull": values.mean() if count else np.nan})

    grouped = pulls.groupby(["binning", "bin", "estimate"], sort=False)[[pull]]
    return grouped.apply(summary).reset_index()
