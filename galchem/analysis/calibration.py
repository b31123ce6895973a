"""Does the line fit tell the truth?  Fit many simulated data sets with known parameters.

A well-calibrated fit puts the truth inside its 68 % credible interval about
68 % of the time, and its medians scatter around the truth with no bias.

The default x errors are small next to the x range on purpose.  With a flat
prior on the true x, the study's likelihood does not undo the attenuation of
the slope by errors in x: the fitted slope is pulled towards zero by about
m <sigma_x^2> / var(x_true), like ordinary least squares
(:func:`attenuation`).  Large x errors would mix that known bias into a test
of the sampler.  The deconvolved fit (``prior=MixturePrior()``, see
:mod:`galchem.analysis.priors`) undoes it, and is calibrated with large x
errors (``x_err_range``) to show it.

:func:`independent_line` is the check of issue 15: a line like [Fe/H]
against R with errors in R of 4 % of R, on which the flat fit's slope is
about two of its own errors too shallow.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from galchem.analysis.deconvolution import extreme_deconvolution
from galchem.analysis.fitting import LineFit, fit_line
from galchem.analysis.line_likelihood import PARAMETERS
from galchem.analysis.priors import MixturePrior

__all__ = ["BinCutLine", "INDEPENDENT_LINE", "INDEPENDENT_R_FRACTION", "INDEPENDENT_R_RANGE", "LineTruth", "attenuation",
           "attenuation_scan", "calibrate", "coverage_summary", "independent_line", "simulate_line"]


class LineTruth(NamedTuple):
    """Parameters of simulated lines: slope, intercept, perpendicular scatter."""

    m: float = -0.08
    b: float = 0.40
    lam: float = 0.15


def simulate_line(
    rng: np.random.Generator,
    n: int,
    truth: LineTruth = LineTruth(),
    x_range: tuple[float, float] = (6.0, 12.0),
    x_err_range: tuple[float, float] = (0.02, 0.1),
    y_err_range: tuple[float, float] = (0.02, 0.06),
    x_err_fraction: float | None = None,
) -> tuple[np.ndarray, ...]:
    """Points on a line with intrinsic scatter, observed with errors in x and y: x, y, x_err, y_err.

    The x errors are uniform in ``x_err_range``, or, with ``x_err_fraction``,
    that fraction of the true x (like distance errors, which grow with distance).

    The scatter is drawn in y with variance lam^2 (1 + m^2).  Under the fit's
    flat prior on the true x this is the same model as perpendicular scatter
    lam, and it is the physical case (stars at one radius differ in [Fe/H]).
    Drawing it perpendicular instead would also move points along x, and
    with a finite spread of true x that acts like an extra error in x.
    """
    x_true = rng.uniform(*x_range, n)
    y_true = truth.m * x_true + truth.b + truth.lam * np.sqrt(1 + truth.m**2) * rng.normal(size=n)
    x_err, y_err = rng.uniform(*x_err_range, n), rng.uniform(*y_err_range, n)
    if x_err_fraction is not None:
        x_err = x_err_fraction * x_true
    return x_true + x_err * rng.normal(size=n), y_true + y_err * rng.normal(size=n), x_err, y_err


INDEPENDENT_LINE = LineTruth(m=-0.061, b=0.284, lam=0.12)
"""The line of issue 15: slope -0.061 dex/kpc, [Fe/H] = -0.22 at 8.27 kpc, scatter 0.12 dex."""
INDEPENDENT_R_RANGE = (6.0, 13.0)
"""Range of the independent line's true R [kpc] (uniform)."""
INDEPENDENT_R_FRACTION = 0.04
"""The independent line's R errors as a fraction of the true R: ``x_err / INDEPENDENT_R_FRACTION`` is the true R."""


def independent_line(rng: np.random.Generator, n: int = 4000) -> tuple[np.ndarray, ...]:
    """The independent check of issue 15: R uniform in 6-13 kpc, sigma_R = 4 % of R, [Fe/H] errors 0.04-0.12 dex.

    Returns x, y, x_err, y_err of :data:`INDEPENDENT_LINE`.  The flat fit's
    expected bias is :func:`attenuation` (about -m x 3.7 %, two standard
    errors at 4000 points).
    """
    return simulate_line(rng, n, INDEPENDENT_LINE, x_range=INDEPENDENT_R_RANGE, y_err_range=(0.04, 0.12),
                         x_err_fraction=INDEPENDENT_R_FRACTION)


class BinCutLine(NamedTuple):
    """A line whose points are selected by their *measured* x, as a gradient bin selects its stars."""

    x_true: np.ndarray  # every point of the population
    x: np.ndarray  # measured
    x_err: np.ndarray
    y: np.ndarray
    y_err: np.ndarray
    inside: np.ndarray  # the bin: measured x within the window
    m_true: float  # least squares of the true y against the true x of the points inside


