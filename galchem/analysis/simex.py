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
(:func:`galchem.analysis.line_sums.bin_sums`): the estimate does not depend
on how the catalogue is partitioned.

The error is a delete-a-group jackknife (:data:`N_GROUPS` groups of stars
by their mixed id keys, Kott 2001): the whole estimate -- re-binning,
extra noise and extrapolation -- is repeated without each group, so it
carries the sampling error, the changing bin membership and the Monte Carlo
noise together.  What SIMEX cannot undo: the
sample's own cuts on u (parallax and distance precision) were made on the
measured u, and the extrapolation is quadratic where the true curve is not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galchem.analysis import gradients, line_sums
from galchem.analysis.latent_distance import DistanceMeasure, distance_from_u
from galchem.data.ids import GOLDEN, mixed_keys
from galchem.physics import frames

__all__ = ["N_GROUPS", "N_REPLICATES", "SimexEstimate", "ZETAS", "estimate", "levels", "merge", "noise", "simex_sums"]

ZETAS = (0.5, 1.0, 1.5, 2.0)
"""Extra error variances, in units of each star's own u_err^2."""

N_REPLICATES = 4
"""Noisy copies of the data per zeta."""

N_GROUPS = 8
"""Groups of stars (by mixed id key) for the jackknife error."""


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


def _coordinates(ra: np.ndarray, dec: np.ndarray, distance: np.ndarray) -> dict[str, np.ndarray]:
    """R and |Z| [kpc] at ``distance`` (NaN where it is NaN)."""
    position = frames.icrs_to_position(ra, dec, np.nan_to_num(distance, nan=1.0))
    bad = ~np.isfinite(distance)
    return {"R": np.where(bad, np.nan, position.R), "absZ": np.where(bad, np.nan, np.abs(position.Z))}


Sums = list[list[list[list[line_sums.BinSums]]]]
"""Least-squares sums by [binning][bin][level][group]."""


def simex_sums(keys: np.ndarray, ids: np.ndarray, ra, dec, measure: DistanceMeasure, feh,
               binnings: tuple[gradients.Binning, ...], seed_key: np.uint64) -> Sums:
    """One partition's least-squares sums, [binning][bin][level][group], for every (zeta, replicate) of
    :func:`levels` and every jackknife group (no points kept: only the sums are needed)."""
    ra, dec, feh = (np.asarray(v, dtype=float) for v in (ra, dec, feh))
    ones = np.ones_like(feh)
    group = (mixed_keys(keys) % np.uint64(N_GROUPS)).astype(np.int64)
    out: Sums = [[[] for _ in range(len(b.edges) - 1)] for b in binnings]
    for level, (zeta, _) in enumerate(levels()):
        u = measure.u + np.sqrt(zeta) * measure.u_err * noise(keys, seed_key, level) if zeta else measure.u
        coords = _coordinates(ra, dec, distance_from_u(u, measure.kind))
        for b, binning in enumerate(binnings):
            index = binning.index(coords[binning.by], coords[binning.x])
            for k in range(len(binning.edges) - 1):
                per_group = []
                for g in range(N_GROUPS):
                    inside = (index == k) & (group == g)
                    sums = line_sums.bin_sums(ids[inside], coords[binning.x][inside], feh[inside], ones[inside],
                                              ones[inside])
                    per_group.append(line_sums.BinSums(sums.keys, sums.hi, sums.lo, sums.n, None, sums.invalid))
                out[b][k].append(per_group)
    return out


def merge(a: Sums, b: Sums) -> Sums:
    """Two partitions' SIMEX sums together."""
    return [[[[line_sums.merge(x, y) for x, y in zip(p, q)] for p, q in zip(one, two)] for one, two in zip(c, d)]
            for c, d in zip(a, b)]


def _least_squares(sums: line_sums.BinSums) -> tuple[float, float]:
    """Ordinary least-squares slope and its standard error, from a bin's sums (NaN for fewer than 3 points)."""
    total = sums.hi[:, 4:13].sum(axis=0) if len(sums.hi) else np.zeros(9)
    n, sx, sy, sxx, sxy, syy = total[0], total[1], total[2], total[4], total[5], total[8]
    if n < 3:
        return np.nan, np.nan
    vxx, vxy, vyy = sxx - sx * sx / n, sxy - sx * sy / n, syy - sy * sy / n
    if vxx <= 0:
        return np.nan, np.nan
    m = vxy / vxx
    residual = max(vyy - m * vxy, 0.0) / (n - 2)
    return m, float(np.sqrt(residual / vxx))


@dataclass(frozen=True)
class SimexEstimate:
    """The extrapolated slope, its jackknife error, and the naive slope of the measured data with its error."""

    m: float
    m_err: float
    naive: float
    naive_err: float


def _extrapolate(per_level: list[line_sums.BinSums]) -> float:
    """The quadratic in zeta through the naive slopes (averaged over replicates), at zeta = -1."""
    slopes = np.array([_least_squares(s)[0] for s in per_level])
    if not np.isfinite(slopes).all():
        return np.nan
    zetas = np.array([zeta for zeta, _ in levels()])
    grid = np.array([0.0, *ZETAS])
    means = np.array([slopes[zetas == z].mean() for z in grid])
    return float(np.polyval(np.polyfit(grid, means, 2), -1.0))


def _total(groups: list[line_sums.BinSums]) -> line_sums.BinSums:
    total = groups[0]
    for more in groups[1:]:
        total = line_sums.merge(total, more)
    return total


def estimate(per_level: list[list[line_sums.BinSums]]) -> SimexEstimate:
    """A bin's SIMEX slope from its sums by level and group, with the delete-a-group jackknife error."""
    whole = [_total(groups) for groups in per_level]
    naive, naive_err = _least_squares(whole[0])
    m = _extrapolate(whole)
    if not np.isfinite(m):
        return SimexEstimate(np.nan, np.nan, naive, naive_err)
    left_out = np.array([_extrapolate([_total(groups[:g] + groups[g + 1:]) for groups in per_level])
                         for g in range(N_GROUPS)])
    if not np.isfinite(left_out).all():
        return SimexEstimate(m, np.nan, naive, naive_err)
    error = np.sqrt((N_GROUPS - 1) / N_GROUPS * np.sum((left_out - left_out.mean()) ** 2))
    return SimexEstimate(m, float(error), naive, naive_err)
