"""Azimuthal variations of [Fe/H] left over after the radial gradient (the study's section 4.2).

Two residuals, both *observed minus expected* (see :mod:`galchem.conventions`):

* :func:`residual_from_fit`: [Fe/H] minus the radial fit m R + b (Figure 5);
* :func:`delta_from_ring_mean`: [Fe/H] minus the mean [Fe/H] of all stars
  within ``width`` (0.2 kpc) in R of the star, ⟨δ[Fe/H]⟩ of Figure 6.

Beyond the study: :func:`permutation_test` asks whether ⟨δ[Fe/H]⟩(φ) varies
more than chance allows, and :func:`arm_contrast` whether stars inside the
Reid et al. (2014) arms are more metal-rich than those between them.  The
φ-bin means and the contrast accept any residual, in particular the one from a
smooth radial spline (:func:`galchem.analysis.radial_spline.spline_residuals`),
which a curved trend in R does not leak into.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from galchem.analysis import permutation
from galchem.analysis.arms import REID2014, Arm
from galchem.data.ids import seed_key
from galchem.physics.frames import reid_beta

__all__ = ["ArmContrast", "ArmGroups", "COMPUTED", "MEANS_COLUMNS", "MIN_ARM_STARS", "MIN_PER_BIN",
           "MIN_POPULATED_BINS", "PermutationTest", "arm_contrast", "arm_groups", "azimuthal_means",
           "delta_from_ring_mean", "in_arm", "means_variance", "permutation_test", "phi_edges", "residual_from_fit"]

MEANS_COLUMNS = ["r_lo", "r_hi", "phi_lo", "phi_hi", "phi_center", "n", "mean_delta", "sem"]
MIN_PER_BIN = 20
"""Fewest stars for a φ bin's mean to be reported (NaN below)."""


def residual_from_fit(table: pd.DataFrame, m: float, b: float) -> np.ndarray:
    """[Fe/H] - (m R + b) [dex]: positive where stars are more metal-rich than the radial fit predicts."""
    return table["feh"].to_numpy() - (float(m) * table["R"].to_numpy() + float(b))  # in the table's precision


CHUNK = 1 << 18
"""Stars per chunk where a per-star computation would otherwise make several temporaries as long as the sample."""


def delta_from_ring_mean(R: np.ndarray, feh: np.ndarray, width: float) -> np.ndarray:
    """[Fe/H] minus the mean [Fe/H] of all stars with |R' - R| <= ``width`` (the star included) [dex]."""
    R, feh = np.asarray(R), np.asarray(feh)
    order = np.argsort(R)
    sorted_R = R[order]
    cumulative = np.empty(R.size + 1)  # float64 whatever the input, so the window sums keep their digits
    cumulative[0] = 0.0
    for start in range(0, R.size, CHUNK):
        chunk = feh[order[start:start + CHUNK]]
        cumulative[start + 1:start + 1 + chunk.size] = cumulative[start] + np.cumsum(chunk, dtype=float)
    delta = np.empty(R.size, dtype=np.result_type(feh.dtype, np.float32))
    for start in range(0, R.size, CHUNK):  # the window sums in chunks: no index arrays as long as the sample
        rows = order[start:start + CHUNK]
        lo = np.searchsorted(sorted_R, sorted_R[start:start + CHUNK] - width, side="left")
        hi = np.searchsorted(sorted_R, sorted_R[start:start + CHUNK] + width, side="right")
        delta[rows] = feh[rows] - (cumulative[hi] - cumulative[lo]) / (hi - lo)
    return delta


def phi_edges(phi: np.ndarray, width_deg: float) -> np.ndarray:
    """Bin edges [rad] of ``width_deg`` covering the central 99 % of ``phi``, aligned on multiples of the width."""
    step = np.deg2rad(width_deg)
    lo, hi = np.nanpercentile(phi, [0.5, 99.5])
    return np.arange(np.floor(lo / step), np.ceil(hi / step) + 1) * step


