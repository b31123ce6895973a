"""The likelihood of a straight line with errors in both coordinates and intrinsic scatter, and its sums.

The model of the study (its section 3, after Hogg, Bovy & Lang 2010, sections
7-8): y = m x + b, with intrinsic scatter of variance lambda^2 *perpendicular*
to the line, Lambda = lambda^2 / (1 + m^2) [[m^2, -m], [-m, 1]].  With each
point's 2x2 covariance S_i and v = (-m, 1), the true x can be marginalised
analytically, leaving

    ln L = -1/2 sum_i [ Delta_i^2 / Sigma_i^2 + ln Sigma_i^2 ],
    Delta_i = y_i - m x_i - b,
    Sigma_i^2 = v^T (S_i + Lambda) v = sy2_i - 2 m sxy_i + m^2 sx2_i + lambda^2 (1 + m^2).

The ln Sigma_i^2 term must stay: Sigma depends on m and lambda, and dropping it
biases both.  Sampling it is :mod:`galchem.analysis.fitting`'s job; this module evaluates
it, for all walkers in one call of a compiled kernel.

The line is written about a pivot x0 for sampling, y = m (x - x0) + c
(:func:`to_pivot`, :func:`to_intercept`; :mod:`galchem.analysis.fitting`
says why).

For large samples the sum over stars becomes a sum over *error groups*:
stars whose errors fall in the same narrow logarithmic bin are expanded
around their group's mean variance to second order (:class:`LineData`), so
each evaluation costs O(groups) instead of O(stars) and changes ln L by far
less than one part in a million; ``method="exact"`` keeps one group per star.

The prior on the true x is the flat one above; other priors
(:mod:`galchem.analysis.priors`) hand this likelihood the points it sees under
them, in the same form.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

__all__ = ["BINS_PER_DEX", "DEFAULT_BOUNDS", "LineData", "PARAMETERS", "SAMPLED", "least_squares", "log_likelihood",
           "log_likelihood_rows", "log_posterior", "log_probability", "to_intercept", "to_pivot"]

PARAMETERS = ("m", "b", "lam")
SAMPLED = ("m", "c", "lam")
"""The sampled parameters: slope, intercept at the pivot x0 (c = b + m x0), scatter."""
DEFAULT_BOUNDS = ((-1e3, 1e3), (-1e3, 1e3), (0.0, 1e3))
"""Uniform priors on the sampled (m, c, lam): wide enough never to bind on physical data (a fit near one is flagged)."""
BINS_PER_DEX = 20
"""Error groups span a factor 10**(1/20) = 1.12 in each error; the expansion error is then ~1e-6 in ln L per point."""


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
def log_likelihood_rows(theta, pivot, lo, hi, n, dbar, terms, rows):  # pragma: no cover - compiled
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
    return log_likelihood_rows(theta, 0.0, *_EVERYWHERE, data.n, data.dbar, moments.terms, moments.rows)


def log_probability(theta: np.ndarray, data: LineData, bounds=DEFAULT_BOUNDS) -> np.ndarray:
    """ln posterior of sampled rows ``theta`` = (m, c, lam), c the intercept at ``data.pivot``: uniform priors
    inside ``bounds``, -inf outside."""
    lo, hi = np.array(bounds, dtype=float).T
    return log_posterior(theta, data, np.ascontiguousarray(lo), np.ascontiguousarray(hi))


def log_posterior(theta: np.ndarray, data: LineData, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """:func:`log_probability` with the bounds as arrays of lows and highs (the sampler's call, made once per move)."""
    theta = np.ascontiguousarray(np.atleast_2d(theta), dtype=float)
    moments = data.moments
    return log_likelihood_rows(theta, data.pivot, lo, hi, data.n, data.dbar, moments.terms, moments.rows)


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
