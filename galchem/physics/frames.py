"""Fast, exact transforms between ICRS observables and Galactocentric phase space.

astropy's ``SkyCoord.transform_to(Galactocentric(...))`` is an affine map: one
fixed rotation matrix and one offset for positions, plus the solar velocity
for velocities.  We take that matrix and offset from astropy once and apply
them with plain numpy, which gives the same numbers far faster on millions of
Monte Carlo draws.  Arrays carry the contract's units: deg, kpc, mas/yr, km/s.
The frame conventions are in :mod:`galchem.conventions`; every angle
convention is implemented here once: the azimuth phi (:func:`azimuth`) and
Reid et al.'s (2014) azimuth beta (:func:`reid_beta`, :func:`phi_from_reid_beta`).
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import astropy.coordinates as coord
import astropy.units as u
import numpy as np
import pandas as pd

from galchem.conventions import K_PM, galactocentric_frame

__all__ = ["Cylindrical", "Observables", "PhaseSpace", "Position", "affine_map", "along_sight", "azimuth",
           "catalog_positions", "direction_angles",
           "from_cylindrical", "galactocentric_to_icrs", "galactocentric_to_sky", "icrs_to_galactocentric",
           "icrs_to_position", "phi_from_reid_beta", "reid_beta", "to_cylindrical", "unit_vectors", "wrap_angle"]


class PhaseSpace(NamedTuple):
    """Galactocentric Cartesian positions [kpc] and velocities [km/s]."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vz: np.ndarray


class Cylindrical(NamedTuple):
    """Galactocentric cylindrical coordinates: R, Z [kpc], phi [rad], velocities [km/s]."""

    R: np.ndarray
    phi: np.ndarray
    Z: np.ndarray
    vR: np.ndarray
    vphi: np.ndarray
    vz: np.ndarray


class Position(NamedTuple):
    """Galactocentric positions: X, Y, Z, R [kpc] and phi [rad]."""

    X: np.ndarray
    Y: np.ndarray
    Z: np.ndarray
    R: np.ndarray
    phi: np.ndarray


class Observables(NamedTuple):
    """ICRS observables: ra, dec [deg], distance [kpc], pmra, pmdec [mas/yr], rv [km/s]."""

    ra: np.ndarray
    dec: np.ndarray
    distance: np.ndarray
    pmra: np.ndarray
    pmdec: np.ndarray
    rv: np.ndarray


