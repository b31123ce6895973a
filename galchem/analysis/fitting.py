"""A straight line through data with errors in both coordinates and intrinsic scatter.

The model of the study (its section 3, after Hogg, Bovy & Lang 2010, sections
7-8): y = m x + b, with intrinsic scatter of variance lambda^2 *perpendicular*
to the line, Lambda = lambda^2 / (1 + m^2) [[m^2, -m], [-m, 1]].  With each
point's 2x2 covariance S_i and v = (-m, 1), the true x can be marginalised
analytically, leaving

    ln L = -1/2 sum_i [ Delta_i^2 / Sigma_i^2 + ln Sigma_i^2 ],
    Delta_i = y_i - m x_i - b,
    Sigma_i^2 = v^T (S_i + Lambda) v = sy2_i - 2 m sxy_i + m^2 sx2_i + lambda^2 (1 + m^2).

The ln Sigma_i^2 term must stay: Sigma depends on m and lambda, and dropping it
biases both.  The posterior is sampled with emcee (Foreman-Mackey et al. 2013),
all walkers evaluated in one vectorised call of a compiled kernel.

No walls (issue 25).  The line is sampled about a pivot, the data's mean x
(sum x / n, known from the sums alone): y = m (x - x0) + c, so that the slope
m and the intercept at the pivot c are nearly uncorrelated.  b = c - m x0 is
computed per sample, so its median and error are those of the study's
intercept at x = 0.  The map (m, c) -> (m, b) has unit Jacobian, so uniform
priors on (m, c) are uniform priors on (m, b): the posterior is the study's.
The priors' ranges (:data:`DEFAULT_BOUNDS`) are so wide that no physical
line comes near them, and a fit whose posterior comes within
:data:`BOUND_SIGMAS` standard deviations of any bound is marked unreliable,
with the reason (:meth:`LineFit.warning`): a number is never silently
clipped by a prior.  lambda > 0 is no wall: the likelihood depends on
lambda^2 only, so the lower bound folds the posterior rather than cutting it.

For large samples the sum over stars becomes a sum over *error groups*:
stars whose errors fall in the same narrow logarithmic bin are expanded
around their group's mean variance to second order (:class:`LineData`), so
each evaluation costs O(groups) instead of O(stars) and changes ln L by far
less than one part in a million; ``method="exact"`` keeps one group per star.

Beyond the study, ``x_model="mixture"`` replaces the flat prior on the true x
by a Gaussian mixture fitted to the observed x by extreme deconvolution
(:mod:`galchem.analysis.deconvolution`; Bovy, Hogg & Roweis 2011).  With a
flat prior the likelihood keeps the attenuation of the slope by errors in x
that ordinary least squares has (the reliability ratio of Fuller 1987,
*Measurement Error Models*, chapter 1); knowing how the true x are distributed undoes it.  Given the
observed x_i, the true x is then a Gaussian mixture with mean xbar_i and
variance v_i (:meth:`XMixture.moments`), and [Fe/H] at fixed true x scatters
by lambda^2 (1 + m^2) in y (the flat model's perpendicular scatter, which
under a flat prior is the same thing).  We replace p(y_i | x_i) by the
Gaussian with its exact mean m xbar_i + b and variance
m^2 v_i + sy2_i + lambda^2 (1 + m^2) (with correlated errors, the general
terms of :func:`mixture_points`).  The likelihood then has the flat model's
form with x_i -> xbar_i and sx2_i -> v_i, so the error groups apply
unchanged and a corrected fit costs one deconvolution more than a flat one.
For one component this is exact; for several, what is left out is the
non-Gaussian shape of p(y_i | x_i), whose components differ in mean by m
times a fraction of sigma_x: for [Fe/H] against R a few thousandths of the
[Fe/H] scatter (tests/test_fitting.py compares with the exact mixture).
The mixture is fitted once and held fixed (its own uncertainty is not
propagated; the calibration checks the coverage that results).

What the correction assumes: the errors are independent of the true x, so
that one prior serves every point.  Distance errors break that: they grow
with distance, hence with R and |Z|, and the largest are biased.  A star
with a large error is then shrunk towards the bin's mean x although it most
likely lies far out, and the slope is over-corrected.  On the full-size
mocks (issue 15) the corrected near-plane slope of the Gaia mock is right
(pull -1.0, the flat one +10), but in other bins, above all the vertical
gradients of the inner rings, the corrected slopes are steeper than the
truth by up to 11 of their errors where the flat ones are off by 3.  A prior
conditioned on each star's error (extreme deconvolution of x jointly with
ln sigma_x) was tried and removes most of the excess in the radial bins
but not in the vertical ones; it is not used.

Chains: the walkers move by differential evolution (emcee's ``DEMove``; ter
Braak 2006, Nelson et al. 2014) rather than emcee's default stretch move:
on this posterior its autocorrelation time is about 11 steps against 45 for
the stretch move with 10 walkers (issue 26), the same posterior for a
quarter of the steps.  emcee's rule of thumb asks for at least 50
autocorrelation times.
:func:`fit_line` runs ``n_steps``, estimates tau, and extends the same chain
(same random stream) until the rule holds or ``max_steps`` is reached;
``max_steps = n_steps`` is the study's fixed 10 x 1000.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, partial
from numbers import Integral

import emcee
import numba
import numpy as np
import pandas as pd
from scipy.optimize import minimize

from galchem.analysis.deconvolution import N_COMPONENTS, XMixture, extreme_deconvolution
from galchem.errors import FitError

__all__ = ["BOUND_SIGMAS", "DEFAULT_BOUNDS", "LineData", "LineFit", "MAX_STEPS", "MIN_WALKERS", "PARAMETERS",
           "SAMPLED", "X_MODELS", "fit_line", "fit_line_data", "log_likelihood", "log_probability", "mixture_points",
           "least_squares", "start_walkers", "to_intercept", "to_pivot"]

PARAMETERS = ("m", "b", "lam")
SAMPLED = ("m", "c", "lam")
"""The sampled parameters: slope, intercept at the pivot x0 (c = b + m x0), scatter."""
DEFAULT_BOUNDS = ((-1e3, 1e3), (-1e3, 1e3), (0.0, 1e3))
"""Uniform priors on the sampled (m, c, lam): wide enough never to bind on physical data (a fit near one is flagged)."""
BOUND_SIGMAS = 5.0
"""A fit whose posterior median lies within this many posterior standard deviations of a bound is unreliable."""
MIN_WALKERS = 2 * len(SAMPLED)
"""emcee's red-blue moves need at least twice as many walkers as parameters."""
GROUPED_ABOVE = 20_000
"""Bins of at most this many points are fitted on their points, gathered through the partitions
(:mod:`galchem.analysis.line_sums`); larger ones on their sums alone."""
EXACT_UP_TO = 1_000
"""``method="auto"`` sums over the points up to this many, over error groups above (the groups' terms cost
several points' each, and their expansion changes ln L by about 1e-6 per point)."""
BINS_PER_DEX = 20
"""Error groups span a factor 10**(1/20) = 1.12 in each error; the expansion error is then ~1e-6 in ln L per point."""
X_MODELS = ("flat", "mixture")
"""Priors on the true x: flat (the study's) or a deconvolved Gaussian mixture."""
MAX_STEPS = 20_000
"""Default cap on the steps per walker when chains are extended to 50 autocorrelation times."""
TAU_RULE = 50
"""A chain is long enough when it is at least this many autocorrelation times long (emcee's rule of thumb)."""
EXTEND_MARGIN = 1.2
"""Extensions aim at this multiple of TAU_RULE x tau, since tau estimated from a short chain tends to grow."""


