"""The analysis pipeline, stage by stage, shared by the notebooks, ``galchem analyse`` and the Python API.

survey cuts -> precision cuts -> velocity cut -> Monte Carlo kinematics -> membership -> halo cut
-> gradient fits in bins; residuals near the plane, azimuthal profiles and tests

Each stage takes a :class:`~galchem.data.sources.Dataset` and a
:class:`~galchem.run.config.RunConfig`, returns a typed result that carries
its diagnostics and notes, and is cached under a key made of the data, the
survey, the settings it reads and the package's code (:mod:`galchem.run.cache`).
A survey without velocities runs positionally: no velocity or halo cut, and
the notes say so.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from galchem.analysis import azimuthal, fitting, gradients, profile
from galchem.data import cuts
from galchem.data.sources import Dataset
from galchem.errors import GalchemError
from galchem.physics import kinematics, membership
from galchem.run.cache import cached
from galchem.run.config import RunConfig

__all__ = ["AzimuthalResults", "GradientResults", "KinematicSample", "SAMPLE_COLUMNS", "StageError", "azimuthal_analysis",
           "gradient_fits", "kinematic_sample", "profile_edges"]

SAMPLE_COLUMNS = ("id", "ra", "dec", *(
    name for quantity in kinematics.QUANTITIES for name in (quantity, f"{quantity}_err")
), "feh", "feh_err", "p_thin", "p_thick", "p_halo", *kinematics.COVARIANCES)
"""The columns of the analysed sample (``sample.parquet``); the membership probabilities follow ``halo_rule``."""

KINEMATICS_SETTINGS = ("seed", "n_mc", "halo_rule")
GRADIENT_SETTINGS = (*KINEMATICS_SETTINGS, "n_walkers", "n_steps", "max_steps", "radial_z_edges", "vertical_r_edges",
                     "min_stars")
AZIMUTHAL_SETTINGS = (*KINEMATICS_SETTINGS, "n_walkers", "n_steps", "max_steps", "annuli", "azimuthal_z_max",
                      "phi_bin_deg", "ring_width", "n_permutations", "n_boot", "radial_z_edges")
"""The settings each stage reads (its own and those of the stages before it): they key its cache entry."""


class StageError(GalchemError):
    """A stage that cannot run on these data; the message says why."""


def _params(dataset: Dataset, config: RunConfig, settings: tuple[str, ...]) -> dict:
    return {"data": dataset.key, "survey": dataset.survey.to_dict(), **config.subset(settings)}


def _one_row(values: dict) -> pd.DataFrame:
    return pd.DataFrame([values])


@dataclass(frozen=True)
class KinematicSample:
    """Stars that passed the quality cuts, with kinematics and membership, the cut flow and notes.

    ``candidates`` still holds the probable halo stars (for the Toomre
    diagram); ``sample`` is the study's final disk sample without them.
    """

    candidates: pd.DataFrame
    flow: pd.DataFrame
    notes: tuple[str, ...] = ()

    @property
    def sample(self) -> pd.DataFrame:
        """The final sample: candidates with halo probability below the limit (all of them without velocities)."""
        if self.candidates["p_halo"].isna().all():
            return self.candidates
        keep = np.asarray(membership.HALO_CUT.keep(self.candidates), dtype=bool)
        return self.candidates.loc[keep].reset_index(drop=True)

    def to_tables(self) -> dict[str, pd.DataFrame]:
        """The cache's form."""
        return {"candidates": self.candidates, "flow": self.flow, "notes": pd.DataFrame({"note": list(self.notes)})}

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame]) -> KinematicSample:
        """Rebuild from :meth:`to_tables`."""
        return cls(tables["candidates"], tables["flow"], tuple(tables["notes"]["note"].astype(str)))


def kinematic_sample(dataset: Dataset, config: RunConfig | None = None, progress: bool = False) -> KinematicSample:
    """Run the cut flow, the Monte Carlo kinematics and membership on ``dataset`` (cached)."""
    config = config or RunConfig()
    survey = dataset.survey

    def compute() -> KinematicSample:
        moving = survey.has_velocities
        passed = cuts.apply_cuts(dataset.catalog, (*cuts.quality_cuts(survey), *((cuts.VELOCITY_CUT,) if moving else ())))
        table = passed.table
        notes = []
        if len(table) == 0:
            notes.append(f"kinematics: no stars pass the cuts ({len(dataset.catalog):,} read)")
        if not moving:
            notes.append(f"kinematics: survey {survey.name!r} maps no proper motions and radial velocities, so "
                         "velocities, membership and the halo cut are skipped; the run uses positions only")
        values = kinematics.kinematics_table(table, config.n_mc, config.stream("kinematics"), progress)
        if config.halo_rule == "errors":
            probs = membership.membership_with_errors(values).set_index(table.index)
        else:
            probs = membership.membership(values["vR"], values["vphi"], values["vz"]).set_index(table.index)
        if not moving:
            probs[:] = np.nan
        candidates = pd.concat([table[["id", "ra", "dec"]], values, table[["feh"]],
                                table[["feh_error"]].rename(columns={"feh_error": "feh_err"}), probs],
                               axis=1)[list(SAMPLE_COLUMNS)]
        flow = passed.flow
        if moving:
            flow = cuts.apply_cuts(candidates, (membership.HALO_CUT,), flow=flow).flow
        return KinematicSample(candidates.reset_index(drop=True), flow, tuple(notes))

    return cached("kinematics", _params(dataset, config, KINEMATICS_SETTINGS), compute, KinematicSample.from_tables)


