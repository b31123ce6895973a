"""Gradient fits of catalogues larger than memory: per-bin sums that add up across partitions.

The grouped likelihood of :class:`galchem.analysis.line_likelihood.LineData` needs,
per error group, the number of points n, the mean variances dbar and the
sums uu, uu dd, uu dd dd and dd dd of the deviations dd = d - dbar.  All of
them follow from *raw* moments, which add up across partitions:

    S0 = n,  Sd = sum d,  Suu = sum u u,  Suud = sum u u d,  Suudd = sum u u d d,  Sdd = sum d d

(u = (1, x, y), d = (x_err^2, 0, y_err^2)): dbar = Sd / n, sum uu dd =
Suud - Suu dbar, and so on (:func:`line_data`).  Each partition adds its
stars into these sums in **double-double** arithmetic
(:mod:`galchem.analysis.double_double`: a sum and its exact rounding error), partitions' sums are added the same
way, and each sum is rounded to a double once, at the end: so the result
does not depend on how the stars were split into partitions or in which
order the partial sums were added.

Bins with at most :data:`galchem.analysis.fitting.GROUPED_ABOVE` stars are
fitted exactly, star by star, as :func:`galchem.analysis.fitting.fit_line`
does: their points are gathered too (never more than that many per bin)
and sorted by id before the fit.

The corrected line (:mod:`galchem.analysis.marginal_slope`) and SIMEX
(:mod:`galchem.analysis.simex`) come from sums of their own, made in the
same pass; :func:`fit_binned` puts every bin's together.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from galchem.analysis import gradients, marginal_slope
from galchem.analysis.double_double import add
from galchem.analysis.fitting import GROUPED_ABOVE, LineFit, fit_line, fit_line_data
from galchem.analysis.line_likelihood import BINS_PER_DEX, DEFAULT_BOUNDS, LineData
from galchem.analysis.posterior import Posterior
from galchem.data.ids import id_keys
from galchem.errors import FitError

__all__ = ["BinSums", "N_TERMS", "bin_sums", "fit_binned", "fit_sums", "fit_table", "line_data", "merge",
           "start_guess", "table_shares"]

N_TERMS = 1 + 3 + 9 + 27 + 81 + 9
"""Raw moments per group: n, Sd (3), Suu (9), Suud (27), Suudd (81), Sdd (9), in this order."""

POINT_COLUMNS = ("id", "x", "y", "x_err", "y_err")

FIT_THREADS = os.cpu_count() or 1
"""Bins fitted at once (one thread each)."""


@numba.njit(cache=True, nogil=True)
def _accumulate(group, x, y, sx2, sy2, hi, lo):  # pragma: no cover - compiled
    """Add every point's raw moments into its group's double-double sums (no fastmath: TwoSum needs exact IEEE)."""
    u = np.empty(3)
    d = np.empty(3)
    for i in range(x.size):
        g = group[i]
        u[0], u[1], u[2] = 1.0, x[i], y[i]
        d[0], d[1], d[2] = sx2[i], 0.0, sy2[i]
        add(hi, lo, g, 0, 1.0, 0.0)
        for a in range(3):
            add(hi, lo, g, 1 + a, d[a], 0.0)
            add(hi, lo, g, 121 + 3 * a, d[a] * d[0], 0.0)
            add(hi, lo, g, 122 + 3 * a, d[a] * d[1], 0.0)
            add(hi, lo, g, 123 + 3 * a, d[a] * d[2], 0.0)
            for b in range(3):
                uu = u[a] * u[b]
                ab = 3 * a + b
                add(hi, lo, g, 4 + ab, uu, 0.0)
                for c in range(3):
                    uud = uu * d[c]
                    add(hi, lo, g, 13 + 3 * ab + c, uud, 0.0)
                    for e in range(3):
                        add(hi, lo, g, 40 + 9 * ab + 3 * c + e, uud * d[e], 0.0)


@numba.njit(cache=True, nogil=True)
def _merge_into(index, hi_src, lo_src, hi, lo):  # pragma: no cover - compiled
    """Add the double-double rows of a partial result into rows ``index`` of the total."""
    for r in range(index.size):
        for t in range(hi_src.shape[1]):
            add(hi, lo, index[r], t, hi_src[r, t], lo_src[r, t])


@dataclass(frozen=True)
class BinSums:
    """One bin's raw moments per error group (double-double), its count, and its points while they are few."""

    keys: np.ndarray  # (K, 2) error-group keys, sorted
    hi: np.ndarray  # (K, N_TERMS) sums, rounded
    lo: np.ndarray  # (K, N_TERMS) their rounding errors
    n: int
    points: pd.DataFrame | None  # POINT_COLUMNS, while n <= GROUPED_ABOVE
    invalid: int = 0  # points with a non-finite value or a non-positive error (left out of the sums)


