"""Kinematic thin-disk, thick-disk and halo membership (Bensby et al. 2003; Ramírez et al. 2013).

Each population is a Gaussian velocity ellipsoid in (U, V, W) relative to
the local standard of rest, with a lag V_asym behind it, weighted by the
population's local fraction X (Bensby, Feltzing & Lundström 2003, Table 1).
A star's probability of belonging to population c is

    P_c = X_c f_c(U, V, W) / sum over populations of X f(U, V, W),

the normalised probabilities P1, P2, P3 of Ramírez et al. (2013).  Which
ellipsoids Ramírez et al. adopted is not stated in our sources; Bensby 2003
is the documented assumption.

Velocities relative to the LSR are taken in the star's own cylindrical frame:
U = -vR (towards the Galactic centre), V = vphi - V_LSR (with rotation),
W = vz.  The LSR is the circular orbit at the Sun; with the Sun's peculiar
motion V = 12.24 km/s (Schönrich et al. 2010) and its total 245 km/s this is
V_LSR = 232.76 km/s (:data:`galchem.conventions.V_LSR`, also the mock
Galaxy's circular speed).  The Sun itself then has (U, V, W) = (12.9, 12.24,
7.78) km/s.  Using the local cylinder rather than fixed Cartesian axes keeps
a disk star a kiloparsec away from looking like it moves sideways.

The ellipsoids :data:`BENSBY2003` and the :class:`Ellipsoid` type live in
:mod:`galchem.parameter_sets`, below the data layer, because the mock draws
its populations from the same numbers; they are re-exported here.

Errors (beyond the study): the study evaluates each ellipsoid at the
star's velocity as measured.  A star whose velocity is uncertain, with
covariance C, is better described by the probability of its *measured*
velocity, for which each population's Gaussian is convolved with the error:
f_c becomes N(mu_c, Sigma_c + C) (as in extreme deconvolution, Bovy, Hogg &
Roweis 2011).  Large errors then widen the narrow thin-disk ellipsoid far
more, relatively, than the broad halo one, so a star is no longer called a
halo star only because its velocity is poorly known.  C comes from the
Monte Carlo (:data:`galchem.physics.kinematics.COVARIANCES`).
:func:`halo_crossings` counts the stars on each side of the 1 % line under
both rules.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from galchem.conventions import V_LSR
from galchem.data.cuts import Cut
from galchem.parameter_sets import BENSBY2003, Ellipsoid

__all__ = ["BENSBY2003", "Ellipsoid", "HALO_CUT", "HALO_LIMIT", "halo_crossings", "lsr_covariance", "lsr_velocities",
           "membership", "membership_with_errors", "probabilities"]

HALO_LIMIT = 0.01
"""Stars with a halo probability at or above this are removed (the study's section 2.3)."""

HALO_CUT = Cut("halo", "halo probability < 1 % (kinematic)", lambda t: t["p_halo"] < HALO_LIMIT)
"""The kinematic halo cut, appended to the cut flow after the quality cuts."""


def lsr_velocities(vR, vphi, vz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, V, W) relative to the LSR [km/s] from Galactocentric cylindrical velocities [km/s]."""
    return -np.asarray(vR, dtype=float), np.asarray(vphi, dtype=float) - V_LSR, np.asarray(vz, dtype=float)


def lsr_covariance(table: pd.DataFrame) -> np.ndarray:
    """Each star's velocity error covariance in (U, V, W) [(km/s)^2], shape (N, 6): UU, VV, WW, UV, UW, VW.

    From the Monte Carlo columns of the analysed sample (``vR_err``,
    ``vphi_err``, ``vz_err`` and the covariances); U = -vR flips the sign of
    the covariances with vR.
    """
    return np.column_stack([
        table["vR_err"] ** 2, table["vphi_err"] ** 2, table["vz_err"] ** 2,
        -table["vR_vphi_cov"], -table["vR_vz_cov"], table["vphi_vz_cov"],
    ]).astype(float)


def probabilities(U, V, W, ellipsoids: tuple[Ellipsoid, ...] = BENSBY2003, covariance: np.ndarray | None = None
                  ) -> pd.DataFrame:
    """Normalised membership probabilities ``p_<name>`` of each population; rows sum to one.

    Computed with log-densities, so a star far out in every tail still gets
    finite probabilities (in practice: halo).  With ``covariance`` (see
    :func:`lsr_covariance`) each ellipsoid is widened by the star's errors.
    """
    U, V, W = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, dtype=float)) for a in (U, V, W)))
    log_weights = np.stack([np.log(e.fraction) + e.log_density(U, V, W, covariance) for e in ellipsoids])
    weights = np.exp(log_weights - log_weights.max(axis=0))
    weights /= weights.sum(axis=0)
    return pd.DataFrame({f"p_{e.name}": w for e, w in zip(ellipsoids, weights)})


def membership(vR, vphi, vz, ellipsoids: tuple[Ellipsoid, ...] = BENSBY2003) -> pd.DataFrame:
    """Membership probabilities from Galactocentric cylindrical velocities [km/s] (the study's point-estimate rule)."""
    return probabilities(*lsr_velocities(vR, vphi, vz), ellipsoids)


def membership_with_errors(table: pd.DataFrame, ellipsoids: tuple[Ellipsoid, ...] = BENSBY2003) -> pd.DataFrame:
    """Membership probabilities of an analysed sample, each ellipsoid convolved with the star's velocity errors."""
    return probabilities(*lsr_velocities(table["vR"], table["vphi"], table["vz"]), ellipsoids, lsr_covariance(table))


def halo_crossings(table: pd.DataFrame, ellipsoids: tuple[Ellipsoid, ...] = BENSBY2003,
                   limit: float = HALO_LIMIT) -> pd.DataFrame:
    """How many stars each rule puts at or above the halo ``limit``, and how the two rules disagree.

    One row per rule ("point estimate": the study's; "with velocity
    errors": :func:`membership_with_errors`), then the stars both remove and
    those only one of them removes; columns ``stars`` and ``percent`` (of
    all stars in ``table``).
    """
    point = membership(table["vR"], table["vphi"], table["vz"], ellipsoids)["p_halo"].to_numpy() >= limit
    widened = membership_with_errors(table, ellipsoids)["p_halo"].to_numpy() >= limit
    counts = {"point estimate": point.sum(), "with velocity errors": widened.sum(), "both": (point & widened).sum(),
              "point estimate only": (point & ~widened).sum(), "with velocity errors only": (~point & widened).sum()}
    stars = pd.Series(counts, dtype=int)
    return pd.DataFrame({"stars": stars, "percent": 100.0 * stars / max(len(table), 1)}).rename_axis("removed by")
