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
V_LSR = 232.76 km/s.  The Sun itself then has (U, V, W) = (12.9, 12.24, 7.78)
km/s.  Using the local cylinder rather than fixed Cartesian axes keeps a
disk star a kiloparsec away from looking like it moves sideways.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from galchem.conventions import V_SUN
from galchem.data.cuts import Cut

V_PECULIAR = 12.24
"""The Sun's peculiar velocity in the direction of rotation [km/s] (Schönrich et al. 2010)."""

V_LSR = float(V_SUN[1].to_value("km/s")) - V_PECULIAR
"""Circular speed of the local standard of rest [km/s]."""


@dataclass(frozen=True)
class Ellipsoid:
    """A population's local fraction, velocity dispersions [km/s] and asymmetric drift [km/s]."""

    name: str
    fraction: float
    sigma_u: float
    sigma_v: float
    sigma_w: float
    v_asym: float

    def log_density(self, U: np.ndarray, V: np.ndarray, W: np.ndarray) -> np.ndarray:
        """ln f(U, V, W) of the normalised Gaussian ellipsoid, f in (km/s)^-3."""
        norm = (2.0 * np.pi) ** 1.5 * self.sigma_u * self.sigma_v * self.sigma_w
        exponent = (U / self.sigma_u) ** 2 + ((V - self.v_asym) / self.sigma_v) ** 2 + (W / self.sigma_w) ** 2
        return -0.5 * exponent - np.log(norm)


BENSBY2003 = (
    Ellipsoid("thin", 0.94, 35.0, 20.0, 16.0, -15.0),
    Ellipsoid("thick", 0.06, 67.0, 38.0, 35.0, -46.0),
    Ellipsoid("halo", 0.0015, 160.0, 90.0, 90.0, -220.0),
)
"""Bensby, Feltzing & Lundström (2003), Table 1."""

HALO_LIMIT = 0.01
"""Stars with a halo probability at or above this are removed (the study's section 2.3)."""

HALO_CUT = Cut("halo", "halo probability < 1 % (kinematic)", lambda t: t["p_halo"] < HALO_LIMIT)
"""The kinematic halo cut, appended to the cut flow after the quality cuts."""


def lsr_velocities(vR, vphi, vz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, V, W) relative to the LSR [km/s] from Galactocentric cylindrical velocities [km/s]."""
    return -np.asarray(vR, dtype=float), np.asarray(vphi, dtype=float) - V_LSR, np.asarray(vz, dtype=float)


def probabilities(U, V, W, ellipsoids: tuple[Ellipsoid, ...] = BENSBY2003) -> pd.DataFrame:
    """Normalised membership probabilities ``p_<name>`` of each population; rows sum to one.

    Computed with log-densities, so a star far out in every tail still gets
    finite probabilities (in practice: halo).
    """
    U, V, W = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, dtype=float)) for a in (U, V, W)))
    log_weights = np.stack([np.log(e.fraction) + e.log_density(U, V, W) for e in ellipsoids])
    weights = np.exp(log_weights - log_weights.max(axis=0))
    weights /= weights.sum(axis=0)
    return pd.DataFrame({f"p_{e.name}": w for e, w in zip(ellipsoids, weights)})


def membership(vR, vphi, vz, ellipsoids: tuple[Ellipsoid, ...] = BENSBY2003) -> pd.DataFrame:
    """Membership probabilities from Galactocentric cylindrical velocities [km/s]."""
    return probabilities(*lsr_velocities(vR, vphi, vz), ellipsoids)
