"""The analysis pipeline, stage by stage, shared by the notebooks and ``galchem analyse``.

quality cuts -> velocity cut -> Monte Carlo kinematics -> membership -> halo cut
-> gradient fits in bins; residuals near the plane, azimuthal profiles and tests

Each stage's result is cached (parquet) under a key made of the data it
started from and every parameter that shaped it (:mod:`galchem.run.cache`), so
rerunning one chapter does not recompute what another already did.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from galchem.analysis import azimuthal
from galchem.data import contract
from galchem.data import cuts
from galchem.analysis import fitting
from galchem.analysis import gradients
from galchem.physics import kinematics
from galchem.physics import membership
from galchem.analysis import arms as spiral_arms
from galchem.run.cache import cached
from galchem.data.sources import Dataset

SAMPLE_COLUMNS = ("source_id", "ra", "dec", *(
    name for quantity in kinematics.QUANTITIES for name in (quantity, f"{quantity}_err")
), "feh", "feh_err", "p_thin", "p_thick", "p_halo")
"""The columns of the analysed sample (``sample.parquet``)."""

KINEMATICS_CODE = (cuts, kinematics, membership, contract, sys.modules[__name__])
"""The modules whose source keys the kinematic stage, and through it every later stage."""


def _stage_params(dataset: Dataset, n_mc: int, seed: int, **more) -> dict:
    """Cache parameters of a stage: the data and the kinematic stage's parameters, then the stage's own."""
    return {"data": dataset.key, "n_mc": n_mc, "seed": seed, **more}


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

    tables = cached("kinematics", _stage_params(dataset, n_mc, seed), compute, KINEMATICS_CODE)
    return KinematicSample(tables["candidates"], tables["flow"])


@dataclass(frozen=True)
class GradientResults:
    """Radial and vertical gradient fits of the final sample."""

    radial: gradients.Gradients
    vertical: gradients.Gradients


def gradient_fits(dataset: Dataset, n_mc: int = 1000, seed: int = 0, n_walkers: int = 10, n_steps: int = 1000,
                  progress: bool = False) -> GradientResults:
    """Fit the radial and vertical gradients of ``dataset``'s final sample (cached)."""

    def compute() -> dict[str, pd.DataFrame]:
        sample = kinematic_sample(dataset, n_mc, seed, progress).sample
        tables = {}
        for binning in (gradients.RADIAL, gradients.VERTICAL):
            fits = gradients.fit_gradients(sample, binning, n_walkers=n_walkers, n_steps=n_steps, seed=seed,
                                           progress=progress)
            tables[binning.name] = fits.table
            tables[f"{binning.name}_draws"] = fits.draws
        return tables

    params = _stage_params(dataset, n_mc, seed, n_walkers=n_walkers, n_steps=n_steps)
    tables = cached("gradients", params, compute, (*KINEMATICS_CODE, gradients, fitting))
    return GradientResults(*(gradients.Gradients(tables[name], tables[f"{name}_draws"])
                             for name in ("radial", "vertical")))


@dataclass(frozen=True)
class AzimuthalResults:
    """Stars near the plane with their residuals, the plane's radial fit, the profiles and the two tests."""

    stars: pd.DataFrame  # the final sample with |Z| < z_max, plus "predicted", "residual" and "delta"
    plane_fit: pd.Series  # m, m_err, b, b_err, lam, lam_err, n of [Fe/H] against R for those stars
    profile: pd.DataFrame  # azimuthal.PROFILE_COLUMNS
    tests: dict  # p_value, statistic, arm_contrast (of the residual), arm_contrast_ring (of δ), ... (azimuthal_tests.json)
    null: np.ndarray  # the permutation null distribution


def azimuthal_analysis(dataset: Dataset, n_mc: int = 1000, seed: int = 0, n_walkers: int = 10, n_steps: int = 1000,
                       n_permutations: int = 1000, n_boot: int = 1000, z_max: float = 0.3, phi_width: float = 2.0,
                       progress: bool = False) -> AzimuthalResults:
    """Residuals from the radial gradient near the plane, ⟨δ[Fe/H]⟩(φ) and the tests for structure (cached)."""
    sample = kinematic_sample(dataset, n_mc, seed, progress).sample
    stars = sample.loc[sample["Z"].abs() < z_max].reset_index(drop=True)

    def compute() -> dict[str, pd.DataFrame]:
        fit = fitting.fit_line(stars["R"], stars["feh"], stars["R_err"], stars["feh_err"], n_walkers=n_walkers,
                               n_steps=n_steps, seed=seed, progress=progress)
        residual = azimuthal.residual_from_fit(stars, fit.m, fit.b)
        delta = azimuthal.delta_from_ring_mean(stars["R"], stars["feh"])
        edges = azimuthal.phi_edges(stars["phi"], phi_width)
        test = azimuthal.permutation_test(stars, delta, edges, n_permutations=n_permutations, seed=seed)
        arms = azimuthal.arm_contrast(stars, residual, n_boot=n_boot, seed=seed)
        arms_ring = azimuthal.arm_contrast(stars, delta, n_boot=n_boot, seed=seed)
        plane = {name: getattr(fit, name) for name in fitting.PARAMETERS}
        plane.update({f"{name}_err": getattr(fit, f"{name}_err") for name in fitting.PARAMETERS}, n=fit.n)
        tests = {"p_value": test.p_value, "statistic": test.observed, "n_permutations": n_permutations,
                 "arm_contrast": arms.contrast, "arm_contrast_err": arms.error, "n_in_arms": arms.n_arm,
                 "n_between_arms": arms.n_between, "arm_contrast_ring": arms_ring.contrast,
                 "arm_contrast_ring_err": arms_ring.error, "z_max": z_max, "phi_bin_deg": phi_width}
        return {
            "plane_fit": pd.DataFrame([plane]),
            "residuals": pd.DataFrame({"residual": residual, "delta": delta}),
            "profile": azimuthal.azimuthal_profile(stars, delta, edges),
            "tests": pd.DataFrame([tests]),
            "null": pd.DataFrame({"statistic": test.null}),
        }

    params = _stage_params(dataset, n_mc, seed, n_walkers=n_walkers, n_steps=n_steps, n_permutations=n_permutations,
                           n_boot=n_boot, z_max=z_max, phi_width=phi_width)
    tables = cached("azimuthal", params, compute, (*KINEMATICS_CODE, fitting, azimuthal, spiral_arms))
    plane = tables["plane_fit"].iloc[0]
    stars = stars.assign(predicted=plane["m"] * stars["R"] + plane["b"], **tables["residuals"])
    tests = tables["tests"].to_dict("records")[0]
    return AzimuthalResults(stars, plane, tables["profile"], tests, tables["null"]["statistic"].to_numpy())
