"""SIMEX: a cross-check of the corrected gradients that does not share their prior (Cook & Stefanski 1994).

Simulation-extrapolation assumes only that the errors are known.  To each
star's distance measure u (:mod:`galchem.analysis.latent_distance`) it adds
extra Gaussian noise of variance zeta u_err^2, for zeta in :data:`ZETAS`
and :data:`N_REPLICATES` replicates, recomputes the star's distance (1/u or
exp(u), no prior), its R and |Z|, *re-bins it on the noisy coordinate* --
then the bin cut, too, acts on a coordinate with error variance
(1 + zeta) u_err^2, so that the naive slope, for a line, is the population's
attenuation at that error and tends to the truth at zeta = -1 -- and fits
the naive slope by ordinary least squares.  A quadratic in zeta through the
naive slopes (zeta = 0: the data as measured) is extrapolated to zeta = -1.

The extra noise of each star comes from its own counter-based stream keyed
by the stage's seed, the replicate and the star's id (:func:`noise`), and
each bin's least squares add up double-double sums
(:mod:`galchem.analysis.double_double`), one dense array per binning
(:class:`SimexSums`) filled in one compiled pass per level: the estimate
does not depend on how the catalogue is partitioned.

The error is a delete-a-group jackknife (:mod:`galchem.analysis.jackknife`):
the whole estimate -- re-binning,
extra noise and extrapolation -- is repeated without each group, so it
carries the sampling error, the changing bin membership and the Monte Carlo
noise together.  A bin gets no SIMEX slope where that error cannot be formed or its measured coordinate has no
spread beyond rounding (stars at one place): a slope without its error is not reported.  What SIMEX cannot undo: the
sample's own cuts on u (parallax and distance precision) were made on the
measured u, and the extrapolation is quadratic where the true curve is not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from galchem.analysis import double_double, gradients, jackknife
from galchem.analysis.double_double import add
from galchem.analysis.latent_distance import DistanceMeasure, distance_from_u
from galchem.analysis.marginal_slope import DEGENERATE
from galchem.data.ids import GOLDEN, mixed_keys
from galchem.physics import frames

__all__ = ["MOMENTS", "N_REPLICATES", "SimexEstimate", "SimexSums", "ZETAS", "estimate", "levels",
           "noise", "simex_sums"]

ZETAS = (0.5, 1.0, 1.5, 2.0)
"""Extra error variances, in units of each star's own u_err^2."""

N_REPLICATES = 4
"""Noisy copies of the data per zeta."""

MOMENTS = 6
"""Sums per bin, level and group: n, Sx, Sy, Sxx, Sxy, Syy (in double-double)."""


def levels() -> list[tuple[float, int]]:
    """(zeta, replicate) of every naive fit, the measured data (0.0, 0) first."""
    return [(0.0, 0), *((zeta, k) for zeta in ZETAS for k in range(N_REPLICATES))]


def noise(keys: np.ndarray, seed_key: np.uint64, stream: int) -> np.ndarray:
    """One standard normal per star from its own stream: keyed by ``seed_key``, ``stream`` and its id key.

    Box-Muller on two 32-bit halves of one SplitMix64 output (Steele et al. 2014); no dependence on the order or
    the grouping of the stars.
    """
    star = mixed_keys(mixed_keys(np.asarray(keys, dtype=np.uint64)) ^ np.uint64(seed_key))
    bits = mixed_keys(star + np.uint64((stream + 1) * int(GOLDEN) % 2**64))  # wraps as uint64 does
    u1 = ((bits >> np.uint64(32)).astype(np.float64) + 1.0) / 2.0**32  # (0, 1]
    u2 = (bits & np.uint64(0xFFFFFFFF)).astype(np.float64) / 2.0**32
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _coordinates(los: np.ndarray, distance: np.ndarray) -> dict[str, np.ndarray]:
    """R and |Z| [kpc] at ``distance`` along the lines of sight ``los`` (NaN where the distance is NaN)."""
    x, y, z = frames.along_sight(los, np.nan_to_num(distance, nan=1.0))
    bad = ~np.isfinite(distance)
    return {"R": np.where(bad, np.nan, np.hypot(x, y)), "absZ": np.where(bad, np.nan, np.abs(z))}


