"""Sampling the line's posterior with an ensemble of walkers: no walls, chains long enough, every fit's diagnostics.

The likelihood and its error groups are :mod:`galchem.analysis.line_likelihood`;
the priors on the true x it can be given, :mod:`galchem.analysis.priors`.

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
quarter of the steps.  The move runs compiled, a whole run of steps per call
(:mod:`galchem.analysis.de_sampler`), and emcee estimates the
autocorrelation time.  emcee's rule of thumb asks for at least 50
autocorrelation times.
:func:`fit_line` runs ``n_steps``, estimates tau, and extends the same chain
(same random stream) until the rule holds or ``max_steps`` is reached;
``max_steps = n_steps`` is the study's fixed 10 x 1000.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

import emcee
import numpy as np
import pandas as pd
from scipy.optimize import minimize

from galchem.analysis.de_sampler import DEChain
from galchem.analysis.line_likelihood import (BINS_PER_DEX, DEFAULT_BOUNDS, SAMPLED, LineData, least_squares,
                                              log_probability, to_intercept, to_pivot)
from galchem.analysis.line_values import LineValues
from galchem.analysis.priors import FlatPrior, Prior
from galchem.errors import FitError

__all__ = ["BOUND_SIGMAS", "EXACT_UP_TO", "GROUPED_ABOVE", "LineFit", "MIN_WALKERS", "fit_line",
           "fit_line_data", "start_walkers"]

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


@dataclass(frozen=True)
class LineFit(LineValues):
    """Posterior of a line fit: medians, standard deviations, the chain and diagnostics.

    ``chain``, ``samples`` and ``max_likelihood`` are in the study's
    (m, b, lam), b the intercept at x = 0; the sampler ran in (m, c, lam)
    about ``pivot`` (module docstring), and ``bounds`` are the priors'
    ranges of those.
    """

    n: int
    chain: np.ndarray = field(repr=False)  # (n_steps, n_walkers, 3), burn-in included
    burn_in: int
    acceptance_fraction: float
    autocorr_time: np.ndarray
    max_likelihood: np.ndarray
    method: str
    prior: Prior = FlatPrior()  # the prior on the true x, fitted to the data (a mixture prior holds its mixture)
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
            "prior on the true x": self.prior.name,
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


def _maximum_likelihood(data: LineData, bounds, guess) -> np.ndarray:
    """The maximum-likelihood (m, c, lam), sought by Nelder-Mead from ``guess`` (kept if the search fails)."""
    lo, hi = np.array(bounds).T
    guess = np.clip(np.asarray(guess, dtype=float), lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
    result = minimize(lambda t: -log_probability(t, data, bounds)[0], guess, method="Nelder-Mead",
                      options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 4000})
    return result.x if np.isfinite(result.fun) else guess


def start_walkers(best: np.ndarray, scale: np.ndarray, bounds, n_walkers: int, rng: np.random.Generator
                  ) -> tuple[np.ndarray, int]:
    """Walkers in a small ball (a tenth of ``scale`` per parameter) around ``best`` inside ``bounds``, and the key
    of the sampler's random stream, both drawn from ``rng``."""
    lo, hi = np.array(bounds).T
    margin = 1e-9 * (hi - lo)
    initial = np.clip(best + 0.1 * scale * rng.normal(size=(n_walkers, 3)), lo + margin, hi - margin)
    return initial, int(rng.integers(2**63))


def _autocorr_time(chain: np.ndarray) -> np.ndarray:
    """emcee's estimate of tau per parameter [steps] (the chain length itself for chains under 50 steps)."""
    steps = len(chain)
    return emcee.autocorr.integrated_time(chain, quiet=True, tol=0) if steps >= 50 else np.full(3, float(steps))