@lru_cache(maxsize=1)
def affine_map() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """astropy's rotation matrix, position offset [kpc] and solar velocity [km/s].

    Read off through astropy's public API from four points at rest, 1 kpc
    from the Sun along +x, +y, +z and -x of ICRS: the mean of the two x
    points is the offset, each unit point less the offset a column of the
    matrix, and every point's velocity is the Sun's.
    """
    points = np.array([[1.0, 0.0, 0.0, -1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    at_rest = coord.CartesianDifferential(np.zeros((3, 4)) * u.km / u.s)
    icrs = coord.SkyCoord(coord.CartesianRepresentation(points * u.kpc, differentials=at_rest), frame="icrs")
    galactocentric = icrs.transform_to(galactocentric_frame())
    xyz = galactocentric.cartesian.xyz.to_value(u.kpc)
    velocity = galactocentric.cartesian.differentials["s"].d_xyz.to_value(u.km / u.s)
    offset = 0.5 * (xyz[:, 0] + xyz[:, 3])
    return xyz[:, :3] - offset[:, None], offset, velocity[:, 0]


def unit_vectors(ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ICRS unit vectors along the line of sight, +ra and +dec; each shaped (3, ...)."""
    a, d = np.deg2rad(ra), np.deg2rad(dec)
    ca, sa, cd, sd = np.cos(a), np.sin(a), np.cos(d), np.sin(d)
    zero = np.zeros_like(a)
    los = np.stack([cd * ca, cd * sa, sd])
    e_ra = np.stack([-sa, ca, zero])
    e_dec = np.stack([-sd * ca, -sd * sa, cd])
    return los, e_ra, e_dec


def icrs_to_galactocentric(ra, dec, distance, pmra, pmdec, rv) -> PhaseSpace:
    """Galactocentric phase space of stars given ICRS observables.

    Inputs broadcast against each other (so ``distance`` may carry an extra
    Monte Carlo axis).  ``pmra`` is the proper motion in ra times cos(dec), as
    in Gaia.  Equal to astropy's transform to the frame of
    :func:`galchem.conventions.galactocentric_frame` to rounding error.
    """
    ra, dec, distance, pmra, pmdec, rv = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (ra, dec, distance, pmra, pmdec, rv))
    )
    matrix, offset, v_sun = affine_map()
    los, e_ra, e_dec = unit_vectors(ra, dec)
    position = np.tensordot(matrix, los * distance, axes=1)
    speed = K_PM * distance
    velocity = np.tensordot(matrix, los * rv + e_ra * (pmra * speed) + e_dec * (pmdec * speed), axes=1)
    shape = (3,) + (1,) * ra.ndim
    position += offset.reshape(shape)
    velocity += v_sun.reshape(shape)
    return PhaseSpace(*position, *velocity)


def along_sight(los: np.ndarray, distance) -> np.ndarray:
    """Galactocentric x, y, z [kpc], shaped (3, ...), at ``distance`` [kpc] along ICRS unit vectors ``los`` (3, ...):
    for stars whose direction is fixed while their distance changes (the line of sight computed once)."""
    matrix, offset, _ = affine_map()
    return np.tensordot(matrix, los * distance, axes=1) + offset.reshape((3,) + (1,) * (los.ndim - 1))


def icrs_to_position(ra, dec, distance) -> Position:
    """Galactocentric position of stars at ICRS ``ra``, ``dec`` [deg] and ``distance`` [kpc]."""
    ra, dec, distance = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (ra, dec, distance)))
    x, y, z = along_sight(unit_vectors(ra, dec)[0], distance)
    return Position(x, y, z, np.hypot(x, y), azimuth(x, y))


def catalog_positions(catalog: pd.DataFrame) -> pd.DataFrame:
    """X, Y, Z, R, phi of canonical catalogue rows at their median distance [kpc] (no uncertainties)."""
    position = icrs_to_position(catalog["ra"], catalog["dec"], catalog["distance"])
    return pd.DataFrame(position._asdict(), index=catalog.index)


def _heliocentric(x, y, z) -> np.ndarray:
    """ICRS-aligned heliocentric Cartesian positions [kpc], shaped (3, ...)."""
    matrix, offset, _ = affine_map()
    position = np.stack(np.broadcast_arrays(x, y, z)).astype(float)
    shape = (3,) + (1,) * (position.ndim - 1)
    return np.tensordot(matrix.T, position - offset.reshape(shape), axes=1)


def direction_angles(vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Longitude in [0, 360) and latitude [deg] of Cartesian vectors (shape (3, ...), any length): ra and dec of
    ICRS vectors, l and b of Galactic ones."""
    vector = np.asarray(vector, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lat = np.rad2deg(np.arcsin(np.clip(vector[2] / np.sqrt(np.sum(vector**2, axis=0)), -1.0, 1.0)))
    return np.rad2deg(np.arctan2(vector[1], vector[0])) % 360.0, lat


def galactocentric_to_sky(x, y, z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ra, dec [deg] and heliocentric distance [kpc] of Galactocentric positions."""
    helio = _heliocentric(x, y, z)
    ra, dec = direction_angles(helio)
    return ra, dec, np.sqrt(np.sum(helio**2, axis=0))


def galactocentric_to_icrs(x, y, z, vx, vy, vz) -> Observables:
    """ICRS observables of stars at Galactocentric positions and velocities (inverse map)."""
    matrix, _, v_sun = affine_map()
    ra, dec, distance = galactocentric_to_sky(x, y, z)
    velocity = np.stack(np.broadcast_arrays(vx, vy, vz)).astype(float)
    shape = (3,) + (1,) * (velocity.ndim - 1)
    helio_v = np.tensordot(matrix.T, velocity - v_sun.reshape(shape), axes=1)
    los, e_ra, e_dec = unit_vectors(ra, dec)
    speed = K_PM * distance
    return Observables(
        ra=ra,
        dec=dec,
        distance=distance,
        pmra=np.sum(helio_v * e_ra, axis=0) / speed,
        pmdec=np.sum(helio_v * e_dec, axis=0) / speed,
        rv=np.sum(helio_v * los, axis=0),
    )


def azimuth(x, y) -> np.ndarray:
    """Galactocentric azimuth phi = arctan2(Y, X) in [0, 2 pi) [rad]: the Sun at pi, growing against rotation."""
    return np.arctan2(y, x) % (2 * np.pi)


def reid_beta(phi) -> np.ndarray:
    """Reid et al.'s (2014) azimuth beta [deg] in [-180, 180) of azimuths ``phi`` [rad].

    beta is 0 towards the Sun and grows in the direction of Galactic
    rotation, so beta = pi - phi.
    """
    return (np.rad2deg(np.pi - np.asarray(phi, dtype=float)) + 180.0) % 360.0 - 180.0


def phi_from_reid_beta(beta) -> np.ndarray:
    """The azimuth phi [rad] in [0, 2 pi) of Reid et al.'s azimuth ``beta`` [deg] (inverse of :func:`reid_beta`)."""
    return (np.pi - np.deg2rad(beta)) % (2 * np.pi)


def wrap_angle(angle):
    """Angles [rad] wrapped into [-pi, pi): differences of azimuths without the jump at 2 pi."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi


def to_cylindrical(x, y, z, vx, vy, vz) -> Cylindrical:
    """Cylindrical R, phi, Z and vR, vphi, vz (conventions in :mod:`galchem.conventions`)."""
    R = np.hypot(x, y)
    phi = azimuth(x, y)
    vR = (x * vx + y * vy) / R
    vphi = (y * vx - x * vy) / R
    return Cylindrical(R, phi, np.asarray(z, dtype=float), vR, vphi, np.asarray(vz, dtype=float))


def from_cylindrical(R, phi, Z, vR, vphi, vz) -> PhaseSpace:
    """Cartesian phase space from cylindrical coordinates (inverse of :func:`to_cylindrical`)."""
    c, s = np.cos(phi), np.sin(phi)
    return PhaseSpace(
        x=R * c,
        y=R * s,
        z=np.asarray(Z, dtype=float),
        vx=vR * c + vphi * s,
        vy=vR * s - vphi * c,
        vz=np.asarray(vz, dtype=float),
    )
