"""Azimuthal variations of [Fe/H] left over after the radial gradient (the study's section 4.2).

Two residuals, both *observed minus expected* (see :mod:`galchem.conventions`):

* :func:`residual_from_fit`: [Fe/H] minus the radial fit m R + b (Figure 5);
* :func:`delta_from_ring_mean`: [Fe/H] minus the mean [Fe/H] of all stars
  within ``width`` (0.2 kpc) in R of the star, ⟨δ[Fe/H]⟩ of Figure 6.

Beyond the study: :func:`permutation_test` asks whether ⟨δ[Fe/H]⟩(φ) varies
more than chance allows, and :func:`arm_contrast` whether stars inside the
Reid et al. (2014) arms are more metal-rich than those between them.  Both
profiles and the contrast accept any residual, in particular the one from a
smooth radial profile (:func:`galchem.analysis.profile.profile_residuals`),
which a curved trend in R does not leak into.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from galchem.analysis.arms import REID2014, Arm

__all__ = ["ANNULI", "ArmContrast", "COMPUTED", "MIN_ARM_STARS", "MIN_PER_BIN", "MIN_POPULATED_BINS", "PROFILE_COLUMNS",
           "PermutationTest", "arm_contrast", "azimuthal_profile", "delta_from_ring_mean", "in_arm", "permutation_test",
           "phi_edges", "profile_variance", "residual_from_fit"]

ANNULI = ((7.0, 9.0), (9.0, 11.0))
"""The two radial ranges of the study's Figure 6 [kpc]."""

PROFILE_COLUMNS = ["r_lo", "r_hi", "phi_lo", "phi_hi", "phi_center", "n", "mean_delta", "sem"]
MIN_PER_BIN = 20
"""Fewest stars for a φ bin's mean to be reported (NaN below)."""


def residual_from_fit(table: pd.DataFrame, m: float, b: float) -> np.ndarray:
    """[Fe/H] - (m R + b) [dex]: positive where stars are more metal-rich than the radial fit predicts."""
    return table["feh"].to_numpy() - (m * table["R"].to_numpy() + b)


def delta_from_ring_mean(R: np.ndarray, feh: np.ndarray, width: float = 0.2) -> np.ndarray:
    """[Fe/H] minus the mean [Fe/H] of all stars with |R' - R| <= ``width`` (the star included) [dex]."""
    R, feh = np.asarray(R, dtype=float), np.asarray(feh, dtype=float)
    order = np.argsort(R)
    sorted_R = R[order]
    cumulative = np.concatenate([[0.0], np.cumsum(feh[order])])
    lo = np.searchsorted(sorted_R, sorted_R - width, side="left")
    hi = np.searchsorted(sorted_R, sorted_R + width, side="right")
    delta = np.empty_like(feh)
    delta[order] = feh[order] - (cumulative[hi] - cumulative[lo]) / (hi - lo)
    return delta


def phi_edges(phi: np.ndarray, width_deg: float = 2.0) -> np.ndarray:
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


