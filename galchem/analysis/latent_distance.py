"""Each star's true R and |Z| given what was measured: one latent distance per star, a population prior per sky cell.

Why: a line fitted to noisy coordinates is attenuated (regression dilution),
and the earlier correction -- a prior on the true x deconvolved from the
stars *inside* each bin -- over-corrects, because those bins are cut on the
observed coordinate (the in-bin distribution is truncated, which extreme
deconvolution does not model), R and Z share one distance error, |Z| folds
it, and distance errors are Gaussian in parallax, not in distance.

The model (regression calibration, Carroll et al. 2006, chapter 4):

* A star's true position is its line of sight (ra, dec: exact) times one
  distance d.  The measurement is a Gaussian likelihood in a variable u:
  u = parallax [mas] with ``parallax_error`` where the survey has a parallax
  (:data:`PARALLAX`), else u = ln(distance / kpc) with error
  (ln d_hi - ln d_lo) / 2 (:data:`LOG_DISTANCE`).
* The prior on the true u is the population's, per sky cell
  (:func:`sky_cells`): a Gaussian mixture fitted by extreme deconvolution
  in u -- exact there, the errors being Gaussian in u -- to the stars before
  the cuts that select on u (parallax and distance precision), so that it is
  not truncated by them (:func:`fit_prior`), on a bounded subsample chosen
  by SplitMix64-mixed id keys (:class:`PriorSample`): the same stars however
  the catalogue is partitioned.
* Per star, the posterior on u is a Gaussian mixture in closed form; the
  posterior mean and variance of R and of |Z| follow by Gauss-Hermite
  quadrature per component through the exact frame transformation (the
  position is affine in d), with nodes outside the physical range
  (0 < d < :data:`D_MAX_KPC`) dropped (:func:`posterior_moments`).

Because a bin selects stars on observed quantities only, E[[Fe/H] | obs] =
b + m E[x | obs] exactly for a line in the true x when the prior is the
population's, with variance m^2 Var[x | obs] + sigma_[Fe/H]^2 + scatter^2: so
the corrected fit is the flat likelihood of :mod:`galchem.analysis.fitting`
with x -> E[x | obs] and x_err -> sd[x | obs], bins still chosen by the
observed coordinate.  What it leaves out: the prior does not depend on the
error itself (it does, weakly, through the magnitude), and a line that is
not straight within the bin (the vertical gradient inside a |Z| slice)
correlates with the correction.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import astropy.coordinates as coord
import astropy.units as u_
import numba
import numpy as np
import pandas as pd

from galchem.analysis.deconvolution import XMixture, extreme_deconvolution
from galchem.data.ids import mixed_keys
from galchem.errors import GalchemError
from galchem.physics import frames

__all__ = ["D_MAX_KPC", "DistanceMeasure", "DistancePrior", "KINDS", "LOG_DISTANCE", "MIN_CELL_STARS", "N_CELLS",
           "PARALLAX", "PRIOR_COMPONENTS", "PRIOR_POINTS", "PriorSample", "distance_from_u", "distance_measure",
           "fit_prior", "galactic_lb", "posterior_moments", "prior_sample", "sample_moments", "sky_cells"]

PARALLAX, LOG_DISTANCE = "parallax", "log_distance"
KINDS = (PARALLAX, LOG_DISTANCE)
"""What u is: the parallax [mas], or ln(distance / kpc) for catalogues with distance percentiles only."""

D_MAX_KPC = 30.0
"""Largest distance a star can have [kpc] (as the mock's distance grid, :mod:`galchem.physics.distances`)."""

B_EDGES = (-90.0, -30.0, -12.0, 0.0, 12.0, 30.0, 90.0)
"""Galactic latitude edges of the sky cells [deg]."""

N_LONGITUDES = 4
"""Galactic longitude sectors of the sky cells, centred on l = 0, 90, 180 and 270 deg."""

N_CELLS = (len(B_EDGES) - 1) * N_LONGITUDES

PRIOR_POINTS = 20_000
"""Most stars per sky cell the prior is fitted to (the smallest mixed id keys): bounded cost, fair subsample."""

MIN_CELL_STARS = 500
"""Fewest stars a sky cell needs for a prior of its own; a sparser cell uses the all-sky prior."""

PRIOR_COMPONENTS = 4
"""Gaussian components of each cell's prior in u."""

GAUSS_HERMITE_NODES = 24
"""Quadrature nodes per posterior component."""


class DistanceMeasure(NamedTuple):
    """The distance measurement of N stars: u and its Gaussian error, and what u is (:data:`KINDS`)."""

    u: np.ndarray
    u_err: np.ndarray
    kind: str


def distance_measure(table: pd.DataFrame, has_parallax: bool) -> DistanceMeasure:
    """u and its error from a canonical table: the parallax if the survey has one, else ln(distance) from its
    16th and 84th percentiles [kpc]."""
    if has_parallax:
        return DistanceMeasure(table["parallax"].to_numpy(dtype=float), table["parallax_error"].to_numpy(dtype=float),
                               PARALLAX)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = (np.log(table[c].to_numpy(dtype=float)) for c in ("distance_lo", "distance_hi"))
        return DistanceMeasure(np.log(table["distance"].to_numpy(dtype=float)), 0.5 * (hi - lo), LOG_DISTANCE)


def distance_from_u(u: np.ndarray, kind: str) -> np.ndarray:
    """Distance [kpc] at u (NaN where u is not physical: a parallax at or below zero)."""
    u = np.asarray(u, dtype=float)
    if kind == PARALLAX:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(u > 0, 1.0 / u, np.nan)
    return np.exp(u)


@lru_cache(maxsize=1)
def _icrs_to_galactic() -> np.ndarray:
    """astropy's rotation from ICRS to Galactic unit vectors (read off three unit vectors)."""
    icrs = coord.SkyCoord(coord.CartesianRepresentation(np.eye(3) * u_.one), frame="icrs")
    return icrs.transform_to(coord.Galactic()).cartesian.xyz.value


def galactic_lb(ra, dec) -> tuple[np.ndarray, np.ndarray]:
    """Galactic longitude in [0, 360) and latitude [deg] of ICRS ``ra``, ``dec`` [deg]."""
    los = frames.unit_vectors(np.asarray(ra, dtype=float), np.asarray(dec, dtype=float))[0]
    x, y, z = np.tensordot(_icrs_to_galactic(), los, axes=1)
    return np.rad2deg(np.arctan2(y, x)) % 360.0, np.rad2deg(np.arcsin(np.clip(z, -1.0, 1.0)))


def sky_cells(ra, dec) -> np.ndarray:
    """Each star's sky cell: a band of Galactic latitude (:data:`B_EDGES`) times a quadrant of longitude."""
    l, b = galactic_lb(ra, dec)
    band = np.clip(np.digitize(b, B_EDGES) - 1, 0, len(B_EDGES) - 2)
    sector = (np.floor((l + 180.0 / N_LONGITUDES) / (360.0 / N_LONGITUDES)) % N_LONGITUDES).astype(np.int64)
    return band * N_LONGITUDES + sector


@dataclass(frozen=True)
class PriorSample:
    """Per sky cell, the stars with the smallest mixed id keys (up to :data:`PRIOR_POINTS`), and every cell's count."""

    order: np.ndarray  # mixed id keys (uint64)
    cell: np.ndarray
    u: np.ndarray
    u_err: np.ndarray
    counts: np.ndarray  # (N_CELLS,) stars per cell, all of them

    @classmethod
    def of(cls, keys: np.ndarray, cell: np.ndarray, u: np.ndarray, u_err: np.ndarray) -> PriorSample:
        """One partition's share (``keys``: the stars' id keys); stars without a usable u are left out."""
        good = np.isfinite(u) & np.isfinite(u_err) & (u_err > 0)
        cell = np.asarray(cell)[good]
        return cls._first(mixed_keys(np.asarray(keys)[good]), cell, np.asarray(u, dtype=float)[good],
                          np.asarray(u_err, dtype=float)[good], np.bincount(cell, minlength=N_CELLS))

    @classmethod
    def _first(cls, order, cell, u, u_err, counts) -> PriorSample:
        chosen = np.lexsort((u_err, u, order, cell))  # ties broken by value: no dependence on input order
        sorted_cells = cell[chosen]
        first = np.arange(sorted_cells.size) - np.searchsorted(sorted_cells, sorted_cells, side="left") < PRIOR_POINTS
        keep = chosen[first]
        return cls(order[keep], cell[keep], u[keep], u_err[keep], counts)

    def merge(self, other: PriorSample) -> PriorSample:
        """Two partitions' shares together."""
        joined = (np.concatenate([a, b]) for a, b in ((self.order, other.order), (self.cell, other.cell),
                                                      (self.u, other.u), (self.u_err, other.u_err)))
        return PriorSample._first(*joined, self.counts + other.counts)

    def pooled(self) -> tuple[np.ndarray, np.ndarray]:
        """u and u_err of an all-sky subsample: from each cell its share of :data:`PRIOR_POINTS` by its count."""
        share = np.floor(PRIOR_POINTS * self.counts / max(int(self.counts.sum()), 1)).astype(np.int64)
        start = np.searchsorted(self.cell, np.arange(N_CELLS), side="left")
        rank = np.arange(self.cell.size) - start[self.cell]
        take = rank < share[self.cell]
        return self.u[take], self.u_err[take]


def prior_sample(ids_keys: np.ndarray, ra, dec, measure: DistanceMeasure) -> PriorSample:
    """One partition's share of the prior's subsample, from the stars' id keys, sky positions and distance measure."""
    return PriorSample.of(ids_keys, sky_cells(ra, dec), measure.u, measure.u_err)


@dataclass(frozen=True)
class DistancePrior:
    """The population's distribution of the true u per sky cell: Gaussian mixtures as (N_CELLS, K) arrays."""

    kind: str
    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    own: np.ndarray  # (N_CELLS,) True where the cell has its own prior, False where it uses the all-sky one
    converged: bool

    TABLE_COLUMNS = ("cell", "component", "weight", "mean", "variance", "own", "kind", "converged")

    @classmethod
    def empty_table(cls) -> pd.DataFrame:
        """The cache's form of no prior at all."""
        return pd.DataFrame({name: pd.Series(dtype=object if name == "kind" else float) for name in cls.TABLE_COLUMNS})

    def to_table(self) -> pd.DataFrame:
        """One row per cell and component (the cache's form)."""
        cells, comps = np.indices(self.weights.shape)
        return pd.DataFrame({"cell": cells.ravel(), "component": comps.ravel(), "weight": self.weights.ravel(),
                             "mean": self.means.ravel(), "variance": self.variances.ravel(),
                             "own": np.repeat(self.own, self.weights.shape[1]), "kind": self.kind,
                             "converged": self.converged})

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> DistancePrior:
        """Rebuild from :meth:`to_table`."""
        table = table.sort_values(["cell", "component"])
        k = int(table["component"].max()) + 1

        def grid(name: str) -> np.ndarray:
            return table[name].to_numpy(dtype=float).reshape(-1, k)

        return cls(str(table["kind"].iloc[0]), grid("weight"), grid("mean"), grid("variance"),
                   table["own"].to_numpy(dtype=bool).reshape(-1, k)[:, 0], bool(table["converged"].iloc[0]))

    def posterior(self, cell: np.ndarray, u: np.ndarray, u_err: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per star and component, shape (N, K): the probability, mean and variance of the true u given u_i."""
        w, mu, V = self.weights[cell], self.means[cell], self.variances[cell]
        s2 = (np.asarray(u_err, dtype=float) ** 2)[:, None]
        total = V + s2
        offset = np.asarray(u, dtype=float)[:, None] - mu
        with np.errstate(divide="ignore"):
            log_r = np.log(w) - 0.5 * (np.log(total) + offset**2 / total)
        log_r -= log_r.max(axis=1, keepdims=True)
        r = np.exp(log_r)
        r /= r.sum(axis=1, keepdims=True)
        gain = V / total
        return r, mu + gain * offset, gain * s2


def _mixture(u: np.ndarray, u_err: np.ndarray) -> XMixture:
    return extreme_deconvolution(u, u_err, PRIOR_COMPONENTS)


def fit_prior(sample: PriorSample, kind: str) -> DistancePrior:
    """Extreme deconvolution in u per sky cell (cells with fewer than :data:`MIN_CELL_STARS` stars in the
    subsample take the all-sky mixture)."""
    if kind not in KINDS:
        raise GalchemError(f"a distance measure is one of {', '.join(KINDS)}, not {kind!r}")
    pooled_u, pooled_err = sample.pooled()
    if pooled_u.size < MIN_CELL_STARS:
        raise GalchemError(f"the distance prior needs at least {MIN_CELL_STARS} stars with a usable "
                           f"{'parallax' if kind == PARALLAX else 'distance'}, got {pooled_u.size}")
    sky = _mixture(pooled_u, pooled_err)
    mixtures, own = [], np.zeros(N_CELLS, dtype=bool)
    for c in range(N_CELLS):
        inside = sample.cell == c
        own[c] = np.count_nonzero(inside) >= MIN_CELL_STARS
        mixtures.append(_mixture(sample.u[inside], sample.u_err[inside]) if own[c] else sky)
    weights, means, variances = (np.stack([getattr(m, name) for m in mixtures])
                                 for name in ("weights", "means", "variances"))
    return DistancePrior(kind, weights, means, variances, own, all(m.converged for m in mixtures))


def _directions(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per star, the Galactocentric direction of the line of sight (3, N) and the Sun's position (3,)."""
    matrix, offset, _ = frames.affine_map()
    los = frames.unit_vectors(ra, dec)[0]
    return np.tensordot(matrix, los, axes=1), offset


@numba.njit(cache=True, nogil=True)
def _position(g, offset, i, d):  # pragma: no cover - compiled
    """R and |Z| [kpc] of star ``i`` at distance ``d`` along its line of sight."""
    x = g[0, i] * d + offset[0]
    y = g[1, i] * d + offset[1]
    return np.sqrt(x * x + y * y), abs(g[2, i] * d + offset[2])


@numba.njit(cache=True, nogil=True, parallel=True)
def _quadrature(r, mean, var, nodes, node_weights, g, offset, parallax, u_min, u_max, out):  # pragma: no cover
    """Per star, the posterior mean and standard deviation of R and |Z| by Gauss-Hermite quadrature over each
    mixture component of the posterior on u (nodes outside [u_min, u_max] dropped): out[:, :4] = R, R_err, absZ,
    absZ_err.  Two passes over the nodes (the means, then the spreads about them), so no variance loses digits."""
    n, k = r.shape
    for i in numba.prange(n):
        s0 = s_R = s_Z = s_RR = s_ZZ = 0.0
        for second in (False, True):
            mean_R, mean_Z = (s_R / s0, s_Z / s0) if second else (0.0, 0.0)
            for c in range(k):
                width = np.sqrt(2.0 * var[i, c])
                for j in range(nodes.size):
                    u = mean[i, c] + width * nodes[j]
                    if not (u >= u_min if parallax else u <= u_max):
                        continue
                    w = r[i, c] * node_weights[j]
                    radius, height = _position(g, offset, i, 1.0 / u if parallax else np.exp(u))
                    if second:
                        s_RR += w * (radius - mean_R) ** 2
                        s_ZZ += w * (height - mean_Z) ** 2
                    else:
                        s0 += w
                        s_R += w * radius
                        s_Z += w * height
        out[i, 0] = s_R / s0
        out[i, 1] = np.sqrt(max(s_RR / s0, 0.0))
        out[i, 2] = s_Z / s0
        out[i, 3] = np.sqrt(max(s_ZZ / s0, 0.0))


def posterior_moments(prior: DistancePrior, ra, dec, measure: DistanceMeasure) -> pd.DataFrame:
    """Posterior mean and standard deviation of R and |Z| [kpc] per star, and the data's weight.

    Columns ``R``, ``R_err``, ``absZ``, ``absZ_err`` and ``data_weight`` =
    sum_k r_k V_k / (V_k + u_err^2), the share of the posterior mean that
    comes from the measurement (1: the prior adds nothing; near 0: the prior
    decides).  The quadrature is compiled, one star per task.
    Rows where u is unusable are NaN.
    """
    if measure.kind != prior.kind:
        raise GalchemError(f"the prior is in {prior.kind} but the measure in {measure.kind}")
    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    n = ra.size
    out = np.full((n, 5), np.nan)
    nodes, node_weights = np.polynomial.hermite.hermgauss(GAUSS_HERMITE_NODES)
    node_weights = node_weights / np.sqrt(np.pi)
    good = np.flatnonzero(np.isfinite(measure.u) & np.isfinite(measure.u_err) & (measure.u_err > 0) & np.isfinite(ra))
    if good.size:
        r, mean, var = prior.posterior(sky_cells(ra[good], dec[good]), measure.u[good], measure.u_err[good])
        g, offset = _directions(ra[good], dec[good])
        moments = np.empty((good.size, 4))
        _quadrature(r, mean, var, nodes, node_weights, np.ascontiguousarray(g), offset, prior.kind == PARALLAX,
                    1.0 / D_MAX_KPC, np.log(D_MAX_KPC), moments)
        out[good, :4] = moments
        out[good, 4] = np.sum(r * var, axis=1) / measure.u_err[good] ** 2  # sum_k r_k V_k / (V_k + s^2)
    return pd.DataFrame(out, columns=["R", "R_err", "absZ", "absZ_err", "data_weight"])


def sample_moments(prior: DistancePrior, sample: pd.DataFrame) -> pd.DataFrame:
    """:func:`posterior_moments` of an analysed sample's rows (columns ``ra``, ``dec``, ``distance_u`` and
    ``distance_u_err``), in its order."""
    measure = DistanceMeasure(sample["distance_u"].to_numpy(dtype=float), sample["distance_u_err"].to_numpy(dtype=float),
                              prior.kind)
    return posterior_moments(prior, sample["ra"].to_numpy(dtype=float), sample["dec"].to_numpy(dtype=float), measure)