@dataclass(frozen=True)
class GradientResults:
    """Radial and vertical gradient fits of the final sample."""

    radial: gradients.Gradients
    vertical: gradients.Gradients

    def notes(self) -> list[str]:
        """Where the data do not reach the configured bins, or a chain is too short: one line each."""
        return [*self.radial.notes(), *self.vertical.notes()]

    def to_tables(self) -> dict[str, pd.DataFrame]:
        """The cache's form."""
        return {f"{g.binning.name}_{name}": table for g in (self.radial, self.vertical)
                for name, table in g.to_tables().items()}


def binnings(config: RunConfig) -> tuple[gradients.Binning, gradients.Binning]:
    """The radial and vertical binnings of a configuration."""
    return gradients.radial_binning(config.radial_z_edges), gradients.vertical_binning(config.vertical_r_edges)


def gradient_fits(dataset: Dataset, config: RunConfig | None = None, progress: bool = False) -> GradientResults:
    """Fit the radial and vertical gradients of ``dataset``'s final sample (cached)."""
    config = config or RunConfig()
    radial, vertical = binnings(config)

    def compute() -> GradientResults:
        sample = kinematic_sample(dataset, config, progress).sample
        return GradientResults(*(
            gradients.fit_gradients(sample, binning, min_stars=config.min_stars, n_walkers=config.n_walkers,
                                    n_steps=config.n_steps, max_steps=config.max_steps,
                                    seed=config.stream(binning.name), progress=progress)
            for binning in (radial, vertical)))

    def load(tables: dict[str, pd.DataFrame]) -> GradientResults:
        return GradientResults(*(gradients.Gradients.from_tables(
            b, {"table": tables[f"{b.name}_table"], "draws": tables[f"{b.name}_draws"]}) for b in (radial, vertical)))

    return cached("gradients", _params(dataset, config, GRADIENT_SETTINGS), compute, load)


@dataclass(frozen=True)
class AzimuthalResults:
    """Stars near the plane with their residuals, the plane's radial fit, the profiles, the two tests and notes."""

    plane_fit: pd.Series  # m, m_err, b, b_err, lam, lam_err, n, tau, n_eff, reliable of [Fe/H] against R
    residuals: pd.DataFrame  # per star: residual (from the fit), delta (from the ring mean), residual_profile
    profile: pd.DataFrame  # azimuthal.PROFILE_COLUMNS, then mean_residual_profile and sem_residual_profile
    tests: dict  # p_value, statistic, arm_contrast (of the residual), arm_contrast_ring (of δ), ... (azimuthal_tests.json)
    null: np.ndarray  # the permutation null distribution
    stars: pd.DataFrame = field(default_factory=pd.DataFrame)  # the final sample with |Z| < z_max, plus the residuals
    notes: tuple[str, ...] = ()
    radial_profiles: pd.DataFrame = field(default_factory=pd.DataFrame)  # profile.SLICE_COLUMNS, one row per |Z| slice

    def to_tables(self) -> dict[str, pd.DataFrame]:
        """The cache's form (the stars are rebuilt from the kinematic stage)."""
        return {"plane_fit": self.plane_fit.to_frame().T, "residuals": self.residuals, "profile": self.profile,
                "tests": _one_row(self.tests), "null": pd.DataFrame({"statistic": self.null}),
                "notes": pd.DataFrame({"note": list(self.notes)}), "radial_profiles": self.radial_profiles}

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame]) -> AzimuthalResults:
        """Rebuild from :meth:`to_tables` (without the stars)."""
        return cls(tables["plane_fit"].iloc[0], tables["residuals"], tables["profile"],
                   tables["tests"].to_dict("records")[0], tables["null"]["statistic"].to_numpy(),
                   notes=tuple(tables["notes"]["note"].astype(str)), radial_profiles=tables["radial_profiles"])


