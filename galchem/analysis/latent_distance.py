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
  (:func:`sky_cells`) and class of u's error (:data:`ERROR_CLASSES`): a
  Gaussian mixture fitted by extreme deconvolution
  in u -- exact there, the errors being Gaussian in u -- to the stars before
  the cuts that select on u (parallax and distance precision), so that it is
  not truncated by them (:func:`fit_prior`), on a bounded subsample chosen
  by SplitMix64-mixed id keys (:class:`PriorSample`): the same stars however
  the catalogue is partitioned.
* Per star, the posterior on u is a Gaussian mixture in closed form; the
  posterior mean and variance of R and of |Z| and their covariance follow by
  Gauss-Hermite quadrature per component through the exact frame
  transformation (the position is affine in d), with nodes outside the
  physical range (0 < d < :data:`D_MAX_KPC`) dropped (:func:`posterior_moments`).

Because a bin selects stars on observed quantities only, these moments are
what the corrected slope needs (:mod:`galchem.analysis.marginal_slope`).
What the prior leaves out: where in its sky cell a star lies, the star's
magnitude beyond what its parallax error tells, and, for distance
percentiles, the error altogether.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
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

__all__ = ["B_EDGES", "COARSE_B_EDGES", "D_MAX_KPC", "DistanceMeasure", "DistancePrior", "ERROR_CLASSES", "KINDS",
           "LOG_DISTANCE", "MIN_CELL_STARS", "MOMENT_COLUMNS", "N_CELLS", "N_LONGITUDES", "PARALLAX", "PRIOR_COMPONENTS",
           "PRIOR_POINTS", "PriorSample", "coarse_cells", "distance_from_u", "distance_measure", "fit_prior",
           "galactic_lb", "posterior_moments", "prior_sample", "sample_measure", "sample_moments", "sky_cells"]

PARALLAX, LOG_DISTANCE = "parallax", "log_distance"
KINDS = (PARALLAX, LOG_DISTANCE)
"""What u is: the parallax [mas], or ln(distance / kpc) for catalogues with distance percentiles only."""

D_MAX_KPC = 30.0
"""Largest distance a star can have [kpc] (as the mock's distance grid, :mod:`galchem.physics.distances`)."""

B_EDGES = (-90.0, -30.0, -12.0, -6.0, -3.0, -1.5, 0.0, 1.5, 3.0, 6.0, 12.0, 30.0, 90.0)
"""Galactic latitude edges of the sky cells [deg]: narrow near the plane, where the distances a line of sight
reaches change fastest with latitude (a line at b = 2 deg leaves a thin disk five times further out than one at
b = 10 deg).  With the bands of :data:`COARSE_B_EDGES` alone, the prior of a distant star near the plane mixed in
the nearer stars of higher latitudes and pulled it in: its R came out about 1 % too close to the mean (Gaia mock,
radial slices above the plane), and the corrected slopes by up to 1.8 errors."""

COARSE_B_EDGES = (-90.0, -30.0, -12.0, 0.0, 12.0, 30.0, 90.0)
"""Galactic latitude edges [deg] of the coarse cells whose pooled stars give the prior of a sky cell too sparse
for its own (each band of :data:`B_EDGES` lies in one of them)."""

N_LONGITUDES = 4
"""Galactic longitude sectors of the sky cells, centred on l = 0, 90, 180 and 270 deg."""

N_CELLS = (len(B_EDGES) - 1) * N_LONGITUDES

PRIOR_POINTS = 20_000
"""Most stars per sky cell the prior is fitted to (the smallest mixed id keys): bounded cost, fair subsample."""

MIN_CELL_STARS = 500
"""Fewest stars a sky cell needs for a prior of its own; a sparser cell takes its coarse cell's prior
(:data:`COARSE_B_EDGES`), or the all-sky one where that is sparse too."""

ERROR_CLASSES = 3
"""Classes of the parallax error (terciles per cell), each with a prior of its own: a star's parallax error tells
of its magnitude and so of its distance (fainter stars are further and have larger errors), and a prior blind to it
pulls the distant stars in.  Distance percentiles get one class: their spread grows with the quoted distance itself,
so it carries the measurement's noise, and a prior conditioned on it would count that noise twice."""

MIN_CLASS_STARS = 150
"""Fewest stars an error class needs for a mixture of its own; a smaller one takes its cell's whole mixture."""