@numba.njit(cache=True, nogil=True)
def _accumulate(row, x, y, hi, lo):  # pragma: no cover - compiled
    """Add each star's moments to row ``row`` of the (rows, MOMENTS) sums; a negative row leaves the star out."""
    for i in range(row.size):
        r = row[i]
        if r < 0:
            continue
        add(hi, lo, r, 0, 1.0, 0.0)
        add(hi, lo, r, 1, x[i], 0.0)
        add(hi, lo, r, 2, y[i], 0.0)
        add(hi, lo, r, 3, x[i] * x[i], 0.0)
        add(hi, lo, r, 4, x[i] * y[i], 0.0)
        add(hi, lo, r, 5, y[i] * y[i], 0.0)


class SimexSums(double_double.Sums):
    """One binning's least-squares sums, double-double, indexed [bin, level, group, moment] (:data:`MOMENTS`)."""


def simex_sums(keys: np.ndarray, ra, dec, measure: DistanceMeasure, feh, binnings: tuple[gradients.Binning, ...],
               seed_key: np.uint64) -> list[SimexSums]:
    """One partition's least-squares sums for each binning, for every (zeta, replicate) of :func:`levels` and
    every jackknife group; each star adds to its bin's sums in the order of the rows."""
    ra, dec, feh = (np.asarray(v, dtype=float) for v in (ra, dec, feh))
    group = jackknife.groups(keys)
    los = frames.unit_vectors(ra, dec)[0]  # the directions, once for every level
    n_levels = len(levels())
    out = [SimexSums(*(np.zeros((len(b.edges) - 1, n_levels, jackknife.N_GROUPS, MOMENTS)) for _ in range(2)))
           for b in binnings]
    for level, (zeta, _) in enumerate(levels()):
        u = measure.u + np.sqrt(zeta) * measure.u_err * noise(keys, seed_key, level) if zeta else measure.u
        coords = _coordinates(los, distance_from_u(u, measure.kind))
        for sums, binning in zip(out, binnings):
            x = coords[binning.x]
            index = binning.index(coords[binning.by], x)
            usable = (index >= 0) & np.isfinite(x) & np.isfinite(feh)
            row = np.where(usable, (index * n_levels + level) * jackknife.N_GROUPS + group, -1)
            _accumulate(row, x, feh, sums.hi.reshape(-1, MOMENTS), sums.lo.reshape(-1, MOMENTS))
    return out


def _least_squares(hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary least-squares slopes and their standard errors from sums [..., moment] (NaN for fewer than 3 points
    or no spread in x)."""
    n, sx, sy, sxx, sxy, syy = np.moveaxis(hi, -1, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        vxx, vxy, vyy = sxx - sx * sx / n, sxy - sx * sy / n, syy - sy * sy / n
        m = vxy / vxx
        residual = np.maximum(vyy - m * vxy, 0.0) / (n - 2)
        error = np.sqrt(residual / vxx)
    defined = (n >= 3) & (vxx > DEGENERATE * sxx / np.maximum(n, 1))  # a spread beyond rounding's
    return np.where(defined, m, np.nan), np.where(defined, error, np.nan)


@dataclass(frozen=True)
class SimexEstimate:
    """The extrapolated slope, its jackknife error, and the naive slope of the measured data with its error."""

    m: float
    m_err: float
    naive: float
    naive_err: float


def _extrapolate(slopes: np.ndarray) -> float:
    """The quadratic in zeta through the naive slopes by level (averaged over replicates), at zeta = -1."""
    if not np.isfinite(slopes).all():
        return np.nan
    zetas = np.array([zeta for zeta, _ in levels()])
    grid = np.array([0.0, *ZETAS])
    means = np.array([slopes[zetas == z].mean() for z in grid])
    return float(np.polyval(np.polyfit(grid, means, 2), -1.0))


def _estimate(m: float, left_out: np.ndarray, naive: float, naive_err: float) -> SimexEstimate:
    """A bin's estimate from its extrapolated slope and those without each group."""
    if not (np.isfinite(m) and np.isfinite(left_out).all()):  # no slope without its error
        return SimexEstimate(np.nan, np.nan, naive, naive_err)
    return SimexEstimate(m, float(jackknife.error(left_out)), naive, naive_err)


def estimate(sums: SimexSums) -> list[SimexEstimate]:
    """Every bin's SIMEX slope, with the delete-a-group jackknife error."""
    slopes, errors = _least_squares(jackknife.total(sums.hi, sums.lo, list(range(jackknife.N_GROUPS))))  # [bin, level]
    left_out = np.moveaxis(_least_squares(jackknife.left_out(sums.hi, sums.lo))[0], -1, -2)  # [bin, group, level]
    return [_estimate(_extrapolate(slopes[k]), np.array([_extrapolate(s) for s in left_out[k]]),
                      float(slopes[k, 0]), float(errors[k, 0])) for k in range(len(slopes))]