def _as_arrays(x, y, x_err, y_err, xy_cov) -> tuple[np.ndarray, ...]:
    """Validated float arrays; a clear error for anything a fit cannot use."""
    arrays = [np.asarray(v, dtype=float).ravel() for v in (x, y, x_err, y_err)]
    arrays.append(np.zeros_like(arrays[0]) if xy_cov is None else np.asarray(xy_cov, dtype=float).ravel())
    names = ("x", "y", "x_err", "y_err", "xy_cov")
    lengths = {name: a.size for name, a in zip(names, arrays)}
    if len(set(lengths.values())) != 1:
        raise FitError(f"x, y and their errors must have the same length, got {lengths}")
    for name, a in zip(names, arrays):
        if not np.isfinite(a).all():
            raise FitError(f"{name} has {np.count_nonzero(~np.isfinite(a))} non-finite value(s) (NaN or inf)")
    if arrays[0].size < 3:
        raise FitError(f"a line with scatter needs at least 3 points, got {arrays[0].size}")
    for name, a in zip(names[2:4], arrays[2:4]):
        if (a <= 0).any():
            raise FitError(f"{name} must be positive, but {np.count_nonzero(a <= 0)} value(s) are zero or negative")
    if (arrays[4] ** 2 >= arrays[2] ** 2 * arrays[3] ** 2).any():
        raise FitError("xy_cov makes some covariance matrices not positive definite")
    return tuple(arrays)