def azimuthal_profile(table: pd.DataFrame, delta: np.ndarray, edges: np.ndarray,
                      annuli: tuple[tuple[float, float], ...] = ANNULI) -> pd.DataFrame:
    """⟨δ[Fe/H]⟩ and its standard error per φ bin in each annulus (columns :data:`PROFILE_COLUMNS`).

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
    return pd.concat(parts, ignore_index=True)[PROFILE_COLUMNS]


def profile_variance(phi: np.ndarray, delta: np.ndarray, ring: np.ndarray, edges: np.ndarray) -> float:
    """Test statistic: the star-weighted variance of the binned mean δ over φ bins, summed over annuli.

    ``ring`` labels each star's annulus (-1: none).  Weighting by the bin
    counts makes bins with few stars (and noisy means) count less.
    """
    total = 0.0
    k = len(edges) - 1
    index = np.digitize(phi, edges) - 1
    valid = (index >= 0) & (index < k)
    for label in np.unique(ring[ring >= 0]):
        chosen = valid & (ring == label)
        n = np.bincount(index[chosen], minlength=k)
        sums = np.bincount(index[chosen], delta[chosen], minlength=k)
        used = n >= MIN_PER_BIN
        if used.sum() < 2:  # no spread to measure in this annulus
            continue
        means = sums[used] / n[used]
        weights = n[used]
        centre = np.sum(weights * means) / np.sum(weights)
        total += np.sum(weights * (means - centre) ** 2) / np.sum(weights)
    return float(total)


MIN_POPULATED_BINS = 4
"""Fewest φ bins with :data:`MIN_PER_BIN` stars (over the annuli) for the permutation test to be computed."""

MIN_ARM_STARS = 30
"""Fewest stars both inside and between the arms for the arm contrast to be computed."""

COMPUTED = "computed"


@dataclass(frozen=True)
class PermutationTest:
    """The observed statistic, the null distribution from permuted φ, the p-value and its status.

    When the data cannot support the test, ``p_value`` is None and ``status``
    says why ("not computed: ..."): a p-value is never reported for a
    statistic that is not a number.
    """

    observed: float
    null: np.ndarray
    p_value: float | None
    status: str = COMPUTED


def permutation_test(table: pd.DataFrame, delta: np.ndarray, edges: np.ndarray, *, n_permutations: int = 1000,
                     seed: int = 0, annuli: tuple[tuple[float, float], ...] = ANNULI,
                     cell: tuple[float, float] = (0.2, 0.1)) -> PermutationTest:
    """Is there more azimuthal structure in ⟨δ[Fe/H]⟩(φ) than chance allows?

    The null hypothesis: at given R and |Z|, [Fe/H] does not depend on φ.
    Under it, shuffling the azimuths among stars in the same cell of R and
    |Z| (``cell`` = widths in kpc) changes nothing.  Keeping |Z| matters: a
    survey sees different heights in different directions, and the vertical
    gradient would otherwise pass for azimuthal structure.  The p-value is
    the share of ``n_permutations`` shuffles whose statistic
    (:func:`profile_variance`) reaches the observed one, counting the
    observation itself (so it is never zero).
    """
    R, phi, abs_z = table["R"].to_numpy(), table["phi"].to_numpy(), table["Z"].abs().to_numpy()
    delta = np.asarray(delta, dtype=float)
    ring = np.full(len(R), -1)
    for label, (r_lo, r_hi) in enumerate(annuli):
        ring[(R >= r_lo) & (R < r_hi)] = label
    keep = ring >= 0
    R, phi, abs_z, delta, ring = R[keep], phi[keep], abs_z[keep], delta[keep], ring[keep]
    index = np.digitize(phi, edges) - 1
    inside = (index >= 0) & (index < len(edges) - 1)
    populated = sum(int(np.sum(np.bincount(index[inside & (ring == label)], minlength=len(edges)) >= MIN_PER_BIN))
                    for label in range(len(annuli)))
    observed = profile_variance(phi, delta, ring, edges)
    if populated < MIN_POPULATED_BINS or not np.isfinite(observed):
        reason = (f"not computed: {populated} azimuth bin(s) with at least {MIN_PER_BIN} stars in the annuli "
                  f"({MIN_POPULATED_BINS} needed)")
        return PermutationTest(float("nan"), np.empty(0), None, reason)
    block = np.floor(R / cell[0]).astype(int) * 100_000 + np.floor(abs_z / cell[1]).astype(int)
    order = np.argsort(block, kind="stable")
    phi, delta, ring = phi[order], delta[order], ring[order]
    blocks = np.split(phi, np.flatnonzero(np.diff(block[order])) + 1)  # views into phi
    rng = np.random.default_rng(seed)
    null = np.empty(n_permutations)
    for i in range(n_permutations):
        for part in blocks:
            rng.shuffle(part)
        null[i] = profile_variance(phi, delta, ring, edges)
    p_value = (1 + np.count_nonzero(null >= observed)) / (1 + n_permutations)
    return PermutationTest(observed, null, p_value)


def in_arm(R: np.ndarray, phi: np.ndarray, arms: tuple[Arm, ...] = REID2014) -> np.ndarray:
    """True for positions within half an arm width (in R, at the same azimuth) of any arm's centre line.

    Only the arms' fitted azimuth ranges count, each taken once around the
    Galaxy (Reid's beta = pi - phi, in degrees).
    """
    R, beta = np.asarray(R, dtype=float), _reid_beta(phi)
    inside = np.zeros(R.shape, dtype=bool)
    for arm in arms:
        inside |= _traced(beta, (arm,)) & (np.abs(R - arm.radius(beta)) <= arm.width / 2)
    return inside


def _reid_beta(phi) -> np.ndarray:
    """Reid's azimuth beta [deg] in [-180, 180): 0 towards the Sun, growing with rotation."""
    return (np.rad2deg(np.pi - np.asarray(phi, dtype=float)) + 180.0) % 360.0 - 180.0


def _traced(beta: np.ndarray, arms: tuple[Arm, ...]) -> np.ndarray:
    """True where at least one of ``arms`` is traced at Reid azimuth ``beta``."""
    return np.any([(beta >= arm.beta_range[0]) & (beta <= arm.beta_range[1]) for arm in arms], axis=0)


@dataclass(frozen=True)
class ArmContrast:
    """Mean residual inside the arms minus between them [dex], its bootstrap error, the counts and the status.

    With fewer than :data:`MIN_ARM_STARS` stars in either group, ``contrast``
    and ``error`` are None and ``status`` says why.
    """

    contrast: float | None
    error: float | None
    n_arm: int
    n_between: int
    status: str = COMPUTED


def arm_contrast(table: pd.DataFrame, residual: np.ndarray, *, n_boot: int = 1000, seed: int = 0,
                 arms: tuple[Arm, ...] = REID2014) -> ArmContrast:
    """Mean residual of stars within the arm widths minus that of stars between arms, bootstrap error.

    Only stars at azimuths where at least one arm is traced take part, so the
    two groups cover the same part of the disk; stars whose residual is NaN
    (no reference for them) are left out.
    """
    R, phi = table["R"].to_numpy(), table["phi"].to_numpy()
    residual = np.asarray(residual, dtype=float)
    traced = _traced(_reid_beta(phi), arms) & np.isfinite(residual)
    inside = in_arm(R, phi, arms)
    arm_values, between_values = residual[traced & inside], residual[traced & ~inside]
    if min(arm_values.size, between_values.size) < MIN_ARM_STARS:
        return ArmContrast(None, None, arm_values.size, between_values.size,
                           f"not computed: {arm_values.size} stars in the arms and {between_values.size} between them "
                           f"({MIN_ARM_STARS} of each needed)")
    contrast = arm_values.mean() - between_values.mean()
    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for i in range(n_boot):
        boots[i] = (rng.choice(arm_values, arm_values.size).mean()
                    - rng.choice(between_values, between_values.size).mean())
    return ArmContrast(float(contrast), float(boots.std(ddof=1)), arm_values.size, between_values.size)
