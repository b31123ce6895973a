"""Spiral arms of Reid et al. (2014), traced by high-mass star-forming regions.

Each arm is a logarithmic spiral, ln(R / R_ref) = -(beta - beta_ref) tan(psi),
where beta is Reid's Galactocentric azimuth: 0 towards the Sun and growing in
the direction of Galactic rotation (``phi = pi - beta`` in galchem's frame;
the conversions are :func:`galchem.physics.frames.reid_beta` and
:func:`galchem.physics.frames.phi_from_reid_beta`).  Parameters from Reid et al. (2014),
ApJ 783, 130, as transcribed in public code (dendrogal; CKAstroTools for the
widths); the Perseus pitch angle of 9.4 deg is the dendrogal value.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from galchem.conventions import R_SUN
from galchem.physics.frames import phi_from_reid_beta

__all__ = ["Arm", "ArmTrace", "Overdensity", "POGGIO_FILES", "REID2014", "poggio2021_overdensity", "trace"]


@dataclass(frozen=True)
class Arm:
    """One log-periodic arm: its fitted azimuth range and parameters."""

    name: str
    beta_range: tuple[float, float]  # deg
    r_ref: float  # kpc
    beta_ref: float  # deg
    pitch: float  # deg
    width: float  # kpc, full width

    def radius(self, beta: np.ndarray) -> np.ndarray:
        """Galactocentric radius [kpc] of the arm's centre at Reid azimuth ``beta`` [deg]."""
        return self.r_ref * np.exp(-np.deg2rad(np.asarray(beta) - self.beta_ref) * np.tan(np.deg2rad(self.pitch)))


REID2014 = (
    Arm("Scutum", (3.0, 101.0), 5.0, 27.6, 19.8, 0.17),
    Arm("Sagittarius", (-2.0, 68.0), 6.6, 25.6, 6.9, 0.26),
    Arm("Local", (-8.0, 27.0), 8.4, 8.9, 12.8, 0.33),
    Arm("Perseus", (-21.0, 88.0), 9.9, 14.2, 9.4, 0.38),
    Arm("Outer", (-6.0, 56.0), 13.0, 18.6, 13.8, 0.63),
)
"""The five arms of Reid et al. (2014), Table 2."""


class ArmTrace(NamedTuple):
    """An arm's centre line and width edges in galchem's X, Y frame [kpc]."""

    name: str
    x: np.ndarray
    y: np.ndarray
    x_edges: tuple[np.ndarray, np.ndarray]
    y_edges: tuple[np.ndarray, np.ndarray]


def trace(arm: Arm, n: int = 200) -> ArmTrace:
    """The arm's centre and inner/outer edges (radius -+ width/2) over its fitted range."""
    beta = np.linspace(*arm.beta_range, n)
    r = arm.radius(beta)
    phi = phi_from_reid_beta(beta)
    cos_phi, sin_phi = np.cos(phi), np.sin(phi)
    edges = [r - arm.width / 2, r + arm.width / 2]
    return ArmTrace(
        arm.name,
        r * cos_phi,
        r * sin_phi,
        tuple(e * cos_phi for e in edges),
        tuple(e * sin_phi for e in edges),
    )



class Overdensity(NamedTuple):
    """A map on a regular X, Y grid [kpc] in galchem's frame; NaN where the source has no data."""

    x: np.ndarray
    y: np.ndarray
    values: np.ndarray  # shape (len(y), len(x)), ready for ``contour(x, y, values)``


POGGIO_FILES = "datafiles/Poggio_cont_2021"
"""Folder of the Poggio et al. (2021) map inside the SpiralMap package (MIT licence)."""


def poggio2021_overdensity() -> Overdensity:
    """Upper-main-sequence overdensity of Poggio et al. (2021), Fig. 1B (local bandwidth 0.3 kpc).

    Read from the grid the ``SpiralMap`` package ships (not imported, only
    located, so nothing runs on import).  The grid is heliocentric with the
    Galactic centre towards +x, so X = x - R_sun and Y = y in galchem's frame;
    cells that are exactly zero are the masked low-density cells and become NaN.
    """
    spec = importlib.util.find_spec("SpiralMap")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the SpiralMap package (pip install spiralmap) holds the Poggio et al. 2021 map")
    folder = Path(spec.submodule_search_locations[0]) / POGGIO_FILES
    x, y = np.load(folder / "xvalues.npy"), np.load(folder / "yvalues.npy")
    grid = np.load(folder / "overdens_grid_locscale03.npy").T.astype(float)
    grid[grid == 0.0] = np.nan
    return Overdensity(x - R_SUN.to_value("kpc"), y, grid)
