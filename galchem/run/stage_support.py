"""What every stage shares: its error, the settings that key its cache entry, and the halo cut of a partition."""
from __future__ import annotations

import numpy as np
import pandas as pd

from galchem.data.sources import Dataset
from galchem.errors import GalchemError
from galchem.physics import membership
from galchem.run.config import RunConfig

__all__ = ["AZIMUTHAL_SETTINGS", "GRADIENT_SETTINGS", "KINEMATICS_SETTINGS", "StageError", "in_sample",
           "stage_params"]

KINEMATICS_SETTINGS = ("seed", "n_mc", "halo_rule", "correction")
GRADIENT_SETTINGS = (*KINEMATICS_SETTINGS, "n_walkers", "n_steps", "max_steps", "radial_z_edges", "vertical_r_edges",
                     "radial_r_range", "vertical_z_max", "min_stars")
AZIMUTHAL_SETTINGS = (*KINEMATICS_SETTINGS, "n_walkers", "n_steps", "max_steps", "annuli", "azimuthal_z_max",
                      "phi_bin_deg", "ring_width", "n_permutations", "radial_z_edges", "min_stars")
"""The settings each stage reads (its own and those of the stages before it): they key its cache entry."""


class StageError(GalchemError):
    """A stage that cannot run on these data; the message says why."""


def stage_params(dataset: Dataset, config: RunConfig, settings: tuple[str, ...]) -> dict:
    """What keys a stage's cache entry: the data, the survey and the settings the stage reads."""
    return {"data": dataset.key, "survey": dataset.survey.to_dict(), **config.subset(settings)}


def in_sample(table: pd.DataFrame, moving: bool) -> pd.DataFrame:
    """The rows of a candidates table that pass the halo cut (all of them without velocities)."""
    if not moving:
        return table
    return table.loc[np.asarray(membership.HALO_CUT.keep(table), dtype=bool)]