def _outer(*vectors: np.ndarray) -> np.ndarray:
    """Row-wise outer product of (N, 3) arrays, flattened to (N, 3**len(vectors))."""
    out = vectors[0]
    for v in vectors[1:]:
        out = (out[:, :, None] * v[:, None, :]).reshape(len(out), -1)
    return out


@dataclass(frozen=True)
class LineData:
    """Sufficient statistics of the data for the likelihood, per error group.

    Write each point as u = (1, x, y), so that Delta = p . u with
    p = (-b, -m, 1), and its variances as d = (sx2, sxy, sy2), so that
    Sigma^2 = w . d + lam^2 (1 + m^2) with w = (m^2, -2m, 1).  Within a group,
    d = dbar + dd and Sigma^2 = S + eps with eps = w . dd, sum(eps) = 0.
    Expanding 1/Sigma^2 and ln Sigma^2 to second order in eps/S turns the sum
    over the group's points into contractions of p and w with the moments
    below; the neglected terms are of order (eps/S)^3.  Ungrouped data (one
    point per group) are exact and carry no correction moments.  Each moment
    is stored as a contiguous row over the K groups; the compiled likelihood
    reads only the distinct ones (:attr:`moments`: every moment is symmetric
    in its pairs of indices) that are not zero in every group (with no x-y
    covariance, 39 of 126), along those rows.
    """

    n: np.ndarray  # (K,) points per group
    dbar: np.ndarray  # (3, K) mean variances
    uu: np.ndarray  # (9, K) sum u u
    uud: np.ndarray | None = None  # (27, K) sum u u dd
    uudd: np.ndarray | None = None  # (81, K) sum u u dd dd
    dd2: np.ndarray | None = None  # (9, K) sum dd dd

    @cached_property
    def moments(self) -> _Moments:
        """The moments as the compiled likelihood reads them (computed once per data set)."""
        return _Moments.of(self)

    @cached_property
    def pivot(self) -> float:
        """The data's mean x (sum x / n, from the sums): the point about which the line is sampled."""
        return float(np.sum(self.uu[1]) / np.sum(self.n))

    @classmethod
    def from_points(cls, x, y, x_err, y_err, xy_cov, bins_per_dex: int | None = None) -> LineData:
        """Group points whose errors agree within a factor 10**(1/bins_per_dex); None: no grouping."""
        u = np.column_stack([np.ones_like(x), x, y])
        d = np.column_stack([x_err**2, xy_cov, y_err**2])
        uu = _outer(u, u)
        if bins_per_dex is None:
            return cls(np.ones(x.size), np.ascontiguousarray(d.T), np.ascontiguousarray(uu.T))
        keys = np.stack([np.floor(np.log10(e) * bins_per_dex) for e in (x_err, y_err)], axis=1)
        if np.any(xy_cov):
            keys = np.column_stack([keys, np.round(xy_cov / (x_err * y_err) * bins_per_dex)])
        group = np.unique(keys, axis=0, return_inverse=True)[1].ravel()
        n = np.bincount(group).astype(float)

        def total(values: np.ndarray) -> np.ndarray:
            return np.stack([np.bincount(group, weights=v, minlength=n.size) for v in values.T])

        dbar = total(d) / n
        dd = d - dbar.T[group]
        return cls(n, dbar, total(uu), total(_outer(uu, dd)), total(_outer(uu, dd, dd)), total(_outer(dd, dd)))


def mixture_points(x, y, x_err, y_err, xy_cov, mixture: XMixture) -> tuple[np.ndarray, ...]:
    """The points a mixture-prior fit sees: x, y, x_err, y_err, xy_cov with the same likelihood form as the data.

    Component k (weight r_k given x) has true x ~ N(mu_k, V_k); with
    T_k = V_k + sx2 it gives y | x a mean m a_k + b + g_k and a variance
    m^2 W_k - 2 m c_k + e_k + lambda^2 (1 + m^2), where
    a_k = mu_k + V_k (x - mu_k) / T_k, W_k = V_k sx2 / T_k,
    g_k = sxy (x - mu_k) / T_k, c_k = sxy V_k / T_k, e_k = sy2 - sxy^2 / T_k.
    Matching the mixture's mean and variance over k gives x -> sum r a,
    y -> y - sum r g, sx2 -> sum r W + var_r(a), sxy -> sum r c - cov_r(a, g)
    and sy2 -> sum r e + var_r(g).
    """
    x_var = x_err**2
    r, a, W = mixture.posterior(x, x_var)
    total = mixture.variances + x_var[:, None]
    g = xy_cov[:, None] * (x[:, None] - mixture.means) / total
    a_bar, g_bar = np.sum(r * a, axis=1), np.sum(r * g, axis=1)
    xx = np.sum(r * (W + (a - a_bar[:, None]) ** 2), axis=1)
    xy = np.sum(r * (xy_cov[:, None] * mixture.variances / total - (a - a_bar[:, None]) * (g - g_bar[:, None])), axis=1)
    yy = np.sum(r * (y_err[:, None] ** 2 - xy_cov[:, None] ** 2 / total + (g - g_bar[:, None]) ** 2), axis=1)
    return a_bar, y - g_bar, np.sqrt(xx), np.sqrt(yy), xy


