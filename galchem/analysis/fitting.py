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
biases both.  Priors are uniform (by default m, b in (-2, 2), lambda in (0, 1)).
The posterior is sampled with emcee (Foreman-Mackey et al. 2013), all walkers
evaluated in one vectorised call.

For large samples the sum over stars becomes a sum over *error groups*:
stars whose errors fall in the same narrow logarithmic bin are expanded
around their group's mean variance to second order (:class:`LineData`), so
each evaluation costs O(groups) instead of O(stars) and changes ln L by far
less than one part in a million; ``method="exact"`` keeps one group per star.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import emcee
import numpy as np
import pandas as pd
from scipy.optimize import minimize

from galchem.errors import FitError

PARAMETERS = ("m", "b", "lam")
DEFAULT_BOUNDS = ((-2.0, 2.0), (-2.0, 2.0), (0.0, 1.0))
GROUPED_ABOVE = 20_000
"""``method="auto"`` groups errors for more points than this."""
BINS_PER_DEX = 20
"""Error groups span a factor 10**(1/20) = 1.12 in each error; the expansion error is then ~1e-6 in ln L per point."""


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
    point per group) are exact and carry no correction moments.
    """

    n: np.ndarray  # (K,) points per group
    dbar: np.ndarray  # (K, 3) mean variances
    uu: np.ndarray  # (K, 9) sum u u
    uud: np.ndarray | None = None  # (K, 27) sum u u dd
    uudd: np.ndarray | None = None  # (K, 81) sum u u dd dd
    dd2: np.ndarray | None = None  # (K, 9) sum dd dd

    @classmethod
    def from_points(cls, x, y, x_err, y_err, xy_cov, bins_per_dex: int | None = None) -> LineData:
        """Group points whose errors agree within a factor 10**(1/bins_per_dex); None: no grouping."""
        u = np.column_stack([np.ones_like(x), x, y])
        d = np.column_stack([x_err**2, xy_cov, y_err**2])
        uu = _outer(u, u)
        if bins_per_dex is None:
            return cls(np.ones(x.size), d, uu)
        keys = np.stack([np.floor(np.log10(e) * bins_per_dex) for e in (x_err, y_err)], axis=1)
        if np.any(xy_cov):
            keys = np.column_stack([keys, np.round(xy_cov / (x_err * y_err) * bins_per_dex)])
        group = np.unique(keys, axis=0, return_inverse=True)[1].ravel()
        n = np.bincount(group).astype(float)

        def total(values: np.ndarray) -> np.ndarray:
            return np.stack([np.bincount(group, weights=v, minlength=n.size) for v in values.T], axis=1)

        dbar = total(d) / n[:, None]
        dd = d - dbar[group]
        return cls(n, dbar, total(uu), total(_outer(uu, dd)), total(_outer(uu, dd, dd)), total(_outer(dd, dd)))


def log_likelihood(theta: np.ndarray, data: LineData) -> np.ndarray:
    """ln L for parameter rows ``theta`` = (m, b, lam), shape (W, 3) or (3,)."""
    theta = np.atleast_2d(theta)
    m, b, lam = theta.T
    p = np.column_stack([-b, -m, np.ones_like(m)])
    w = np.column_stack([m * m, -2 * m, np.ones_like(m)])
    pp = _outer(p, p)
    S = w @ data.dbar.T + (lam * lam * (1 + m * m))[:, None]  # (W, K)
    terms = (pp @ data.uu.T) / S + data.n * np.log(S)  # sum of Delta^2 / S, and of ln S
    if data.uud is not None:  # second-order corrections for the spread of errors within groups
        first = _outer(pp, w) @ data.uud.T  # sum of Delta^2 eps
        second = _outer(pp, w, w) @ data.uudd.T  # sum of Delta^2 eps^2
        eps2 = _outer(w, w) @ data.dd2.T  # sum of eps^2
        terms += -first / S**2 + second / S**3 - eps2 / (2 * S**2)
    return -0.5 * np.sum(terms, axis=1)


def log_probability(theta: np.ndarray, data: LineData, bounds=DEFAULT_BOUNDS) -> np.ndarray:
    """ln posterior with uniform priors inside ``bounds``; -inf outside."""
    theta = np.atleast_2d(theta)
    lo, hi = np.array(bounds).T
    inside = np.all((theta > lo) & (theta < hi), axis=1)
    out = np.full(theta.shape[0], -np.inf)
    if inside.any():
        out[inside] = log_likelihood(theta[inside], data)
    return out


@dataclass(frozen=True)
class LineFit:
    """Posterior of a line fit: medians, standard deviations, the chain and diagnostics."""

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
    def reliable(self) -> bool:
        """emcee's rule of thumb: the chain should be at least 50 autocorrelation times long."""
        return self.chain.shape[0] >= 50 * float(np.max(self.autocorr_time))

    def warning(self) -> str:
        """Why the error estimate may be unreliable, or an empty string."""
        if self.reliable:
            return ""
        tau = float(np.max(self.autocorr_time))
        return (f"chain too short for a reliable error: {self.chain.shape[0]} steps < 50 x tau = {50 * tau:.0f} "
                f"(about {self.effective_samples:.0f} independent samples)")

    def diagnostics(self) -> pd.Series:
        """Acceptance, autocorrelation times, burn-in, effective samples and the reliability verdict."""
        return pd.Series({
            "n": self.n,
            "method": self.method,
            "walkers x steps": f"{self.chain.shape[1]} x {self.chain.shape[0]}",
            "burn-in (steps)": self.burn_in,
            "acceptance fraction": round(self.acceptance_fraction, 3),
            **{f"tau_{p} (steps)": round(float(t), 1) for p, t in zip(PARAMETERS, self.autocorr_time)},
            "effective samples": round(self.effective_samples),
            "reliable": self.reliable,
        })

    def summary(self) -> dict[str, float]:
        """The fitted values as a flat dict: n, m, m_err, b, b_err, lam, lam_err."""
        return {"n": self.n, "m": self.m, "m_err": self.m_err, "b": self.b, "b_err": self.b_err,
                "lam": self.lam, "lam_err": self.lam_err}