def _keys(x_err: np.ndarray, y_err: np.ndarray) -> np.ndarray:
    """Error-group keys, as :meth:`LineData.from_points` makes them."""
    return np.stack([np.floor(np.log10(e) * BINS_PER_DEX) for e in (x_err, y_err)], axis=1).astype(np.int64)


def _unique_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of (K, 2) error-group keys in lexicographic order, and each row's place among them.

    What ``np.unique(keys, axis=0, return_inverse=True)`` gives, much faster: each row as one int64, the first key
    in the high 32 bits and the second offset by 2^31 in the low ones, which keeps the order (a key is at most
    |log10| 324 of a positive double times :data:`BINS_PER_DEX`, far inside 32 bits).
    """
    combined = (keys[:, 0] << 32) + (keys[:, 1] + 2**31)
    unique, index = np.unique(combined, return_inverse=True)
    return np.stack([unique >> 32, (unique & 0xFFFFFFFF) - 2**31], axis=1), index.astype(np.int64)


def _fittable(x: np.ndarray, y: np.ndarray, x_err: np.ndarray, y_err: np.ndarray) -> np.ndarray:
    """The points a fit can use: every value finite and both errors positive."""
    return np.isfinite(x) & np.isfinite(y) & np.isfinite(x_err) & np.isfinite(y_err) & (x_err > 0) & (y_err > 0)


def bin_sums(ids: np.ndarray, x, y, x_err, y_err) -> BinSums:
    """The sums of one bin's points (one partition's share of them)."""
    x, y, x_err, y_err = (np.ascontiguousarray(v, dtype=np.float64) for v in (x, y, x_err, y_err))
    good = _fittable(x, y, x_err, y_err)
    invalid = int(np.count_nonzero(~good))
    ids, x, y, x_err, y_err = (np.asarray(v)[good] for v in (ids, x, y, x_err, y_err))
    keys, group = _unique_keys(_keys(x_err, y_err))
    hi, lo = np.zeros((len(keys), N_TERMS)), np.zeros((len(keys), N_TERMS))
    _accumulate(group, x, y, x_err**2, y_err**2, hi, lo)
    n = int(x.size)
    points = (pd.DataFrame(dict(zip(POINT_COLUMNS, (ids, x, y, x_err, y_err)))) if n <= GROUPED_ABOVE else None)
    return BinSums(keys, hi, lo, n, points, invalid)


def merge(a: BinSums, b: BinSums) -> BinSums:
    """The sums of two sets of points (two partitions' shares of a bin)."""
    keys, index = _unique_keys(np.concatenate([a.keys, b.keys]))
    hi, lo = np.zeros((len(keys), N_TERMS)), np.zeros((len(keys), N_TERMS))
    _merge_into(index[: len(a.keys)], a.hi, a.lo, hi, lo)
    _merge_into(index[len(a.keys):], b.hi, b.lo, hi, lo)
    n = a.n + b.n
    few = n <= GROUPED_ABOVE and a.points is not None and b.points is not None
    points = pd.concat([a.points, b.points], ignore_index=True) if few else None
    return BinSums(keys, hi, lo, n, points, a.invalid + b.invalid)


def line_data(sums: BinSums) -> LineData:
    """The grouped likelihood's sufficient statistics (:class:`LineData`) from the raw moments."""
    s = sums.hi
    k = len(s)
    n = s[:, 0]
    dbar = s[:, 1:4] / n[:, None]
    uu = s[:, 4:13]
    suud = s[:, 13:40].reshape(k, 9, 3)
    suudd = s[:, 40:121].reshape(k, 9, 3, 3)
    uud = suud - uu[:, :, None] * dbar[:, None, :]
    uudd = (suudd - suud[:, :, :, None] * dbar[:, None, None, :] - suud[:, :, None, :] * dbar[:, None, :, None]
            + uu[:, :, None, None] * dbar[:, None, :, None] * dbar[:, None, None, :])
    dd2 = s[:, 121:130].reshape(k, 3, 3) - n[:, None, None] * dbar[:, :, None] * dbar[:, None, :]
    rows = (dbar, uu, uud.reshape(k, 27), uudd.reshape(k, 81), dd2.reshape(k, 9))
    return LineData(n, *(np.ascontiguousarray(v.T) for v in rows))  # one contiguous row per moment


def start_guess(sums: BinSums) -> np.ndarray:
    """Ordinary least squares (m, b) and half the residual spread, from the sums (as ``fit_line`` starts)."""
    total = sums.hi[:, 4:13].sum(axis=0)  # n, Sx, Sy, Sx, Sxx, Sxy, Sy, Sxy, Syy
    n, sx, sy, sxx, sxy, syy = total[0], total[1], total[2], total[4], total[5], total[8]
    m = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    b = (sy - m * sx) / n
    residual = (syy - 2 * m * sxy - 2 * b * sy + m * m * sxx + 2 * m * b * sx + b * b * n) / n
    return np.array([m, b, np.sqrt(max(residual, 0.0)) / 2])


def fit_sums(sums: BinSums, *, n_walkers: int, n_steps: int, max_steps: int, seed: np.random.Generator) -> LineFit:
    """The line fit of a set of points from its sums: on the points (sorted by id) while they are few, else on the
    grouped likelihood of the sums (never an array per point, unlike :meth:`LineData.from_points`)."""
    if sums.invalid:
        raise FitError(f"{sums.invalid} point(s) with a non-finite value or a non-positive error cannot be fitted")
    options = {"n_walkers": n_walkers, "n_steps": n_steps, "max_steps": max_steps, "seed": seed}
    if sums.points is not None:
        points = sums.points.sort_values("id", kind="stable")
        return fit_line(points["x"], points["y"], points["x_err"], points["y_err"], bounds=DEFAULT_BOUNDS, **options)
    return fit_line_data(line_data(sums), start_guess(sums), **options)


def table_shares(table: pd.DataFrame, binning: gradients.Binning) -> list[BinSums]:
    """Every bin's sums of ``table`` (a sample's rows) as measured."""
    coords = gradients.coordinates(table)
    feh, feh_err, ids = table["feh"].to_numpy(), table["feh_err"].to_numpy(), table["id"].to_numpy()
    index = gradients.bin_index(table, binning)
    x, x_err = coords[binning.x].to_numpy(), coords[f"{binning.x}_err"].to_numpy()
    shares = []
    for k in range(len(binning.edges) - 1):
        inside = index == k
        shares.append(bin_sums(ids[inside], x[inside], feh[inside], x_err[inside], feh_err[inside]))
    return shares


def fit_binned(shares: list[BinSums], binning: gradients.Binning, *, min_stars: int, n_walkers: int, n_steps: int,
               max_steps: int, seed: np.random.SeedSequence, corrected: list[marginal_slope.MarginalEstimate] | None,
               simex: list | None, absent: str) -> gradients.Gradients:
    """Fit every bin with at least ``min_stars`` stars from its sums: the one loop over bins, whether the stars
    were in memory (:func:`fit_table`) or spread over a catalogue's partitions.

    Bin ``k`` draws from child ``k`` of ``seed`` (spawning the flat fit's
    stream and the kept draws').  ``shares[k]`` holds its sums as measured,
    ``corrected[k]`` its corrected line (None: none, for the reason
    ``absent``, :data:`~galchem.analysis.gradients.NO_PRIOR` or
    :data:`~galchem.analysis.gradients.NOT_ASKED`), ``simex[k]`` its SIMEX
    estimate (None: no cross-check).

    The bins are fitted in :data:`FIT_THREADS` threads (the compiled
    sampler releases the GIL); each bin's streams are its own, so the fits
    do not depend on the thread count.
    """
    options = {"n_walkers": n_walkers, "n_steps": n_steps, "max_steps": max_steps}

    def fit_bin(k: int) -> gradients.BinFit:
        part = shares[k]
        head = (binning.edges[k], binning.edges[k + 1], float(binning.centers[k]), part.n + part.invalid)
        if part.n + part.invalid < min_stars:
            return gradients.BinFit(*head, gradients.OUT_OF_RANGE if head[3] == 0 else gradients.TOO_FEW)
        stream = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k))
        fit_rng, draw_rng = (np.random.default_rng(s) for s in stream.spawn(2))
        fit = fit_sums(part, seed=fit_rng, **options)
        line, dominated = (None, 0) if corrected is None else (corrected[k].line, corrected[k].decided)
        chosen = draw_rng.choice(len(fit.samples), gradients.N_DRAWS, replace=False)
        return gradients.BinFit(*head, gradients.FITTED, Posterior.of(fit),
                                **gradients.corrected_fields(line, head[3], dominated,
                                                             None if simex is None else simex[k], absent),
                                draws=fit.samples[chosen])

    with ThreadPoolExecutor(max_workers=FIT_THREADS) as pool:
        return gradients.Gradients(binning, tuple(pool.map(fit_bin, range(len(shares)))))


def fit_table(table: pd.DataFrame, binning: gradients.Binning, *, moments: pd.DataFrame | None, simex: list | None,
              min_stars: int, n_walkers: int, n_steps: int, max_steps: int, seed: np.random.SeedSequence,
              absent: str) -> gradients.Gradients:
    """:func:`fit_binned` of a sample in memory (``moments``: its stars' posterior moments, or None)."""
    corrected = None
    if moments is not None:
        keys, index = id_keys(table["id"].to_numpy()), gradients.bin_index(table, binning)
        sums = marginal_slope.marginal_sums(keys, index, moments, table["feh"], table["feh_err"], binning)
        corrected = marginal_slope.estimate(sums)
    return fit_binned(table_shares(table, binning), binning, min_stars=min_stars, n_walkers=n_walkers,
                      n_steps=n_steps, max_steps=max_steps, seed=seed, corrected=corrected, simex=simex, absent=absent)
