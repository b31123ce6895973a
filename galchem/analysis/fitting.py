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

Chains: emcee's rule of thumb asks for at least 50 autocorrelation times.
:func:`fit_line` runs ``n_steps``, estimates tau, and extends the same chain
(same random stream) until the rule holds or ``max_steps`` is reached;
``max_steps = n_steps`` is the study's fixed 10 x 1000.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import emcee
import numpy as np
import pandas as pd
from scipy.optimize import minimize

from galchem.analysis.deconvolution import N_COMPONENTS, XMixture, extreme_deconvolution
from galchem.errors import FitError

__all__ = ["DEFAULT_BOUNDS", "LineData", "LineFit", "MAX_STEPS", "PARAMETERS", "X_MODELS", "fit_line",
           "log_likelihood", "log_probability", "mixture_points", "start_walkers"]

PARAMETERS = ("m", "b", "lam")
DEFAULT_BOUNDS = ((-2.0, 2.0), (-2.0, 2.0), (0.0, 1.0))
GROUPED_ABOVE = 20_000
"""``method="auto"`` groups errors for more points than this."""
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
    is stored as a contiguous row over the K groups, so that the
    likelihood's products are plain (walkers x moments) @ (moments x groups)
    matrix products (a transposed operand is many times slower in BLAS).
    """

    n: np.ndarray  # (K,) points per group
    dbar: np.ndarray  # (3, K) mean variances
    uu: np.ndarray  # (9, K) sum u u
    uud: np.ndarray | None = None  # (27, K) sum u u dd
    uudd: np.ndarray | None = None  # (81, K) sum u u dd dd
    dd2: np.ndarray | None = None  # (9, K) sum dd dd

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


def log_likelihood(theta: np.ndarray, data: LineData) -> np.ndarray:
    """ln L for parameter rows ``theta`` = (m, b, lam), shape (W, 3) or (3,)."""
    theta = np.atleast_2d(theta)
    m, b, lam = theta.T
    p = np.column_stack([-b, -m, np.ones_like(m)])
    w = np.column_stack([m * m, -2 * m, np.ones_like(m)])
    pp = _outer(p, p)
    S = w @ data.dbar + (lam * lam * (1 + m * m))[:, None]  # (W, K)
    terms = (pp @ data.uu) / S + data.n * np.log(S)  # sum of Delta^2 / S, and of ln S
    if data.uud is not None:  # second-order corrections for the spread of errors within groups
        first = _outer(pp, w) @ data.uud  # sum of Delta^2 eps
        second = _outer(pp, w, w) @ data.uudd  # sum of Delta^2 eps^2
        eps2 = _outer(w, w) @ data.dd2  # sum of eps^2
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
    x_model: str = "flat"
    mixture: XMixture | None = field(default=None, repr=False)  # the deconvolved prior of x_model="mixture"

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
        return self.chain.shape[0] >= TAU_RULE * float(np.max(self.autocorr_time))

    def warning(self) -> str:
        """Why the error estimate may be unreliable, or an empty string."""
        if self.reliable:
            return ""
        tau = float(np.max(self.autocorr_time))
        return (f"chain too short for a reliable error: {self.chain.shape[0]} steps < {TAU_RULE} x tau = "
                f"{TAU_RULE * tau:.0f} "
                f"(about {self.effective_samples:.0f} independent samples)")

    def diagnostics(self) -> pd.Series:
        """Acceptance, autocorrelation times, burn-in, effective samples and the reliability verdict."""
        return pd.Series({
            "n": self.n,
            "method": self.method,
            "prior on the true x": self.x_model,
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
    see the module docstring).  Walkers start in a small ball around the
    maximum-likelihood point and run ``n_steps``; while the chain is shorter
    than 50 autocorrelation times it is extended, up to ``max_steps`` in all
    (``max_steps <= n_steps``: a fixed length, as in the study's 10 x 1000).
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
    best = _maximum_likelihood(data, bounds, _least_squares_guess(x, y))
    return _sample(data, best, n_walkers=n_walkers, n_steps=n_steps, max_steps=max_steps, burn_in=burn_in, seed=seed,
                   bounds=bounds, method=method, x_model=x_model, mixture=mixture, progress=progress)


def _sample(data: LineData, best: np.ndarray, *, n_walkers: int, n_steps: int, max_steps: int, burn_in: int | None,
            seed, bounds, method: str, x_model: str, mixture: XMixture | None, progress: bool = False) -> LineFit:
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
    tau = _autocorr_time(sampler)
    cap = max(n_steps, max_steps)
    while sampler.iteration < min(cap, TAU_RULE * np.max(tau)):
        target = max(int(np.ceil(EXTEND_MARGIN * TAU_RULE * np.max(tau))), int(np.ceil(1.1 * sampler.iteration)))
        sampler.run_mcmc(None, min(target, cap) - sampler.iteration, progress=progress)
        tau = _autocorr_time(sampler)
    total = sampler.iteration
    if burn_in is None:
        burn_in = int(min(max(3 * np.max(tau), total // 5), total // 2))
    chain = sampler.get_chain()
    kept = chain[burn_in:].reshape(-1, 3)
    median, spread = np.median(kept, axis=0), np.std(kept, axis=0)
    return LineFit(
        m=median[0], m_err=spread[0], b=median[1], b_err=spread[1], lam=median[2], lam_err=spread[2],
        n=int(round(float(np.sum(data.n)))), chain=chain, burn_in=burn_in,
        acceptance_fraction=float(np.mean(sampler.acceptance_fraction)), autocorr_time=np.asarray(tau),
        max_likelihood=best, method=method, x_model=x_model, mixture=mixture,
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
    best = _maximum_likelihood(data, bounds, guess)
    return _sample(data, best, n_walkers=n_walkers, n_steps=n_steps, max_steps=max_steps, burn_in=None, seed=seed,
                   bounds=bounds, method=method, x_model=x_model, mixture=mixture)