def bin_cut_line(rng: np.random.Generator, n: int = 40_000, window: tuple[float, float] = (2.0, 2.4)) -> BinCutLine:
    """y = 0.5 x with x errors larger than the bin: a skewed population of x (like distances), cut on measured x."""
    x_true = rng.gamma(4.0, 0.5, n)
    x_err = rng.uniform(0.3, 0.7, n)
    x = x_true + rng.normal(0.0, x_err)
    y_err = np.full(n, 0.05)
    y = 0.5 * x_true + rng.normal(0.0, y_err)
    inside = (x > window[0]) & (x < window[1])
    m_true = float(np.polyfit(x_true[inside], 0.5 * x_true[inside], 1)[0])
    return BinCutLine(x_true, x, x_err, y, y_err, inside, m_true)


def population_corrected_fit(line: BinCutLine, **fit_options) -> LineFit:
    """The bin's line with the prior on the true x deconvolved from the *whole* population, not from the bin.

    Regression calibration: each point in the bin enters at its expected true
    x given its measurement under that prior, with the variance that remains
    (:func:`galchem.analysis.priors.mixture_points`); selecting on
    measured x then biases nothing, because the model is of y given what was
    measured.
    """
    population = MixturePrior(mixture=extreme_deconvolution(line.x, line.x_err))
    inside = line.inside
    return fit_line(line.x[inside], line.y[inside], line.x_err[inside], line.y_err[inside], prior=population,
                    **fit_options)


def attenuation(m: float, x: np.ndarray, x_err: np.ndarray) -> float:
    """Expected slope bias from errors in x [same units as m]: -m <x_err^2> / var(x_true)."""
    noise = float(np.mean(np.square(x_err)))
    return -m * noise / (float(np.var(x)) - noise)


def calibrate(n_sets: int, n_points: int, truth: LineTruth = LineTruth(), seed: int = 0,
              x_err_range: tuple[float, float] = (0.02, 0.1), **fit_options) -> pd.DataFrame:
    """Fit ``n_sets`` simulated data sets (x errors uniform in ``x_err_range``); one row per set.

    Columns per parameter p: ``p`` (median), ``p_err`` (posterior std),
    ``p_pull`` ((median - truth) / std) and ``p_inside`` (truth inside the
    16th-84th percentile interval).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_sets):
        fit = fit_line(*simulate_line(rng, n_points, truth, x_err_range=x_err_range), seed=seed * 100_003 + k,
                       **fit_options)
        lo, hi = np.percentile(fit.samples, [16, 84], axis=0)
        row = {}
        for i, p in enumerate(PARAMETERS):
            value, err = getattr(fit, p), getattr(fit, f"{p}_err")
            row |= {p: value, f"{p}_err": err, f"{p}_pull": (value - truth[i]) / err,
                    f"{p}_inside": bool(lo[i] < truth[i] < hi[i])}
        rows.append(row)
    return pd.DataFrame(rows)


def coverage_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: share of sets whose 68 % interval holds the truth, and the mean pull (bias in sigma).

    ``mean_pull_error`` is the standard error of the mean pull: with a few
    dozen sets, a mean pull of two such errors happens by chance.
    """
    n = len(table)
    return pd.DataFrame(
        {
            "coverage_68": [table[f"{p}_inside"].mean() for p in PARAMETERS],
            "mean_pull": [table[f"{p}_pull"].mean() for p in PARAMETERS],
            "mean_pull_error": [table[f"{p}_pull"].std() / np.sqrt(n) for p in PARAMETERS],
            "pull_std": [table[f"{p}_pull"].std() for p in PARAMETERS],
        },
        index=list(PARAMETERS),
    )


def attenuation_scan(x_err_scales, n_points: int = 20_000, truth: LineTruth = LineTruth(), seed: int = 0,
                     **fit_options) -> pd.DataFrame:
    """Slope from least squares and from the Bayesian fit as the x errors grow, with the predicted bias.

    Each row: the rms x error, the least-squares slope, the fitted slope and
    its error, and truth + :func:`attenuation`.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for k, scale in enumerate(x_err_scales):
        x, y, x_err, y_err = simulate_line(rng, n_points, truth, x_err_range=(0.5 * scale, 1.5 * scale))
        fit = fit_line(x, y, x_err, y_err, seed=seed + k, **fit_options)
        least_squares = np.polyfit(x, y, 1)
        rows.append({"x_err_rms": float(np.sqrt(np.mean(x_err**2))), "least_squares_m": least_squares[0],
                     "m": fit.m, "m_err": fit.m_err, "predicted_m": truth.m + attenuation(truth.m, x, x_err),
                     "least_squares_scatter": float(np.std(y - np.polyval(least_squares, x))),
                     "lam": fit.lam})
    return pd.DataFrame(rows)
