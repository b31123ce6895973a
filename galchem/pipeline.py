"""The analysis pipeline, stage by stage, shared by the notebooks and ``galchem analyse``.

quality cuts -> velocity cut -> Monte Carlo kinematics -> membership -> halo cut

Each stage's result is cached (parquet) under a key made of the data it
started from and every parameter that shaped it (:mod:`galchem.cache`), so
rerunning one chapter does not recompute what another already did.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from galchem import contract, cuts, fitting, gradients, kinematics, membership
from galchem.cache import cached
from galchem.datasets import Dataset

SAMPLE_COLUMNS = ("source_id", "ra", "dec", *(
    name for quantity in kinematics.QUANTITIES for name in (quantity, f"{quantity}_err")
), "feh", "feh_err", "p_thin", "p_thick", "p_halo")
"""The columns of the analysed sample (``sample.parquet``)."""


@dataclass(frozen=True)
class KinematicSample:
    """Stars that passed the quality cuts, with kinematics and membership, and the cut flow.

    ``candidates`` still holds the probable halo stars (for the Toomre
    diagram); ``sample`` is the study's final disk sample without them.
    """

    candidates: pd.DataFrame
    flow: pd.DataFrame

    @property
    def sample(self) -> pd.DataFrame:
        """The final sample: candidates with halo probability below :data:`membership.HALO_LIMIT`."""
        keep = np.asarray(membership.HALO_CUT.keep(self.candidates), dtype=bool)
        return self.candidates.loc[keep].reset_index(drop=True)


def velocity_cut(sample: str) -> cuts.Cut:
    """Rows without a full velocity cannot get kinematics; this cut counts them rather than dropping them silently."""

    def keep(table: pd.DataFrame) -> np.ndarray:
        rv, rv_err = contract.radial_velocity(table, sample)
        known = table[["pmra", "pmra_error", "pmdec", "pmdec_error"]].assign(rv=rv, rv_err=rv_err)
        return np.isfinite(known).all(axis=1).to_numpy()

    return cuts.Cut("velocities", "proper motions, radial velocity and their errors known", keep)


def kinematic_sample(dataset: Dataset, n_mc: int = 1000, seed: int = 0, progress: bool = False) -> KinematicSample:
    """Run the cut flow, the Monte Carlo kinematics and membership on ``dataset`` (cached)."""

    def compute() -> dict[str, pd.DataFrame]:
        passed = cuts.apply_cuts(dataset.catalog, (*cuts.quality_cuts(dataset.sample), velocity_cut(dataset.sample)))
        table = passed.table
        feh, feh_err = contract.metallicity(table, dataset.sample)
        moving = kinematics.kinematics_table(table, dataset.sample, n_mc, seed, progress)
        probs = membership.membership(moving["vR"], moving["vphi"], moving["vz"]).set_index(table.index)
        candidates = pd.concat(
            [table[["source_id", "ra", "dec"]], moving, pd.DataFrame({"feh": feh, "feh_err": feh_err}), probs],
            axis=1,
        )[list(SAMPLE_COLUMNS)]
        flow = cuts.apply_cuts(candidates, (membership.HALO_CUT,), flow=passed.flow).flow
        return {"candidates": candidates, "flow": flow}

    params = {"data": dataset.key, "n_mc": n_mc, "seed": seed}
    tables = cached("kinematics", params, compute, (cuts, kinematics, membership, contract, sys.modules[__name__]))
    return KinematicSample(tables["candidates"], tables["flow"])


@dataclass(frozen=True)
class GradientResults:
    """Radial and vertical gradient fits of the final sample."""

    radial: gradients.Gradients
    vertical: gradients.Gradients


def gradient_fits(dataset: Dataset, n_mc: int = 1000, seed: int = 0, n_walkers: int = 10, n_steps: int = 1000,
                  progress: bool = False) -> GradientResults:
    """Fit the radial and vertical gradients of ``dataset``'s final sample (cached)."""
    sample = kinematic_sample(dataset, n_mc, seed, progress).sample

    def compute() -> dict[str, pd.DataFrame]:
        tables = {}
        for binning in (gradients.RADIAL, gradients.VERTICAL):
            fits = gradients.fit_gradients(sample, binning, n_walkers=n_walkers, n_steps=n_steps, seed=seed,
                                           progress=progress)
            tables[binning.name] = fits.table
            tables[f"{binning.name}_draws"] = fits.draws
        return tables

    params = {"data": dataset.key, "n_mc": n_mc, "seed": seed, "n_walkers": n_walkers, "n_steps": n_steps}
    modules = (cuts, kinematics, membership, contract, gradients, fitting, sys.modules[__name__])
    tables = cached("gradients", params, compute, modules)
    return GradientResults(*(gradients.Gradients(tables[name], tables[f"{name}_draws"])
                             for name in ("radial", "vertical")))
