"""The conventions galchem uses everywhere, stated once.

Frame
    astropy's right-handed Galactocentric frame with the study's solar
    parameters: the Sun sits at X = -8.27 kpc, Y = 0, Z = +0.029 kpc and moves
    with (vX, vY, vZ) = (12.9, 245.0, 7.78) km/s.  +X points from the Sun
    towards the Galactic centre, +Y towards Galactic longitude 90 deg, +Z
    towards the north Galactic pole.  The study quotes the same numbers in a
    mirrored frame (Sun at X = +8.27 kpc, U = -12.9 km/s); only the sign of X
    and vX differs.

Azimuth
    ``phi = arctan2(Y, X)`` wrapped into [0, 2 pi).  The Sun is at phi = pi.
    Seen from the north Galactic pole phi grows counter-clockwise, which is
    *against* Galactic rotation (the disk turns clockwise in this view).
    Reid et al.'s (2014) azimuth beta, used for the spiral arms, is
    0 towards the Sun and grows with rotation: beta = pi - phi.  Both are
    implemented once, in :mod:`galchem.physics.frames`.

Cylindrical velocities
    ``vR`` is positive outwards; ``vphi`` is positive in the direction of
    Galactic rotation (the Sun has vphi = +245 km/s); ``vz`` is positive
    towards the north Galactic pole.

Circular speed
    One circular speed, :data:`V_LSR` = 245 - 12.24 = 232.76 km/s: the
    Sun's vphi less its peculiar motion in the direction of rotation
    (Schönrich et al. 2010).  The kinematic membership measures V from it
    and the mock Galaxy's flat rotation curve has it.

Residual
    ``delta_feh = observed [Fe/H] - predicted [Fe/H]``: a positive residual
    means a star is more metal-rich than the radial gradient predicts.
"""
from __future__ import annotations

import astropy.coordinates as coord
import astropy.units as u

__all__ = ["K_PM", "R_SUN", "V_LSR", "V_PECULIAR", "V_SUN", "Z_SUN", "galactocentric_frame"]

R_SUN = 8.27 * u.kpc
"""Distance of the Sun from the Galactic centre (Gravity Collaboration 2021)."""

Z_SUN = 29.0 * u.pc
"""Height of the Sun above the Galactic mid-plane."""

V_SUN = (12.9, 245.0, 7.78) * u.km / u.s
"""Galactocentric Cartesian velocity of the Sun (Drimmel & Poggio 2018)."""

V_PECULIAR = 12.24
"""The Sun's peculiar velocity in the direction of rotation [km/s] (Schönrich, Binney & Dehnen 2010)."""

V_LSR = float(V_SUN[1].to_value("km/s")) - V_PECULIAR
"""Circular speed of the local standard of rest [km/s]: the Sun's vphi less its peculiar motion (232.76)."""

K_PM = 4.740470463533348
"""km/s per (mas/yr x kpc): converts a proper motion at a distance to a speed."""


def galactocentric_frame() -> coord.Galactocentric:
    """The astropy Galactocentric frame with the study's solar parameters."""
    return coord.Galactocentric(
        galcen_distance=R_SUN,
        z_sun=Z_SUN,
        galcen_v_sun=coord.CartesianDifferential(V_SUN),
    )