def _maximum_likelihood(data: LineData, bounds, guess) -> np.ndarray:
    """The maximum-likelihood (m, b, lam), sought by Nelder-Mead from ``guess`` (kept if the search fails)."""
    lo, hi = np.array(bounds).T
    guess = np.clip(np.asarray(guess, dtype=float), lo + 1e-6, hi - 1e-6)
    result = minimize(lambda t: -log_probability(t, data, bounds)[0], guess, method="Nelder-Mead",
                      options={"xatol": 1e-7, "fatol": 1e-7, "maxiter": 4000})
    return result.x if np.isfinite(result.fun) else guess


def _least_squares_guess(x: np.ndarray, y: np.ndarray) -> list[float]:
    """(m, b, lam) from ordinary least squares: the optimiser's starting point."""
    m0, b0 = np.polyfit(x, y, 1)
    return [m0, b0, np.std(y - m0 * x - b0) / 2]


def start_walkers(
    best: np.ndarray, bounds, n_walkers: int, rng: np.random.Generator
) -> tuple[np.ndarray, tuple]:
    """Walkers in a small ball around ``best`` inside ``bounds``, and an emcee random state, both drawn from ``rng``."""
    lo, hi = np.array(bounds).T
    initial = np.clip(best + 1e-4 * (hi - lo) * rng.normal(size=(n_walkers, 3)), lo + 1e-9, hi - 1e-9)
    return initial, np.random.RandomState(rng.integers(2**32)).get_state()