PRIOR_COMPONENTS = 4
"""Gaussian components of each cell's prior in u."""

MOMENT_COLUMNS = ("R", "R_err", "absZ", "absZ_err", "R_absZ_cov", "R2_absZ", "absZ2_R", "data_weight")
"""The columns of :func:`posterior_moments`: posterior means and standard deviations of R and |Z| [kpc], their
covariance, the third central moments E[dR^2 d|Z|] and E[d|Z|^2 dR] [kpc^3] and the data's weight."""

QUADRATURE_CHUNK = 16_384
"""Stars per task of the compiled quadrature (tasks run on every core)."""

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


def coarse_cells() -> np.ndarray:
    """Per sky cell (:data:`N_CELLS`), its coarse cell: the band of :data:`COARSE_B_EDGES` holding its latitude band,
    times the same quadrant of longitude."""
    middles = 0.5 * (np.array(B_EDGES[:-1]) + np.array(B_EDGES[1:]))
    coarse_band = np.digitize(middles, COARSE_B_EDGES) - 1
    return (coarse_band[:, None] * N_LONGITUDES + np.arange(N_LONGITUDES)).ravel()


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

    def pooled(self, cells: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """u and u_err of a subsample of ``cells`` (default: the whole sky): from each its share of
        :data:`PRIOR_POINTS` by its count."""
        counts = self.counts if cells is None else np.where(np.isin(np.arange(N_CELLS), cells), self.counts, 0)
        share = np.floor(PRIOR_POINTS * counts / max(int(counts.sum()), 1)).astype(np.int64)
        start = np.searchsorted(self.cell, np.arange(N_CELLS), side="left")
        rank = np.arange(self.cell.size) - start[self.cell]
        take = rank < share[self.cell]
        return self.u[take], self.u_err[take]


def prior_sample(ids_keys: np.ndarray, ra, dec, measure: DistanceMeasure) -> PriorSample:
    """One partition's share of the prior's subsample, from the stars' id keys, sky positions and distance measure."""
    return PriorSample.of(ids_keys, sky_cells(ra, dec), measure.u, measure.u_err)


@dataclass(frozen=True)
class DistancePrior:
    """The population's distribution of the true u per sky cell and class of u's error: Gaussian mixtures as
    (N_CELLS, ERROR_CLASSES, K) arrays, and per cell the upper edges of its error classes."""

    kind: str
    weights: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    error_edges: np.ndarray  # (N_CELLS, classes - 1) u_err between error classes, ascending (none: one class)
    own: np.ndarray  # (N_CELLS,) True where the cell has its own prior, False where it borrows a wider one
    converged: bool

    TABLE_COLUMNS = ("cell", "error_class", "component", "weight", "mean", "variance", "error_to", "own", "kind",
                     "converged")

    @classmethod
    def empty_table(cls) -> pd.DataFrame:
        """The cache's form of no prior at all."""
        return pd.DataFrame({name: pd.Series(dtype=object if name == "kind" else float) for name in cls.TABLE_COLUMNS})

    def to_table(self) -> pd.DataFrame:
        """One row per cell, error class and component (the cache's form); ``error_to`` is the class's upper edge."""
        cells, classes, comps = np.indices(self.weights.shape)
        upper = np.concatenate([self.error_edges, np.full((len(self.error_edges), 1), np.inf)], axis=1)
        return pd.DataFrame({"cell": cells.ravel(), "error_class": classes.ravel(), "component": comps.ravel(),
                             "weight": self.weights.ravel(), "mean": self.means.ravel(),
                             "variance": self.variances.ravel(), "error_to": upper[cells, classes].ravel(),
                             "own": self.own[cells].ravel(), "kind": self.kind, "converged": self.converged})

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> DistancePrior:
        """Rebuild from :meth:`to_table`."""
        table = table.sort_values(["cell", "error_class", "component"])
        shape = (-1, int(table["error_class"].max()) + 1, int(table["component"].max()) + 1)

        def grid(name: str) -> np.ndarray:
            return table[name].to_numpy(dtype=float).reshape(shape)

        return cls(str(table["kind"].iloc[0]), grid("weight"), grid("mean"), grid("variance"),
                   grid("error_to")[:, :-1, 0], table["own"].to_numpy(dtype=bool).reshape(shape)[:, 0, 0],
                   bool(table["converged"].iloc[0]))

    def posterior(self, cell: np.ndarray, u: np.ndarray, u_err: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per star and component, shape (N, K): the probability, mean and variance of the true u given u_i."""
        u_err = np.asarray(u_err, dtype=float)
        error_class = np.sum(u_err[:, None] > self.error_edges[cell], axis=1)
        w, mu, V = (grid[cell, error_class] for grid in (self.weights, self.means, self.variances))
        s2 = (u_err**2)[:, None]
        total = V + s2
        offset = np.asarray(u, dtype=float)[:, None] - mu
        with np.errstate(divide="ignore"):
            log_r = np.log(w) - 0.5 * (np.log(total) + offset**2 / total)
        log_r -= log_r.max(axis=1, keepdims=True)
        r = np.exp(log_r)
        r /= r.sum(axis=1, keepdims=True)
        gain = V / total
        return r, mu + gain * offset, gain * s2


def _conditional(u: np.ndarray, u_err: np.ndarray, classes: int) -> tuple[np.ndarray, list[XMixture]]:
    """The error classes' edges (quantiles of u_err) and one mixture per class, by extreme deconvolution; a class
    with fewer than :data:`MIN_CLASS_STARS` stars (errors that hardly vary) takes the mixture of all of them."""
    edges = np.quantile(u_err, np.arange(1, classes) / classes)
    error_class = np.sum(u_err[:, None] > edges, axis=1)
    whole = None
    mixtures = []
    for q in range(classes):
        inside = error_class == q
        if np.count_nonzero(inside) >= MIN_CLASS_STARS:
            mixtures.append(extreme_deconvolution(u[inside], u_err[inside], PRIOR_COMPONENTS))
        else:
            whole = whole or extreme_deconvolution(u, u_err, PRIOR_COMPONENTS)
            mixtures.append(whole)
    return edges, mixtures


def fit_prior(sample: PriorSample, kind: str) -> DistancePrior:
    """Extreme deconvolution in u per sky cell and, for parallaxes, error class (a cell with fewer than
    :data:`MIN_CELL_STARS` stars in the subsample takes its coarse cell's mixtures, or the all-sky ones)."""
    if kind not in KINDS:
        raise GalchemError(f"a distance measure is one of {', '.join(KINDS)}, not {kind!r}")
    pooled_u, pooled_err = sample.pooled()
    if pooled_u.size < MIN_CELL_STARS:
        raise GalchemError(f"the distance prior needs at least {MIN_CELL_STARS} stars with a usable "
                           f"{'parallax' if kind == PARALLAX else 'distance'}, got {pooled_u.size}")
    classes = ERROR_CLASSES if kind == PARALLAX else 1
    own = np.bincount(sample.cell, minlength=N_CELLS) >= MIN_CELL_STARS
    coarse = coarse_cells()
    wider = {}  # the coarse cells some sparse cell borrows from: their pooled stars, where enough
    for group in np.unique(coarse[~own]):
        u, u_err = sample.pooled(np.flatnonzero(coarse == group))
        if u.size >= MIN_CELL_STARS:
            wider[group] = u, u_err
    fits = {("cell", c): (sample.u[sample.cell == c], sample.u_err[sample.cell == c]) for c in np.flatnonzero(own)}
    fits |= {("coarse", group): values for group, values in wider.items()}
    if any(coarse[c] not in wider for c in np.flatnonzero(~own)):
        fits[("sky",)] = pooled_u, pooled_err
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # the compiled fits release the GIL
        fitted = dict(zip(fits, pool.map(lambda values: _conditional(*values, classes), fits.values())))
    cells = [fitted[("cell", c)] if own[c] else fitted[("coarse", coarse[c])] if coarse[c] in wider
             else fitted[("sky",)] for c in range(N_CELLS)]
    weights, means, variances = (np.array([[getattr(m, name) for m in mixtures] for _, mixtures in cells])
                                 for name in ("weights", "means", "variances"))
    return DistancePrior(kind, weights, means, variances, np.array([edges for edges, _ in cells]), own,
                         all(m.converged for _, mixtures in cells for m in mixtures))


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


@numba.njit(cache=True, nogil=True)
def _quadrature(r, mean, var, nodes, node_weights, g, offset, parallax, u_min, u_max, start, stop, out
                ):  # pragma: no cover - compiled
    """Per star ``start`` ... ``stop - 1``, the posterior moments of :data:`MOMENT_COLUMNS` but the last, by
    Gauss-Hermite quadrature over each mixture component of the posterior on u (nodes outside [u_min, u_max]
    dropped).  Two passes over the nodes (the means, then the spreads about them), so no moment loses digits."""
    k = r.shape[1]
    for i in range(start, stop):
        s0 = s_R = s_Z = s_RR = s_ZZ = s_RZ = s_RRZ = s_ZZR = 0.0
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
                        s_RZ += w * (radius - mean_R) * (height - mean_Z)
                        s_RRZ += w * (radius - mean_R) ** 2 * (height - mean_Z)
                        s_ZZR += w * (height - mean_Z) ** 2 * (radius - mean_R)
                    else:
                        s0 += w
                        s_R += w * radius
                        s_Z += w * height
        out[i, 0] = s_R / s0
        out[i, 1] = np.sqrt(max(s_RR / s0, 0.0))
        out[i, 2] = s_Z / s0
        out[i, 3] = np.sqrt(max(s_ZZ / s0, 0.0))
        out[i, 4] = s_RZ / s0
        out[i, 5] = s_RRZ / s0
        out[i, 6] = s_ZZR / s0


def posterior_moments(prior: DistancePrior, ra, dec, measure: DistanceMeasure) -> pd.DataFrame:
    """Posterior mean and standard deviation of R and |Z| [kpc] per star, their covariance, and the data's weight.

    Columns ``R``, ``R_err``, ``absZ``, ``absZ_err``, ``R_absZ_cov`` [kpc^2] (R and |Z| follow from one
    distance, so they move together), the third central moments ``R2_absZ`` and ``absZ2_R`` [kpc^3] (a skewed
    distance posterior) and ``data_weight`` =
    sum_k r_k V_k / (V_k + u_err^2), the share of the posterior mean that
    comes from the measurement (1: the prior adds nothing; near 0: the prior
    decides).  The quadrature is compiled and runs in chunks of stars on every core.
    Rows where u is unusable are NaN.
    """
    if measure.kind != prior.kind:
        raise GalchemError(f"the prior is in {prior.kind} but the measure in {measure.kind}")
    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    n = ra.size
    out = np.full((n, len(MOMENT_COLUMNS)), np.nan)
    nodes, node_weights = np.polynomial.hermite.hermgauss(GAUSS_HERMITE_NODES)
    node_weights = node_weights / np.sqrt(np.pi)
    good = np.flatnonzero(np.isfinite(measure.u) & np.isfinite(measure.u_err) & (measure.u_err > 0) & np.isfinite(ra))
    if good.size:
        r, mean, var = prior.posterior(sky_cells(ra[good], dec[good]), measure.u[good], measure.u_err[good])
        g, offset = _directions(ra[good], dec[good])
        moments = np.empty((good.size, len(MOMENT_COLUMNS) - 1))
        g = np.ascontiguousarray(g)

        def run(start: int) -> None:
            _quadrature(r, mean, var, nodes, node_weights, g, offset, prior.kind == PARALLAX, 1.0 / D_MAX_KPC,
                        np.log(D_MAX_KPC), start, min(start + QUADRATURE_CHUNK, good.size), moments)

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # the kernel releases the GIL
            list(pool.map(run, range(0, good.size, QUADRATURE_CHUNK)))
        out[good, :-1] = moments
        out[good, -1] = np.sum(r * var, axis=1) / measure.u_err[good] ** 2  # sum_k r_k V_k / (V_k + s^2)
    return pd.DataFrame(out, columns=list(MOMENT_COLUMNS))


def sample_measure(sample: pd.DataFrame, kind: str) -> DistanceMeasure:
    """The distance measure an analysed sample carries (columns ``distance_u`` and ``distance_u_err``), of ``kind``."""
    return DistanceMeasure(sample["distance_u"].to_numpy(dtype=float), sample["distance_u_err"].to_numpy(dtype=float),
                           kind)


def sample_moments(prior: DistancePrior, sample: pd.DataFrame) -> pd.DataFrame:
    """:func:`posterior_moments` of an analysed sample's rows (columns ``ra``, ``dec``, ``distance_u`` and
    ``distance_u_err``), in its order."""
    return posterior_moments(prior, sample["ra"].to_numpy(dtype=float), sample["dec"].to_numpy(dtype=float),
                             sample_measure(sample, prior.kind))
