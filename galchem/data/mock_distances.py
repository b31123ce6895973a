"""Bailer-Jones-like distance percentiles from a parallax, for the mock's observers.

The mock needs distances that behave like the Bailer-Jones et al. (2021)
geometric distances: a posterior median with 16th and 84th percentiles that
widen as the parallax gets noisier.  We use the exponentially decreasing
space density prior of Bailer-Jones (2015), p(r) ~ r^2 exp(-r / L), with a
Gaussian parallax likelihood, and evaluate the posterior on a grid in true
parallax w = 1/r, where it is narrow and smooth.  Only the mock
(:mod:`galchem.data.mock`) uses it, so it lives in the data layer.
"""
from __future__ import annotations

import numpy as np

__all__ = ["EDSD_LENGTH_KPC", "R_MAX_KPC", "distance_percentiles"]

EDSD_LENGTH_KPC = 1.35
"""Length scale L of the prior [kpc] (Bailer-Jones 2015; Astraatmadja & Bailer-Jones 2016)."""

R_MAX_KPC = 30.0
"""Largest distance the grid considers [kpc]."""


def _percentiles_chunk(parallax: np.ndarray, error: np.ndarray, q: np.ndarray, n_grid: int) -> np.ndarray:
    w_min = 1.0 / R_MAX_KPC
    lo = np.maximum(parallax - 6.0 * error, w_min)
    hi = np.maximum(parallax + 6.0 * error, 2.0 * w_min)
    t = np.linspace(0.0, 1.0, n_grid)
    w = lo[:, None] + (hi - lo)[:, None] * t[None, :]
    # log posterior in w: prior r^2 exp(-r/L) |dr/dw| with r = 1/w, times the likelihood
    log_post = -4.0 * np.log(w) - 1.0 / (w * EDSD_LENGTH_KPC) - 0.5 * ((parallax[:, None] - w) / error[:, None]) ** 2
    log_post -= log_post.max(axis=1, keepdims=True)
    density = np.exp(log_post)
    cdf = np.concatenate([np.zeros((len(w), 1)), np.cumsum(0.5 * (density[:, 1:] + density[:, :-1]), axis=1)], axis=1)
    cdf /= cdf[:, -1:]
    out = np.empty((len(q), len(w)))
    rows = np.arange(len(w))
    for k, level in enumerate(q):
        j = np.clip((cdf < level).sum(axis=1), 1, n_grid - 1)
        c0, c1 = cdf[rows, j - 1], cdf[rows, j]
        frac = np.where(c1 > c0, (level - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0)
        out[k] = w[rows, j - 1] + frac * (w[rows, j] - w[rows, j - 1])
    return out


def distance_percentiles(
    parallax: np.ndarray, parallax_error: np.ndarray, n_grid: int = 64, chunk: int = 20_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior median, 16th and 84th percentile distances [pc] for parallaxes [mas].

    Returns ``(r_med, r_lo, r_hi)``.  Because r = 1/w decreases with w, the
    16th distance percentile is the 84th percentile in w, and so on.
    """
    parallax = np.asarray(parallax, dtype=float)
    error = np.asarray(parallax_error, dtype=float)
    q = np.array([0.5, 0.84, 0.16])  # in w; gives the median, 16th and 84th percentiles of r
    w = np.empty((3, parallax.size))
    for start in range(0, parallax.size, chunk):
        part = slice(start, start + chunk)
        w[:, part] = _percentiles_chunk(parallax[part], error[part], q, n_grid)
    r_med, r_lo, r_hi = 1000.0 / w
    return r_med, r_lo, r_hi