_PAIRS = ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))
"""The distinct entries of a symmetric 3 x 3 matrix; off the diagonal they count twice."""


def _terms() -> np.ndarray:
    """One row per distinct moment: (kind, a, b, c, e, multiplicity, index into its LineData field).

    ``kind`` 0..3 says which sum the term adds to (Delta^2, Delta^2 eps,
    Delta^2 eps^2, eps^2); its coefficient is multiplicity x p_a p_b x
    w_c x w_e, a factor left out where its index is -1.  Every moment is
    symmetric in (a, b) and in (c, e), so 66 terms replace 126.
    """
    rows = []
    for s, (a, b) in enumerate(_PAIRS):
        pair = 1 + (a != b)
        rows.append((0, a, b, -1, -1, pair, 3 * a + b))
        rows += [(1, a, b, c, -1, pair, 3 * (3 * a + b) + c) for c in range(3)]
        rows += [(2, a, b, c, e, pair * (1 + (c != e)), 9 * (3 * a + b) + 3 * c + e) for c, e in _PAIRS]
    rows += [(3, -1, -1, c, e, 1 + (c != e), 3 * c + e) for c, e in _PAIRS]
    return np.array(rows, dtype=np.int64)


_TERMS = _terms()


@dataclass(frozen=True)
class _Moments:
    """:class:`LineData`'s moments as the compiled likelihood reads them: the distinct, not identically zero ones."""

    terms: np.ndarray  # (R, 7) rows of _TERMS
    rows: np.ndarray  # (R, K) their values per group

    @classmethod
    def of(cls, data: LineData) -> _Moments:
        fields = (data.uu, data.uud, data.uudd, data.dd2)
        chosen = [t for t in _TERMS if fields[t[0]] is not None and np.any(fields[t[0]][t[6]])]
        terms = np.array(chosen, dtype=np.int64).reshape(-1, 7)
        rows = np.array([fields[t[0]][t[6]] for t in terms], dtype=float).reshape(len(terms), data.n.size)
        return cls(terms, np.ascontiguousarray(rows))


@numba.njit(cache=True, nogil=True)
def _kernel(theta, pivot, lo, hi, n, dbar, terms, rows):  # pragma: no cover - compiled
    """ln L per row (m, c, lam) of ``theta``, c the intercept at ``pivot``; -inf for a row outside (lo, hi).

    The group sums of :class:`LineData` are contracted term by term: per
    walker each term's coefficient is formed once, the sums over the groups
    then run along contiguous rows, and the groups' terms combine as
    Delta^2 / S - Delta^2 eps / S^2 + Delta^2 eps^2 / S^3 - eps^2 / (2 S^2) + n ln S.
    """
    walkers, groups = theta.shape[0], n.size
    out = np.empty(walkers)
    S = np.empty(groups)
    sums = np.empty((4, groups))
    p = np.empty(3)
    w = np.empty(3)
    for i in range(walkers):
        outside = False
        for j in range(3):
            outside |= not (lo[j] < theta[i, j] < hi[j])
        if outside:
            out[i] = -np.inf
            continue
        m, lam = theta[i, 0], theta[i, 2]
        p[0], p[1], p[2] = m * pivot - theta[i, 1], -m, 1.0
        w[0], w[1], w[2] = m * m, -2.0 * m, 1.0
        scatter = lam * lam * (1.0 + m * m)
        for k in range(groups):
            S[k] = scatter + w[0] * dbar[0, k] + w[1] * dbar[1, k] + w[2] * dbar[2, k]
        sums[:] = 0.0
        for r in range(terms.shape[0]):
            kind, a, bb, c, e = terms[r, 0], terms[r, 1], terms[r, 2], terms[r, 3], terms[r, 4]
            coefficient = float(terms[r, 5])
            if a >= 0:
                coefficient *= p[a] * p[bb]
            if c >= 0:
                coefficient *= w[c]
            if e >= 0:
                coefficient *= w[e]
            for k in range(groups):
                sums[kind, k] += coefficient * rows[r, k]
        total = 0.0
        for k in range(groups):
            inverse = 1.0 / S[k]
            total += (inverse * (sums[0, k] + inverse * (-sums[1, k] - 0.5 * sums[3, k] + inverse * sums[2, k]))
                      + n[k] * np.log(S[k]))
        out[i] = -0.5 * total
    return out


