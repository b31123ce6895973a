"""Published numbers the book compares with: the study's Tables 1 and 2 and literature gradients.

Typed from the publications named beside each value (see the book's
bibliography).  Only values with numbers in the sources are listed: where a
study describes a trend without numbers it is left out rather than guessed.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["GAIA_RADIAL_LITERATURE", "HAWKINS_TABLE1", "HAWKINS_TABLE2", "RADIAL_LITERATURE", "VERTICAL_LITERATURE"]

_FIT_COLUMNS = ["m", "m_err", "b", "b_err", "lam", "lam_err", "n"]

HAWKINS_TABLE1 = pd.DataFrame(
    [
        (0.10, -0.078, 0.001, 0.418, 0.012, 0.319, 0.001, 77997),
        (0.30, -0.066, 0.002, 0.294, 0.016, 0.321, 0.001, 30653),
        (0.50, -0.053, 0.002, 0.135, 0.024, 0.321, 0.002, 11480),
        (0.70, -0.038, 0.003, -0.043, 0.033, 0.314, 0.003, 4948),
        (0.90, -0.026, 0.005, -0.211, 0.049, 0.322, 0.006, 1897),
        (1.10, -0.022, 0.007, -0.280, 0.071, 0.338, 0.009, 830),
        (1.30, -0.001, 0.008, -0.488, 0.084, 0.330, 0.011, 506),
    ],
    columns=["z_center", *_FIT_COLUMNS],
)
"""Hawkins (2023), Table 1: radial gradients of the LAMOST OBAF stars in slices of |Z| [kpc; dex/kpc; dex]."""

HAWKINS_TABLE2 = pd.DataFrame(
    [
        (7.5, -0.221, 0.011, -0.186, 0.004, 0.299, 0.002, 8708),
        (8.5, -0.155, 0.009, -0.235, 0.002, 0.292, 0.001, 37982),
        (9.5, -0.129, 0.008, -0.299, 0.002, 0.319, 0.001, 42871),
        (10.5, -0.054, 0.008, -0.398, 0.004, 0.339, 0.002, 23880),
        (11.5, -0.048, 0.011, -0.464, 0.006, 0.367, 0.003, 11320),
        (12.5, -0.040, 0.022, -0.506, 0.014, 0.418, 0.006, 3213),
        (13.5, -0.066, 0.066, -0.492, 0.043, 0.515, 0.017, 525),
    ],
    columns=["r_center", *_FIT_COLUMNS],
)
"""Hawkins (2023), Table 2: vertical gradients of the LAMOST OBAF stars in rings of R [kpc; dex/kpc; dex]."""

RADIAL_LITERATURE = pd.DataFrame(
    [
        ("Huang2015", "Huang et al. 2015", "LAMOST red clump", -0.08, None, 0.0, 0.1),
        ("Boeche2013", "Boeche et al. 2013", "RAVE dwarfs (guiding radius, Z_max)", -0.065, 0.002, 0.0, 0.4),
        ("Boeche2014", "Boeche et al. 2014", "RAVE giants", -0.054, None, 0.0, 0.4),
        ("OnalTas2016", "Önal Taş et al. 2016", "RAVE red clump", -0.047, 0.003, 0.0, 0.5),
        ("Anders2017", "Anders et al. 2017", "CoRoT-APOGEE young giants", -0.058, 0.008, 0.0, 0.3),
        ("Sun2024", "Sun et al. 2024", "LAMOST-APOGEE red clump, thin disk", -0.06, None, 0.0, 0.25),
    ],
    columns=["key", "label", "tracer", "m", "m_err", "z_lo", "z_hi"],
)
"""Radial gradients d[Fe/H]/dR [dex/kpc] from other studies, with the |Z| range they cover [kpc]."""

VERTICAL_LITERATURE = pd.DataFrame(
    [
        ("Duong2018", "Duong et al. 2018", "GALAH pilot, low-alpha disk ([M/H])", -0.18, 0.01, 7.9, 9.5),
        ("Sun2024", "Sun et al. 2024", "LAMOST-APOGEE red clump, thin disk", -0.05, None, 11.5, 15.0),
    ],
    columns=["key", "label", "tracer", "m", "m_err", "r_lo", "r_hi"],
)
"""Vertical gradients d[Fe/H]/d|Z| [dex/kpc] from other studies, with the R range they cover [kpc]."""

GAIA_RADIAL_LITERATURE = pd.DataFrame(
    [
        ("Poggio2022", "Poggio et al. 2022, φ ≈ −20°", "Gaia DR3 cool giants ([M/H])", -0.054, None),
        ("Poggio2022", "Poggio et al. 2022, φ ≈ +20°", "Gaia DR3 cool giants ([M/H])", -0.036, None),
    ],
    columns=["key", "label", "tracer", "m", "m_err"],
)
"""Radial gradients of Gaia DR3 giants from the literature [dex/kpc].  The headline gradient of
Gaia Collaboration, Recio-Blanco et al. (2023) could not be read here and is not listed."""
