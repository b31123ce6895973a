"""Published parameter sets galchem adopts, each with its reference (a bottom layer, like :mod:`galchem.conventions`).

Kept here, below every layer, so that the kinematic membership
(:mod:`galchem.physics.membership`) and the mock Galaxy
(:mod:`galchem.data.mock`) share one set of numbers, as astropy's
``galactocentric_frame_defaults`` keeps its named sets of solar parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BENSBY2003", "Ellipsoid"]


@dataclass(frozen=True)
class Ellipsoid:
    """A population's local fraction, velocity dispersions [km/s] and asymmetric drift [km/s].

    Dispersions are in (U, V, W) relative to the local standard of rest,
    that is in (vR, vphi, vz); the population's mean vphi is
    ``V_LSR + v_asym`` (:data:`galchem.conventions.V_LSR`).
    """

    name: str
    fraction: float
    sigma_u: float
    sigma_v: float
    sigma_w: float
    v_asym: float

    def log_density(self, U: np.ndarray, V: np.ndarray, W: np.ndarray, covariance: np.ndarray | None = None
                    ) -> np.ndarray:
        """ln f(U, V, W) of the normalised Gaussian ellipsoid, f in (km/s)^-3.

        With ``covariance`` (shape (N, 6): the error covariance's UU, VV, WW,
        UV, UW, VW entries) the ellipsoid is convolved with each star's error.
        """
        if covariance is None:
            norm = (2.0 * np.pi) ** 1.5 * self.sigma_u * self.sigma_v * self.sigma_w
            exponent = (U / self.sigma_u) ** 2 + ((V - self.v_asym) / self.sigma_v) ** 2 + (W / self.sigma_w) ** 2
            return -0.5 * exponent - np.log(norm)
        a, b, c = (covariance[:, i] + s**2 for i, s in enumerate((self.sigma_u, self.sigma_v, self.sigma_w)))
        d, e, f = covariance[:, 3], covariance[:, 4], covariance[:, 5]
        x, y, z = U, V - self.v_asym, W
        # the inverse of the symmetric [[a, d, e], [d, b, f], [e, f, c]] by cofactors, its determinant likewise
        cof_a, cof_b, cof_c = b * c - f * f, a * c - e * e, a * b - d * d
        cof_d, cof_e, cof_f = e * f - d * c, d * f - b * e, d * e - a * f
        det = a * cof_a + d * cof_d + e * cof_e
        quadratic = (cof_a * x * x + cof_b * y * y + cof_c * z * z
                     + 2.0 * (cof_d * x * y + cof_e * x * z + cof_f * y * z)) / det
        return -0.5 * (quadratic + np.log(det)) - 1.5 * np.log(2.0 * np.pi)


BENSBY2003 = (
    Ellipsoid("thin", 0.94, 35.0, 20.0, 16.0, -15.0),
    Ellipsoid("thick", 0.06, 67.0, 38.0, 35.0, -46.0),
    Ellipsoid("halo", 0.0015, 160.0, 90.0, 90.0, -220.0),
)
"""Bensby, Feltzing & Lundström (2003), A&A 410, 527, Table 1: thin disk, thick disk and halo."""
