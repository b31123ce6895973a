"""The corrected slope of a bin: the line its stars follow in their true coordinate, from posterior moments.

What is estimated.  A bin holds the stars whose *measured* coordinate falls
in it; its corrected slope is the least-squares slope of those stars'
noise-free [Fe/H], f, against their true coordinate x:
beta = Cov(f, x) / Var(x) over the bin's stars -- what "the gradient of the
stars in this bin" means, and the mock's truth
(:func:`galchem.analysis.gradients.truth_gradients`).

How.  Each star's latent-distance posterior
(:mod:`galchem.analysis.latent_distance`) gives E[x|obs], Var[x|obs], the
mean E[o|obs] of the other coordinate (|Z| for a radial gradient, R for a
vertical one) and Cov[x, o|obs]: R and |Z| move together along the line of
sight.  By the law of total covariance over the bin's stars,

    Var(x)    = Var(E[x|obs]) + mean Var[x|obs]
    Cov(f, x) = Cov(E[f|obs], E[x|obs]) + mean Cov[f, x|obs].

The measured [Fe/H] has E[[Fe/H]|obs] = E[f|obs], so Cov([Fe/H], E[x|obs])
estimates the first term.  The second needs how f changes along one line of
sight.  Locally f = a + m_x x + m_o o + m_w x o (the gradient in one
coordinate changing with the other, as the radial gradient flattens with
height), so E[f|obs] = a + m_x E[x|obs] + m_o E[o|obs] + m_w E[x o|obs] and
the coefficients are the least squares of [Fe/H] on those three posterior
means -- regression calibration (Carroll et al. 2006, chapter 4), exact for
such an f; and

    Cov[f, x|obs] = m_x Var[x|obs] + m_o Cov[x, o|obs] + m_w Cov[x o, x|obs],
    Cov[x o, x|obs] = E[x|obs] Cov[x, o|obs] + E[o|obs] Var[x|obs] + E[dx^2 do|obs]

(d: the deviation from the posterior mean; the quadrature gives the third
moment too, a skewed distance posterior's).  Hence

    beta = (Cov([Fe/H], E[x|obs]) + mean Cov[f, x|obs]) / (Var(E[x|obs]) + mean Var[x|obs]).

For a straight line in x alone, beta = m_x.  Where the bin's stars do not
follow one line -- the vertical gradient changes with R, thick-disk stars
are mixed in -- beta is still their least-squares slope, weighting every
star alike, as the truth does; a fit weighted by each star's errors
describes another average of the same stars.  The intercept is
b = mean [Fe/H] - beta mean E[x|obs] and the scatter about the line
lam^2 = Var([Fe/H]) - mean [Fe/H]_err^2 - beta Cov(f, x).

Every term is a sum over stars, kept per bin and jackknife group in
double-double (:class:`MarginalSums`): partitions add up exactly, and the
errors are the delete-a-group jackknife (:mod:`galchem.analysis.jackknife`).
They leave out the prior's own uncertainty (it is fitted once, from every
star), which matters only where a bin is far narrower than the errors.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from galchem.analysis import double_double, gradients, jackknife
from galchem.analysis.line_values import LineValues

__all__ = ["MOMENTS", "MarginalEstimate", "MarginalSums", "estimate", "marginal_sums"]

MOMENTS = ("n", "x", "o", "w", "y", "xx", "oo", "ww", "xo", "xw", "ow", "xy", "oy", "wy", "yy", "var_x", "cov_xo", "t",
           "var_y", "decided")
"""Sums per bin and jackknife group: the count; of E[x|obs] (x), E[o|obs] (o), E[x o|obs] (w), [Fe/H] (y) and
their products; of Var[x|obs], Cov[x, o|obs], Cov[x o, x|obs] (t) and [Fe/H]_err^2; and how many stars' distances
the prior decides."""

REGRESSORS = ("x", "o", "w")
"""What [Fe/H] is regressed on: E[x|obs], E[o|obs] and E[x o|obs]."""

DEGENERATE = 1e-9
"""A regressor whose variance is below this fraction of its mean square has no spread of its own, and a set of
regressors whose correlation matrix has a determinant below this moves together: the regression then drops E[x o|obs],
then E[o|obs] (a thin slice, stars on one line)."""

MIN_GROUPS = 8
"""Fewest jackknife groups holding stars that a bin needs for a corrected slope and its error."""


class MarginalSums(double_double.Sums):
    """One binning's sums, double-double, indexed [bin, group, moment] (:data:`MOMENTS`)."""


class MarginalEstimate(NamedTuple):
    """A bin's corrected line (NaN values where it cannot be estimated), its usable stars, and how many of their
    distances the prior rather than the measurement decides."""

    line: LineValues
    n: int
    decided: int