_EVERYWHERE = np.array([-np.inf, -np.inf, -np.inf]), np.array([np.inf, np.inf, np.inf])


def log_likelihood(theta: np.ndarray, data: LineData) -> np.ndarray:
    """ln L for parameter rows ``theta`` = (m, b, lam), shape (W, 3) or (3,)."""
    theta = np.ascontiguousarray(np.atleast_2d(theta), dtype=float)
    moments = data.moments
    return _kernel(theta, 0.0, *_EVERYWHERE, data.n, data.dbar, moments.terms, moments.rows)


def log_probability(theta: np.ndarray, data: LineData, bounds=DEFAULT_BOUNDS) -> np.ndarray:
    """ln posterior of sampled rows ``theta`` = (m, c, lam), c the intercept at ``data.pivot``: uniform priors
    inside ``bounds``, -inf outside."""
    lo, hi = np.array(bounds, dtype=float).T
    return _posterior(theta, data, np.ascontiguousarray(lo), np.ascontiguousarray(hi))


def _posterior(theta: np.ndarray, data: LineData, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """:func:`log_probability` with the bounds as arrays of lows and highs (the sampler's call, made once per move)."""
    theta = np.ascontiguousarray(np.atleast_2d(theta), dtype=float)
    moments = data.moments
    return _kernel(theta, data.pivot, lo, hi, data.n, data.dbar, moments.terms, moments.rows)


def to_intercept(theta: np.ndarray, pivot: float) -> np.ndarray:
    """Rows (m, c, lam) about ``pivot`` as the study's (m, b, lam), b = c - m pivot (the intercept at x = 0)."""
    theta = np.array(theta, dtype=float)
    theta[..., 1] -= theta[..., 0] * pivot
    return theta


def to_pivot(theta: np.ndarray, pivot: float) -> np.ndarray:
    """Rows (m, b, lam) as the sampled (m, c, lam), c = b + m pivot (the intercept at the pivot)."""
    theta = np.array(theta, dtype=float)
    theta[..., 1] += theta[..., 0] * pivot
    return theta


@dataclass(frozen=True)
class LineFit:
    """Posterior of a line fit: medians, standard deviations, the chain and diagnostics.

    ``chain``, ``samples`` and ``max_likelihood`` are in the study's
    (m, b, lam), b the intercept at x = 0; the sampler ran in (m, c, lam)
    about ``pivot`` (module docstring), and ``bounds`` are the priors'
    ranges of those.
    """

    m: float
    m_err: float
    b: float
    b_err: float
    lam: float
    lam_err: float
    n: int
    chain: np.ndarray = field(repr=False)  # (n_steps, n_walkers, 3), burn-in included
    burn_in: int
    acceptance_fraction: float
    autocorr_time: np.ndarray
    max_likelihood: np.ndarray
    method: str
    x_model: str = "flat"
    mixture: XMixture | None = field(default=None, repr=False)  # the deconvolved prior of x_model="mixture"
    pivot: float = 0.0  # the x about which the line was sampled
    c: float = float("nan")  # intercept at the pivot (median) and its posterior standard deviation
    c_err: float = float("nan")
    bounds: tuple = DEFAULT_BOUNDS  # uniform priors' ranges of the sampled (m, c, lam)

    @property
    def samples(self) -> np.ndarray:
        """Posterior samples after burn-in, shape (N, 3) in the order m, b, lam."""
        return self.chain[self.burn_in :].reshape(-1, 3)

    @property
    def effective_samples(self) -> float:
        """Independent samples after burn-in: walkers x kept steps / the longest autocorrelation time."""
        kept = (self.chain.shape[0] - self.burn_in) * self.chain.shape[1]
        return kept / float(np.max(self.autocorr_time))

    @property
    def long_enough(self) -> bool:
        """emcee's rule of thumb: the chain should be at least 50 autocorrelation times long."""
        return self.chain.shape[0] >= TAU_RULE * float(np.max(self.autocorr_time))

    def near_bounds(self) -> list[str]:
        """Each prior bound the posterior comes within :data:`BOUND_SIGMAS` standard deviations of, in words.

        The lower bound lam > 0 is left out when it is 0: the likelihood
        depends on lam^2 only, so that bound folds the posterior, it cannot clip it.
        """
        sampled = to_pivot(self.samples, self.pivot)
        median, spread = np.median(sampled, axis=0), np.std(sampled, axis=0)
        found = []
        for name, value, sigma, (lo, hi) in zip(SAMPLED, median, spread, self.bounds):
            label = "c (the intercept at the pivot x = %.6g)" % self.pivot if name == "c" else name
            if value - BOUND_SIGMAS * sigma <= lo and not (name == "lam" and lo == 0):
                found.append(f"{label} = {value:.6g} +- {sigma:.2g} is within {BOUND_SIGMAS:g} sigma of its prior's "
                             f"lower bound {lo:g}")
            if value + BOUND_SIGMAS * sigma >= hi:
                found.append(f"{label} = {value:.6g} +- {sigma:.2g} is within {BOUND_SIGMAS:g} sigma of its prior's "
                             f"upper bound {hi:g}")
        return found

    @property
    def reliable(self) -> bool:
        """The chain is at least 50 autocorrelation times long and no prior bound shapes the posterior."""
        return self.long_enough and not self.near_bounds()

    def warning(self) -> str:
        """Why the fit may be unreliable (clipped by a prior, or a chain too short), or an empty string."""
        reasons = [f"the prior may clip the posterior: {reason}" for reason in self.near_bounds()]
        if not self.long_enough:
            tau = float(np.max(self.autocorr_time))
            reasons.append(f"chain too short for a reliable error: {self.chain.shape[0]} steps < {TAU_RULE} x tau = "
                           f"{TAU_RULE * tau:.0f} (about {self.effective_samples:.0f} independent samples)")
        return "; ".join(reasons)

    def diagnostics(self) -> pd.Series:
        """Acceptance, autocorrelation times, burn-in, effective samples and the reliability verdict."""
        return pd.Series({
            "n": self.n,
            "method": self.method,
            "prior on the true x": self.x_model,
            "walkers x steps": f"{self.chain.shape[1]} x {self.chain.shape[0]}",
            "burn-in (steps)": self.burn_in,
            "acceptance fraction": round(self.acceptance_fraction, 3),
            "pivot x0": self.pivot,
            **{f"tau_{p} (steps)": round(float(t), 1) for p, t in zip(SAMPLED, self.autocorr_time)},
            "effective samples": round(self.effective_samples),
            "reliable": self.reliable,
            "warning": self.warning(),
        })

    def summary(self) -> dict[str, float]:
        """The fitted values as a flat dict: n, m, m_err, b, b_err, lam, lam_err."""
        return {"n": self.n, "m": self.m, "m_err": self.m_err, "b": self.b, "b_err": self.b_err,
                "lam": self.lam, "lam_err": self.lam_err}


def _check_bounds(bounds) -> tuple[tuple[float, float], ...]:
    """``bounds`` as three (low, high) pairs of the sampled (m, c, lam); a FitError for anything else."""
    try:
        pairs = np.array(bounds, dtype=float)
    except (TypeError, ValueError):
        pairs = np.empty(0)
    valid = pairs.shape == (3, 2) and np.isfinite(pairs).all() and (pairs[:, 0] < pairs[:, 1]).all()
    if not valid or pairs[2, 0] < 0:
        raise FitError(f"bounds must be three finite (low, high) pairs with low < high for m, c (the intercept at "
                       f"the pivot) and lam >= 0, got {bounds!r}")
    return tuple((float(lo), float(hi)) for lo, hi in pairs)


def _count(name: str, value, minimum: int) -> int:
    """An integer setting (Python or NumPy) of at least ``minimum``; a FitError naming it otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral) or value < minimum:
        why = " (emcee's moves need two walkers per parameter m, b, lam)" if name == "n_walkers" else ""
        raise FitError(f"{name} must be an integer of at least {minimum}{why}, got {value!r}")
    return int(value)


def least_squares(data: LineData) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary least squares about the pivot from the sums: the start (m, c, lam) and a scale for each.

    The scales are least squares' standard errors of m and c (residuals
    include the measurement errors, so they are at least the posterior's
    widths) and the residual spread over sqrt(2 n) for lam.
    """
    n, sx, sy, sxx, sxy, syy = (float(np.sum(data.uu[j])) for j in (0, 1, 2, 4, 5, 8))
    x0, y0 = sx / n, sy / n
    vxx, vxy, vyy = sxx / n - x0 * x0, sxy / n - x0 * y0, syy / n - y0 * y0
    m = vxy / vxx if vxx > 0 else 0.0
    residual = max(vyy - m * vxy, 0.0)
    tiny = 1e-12 * (1.0 + abs(m) + abs(y0))
    scale = np.array([np.sqrt(residual / (n * vxx)) if vxx > 0 else 1.0, np.sqrt(residual / n),
                      np.sqrt(residual / (2 * n))])
    return np.array([m, y0, np.sqrt(residual) / 2]), np.maximum(scale, tiny)


def _maximum_likelihood(data: LineData, bounds, guess) -> np.ndarray:
    """The maximum-likelihood (m, c, lam), sought by Nelder-Mead from ``guess`` (kept if the search fails)."""
    lo, hi = np.array(bounds).T
    guess = np.clip(np.asarray(guess, dtype=float), lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
    result = minimize(lambda t: -log_probability(t, data, bounds)[0], guess, method="Nelder-Mead",
                      options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 4000})
    return result.x if np.isfinite(result.fun) else guess


def start_walkers(best: np.ndarray, scale: np.ndarray, bounds, n_walkers: int, rng: np.random.Generator
                  ) -> tuple[np.ndarray, tuple]:
    """Walkers in a small ball (a tenth of ``scale`` per parameter) around ``best`` inside ``bounds``, and an emcee
    random state, both drawn from ``rng``."""
    lo, hi = np.array(bounds).T
    margin = 1e-9 * (hi - lo)
    initial = np.clip(best + 0.1 * scale * rng.normal(size=(n_walkers, 3)), lo + margin, hi - margin)
    return initial, np.random.RandomState(rng.integers(2**32)).get_state()


def _autocorr_time(sampler: emcee.EnsembleSampler) -> np.ndarray:
    """emcee's estimate of tau per parameter [steps] (the chain length itself for chains under 50 steps)."""
    steps = sampler.iteration
    return sampler.get_autocorr_time(quiet=True, tol=0) if steps >= 50 else np.full(3, float(steps))


def fit_line(
    x,
    y,
    x_err,
    y_err,
    xy_cov=None,
    *,
    n_walkers: int = 10,
    n_steps: int = 1000,
    max_steps: int = MAX_STEPS,
    burn_in: int | None = None,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    bounds=DEFAULT_BOUNDS,
    method: str = "auto",
    x_model: str = "flat",
    n_components: int = N_COMPONENTS,
    progress: bool = False,
) -> LineFit:
    """Fit y = m x + b with intrinsic scatter lam, sampling the posterior with emcee.

    ``x_model`` is the prior on the true x: ``"flat"`` (the study's
    likelihood) or ``"mixture"`` (an ``n_components`` Gaussian mixture
    deconvolved from the data, which corrects the slope for errors in x;
    see the module docstring).  The line is sampled as (m, c, lam), c the
    intercept at the data's mean x, under uniform priors within ``bounds``
    (of m, c and lam; a fit near one is flagged unreliable).  Walkers start
    in a small ball around the maximum-likelihood point and run ``n_steps``;
    while the chain is shorter than 50 autocorrelation times it is extended,
    up to ``max_steps`` in all (``max_steps <= n_steps``: a fixed length, as
    in the study's 10 x 1000).  ``burn_in`` steps are discarded (default:
    three autocorrelation times, at least a fifth and at most half of the
    chain).  ``method`` is ``"exact"`` (sum over points), ``"grouped"`` (sum
    over error groups, see the module docstring) or ``"auto"`` (grouped
    above :data:`EXACT_UP_TO` points).  The same ``seed`` gives the same chain.
    """
    x, y, x_err, y_err, xy_cov = _as_arrays(x, y, x_err, y_err, xy_cov)
    settings = _settings(n_walkers, n_steps, max_steps, burn_in, bounds)
    if method == "auto":
        method = "grouped" if x.size > EXACT_UP_TO else "exact"
    if method not in ("exact", "grouped"):
        raise FitError(f"method must be 'auto', 'exact' or 'grouped', not {method!r}")
    if x_model not in X_MODELS:
        raise FitError(f"x_model must be one of {', '.join(map(repr, X_MODELS))}, not {x_model!r}")
    mixture = None
    if x_model == "mixture":
        if x.size < 2 * n_components:
            raise FitError(f"a deconvolved fit with {n_components} components needs at least {2 * n_components} "
                           f"points, got {x.size}")
        mixture = extreme_deconvolution(x, x_err, n_components)
        x, y, x_err, y_err, xy_cov = mixture_points(x, y, x_err, y_err, xy_cov, mixture)
    data = LineData.from_points(x, y, x_err, y_err, xy_cov, BINS_PER_DEX if method == "grouped" else None)
    return _sample(data, None, seed=seed, method=method, x_model=x_model, mixture=mixture, progress=progress,
                   **settings)


def _settings(n_walkers, n_steps, max_steps, burn_in, bounds) -> dict:
    """The sampler's settings, checked: one clear FitError for a value emcee would fail on (or misuse)."""
    settings = {"n_walkers": _count("n_walkers", n_walkers, MIN_WALKERS), "n_steps": _count("n_steps", n_steps, 1),
                "max_steps": _count("max_steps", max_steps, 0), "bounds": _check_bounds(bounds)}
    if burn_in is not None:
        burn_in = _count("burn_in", burn_in, 0)
        if burn_in >= settings["n_steps"]:
            raise FitError(f"burn_in must be smaller than n_steps ({settings['n_steps']}), got {burn_in}")
    return settings | {"burn_in": burn_in}


def _sample(data: LineData, guess: np.ndarray | None, *, n_walkers: int, n_steps: int, max_steps: int,
            burn_in: int | None, seed, bounds, method: str, x_model: str, mixture: XMixture | None,
            progress: bool = False) -> LineFit:
    """Find the maximum-likelihood line from ``guess`` (m, b, lam; None: least squares), sample the posterior
    about the pivot with emcee from a ball around it, and summarise the chain in the study's (m, b, lam).

    The log-probability is handed to the sampler directly rather than through
    emcee's wrapper, which prints a traceback for any exception -- Ctrl-C
    included -- before re-raising it.
    """
    pivot = data.pivot
    start, scale = least_squares(data)
    best = _maximum_likelihood(data, bounds, start if guess is None else to_pivot(guess, pivot))
    initial, random_state = start_walkers(best, scale, bounds, n_walkers, np.random.default_rng(seed))
    sampler = emcee.EnsembleSampler(n_walkers, 3, log_probability, vectorize=True, args=(data, bounds),
                                    moves=emcee.moves.DEMove())
    lo, hi = (np.ascontiguousarray(v) for v in np.array(bounds).T)
    sampler.log_prob_fn = partial(_posterior, data=data, lo=lo, hi=hi)
    sampler.random_state = random_state
    sampler.run_mcmc(initial, n_steps, progress=progress)
    tau = _autocorr_time(sampler)
    cap = max(n_steps, max_steps)
    while sampler.iteration < min(cap, TAU_RULE * np.max(tau)):
        target = max(int(np.ceil(EXTEND_MARGIN * TAU_RULE * np.max(tau))), int(np.ceil(1.1 * sampler.iteration)))
        sampler.run_mcmc(None, min(target, cap) - sampler.iteration, progress=progress)
        tau = _autocorr_time(sampler)
    total = sampler.iteration
    if burn_in is None:
        burn_in = int(min(max(3 * np.max(tau), total // 5), total // 2))
    sampled = sampler.get_chain()
    chain = to_intercept(sampled, pivot)
    kept = chain[burn_in:].reshape(-1, 3)
    median, spread = np.median(kept, axis=0), np.std(kept, axis=0)
    intercepts = sampled[burn_in:, :, 1].ravel()
    return LineFit(
        m=median[0], m_err=spread[0], b=median[1], b_err=spread[1], lam=median[2], lam_err=spread[2],
        n=int(round(float(np.sum(data.n)))), chain=chain, burn_in=burn_in,
        acceptance_fraction=float(np.mean(sampler.acceptance_fraction)), autocorr_time=np.asarray(tau),
        max_likelihood=to_intercept(best, pivot), method=method, x_model=x_model, mixture=mixture, pivot=pivot,
        c=float(np.median(intercepts)), c_err=float(np.std(intercepts)), bounds=bounds,
    )


def fit_line_data(data: LineData, guess, *, n_walkers: int = 10, n_steps: int = 1000, max_steps: int = MAX_STEPS,
                  seed: int | np.random.SeedSequence | np.random.Generator | None = None,
                  bounds=DEFAULT_BOUNDS, method: str = "grouped", x_model: str = "flat",
                  mixture: XMixture | None = None) -> LineFit:
    """:func:`fit_line` for data already reduced to a :class:`LineData`, starting the optimiser at ``guess``.

    For sums built without the points in memory (added up across the
    partitions of a catalogue, :mod:`galchem.analysis.line_sums`): the
    maximum-likelihood point is sought from ``guess`` = (m, b, lam), then the
    posterior is sampled exactly as :func:`fit_line` does.  For the
    deconvolved prior the sums are those of the :func:`mixture_points` of
    ``mixture``; ``x_model`` and ``mixture`` are recorded on the result.
    """
    settings = _settings(n_walkers, n_steps, max_steps, None, bounds)
    return _sample(data, np.asarray(guess, dtype=float), seed=seed, method=method, x_model=x_model, mixture=mixture,
                   **settings)