def fit_line(
    x,
    y,
    x_err,
    y_err,
    xy_cov=None,
    *,
    n_walkers: int = 10,
    n_steps: int = 1000,
    burn_in: int | None = None,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    bounds=DEFAULT_BOUNDS,
    method: str = "auto",
    progress: bool = False,
) -> LineFit:
    """Fit y = m x + b with perpendicular intrinsic scatter lam, sampling the posterior with emcee.

    Walkers start in a small ball around the maximum-likelihood point.
    ``burn_in`` steps are discarded (default: three autocorrelation times,
    at least a fifth and at most half of the chain).  ``method`` is
    ``"exact"`` (sum over points), ``"grouped"`` (sum over error groups, see
    the module docstring) or ``"auto"`` (grouped above 20 000 points).  The
    same ``seed`` gives the same chain.
    """
    x, y, x_err, y_err, xy_cov = _as_arrays(x, y, x_err, y_err, xy_cov)
    if method == "auto":
        method = "grouped" if x.size > GROUPED_ABOVE else "exact"
    if method not in ("exact", "grouped"):
        raise FitError(f"method must be 'auto', 'exact' or 'grouped', not {method!r}")
    data = LineData.from_points(x, y, x_err, y_err, xy_cov, BINS_PER_DEX if method == "grouped" else None)
    best = _maximum_likelihood(data, bounds, _least_squares_guess(x, y))
    return _sample(data, best, n_walkers=n_walkers, n_steps=n_steps, burn_in=burn_in, seed=seed, bounds=bounds,
                   method=method, progress=progress)


def _sample(data: LineData, best: np.ndarray, *, n_walkers: int, n_steps: int, burn_in: int | None, seed, bounds,
            method: str, progress: bool = False) -> LineFit:
    """Sample the posterior with emcee from a ball around ``best``; summarise the chain.

    The log-probability is handed to the sampler directly rather than through
    emcee's wrapper, which prints a traceback for any exception -- Ctrl-C
    included -- before re-raising it.
    """
    initial, random_state = start_walkers(best, bounds, n_walkers, np.random.default_rng(seed))
    sampler = emcee.EnsembleSampler(n_walkers, 3, log_probability, vectorize=True, args=(data, bounds))
    sampler.log_prob_fn = partial(log_probability, data=data, bounds=bounds)
    sampler.random_state = random_state
    sampler.run_mcmc(initial, n_steps, progress=progress)
    tau = sampler.get_autocorr_time(quiet=True, tol=0) if n_steps >= 50 else np.full(3, float(n_steps))
    if burn_in is None:
        burn_in = int(min(max(3 * np.max(tau), n_steps // 5), n_steps // 2))
    chain = sampler.get_chain()
    kept = chain[burn_in:].reshape(-1, 3)
    median, spread = np.median(kept, axis=0), np.std(kept, axis=0)
    return LineFit(
        m=median[0], m_err=spread[0], b=median[1], b_err=spread[1], lam=median[2], lam_err=spread[2],
        n=int(round(float(np.sum(data.n)))), chain=chain, burn_in=burn_in,
        acceptance_fraction=float(np.mean(sampler.acceptance_fraction)), autocorr_time=np.asarray(tau),
        max_likelihood=best, method=method,
    )


def fit_line_data(data: LineData, guess, *, n_walkers: int = 10, n_steps: int = 1000,
                  seed: int | np.random.SeedSequence | np.random.Generator | None = None,
                  bounds=DEFAULT_BOUNDS, method: str = "grouped") -> LineFit:
    """:func:`fit_line` for data already reduced to a :class:`LineData`, starting the optimiser at ``guess``.

    For sums built without the points in memory (added up across the
    partitions of a catalogue, :mod:`galchem.analysis.line_sums`): the
    maximum-likelihood point is sought from ``guess`` = (m, b, lam), then the
    posterior is sampled exactly as :func:`fit_line` does.
    """
    best = _maximum_likelihood(data, bounds, guess)
    return _sample(data, best, n_walkers=n_walkers, n_steps=n_steps, burn_in=None, seed=seed, bounds=bounds,
                   method=method)