def marginal_sums(keys: np.ndarray, index: np.ndarray, moments: pd.DataFrame, feh, feh_err,
                  binning: gradients.Binning) -> MarginalSums:
    """One partition's sums for ``binning`` (``index``: each star's bin, -1 for none; ``moments``: the stars'
    :func:`~galchem.analysis.latent_distance.posterior_moments`, same order)."""
    other = "absZ" if binning.x == "R" else "R"
    x, o = moments[binning.x].to_numpy(dtype=float), moments[other].to_numpy(dtype=float)
    var_x, cov = moments[f"{binning.x}_err"].to_numpy(dtype=float) ** 2, moments["R_absZ_cov"].to_numpy(dtype=float)
    y, var_y = np.asarray(feh, dtype=float), np.asarray(feh_err, dtype=float) ** 2
    decided = moments["data_weight"].to_numpy(dtype=float) < gradients.DATA_WEIGHT_LIMIT
    third = moments["R2_absZ" if binning.x == "R" else "absZ2_R"].to_numpy(dtype=float)  # E[dx^2 do|obs]
    w, t = x * o + cov, x * cov + o * var_x + third  # E[x o|obs] and Cov[x o, x|obs]
    values = np.stack([np.ones_like(x), x, o, w, y, x * x, o * o, w * w, x * o, x * w, o * w, x * y, o * y, w * y,
                       y * y, var_x, cov, t, var_y, decided.astype(float)], axis=1)
    usable = (index >= 0) & np.isfinite(values).all(axis=1)
    row = np.where(usable, index * jackknife.N_GROUPS + jackknife.groups(keys), -1)
    n_bins = len(binning.edges) - 1
    hi, lo = (np.zeros((n_bins, jackknife.N_GROUPS, len(MOMENTS))) for _ in range(2))
    double_double.accumulate(row, np.ascontiguousarray(values), hi.reshape(-1, len(MOMENTS)),
                             lo.reshape(-1, len(MOMENTS)))
    return MarginalSums(hi, lo)


def _product(a: str, b: str) -> str:
    """The name in :data:`MOMENTS` of the sum of a b."""
    return a + b if a + b in MOMENTS else b + a


def _regression(grid: np.ndarray, right: np.ndarray, raw: np.ndarray, chosen: list[int]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of [Fe/H] on the ``chosen`` regressors, from their covariances ``grid`` [..., 3, 3], their
    covariances with [Fe/H] ``right`` [..., 3] and their raw second moments ``raw``: where it is determined (each
    chosen regressor spreads, and none moves with the others), and the coefficients [..., 3] (0 for the others)."""
    sub = grid[..., chosen, :][..., :, chosen]
    variances = np.diagonal(sub, axis1=-2, axis2=-1)
    spread = variances > DEGENERATE * raw[..., chosen]  # beyond what rounding leaves of a constant
    scale = np.sqrt(np.where(spread, variances, 1.0))
    correlation = sub / (scale[..., :, None] * scale[..., None, :])
    finite = np.isfinite(correlation).all(axis=(-2, -1)) & np.isfinite(right).all(axis=-1)
    safe = np.where(finite[..., None, None], correlation, np.eye(len(chosen)))
    determined = finite & spread.all(axis=-1) & (np.linalg.det(safe) > DEGENERATE)
    safe = np.where(determined[..., None, None], safe, np.eye(len(chosen)))
    solved = np.linalg.solve(safe, np.where(determined[..., None], right[..., chosen] / scale, 0.0)[..., None])
    coefficients = np.zeros(right.shape)
    coefficients[..., chosen] = solved[..., 0] / scale
    return determined, coefficients


def _line(sums: np.ndarray) -> np.ndarray:
    """(m, b, lam) from sums [..., moment] (NaN where the bin's stars give no spread to fit)."""
    s = dict(zip(MOMENTS, np.moveaxis(sums, -1, 0)))
    n = s["n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = {k: s[k] / n for k in ("x", "o", "w", "y", "var_x", "cov_xo", "t", "var_y")}

        def covariance(a: str, b: str) -> np.ndarray:
            return s[_product(a, b)] / n - mean[a] * mean[b]

        grid = np.stack([np.stack([covariance(a, b) for b in REGRESSORS], axis=-1) for a in REGRESSORS], axis=-2)
        right = np.stack([covariance(a, "y") for a in REGRESSORS], axis=-1)
        raw = np.stack([s[a + a] / n for a in REGRESSORS], axis=-1)
        # the fullest model the bin determines: x, o and x o; else x and o; else x alone
        defined, coefficients = _regression(grid, right, raw, [0])
        for chosen in ([0, 1], [0, 1, 2]):
            determined, solved = _regression(grid, right, raw, chosen)
            coefficients = np.where(determined[..., None], solved, coefficients)
        m_x, m_o, m_w = np.moveaxis(coefficients, -1, 0)
        cxx, cxy, cyy = covariance("x", "x"), covariance("x", "y"), covariance("y", "y")
        cov_fx = cxy + m_x * mean["var_x"] + m_o * mean["cov_xo"] + m_w * mean["t"]
        m = cov_fx / (cxx + mean["var_x"])
        b = mean["y"] - m * mean["x"]
        lam = np.sqrt(np.maximum(cyy - mean["var_y"] - m * cov_fx, 0.0))
    defined &= n >= 3
    return np.where(defined, np.stack([m, b, lam]), np.nan)


def estimate(sums: MarginalSums) -> list[MarginalEstimate]:
    """Every bin's corrected line with jackknife errors over its non-empty groups (NaN with fewer than
    :data:`MIN_GROUPS` of them)."""
    every = list(range(jackknife.N_GROUPS))
    whole = _line(jackknife.total(sums.hi, sums.lo, every))  # [3, bin]
    left_out = _line(jackknife.left_out(sums.hi, sums.lo))  # [3, bin, group]
    counts = sums.hi[..., MOMENTS.index("n")]  # [bin, group]
    out = []
    for k in range(whole.shape[1]):
        filled = counts[k] > 0  # leaving out an empty group changes nothing: it is no replicate
        if filled.sum() >= MIN_GROUPS:
            errors = jackknife.error(left_out[:, k, filled])
            values = [v for pair in zip(whole[:, k], errors) for v in pair]
        else:
            values = [np.nan] * 6
        totals = sums.hi[k].sum(axis=0)
        out.append(MarginalEstimate(LineValues(*(float(v) for v in values)), int(totals[0]), int(totals[-1])))
    return out