def azimuthal_analysis(dataset: Dataset, config: RunConfig | None = None, progress: bool = False
                       ) -> AzimuthalResults:
    """Residuals from the radial gradient near the plane, ⟨δ[Fe/H]⟩(φ) and the tests for structure (cached)."""
    config = config or RunConfig()
    sample = kinematic_sample(dataset, config, progress).sample
    stars = sample.loc[sample["Z"].abs() < config.azimuthal_z_max].reset_index(drop=True)
    in_annuli = sum(int(stars["R"].between(lo, hi, inclusive="left").sum()) for lo, hi in config.annuli)
    if len(stars) < config.min_stars or in_annuli == 0:
        ranges = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in config.annuli)
        raise StageError(f"{len(stars):,} stars with |Z| < {config.azimuthal_z_max:g} kpc ({in_annuli:,} of them in "
                         f"{ranges} kpc); the plane's fit needs at least {config.min_stars:,} and the profiles some "
                         "in the annuli")

    def compute() -> AzimuthalResults:
        fit_stream, test_stream, arm_stream, ring_stream, profile_stream = config.stream("azimuthal").spawn(5)
        fit = fitting.fit_line(stars["R"], stars["feh"], stars["R_err"], stars["feh_err"],
                               n_walkers=config.n_walkers, n_steps=config.n_steps, max_steps=config.max_steps,
                               seed=fit_stream, progress=progress)
        residual = azimuthal.residual_from_fit(stars, fit.m, fit.b)
        delta = azimuthal.delta_from_ring_mean(stars["R"], stars["feh"], config.ring_width)
        residual_profile, slices = profile.profile_residuals(stars, profile_edges(config))
        edges = azimuthal.phi_edges(stars["phi"], config.phi_bin_deg)
        test = azimuthal.permutation_test(stars, delta, edges, n_permutations=config.n_permutations,
                                          seed=test_stream, annuli=config.annuli)
        arms = azimuthal.arm_contrast(stars, residual, n_boot=config.n_boot, seed=arm_stream)
        arms_ring = azimuthal.arm_contrast(stars, delta, n_boot=config.n_boot, seed=ring_stream)
        arms_profile = azimuthal.arm_contrast(stars, residual_profile, n_boot=config.n_boot, seed=profile_stream)
        plane = pd.Series({**fit.summary(), "tau": float(np.max(fit.autocorr_time)),
                           "n_eff": float(fit.effective_samples), "reliable": fit.reliable})
        tests = {"p_value": test.p_value, "p_value_status": test.status, "statistic": test.observed,
                 "n_permutations": config.n_permutations, "arm_contrast": arms.contrast,
                 "arm_contrast_err": arms.error, "arm_contrast_status": arms.status, "n_in_arms": arms.n_arm,
                 "n_between_arms": arms.n_between, "arm_contrast_ring": arms_ring.contrast,
                 "arm_contrast_ring_err": arms_ring.error, "z_max": config.azimuthal_z_max,
                 "phi_bin_deg": config.phi_bin_deg, "arm_contrast_profile": arms_profile.contrast,
                 "arm_contrast_profile_err": arms_profile.error, "arm_contrast_profile_status": arms_profile.status}
        notes = [f"azimuthal: permutation test {test.status}" if test.p_value is None else "",
                 f"azimuthal: arm contrast {arms.status}" if arms.contrast is None else "",
                 f"azimuthal: arm contrast against the radial profile {arms_profile.status}"
                 if arms_profile.contrast is None else "",
                 "" if fit.reliable else f"azimuthal: the plane's radial fit is unreliable: {fit.warning()}"]
        notes = tuple(note for note in notes if note)
        against_profile = azimuthal.azimuthal_profile(stars, residual_profile, edges, config.annuli)
        profiles = azimuthal.azimuthal_profile(stars, delta, edges, config.annuli).assign(
            mean_residual_profile=against_profile["mean_delta"], sem_residual_profile=against_profile["sem"])
        return AzimuthalResults(plane, pd.DataFrame({"residual": residual, "delta": delta,
                                                     "residual_profile": residual_profile}),
                                profiles, tests, test.null, notes=notes, radial_profiles=slices)

    result = cached("azimuthal", _params(dataset, config, AZIMUTHAL_SETTINGS), compute, AzimuthalResults.from_tables)
    plane = result.plane_fit
    near = stars.assign(predicted=plane["m"] * stars["R"] + plane["b"], **result.residuals)
    near["predicted_profile"] = near["feh"] - near["residual_profile"]
    return AzimuthalResults(plane, result.residuals, result.profile, result.tests, result.null, near, result.notes,
                            result.radial_profiles)


def profile_edges(config: RunConfig) -> tuple[float, ...]:
    """The |Z| slices [kpc] of the azimuthal stage's radial profiles: the radial binning's, cut at
    ``azimuthal_z_max``."""
    below = tuple(edge for edge in config.radial_z_edges if edge < config.azimuthal_z_max)
    return (*below, config.azimuthal_z_max) if below else (0.0, config.azimuthal_z_max)