def fit_line(
    x,
    y,
    x_err,
    y_err,
    xy_cov=None,
    *,
    n_walkers: int,
    n_steps: int,
    max_steps: int,
    burn_in: int | None = None,
    seed: int | np.random.SeedSequence | np.random.Generator | None = None,
    bounds=DEFAULT_BOUNDS,
    method: str = "auto",
    prior: Prior = FlatPrior(),
) -> LineFit:
    """Fit y = m x + b with intrinsic scatter lam, sampling the posterior with an ensemble of walkers.

    ``prior`` is the prior on the true x: :class:`~galchem.analysis.priors.FlatPrior`
    (the study's likelihood) or :class:`~galchem.analysis.priors.MixturePrior`
    (a Gaussian mixture deconvolved from the data, which corrects the slope
    for errors in x; see the module docstring).  The line is sampled as (m, c, lam), c the
    intercept at the data's mean x, under uniform priors within ``bounds``
    (of m, c and lam; a fit near one is flagged unreliable).  Walkers start
    in a small ball around the maximum-likelihood point and run ``n_steps``;
    while the chain is shorter than 50 autocorrelation times it is extended,
    up to ``max_steps`` in all (``max_steps <= n_steps``: a fixed length, as
    in the study's 10 x 1000).  ``burn_in`` steps are discarded (default:
    three autocorrelation times, at least a fifth and at most half of the
    chain).  ``method`` is ``"exact"`` (sum over points), ``"grouped"`` (sum
    over error groups, see the module docstring) or ``"auto"`` (grouped
    above :data:`~galchem.analysis.fitting.EXACT_UP_TO` points).  The same ``seed`` gives the same chain.
    """
    x, y, x_err, y_err, xy_cov = _as_arrays(x, y, x_err, y_err, xy_cov)
    settings = _settings(n_walkers, n_steps, max_steps, burn_in, bounds)
    if method == "auto":
        method = "grouped" if x.size > EXACT_UP_TO else "exact"
    if method not in ("exact", "grouped"):
        raise FitError(f"method must be 'auto', 'exact' or 'grouped', not {method!r}")
    if not isinstance(prior, Prior):
        raise FitError(f"prior must be a galchem.analysis.priors.Prior such as FlatPrior() or MixturePrior(), "
                       f"not {prior!r}")
    prior = prior.fitted(x, x_err)
    data = prior.line_data(x, y, x_err, y_err, xy_cov, BINS_PER_DEX if method == "grouped" else None)
    return _sample(data, None, seed=seed, method=method, prior=prior, **settings)


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
            burn_in: int | None, seed, bounds, method: str, prior: Prior) -> LineFit:
    """Find the maximum-likelihood line from ``guess`` (m, b, lam; None: least squares), sample the posterior
    about the pivot (:class:`~galchem.analysis.de_sampler.DEChain`) from a ball around it, and summarise the
    chain in the study's (m, b, lam)."""
    pivot = data.pivot
    start, scale = least_squares(data)
    best = _maximum_likelihood(data, bounds, start if guess is None else to_pivot(guess, pivot))
    initial, key = start_walkers(best, scale, bounds, n_walkers, np.random.default_rng(seed))
    lo, hi = np.array(bounds, dtype=float).T
    sampler = DEChain(data, lo, hi, initial, key)
    sampler.run(n_steps)
    tau = _autocorr_time(sampler.chain)
    cap = max(n_steps, max_steps)
    while sampler.iteration < min(cap, TAU_RULE * np.max(tau)):
        target = max(int(np.ceil(EXTEND_MARGIN * TAU_RULE * np.max(tau))), int(np.ceil(1.1 * sampler.iteration)))
        sampler.run(min(target, cap) - sampler.iteration)
        tau = _autocorr_time(sampler.chain)
    total = sampler.iteration
    if burn_in is None:
        burn_in = int(min(max(3 * np.max(tau), total // 5), total // 2))
    sampled = sampler.chain
    chain = to_intercept(sampled, pivot)
    kept = chain[burn_in:].reshape(-1, 3)
    median, spread = np.median(kept, axis=0), np.std(kept, axis=0)
    intercepts = sampled[burn_in:, :, 1].ravel()
    return LineFit(
        m=median[0], m_err=spread[0], b=median[1], b_err=spread[1], lam=median[2], lam_err=spread[2],
        n=int(round(float(np.sum(data.n)))), chain=chain, burn_in=burn_in,
        acceptance_fraction=float(np.mean(sampler.acceptance_fraction)), autocorr_time=np.asarray(tau),
        max_likelihood=to_intercept(best, pivot), method=method, prior=prior, pivot=pivot,
        c=float(np.median(intercepts)), c_err=float(np.std(intercepts)), bounds=bounds,
    )


def fit_line_data(data: LineData, guess, *, n_walkers: int, n_steps: int, max_steps: int,
                  seed: int | np.random.SeedSequence | np.random.Generator | None = None,
                  bounds=DEFAULT_BOUNDS, method: str = "grouped", prior: Prior = FlatPrior()) -> LineFit:
    """:func:`fit_line` for data already reduced to a :class:`LineData`, starting the optimiser at ``guess``.

    For sums built without the points in memory (added up across the
    partitions of a catalogue, :mod:`galchem.analysis.line_sums`): the
    maximum-likelihood point is sought from ``guess`` = (m, b, lam), then the
    posterior is sampled exactly as :func:`fit_line` does.  ``prior`` is the
    (fitted) prior whose :meth:`~galchem.analysis.priors.Prior.points` the
    sums were made of; it is recorded on the result.
    """
    settings = _settings(n_walkers, n_steps, max_steps, None, bounds)
    return _sample(data, np.asarray(guess, dtype=float), seed=seed, method=method, prior=prior, **settings)