def _binned_means(phi: np.ndarray, values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, ...]:
    """Count, mean and standard error of the finite ``values`` per φ bin."""
    index = np.digitize(phi, edges) - 1
    inside = (index >= 0) & (index < len(edges) - 1) & np.isfinite(values)
    k = len(edges) - 1
    n = np.bincount(index[inside], minlength=k).astype(float)
    total = np.bincount(index[inside], values[inside], minlength=k)
    total_sq = np.bincount(index[inside], values[inside] ** 2, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        var = (total_sq - n * mean**2) / (n - 1)
        sem = np.sqrt(var / n)
    few = n < MIN_PER_BIN
    mean[few], sem[few] = np.nan, np.nan
    return n, mean, sem


def azimuthal_means(table: pd.DataFrame, delta: np.ndarray, edges: np.ndarray,
                    annuli: tuple[tuple[float, float], ...]) -> pd.DataFrame:
    """⟨δ[Fe/H]⟩ and its standard error per φ bin in each annulus (columns :data:`MEANS_COLUMNS`).

    ``delta`` may be any residual; stars where it is NaN are left out.
    """
    R, phi = table["R"].to_numpy(), table["phi"].to_numpy()
    parts = []
    for r_lo, r_hi in annuli:
        ring = (R >= r_lo) & (R < r_hi)
        n, mean, sem = _binned_means(phi[ring], np.asarray(delta)[ring], edges)
        parts.append(pd.DataFrame({
            "r_lo": r_lo, "r_hi": r_hi, "phi_lo": edges[:-1], "phi_hi": edges[1:],
            "phi_center": 0.5 * (edges[:-1] + edges[1:]), "n": n.astype(int), "mean_delta": mean, "sem": sem,
        }))
    return pd.concat(parts, ignore_index=True)[MEANS_COLUMNS]


def means_variance(phi: np.ndarray, delta: np.ndarray, ring: np.ndarray, edges: np.ndarray) -> float:
    """Test statistic: the star-weighted variance of the binned mean δ over φ bins, summed over annuli.

    ``ring`` labels each star's annulus (-1: none).  Weighting by the bin
    counts makes bins with few stars (and noisy means) count less; bins with
    fewer than :data:`MIN_PER_BIN` stars take no part.
    """
    rings = np.unique(ring[ring >= 0])
    keep = np.isin(ring, rings)
    labels = np.searchsorted(rings, ring[keep])
    cells, weights = _cells(_phi_bins(phi[keep], edges), labels, len(rings), len(edges) - 1)
    return _variance_of(np.asarray(delta, dtype=float)[keep], cells, weights)


def _phi_bins(phi: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each star's φ bin (0 ... k-1), or k outside the edges."""
    k = len(edges) - 1
    index = np.digitize(phi, edges) - 1
    index[(index < 0) | (index >= k)] = k
    return index


def _cells(bins: np.ndarray, labels: np.ndarray, n_rings: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each star's (annulus, φ bin) cell as :func:`galchem.analysis.permutation.shuffled_variances` takes it, and
    the cells' counts shaped (annuli, bins), zeroed below :data:`MIN_PER_BIN`."""
    cells = np.where(bins < k, labels * k + bins, n_rings * k).astype(np.int32)
    counts = np.bincount(cells, minlength=n_rings * k + 1)[:-1].reshape(n_rings, k).astype(float)
    return cells, np.where(counts >= MIN_PER_BIN, counts, 0.0)


def _variance_of(delta: np.ndarray, cells: np.ndarray, weights: np.ndarray) -> float:
    """The statistic of ``delta`` (float64) as it lies, from :func:`_cells`' output."""
    return float(permutation.binned_variance(permutation.cell_sums(delta, cells, weights.size + 1), weights))


MIN_POPULATED_BINS = 4
"""Fewest φ bins with :data:`MIN_PER_BIN` stars (over the annuli) for the permutation test to be computed."""

MIN_ARM_STARS = 30
"""Fewest stars both inside and between the arms for the arm contrast to be computed."""

COMPUTED = "computed"


@dataclass(frozen=True)
class PermutationTest:
    """The observed statistic, the null distribution from the shuffles, the p-value and its status.

    When the data cannot support the test, ``p_value`` is None and ``status``
    says why ("not computed: ..."): a p-value is never reported for a
    statistic that is not a number.
    """

    observed: float
    null: np.ndarray
    p_value: float | None
    status: str = COMPUTED


def permutation_test(table: pd.DataFrame, delta: np.ndarray, edges: np.ndarray, *, n_permutations: int,
                     seed: int | np.random.SeedSequence, annuli: tuple[tuple[float, float], ...],
                     cell: tuple[float, float] = (0.2, 0.1)) -> PermutationTest:
    """Is there more azimuthal structure in ⟨δ[Fe/H]⟩(φ) than chance allows?

    The null hypothesis: at given R and |Z|, [Fe/H] does not depend on φ.
    Under it, shuffling the azimuths among stars in the same cell of R and
    |Z| (``cell`` = widths in kpc) changes nothing.  Keeping |Z| matters: a
    survey sees different heights in different directions, and the vertical
    gradient would otherwise pass for azimuthal structure.  Each block
    (a cell of R and |Z| within one annulus) has its stars' residuals
    permuted, which pairs them with the azimuths at random as shuffling the
    azimuths would.  The p-value is the share of ``n_permutations`` shuffles
    whose statistic (:func:`means_variance`) reaches the observed one,
    counting the observation itself (so it is never zero).  ``seed`` keys the
    shuffles' random streams (:func:`galchem.data.ids.seed_key`):
    the null distribution is the same whatever the number of threads.
    """
    R = table["R"].to_numpy()
    ring = np.full(len(R), -1, dtype=np.int8)
    for label, (r_lo, r_hi) in enumerate(annuli):
        ring[(R >= r_lo) & (R < r_hi)] = label
    keep = np.flatnonzero(ring >= 0)
    ring = ring[keep].astype(np.int64)
    k = len(edges) - 1
    cells, weights = _cells(_phi_bins(table["phi"].to_numpy()[keep], edges), ring, len(annuli), k)
    populated = int(np.count_nonzero(weights))
    delta = np.asarray(delta, dtype=float)[keep]
    observed = _variance_of(delta, cells, weights)
    if populated < MIN_POPULATED_BINS or not np.isfinite(observed):
        reason = (f"not computed: {populated} azimuth bin{'' if populated == 1 else 's'} with at least {MIN_PER_BIN} stars in the annuli "
                  f"({MIN_POPULATED_BINS} needed)")
        return PermutationTest(float("nan"), np.empty(0), None, reason)
    block = ((ring * 1_000_000 + np.floor(R[keep] / cell[0]).astype(np.int64)) * 100_000
             + np.floor(table["Z"].abs().to_numpy()[keep] / cell[1]).astype(np.int64))
    del keep
    order = np.argsort(block, kind="stable")
    starts = np.concatenate([[0], np.flatnonzero(np.diff(block[order])) + 1, [len(order)]])
    null = permutation.shuffled_variances(delta[order], cells[order], weights, starts, key=seed_key(seed),
                                          n_shuffles=n_permutations)
    p_value = (1 + np.count_nonzero(null >= observed)) / (1 + n_permutations)
    return PermutationTest(observed, null, p_value)


def in_arm(R: np.ndarray, phi: np.ndarray, arms: tuple[Arm, ...] = REID2014) -> np.ndarray:
    """True for positions within half an arm width (in R, at the same azimuth) of any arm's centre line.

    Only the arms' fitted azimuth ranges count, each taken once around the
    Galaxy (Reid's beta of :func:`galchem.physics.frames.reid_beta`).
    """
    R, beta = np.asarray(R, dtype=float), reid_beta(phi)
    inside = np.zeros(R.shape, dtype=bool)
    for arm in arms:
        inside |= _traced(beta, (arm,)) & (np.abs(R - arm.radius(beta)) <= arm.width / 2)
    return inside


def _traced(beta: np.ndarray, arms: tuple[Arm, ...]) -> np.ndarray:
    """True where at least one of ``arms`` is traced at Reid azimuth ``beta``."""
    return np.any([(beta >= arm.beta_range[0]) & (beta <= arm.beta_range[1]) for arm in arms], axis=0)


@dataclass(frozen=True)
class ArmGroups:
    """Each star's place relative to the arms, worked out once for all the residuals a run contrasts.

    ``traced``: the star lies at an azimuth where at least one arm is traced;
    ``inside``: it also lies within half an arm width of an arm's centre
    line (:func:`in_arm`).
    """

    traced: np.ndarray
    inside: np.ndarray


def arm_groups(table: pd.DataFrame, arms: tuple[Arm, ...] = REID2014) -> ArmGroups:
    """The :class:`ArmGroups` of the stars of ``table`` (columns R and phi)."""
    R, phi = table["R"].to_numpy(), table["phi"].to_numpy()
    traced, inside = np.empty(R.size, dtype=bool), np.empty(R.size, dtype=bool)
    for start in range(0, R.size, CHUNK):  # the arms' geometry a chunk at a time
        part = slice(start, start + CHUNK)
        traced[part] = _traced(reid_beta(phi[part]), arms)
        inside[part] = in_arm(R[part], phi[part], arms)
    return ArmGroups(traced, inside)


@dataclass(frozen=True)
class ArmContrast:
    """Mean residual inside the arms minus between them [dex], its standard error, the counts and the status.

    With fewer than :data:`MIN_ARM_STARS` stars in either group, ``contrast``
    and ``error`` are None and ``status`` says why.
    """

    contrast: float | None
    error: float | None
    n_arm: int
    n_between: int
    status: str = COMPUTED


def arm_contrast(groups: ArmGroups, residual: np.ndarray) -> ArmContrast:
    """Mean residual of stars within the arm widths minus that of stars between arms, and its standard error.

    Only stars at azimuths where at least one arm is traced take part, so the
    two groups cover the same part of the disk; stars whose residual is NaN
    (no reference for them) are left out.  The error is the standard error
    of a difference of two independent means, sqrt(s_arm²/n_arm +
    s_between²/n_between) with the groups' sample variances: what resampling
    the stars (a bootstrap) estimates, without the draws.
    """
    residual = np.asarray(residual)
    counted = groups.traced & np.isfinite(residual)
    arm_values = residual[counted & groups.inside].astype(float)
    between_values = residual[counted & ~groups.inside].astype(float)
    if min(arm_values.size, between_values.size) < MIN_ARM_STARS:
        return ArmContrast(None, None, arm_values.size, between_values.size,
                           f"not computed: {arm_values.size} stars in the arms and {between_values.size} between them "
                           f"({MIN_ARM_STARS} of each needed)")
    contrast = arm_values.mean() - between_values.mean()
    error = np.sqrt(arm_values.var(ddof=1) / arm_values.size + between_values.var(ddof=1) / between_values.size)
    return ArmContrast(float(contrast), float(error), arm_values.size, between_values.size)
