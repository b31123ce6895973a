"""Galactic and Galactocentric inputs turned into the contract's ICRS roles with astropy, as a table is read.

Catalogues do not all give ra and dec.  Some give Galactic ``l``, ``b`` and
proper motions ``pm_l_cosb``, ``pm_b`` (with errors and, optionally, their
correlation); tracers such as Cepheids and open clusters often come as
Galactocentric ``x``, ``y``, ``z`` [kpc] with, optionally, ``vx``, ``vy``,
``vz`` [km/s].  :func:`to_icrs` converts them at the door, so everything
downstream sees the one canonical table of :mod:`galchem.data.contract`:

* Galactic: ra, dec and the proper motions by astropy's Galactic -> ICRS
  rotation (read off astropy once and applied with numpy, as
  :mod:`galchem.physics.frames` does); the proper-motion errors by rotating
  their covariance with it (the local rotation between the two frames'
  north directions), which gives ``pmra_error``, ``pmdec_error`` and
  ``pmra_pmdec_corr``.
* Galactocentric: ra, dec, the heliocentric distance and (with velocities)
  pmra, pmdec and rv by astropy's transform from galchem's Galactocentric
  frame (:func:`galchem.conventions.galactocentric_frame`: the Sun at
  X = -8.27 kpc, Z = +0.029 kpc, right-handed).  Coordinates made in another
  frame (another R0, or the Sun at +X) must be converted to this one first.
  The proper motions and rv carry no errors (zero): the Monte Carlo kinematics
  still move the tangential velocity with each distance draw.

Values arrive in the contract's units (deg, mas/yr, kpc, km/s).  A column
set that looks like the wrong unit (radians for l and b; pc read as kpc for
x, y, z) refuses the file in one line, as :mod:`galchem.data.checks` does
for ra, dec and distance; so do x, y, z that gather around the Sun's mirror
image (a frame with the Sun at +X, as the study quotes it).
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import astropy.coordinates as coord
import astropy.units as u
import numpy as np

from galchem.conventions import galactocentric_frame
from galchem.physics.frames import direction_angles, unit_vectors
from galchem.errors import ContractError

MIN_ROWS_FOR_UNITS = 20
"""Units (typical ranges, angles, temperatures) are judged only on at least this many finite values."""

GALACTIC_ROLES = ("l", "b", "pm_l_cosb", "pm_l_cosb_error", "pm_b", "pm_b_error", "pm_l_pm_b_corr")
"""Galactic inputs, turned into ra, dec, pmra, pmdec, their errors and pmra_pmdec_corr as a table is read."""

GALACTOCENTRIC_ROLES = ("x", "y", "z", "vx", "vy", "vz")
"""Galactocentric inputs, turned into ra, dec, distance, pmra, pmdec and rv (errors zero) as a table is read."""

__all__ = ["GALACTIC_ROLES", "GALACTOCENTRIC_ROLES", "MIN_ROWS_FOR_UNITS", "galactic_axes", "galactic_rotation", "icrs_from_galactic",
           "icrs_from_galactocentric", "to_icrs"]


@lru_cache(maxsize=1)
def galactic_axes() -> np.ndarray:
    """astropy's Galactic -> ICRS rotation: column k is Galactic Cartesian axis k in ICRS (read off astropy once).

    The transform is a fixed rotation, so applying it with numpy gives astropy's numbers far faster.
    """
    axes = coord.SkyCoord(coord.CartesianRepresentation(np.eye(3) * u.kpc), frame="galactic").icrs  # point k: axis k
    return axes.cartesian.xyz.to_value(u.kpc)


def galactic_rotation(l: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ra, dec [deg] of Galactic ``l``, ``b`` [deg], and per star the (N, 2, 2) matrix taking
    (pm_l_cosb, pm_b) to (pmra, pmdec): the local rotation between the two frames' (east, north) directions.

    Rows without a finite position on the sky (|b| > 90 included) get NaN.
    """
    l, b = np.asarray(l, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(l) & np.isfinite(b) & (np.abs(b) <= 90.0)
    l, b = np.where(usable, l, 0.0), np.where(usable, b, 0.0)
    axes = galactic_axes()
    los, e_l, e_b = (np.tensordot(axes, vector, axes=1) for vector in unit_vectors(l, b))
    ra, dec = direction_angles(los)
    _, e_ra, e_dec = unit_vectors(ra, dec)
    matrix = np.stack([np.stack([np.sum(e_l * e_ra, axis=0), np.sum(e_b * e_ra, axis=0)], axis=-1),
                       np.stack([np.sum(e_l * e_dec, axis=0), np.sum(e_b * e_dec, axis=0)], axis=-1)], axis=1)
    matrix[~usable] = np.nan
    return np.where(usable, ra, np.nan), np.where(usable, dec, np.nan), matrix


def icrs_from_galactic(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """ra, dec and, when given, pmra, pmdec, their errors and pmra_pmdec_corr of Galactic roles.

    ``values`` maps the roles of :data:`GALACTIC_ROLES`
    to arrays; a missing ``pm_l_pm_b_corr`` (absent or NaN) is zero.
    """
    ra, dec, matrix = galactic_rotation(values["l"], values["b"])
    out = {"ra": ra, "dec": dec}
    if "pm_l_cosb" not in values:
        return out
    galactic = np.stack([values["pm_l_cosb"], values["pm_b"]], axis=-1)
    out["pmra"], out["pmdec"] = np.einsum("nij,nj->in", matrix, galactic)
    s_l, s_b = np.asarray(values["pm_l_cosb_error"], float), np.asarray(values["pm_b_error"], float)
    rho = np.nan_to_num(np.asarray(values.get("pm_l_pm_b_corr", np.zeros_like(s_l)), dtype=float), nan=0.0)
    covariance = np.empty(s_l.shape + (2, 2))
    covariance[:, 0, 0], covariance[:, 1, 1] = s_l**2, s_b**2
    covariance[:, 0, 1] = covariance[:, 1, 0] = rho * s_l * s_b
    rotated = np.einsum("nij,njk,nlk->nil", matrix, covariance, matrix)
    out["pmra_error"], out["pmdec_error"] = np.sqrt(rotated[:, 0, 0]), np.sqrt(rotated[:, 1, 1])
    scale = out["pmra_error"] * out["pmdec_error"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["pmra_pmdec_corr"] = np.where(scale > 0, rotated[:, 0, 1] / scale, 0.0)
    return out


def icrs_from_galactocentric(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """ra, dec, distance and, with ``vx``, ``vy``, ``vz``, pmra, pmdec and rv (errors zero) of Galactocentric roles."""
    position = [np.asarray(values[name], dtype=float) * u.kpc for name in ("x", "y", "z")]
    moving = "vx" in values
    differentials = (coord.CartesianDifferential(*(np.asarray(values[name], dtype=float) * u.km / u.s
                                                   for name in ("vx", "vy", "vz"))) if moving else None)
    galactocentric = galactocentric_frame().realize_frame(coord.CartesianRepresentation(*position,
                                                                                        differentials=differentials))
    icrs = coord.SkyCoord(galactocentric).transform_to(coord.ICRS())
    helio = icrs.cartesian.xyz.to_value(u.kpc)
    out = {"distance": np.sqrt(np.sum(helio**2, axis=0))}
    out["ra"], out["dec"] = direction_angles(helio)
    if moving:
        out["pmra"] = icrs.pm_ra_cosdec.to_value(u.mas / u.yr)
        out["pmdec"] = icrs.pm_dec.to_value(u.mas / u.yr)
        out["rv"] = icrs.radial_velocity.to_value(u.km / u.s)
        for name in ("pmra_error", "pmdec_error", "rv_error"):
            out[name] = np.zeros_like(out["distance"])
    return out


def _refuse_radians(values: Mapping[str, np.ndarray], names: Mapping[str, str], where: str) -> None:
    """Refuse Galactic coordinates that all lie within 0-2pi and +-pi/2: radians declared as degrees."""
    l, b = np.asarray(values["l"], dtype=float), np.asarray(values["b"], dtype=float)
    known = np.isfinite(l) & np.isfinite(b)
    if known.sum() >= MIN_ROWS_FOR_UNITS and l[known].max() <= 2 * np.pi + 1e-9 \
            and np.abs(b[known]).max() <= np.pi / 2 + 1e-9:
        raise ContractError(f"{where}: columns {names['l']}, {names['b']} (roles l, b): all {known.sum():,} values lie "
                            "within 0-2pi and +-pi/2; they look like radians, not degrees")


def _refuse_parsecs(values: Mapping[str, np.ndarray], names: Mapping[str, str], where: str) -> None:
    """Refuse Galactocentric positions whose median radius looks like pc read as kpc, or kpc read as pc."""
    radius = np.sqrt(sum(np.asarray(values[name], dtype=float) ** 2 for name in ("x", "y", "z")))
    radius = radius[np.isfinite(radius)]
    if radius.size < MIN_ROWS_FOR_UNITS:
        return
    median = float(np.median(radius))
    columns = ", ".join(names[name] for name in ("x", "y", "z"))
    if median > 200:
        raise ContractError(f"{where}: columns {columns} (roles x, y, z): median Galactocentric radius "
                            f"{median:.3g} kpc over {radius.size:,} rows; these look like pc read as kpc -- set "
                            "x, y, z = \"pc\" under [units] in the survey file")
    if median < 0.02:
        raise ContractError(f"{where}: columns {columns} (roles x, y, z): median Galactocentric radius "
                            f"{median * 1000:.3g} pc over {radius.size:,} rows; these look like kpc read as pc -- set "
                            "x, y, z = \"kpc\" under [units] in the survey file")


def _refuse_mirrored(values: Mapping[str, np.ndarray], names: Mapping[str, str], where: str) -> None:
    """Refuse Galactocentric positions that gather around the Sun's mirror image (+8.27, 0, 0) kpc.

    A catalogue clusters around the Sun; one made in the frame the study
    quotes (the Sun at +X) would, read in galchem's frame, sit on the far
    side of the Galaxy, and every distance and radius would be wrong.
    """
    x, y, z = (np.asarray(values[name], dtype=float) for name in ("x", "y", "z"))
    frame = galactocentric_frame()
    sun_x, sun_z = -frame.galcen_distance.to_value(u.kpc), frame.z_sun.to_value(u.kpc)
    known = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    if known.sum() < MIN_ROWS_FOR_UNITS:
        return
    ours = float(np.median(np.sqrt((x[known] - sun_x) ** 2 + y[known] ** 2 + (z[known] - sun_z) ** 2)))
    mirrored = float(np.median(np.sqrt((x[known] + sun_x) ** 2 + y[known] ** 2 + (z[known] - sun_z) ** 2)))
    if mirrored < 0.5 * ours:
        columns = ", ".join(names[name] for name in ("x", "y", "z"))
        raise ContractError(f"{where}: columns {columns} (roles x, y, z): the stars gather around X = {-sun_x:g} "
                            f"kpc, the Sun's mirror image (median distance {ours:.3g} kpc from the Sun, "
                            f"{mirrored:.3g} kpc from its mirror image); they look like a frame with the Sun at +X -- "
                            f"negate x (and vx) for galchem's frame, the Sun at X = {sun_x:g} kpc")


def to_icrs(values: dict[str, np.ndarray], names: Mapping[str, str], where: str) -> dict[str, np.ndarray]:
    """``values`` (role -> array, contract units) with Galactic or Galactocentric roles replaced by ICRS ones.

    ``names`` maps roles to the file columns, for messages; ``where`` names the file.
    Values already in ICRS roles pass through.
    """
    if "l" in values:
        _refuse_radians(values, names, where)
        converted, dropped = icrs_from_galactic(values), GALACTIC_ROLES
    elif "x" in values:
        _refuse_parsecs(values, names, where)
        _refuse_mirrored(values, names, where)
        converted, dropped = icrs_from_galactocentric(values), GALACTOCENTRIC_ROLES
    else:
        return values
    return {**{k: v for k, v in values.items() if k not in dropped}, **converted}
