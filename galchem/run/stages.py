"""The analysis pipeline, stage by stage, shared by the notebooks, ``galchem analyse`` and the Python API.

survey cuts -> precision cuts -> velocity cut -> Monte Carlo kinematics -> membership -> halo cut
-> gradient fits in bins; residuals near the plane, azimuthal profiles and tests

Each stage takes a :class:`~galchem.data.sources.Dataset` and a
:class:`~galchem.run.config.RunConfig`, returns a typed result that carries
its diagnostics and notes, and is cached under a key made of the data, the
survey, the settings it reads and the package's code (:mod:`galchem.data.cache`).
A survey without velocities runs positionally: no velocity or halo cut, and
the notes say so.

Every stage runs partition by partition on Dask (:mod:`galchem.run.scheduler`):

* the **kinematic stage** first checks the whole catalogue (:mod:`galchem.data.inspection`),
  then, per partition, applies the cuts, the Monte Carlo kinematics and
  membership and writes the partition's candidates to a parquet file of the
  cache entry; the cut flows of the partitions add up;
* the kinematic stage also keeps, per sky cell, a bounded subsample of the
  stars' distance measures *before* the cuts that select on them (parallax
  and distance precision), from which it fits the population's distance
  prior (:mod:`galchem.analysis.latent_distance`);
* the **gradient fits** reduce per-bin sums (:mod:`galchem.analysis.line_sums`)
  of the flat fit, of the corrected fit (each star at its posterior mean and
  standard deviation of R or |Z| under that prior) and of SIMEX's noisy
  copies (:mod:`galchem.analysis.simex`), all in one pass;
* the **azimuthal stage** fits the plane from sums too, and gathers only the
  stars it needs (|Z| below its limit), only the columns it reads, sorted by id.

So memory does not grow with the catalogue beyond what the azimuthal stage
gathers, and the same seed gives the same tables whatever the scheduler and
the partitioning.  Stored candidates keep positions, velocities, [Fe/H] and
membership in float64 (they decide bins, cuts and fits to the last digit);
the Monte Carlo standard deviations and velocity covariances (each
uncertain by a few per cent) are stored as float32.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import numpy as np
import pandas as pd

from galchem.analysis import gradients, latent_distance, line_sums, simex
from galchem.analysis.near_plane import study_near_plane
from galchem.data import cuts, partitions
from galchem.data.ids import id_keys
from galchem.data.partitions import Part
from galchem.data.inspection import inspect_catalog
from galchem.data.sources import Dataset
from galchem.data.surveys import Survey
from galchem.errors import GalchemError
from galchem.physics import kinematics, membership
from galchem.data.cache import cached, cached_parts
from galchem.run.config import RunConfig
from galchem.run.outputs import PartedTable
from galchem.run.resources import check_memory
from galchem.run.scheduler import Scheduler, open_scheduler, planned_workers

__all__ = ["AzimuthalResults", "GradientResults", "KinematicSample", "SAMPLE_COLUMNS", "StageError", "azimuthal_analysis",
           "binnings", "gradient_fits", "kinematic_sample", "profile_edges", "sample_writer"]

SAMPLE_COLUMNS = ("id", "ra", "dec", "distance_u", "distance_u_err", *(
    name for quantity in kinematics.QUANTITIES for name in (quantity, f"{quantity}_err")
), "feh", "feh_err", "p_thin", "p_thick", "p_halo", *kinematics.COVARIANCES)
"""The columns of the analysed sample (``sample/part-NNNNN.parquet``); the membership probabilities follow
``halo_rule``.  ``distance_u`` and its error are the distance measure of :mod:`galchem.analysis.latent_distance`
(the parallax [mas] where the survey has one, else ln(distance / kpc))."""

FLOAT32_COLUMNS = (*(f"{quantity}_err" for quantity in kinematics.QUANTITIES), *kinematics.COVARIANCES)
"""Sample columns stored as float32: Monte Carlo standard deviations and covariances."""

GRADIENT_COLUMNS = ("id", "ra", "dec", "distance_u", "distance_u_err", "R", "R_err", "Z", "Z_err", "feh", "feh_err",
                    "p_halo")
AZIMUTHAL_COLUMNS = ("id", "R", "R_err", "Z", "phi", "feh", "feh_err", "p_halo")
"""The columns the gradient fits and the azimuthal stage read."""

GATHERED_COLUMNS = ("id", "R", "Z", "phi", "feh")
"""The columns of the near-plane stars that the azimuthal stage gathers (its fit adds up sums instead).

All but the id are gathered as float32 (1 pc in R and Z, 0.1 microradian in φ, 1e-7 dex in [Fe/H]: far below
their errors), and the id only until the stars are sorted by it: about 16 bytes per star, the one part of the run
that grows with the catalogue.  The plane's fit uses float64 sums made in each partition."""

KINEMATICS_SETTINGS = ("seed", "n_mc", "halo_rule")
GRADIENT_SETTINGS = (*KINEMATICS_SETTINGS, "n_walkers", "n_steps", "max_steps", "radial_z_edges", "vertical_r_edges",
                     "radial_r_range", "vertical_z_max", "min_stars")
AZIMUTHAL_SETTINGS = (*KINEMATICS_SETTINGS, "n_walkers", "n_steps", "max_steps", "annuli", "azimuthal_z_max",
                      "phi_bin_deg", "ring_width", "n_permutations", "n_boot", "radial_z_edges", "min_stars")
"""The settings each stage reads (its own and those of the stages before it): they key its cache entry."""

PRIOR_TABLE = "distance_prior"
"""The kinematic stage's table of the distance prior (:meth:`latent_distance.DistancePrior.to_table`)."""

CANDIDATES = "candidates"
"""Subfolder of the kinematic stage's cache entry holding one candidates file per partition."""


class StageError(GalchemError):
    """A stage that cannot run on these data; the message says why."""


def _params(dataset: Dataset, config: RunConfig, settings: tuple[str, ...]) -> dict:
    return {"data": dataset.key, "survey": dataset.survey.to_dict(), **config.subset(settings)}


def _one_row(values: dict) -> pd.DataFrame:
    return pd.DataFrame([values])


def _in_sample(table: pd.DataFrame, moving: bool) -> pd.DataFrame:
    """The rows of a candidates table that pass the halo cut (all of them without velocities)."""
    if not moving:
        return table
    return table.loc[np.asarray(membership.HALO_CUT.keep(table), dtype=bool)]


@dataclass(frozen=True)
class KinematicSample:
    """Stars that passed the quality cuts, with kinematics and membership, the cut flow and notes.

    The candidates live in one parquet file per partition (``parts``);
    :attr:`candidates` still holds the probable halo stars (for the Toomre
    diagram), :attr:`sample` is the study's final disk sample without them.
    Both read every partition into memory on first use (for the notebooks);
    the stages read the files partition by partition.
    """

    flow: pd.DataFrame
    parts: tuple[Path, ...]
    moving: bool
    notes: tuple[str, ...] = ()
    prior: latent_distance.DistancePrior | None = None  # the population's distance prior (None: too few stars)

    @cached_property
    def candidates(self) -> pd.DataFrame:
        """Every candidate, halo stars included."""
        return partitions.concat([pd.read_parquet(path) for path in self.parts])

    @property
    def sample(self) -> pd.DataFrame:
        """The final sample: candidates with halo probability below the limit (all of them without velocities)."""
        return _in_sample(self.candidates, self.moving).reset_index(drop=True)


def _candidates(table: pd.DataFrame, survey: Survey, n_mc: int, seed: np.random.SeedSequence, text_ids: bool,
                halo_rule: str) -> pd.DataFrame:
    """Kinematics and membership (by ``halo_rule``) of the rows that passed the cuts, as the sample's columns and
    types."""
    values = kinematics.kinematics_table(table, n_mc, seed)
    if halo_rule == "errors":
        probs = membership.membership_with_errors(values).set_index(table.index)
    else:
        probs = membership.membership(values["vR"], values["vphi"], values["vz"]).set_index(table.index)
    if not survey.has_velocities:
        probs[:] = np.nan
    measure = latent_distance.distance_measure(table, survey.has_parallax)
    distances = pd.DataFrame({"distance_u": measure.u, "distance_u_err": measure.u_err}, index=table.index)
    candidates = pd.concat([table[["id", "ra", "dec"]], distances, values, table[["feh"]],
                            table[["feh_error"]].rename(columns={"feh_error": "feh_err"}), probs],
                           axis=1)[list(SAMPLE_COLUMNS)].reset_index(drop=True)
    return candidates.astype({"id": "str" if text_ids else np.int64, **dict.fromkeys(FLOAT32_COLUMNS, np.float32)})


def _kinematic_part(item: tuple[int, Part], survey: Survey, duplicated: np.ndarray, n_mc: int,
                    seed: np.random.SeedSequence, folder: str, many: bool, text_ids: bool, halo_rule: str
                    ) -> pd.DataFrame:
    """One partition: cuts, kinematics, membership and halo cut; writes its candidates, returns its cut flow and
    its share of the distance prior's subsample (stars through every cut but those that select on the distance)."""
    index, part = item
    moving = survey.has_velocities
    table = part.read(survey, many)
    chosen = (*cuts.quality_cuts(survey, duplicated), *((cuts.VELOCITY_CUT,) if moving else ()))
    parent = cuts.apply_cuts(table, [cut for cut in chosen if cut.name not in PRECISION_CUTS]).table
    share = latent_distance.prior_sample(id_keys(parent["id"]), parent["ra"].to_numpy(), parent["dec"].to_numpy(),
                                         latent_distance.distance_measure(parent, survey.has_parallax))
    del parent
    passed = cuts.apply_cuts(table, chosen)
    del table
    candidates = _candidates(passed.table, survey, n_mc, seed, text_ids, halo_rule)
    candidates.to_parquet(Path(folder) / f"part-{index:05d}.parquet", index=False)
    flow = passed.flow
    if moving:
        flow = cuts.apply_cuts(candidates, (membership.HALO_CUT,), flow=flow).flow
    return flow, share


PRECISION_CUTS = (cuts.PARALLAX_CUT.name, cuts.DISTANCE_CUT.name)
"""The cuts that select on the distance measure: the distance prior's population is taken before them."""


def _distance_prior(sample: latent_distance.PriorSample, kind: str) -> latent_distance.DistancePrior | None:
    """The population's distance prior, or None when too few stars have a usable distance measure."""
    if sample.pooled()[0].size < latent_distance.MIN_CELL_STARS:
        return None
    return latent_distance.fit_prior(sample, kind)


def kinematic_sample(dataset: Dataset, config: RunConfig | None = None, progress: bool = False,
                     scheduler: str | Scheduler = "single") -> KinematicSample:
    """Check the catalogue, then run the cut flow, the Monte Carlo kinematics and membership (cached).

    ``scheduler``: where the partitions are processed (:mod:`galchem.run.scheduler`);
    the result does not depend on it.
    """
    config = config or RunConfig()
    survey = dataset.survey
    moving = survey.has_velocities
    where = str(dataset.path) if dataset.path else dataset.source

    largest = max((p.rows or 0) for p in dataset.parts) or partitions.PART_ROWS
    check_memory(dataset.rows or largest, largest, where, planned_workers(scheduler))

    def compute(folder: Path) -> dict[str, pd.DataFrame]:
        with open_scheduler(scheduler) as runner:
            inspection = inspect_catalog(dataset.parts, survey, where, runner.map)
            (folder / CANDIDATES).mkdir()
            results = runner.map(_kinematic_part, list(enumerate(dataset.parts)), survey, inspection.duplicated,
                                 config.n_mc, config.stream("kinematics"), str(folder / CANDIDATES),
                                 len(dataset.parts) > 1, inspection.text_ids, config.halo_rule)
        flow = cuts.add_flows([flow for flow, _ in results])
        sample = results[0][1]
        for _, share in results[1:]:
            sample = sample.merge(share)
        kind = latent_distance.PARALLAX if survey.has_parallax else latent_distance.LOG_DISTANCE
        prior = _distance_prior(sample, kind)
        notes = []
        if prior is None:
            notes.append(f"gradients: fewer than {latent_distance.MIN_CELL_STARS} stars with a usable distance "
                         "before the precision cuts, so no distance prior and no corrected gradients")
        if int(flow["remaining"].iloc[-2 if moving else -1]) == 0:  # before the halo cut
            notes.append(f"kinematics: no stars pass the cuts ({inspection.rows:,} read)")
        if not moving:
            notes.append(f"kinematics: survey {survey.name!r} maps no proper motions and radial velocities, so "
                         "velocities, membership and the halo cut are skipped; the run uses positions only")
        notes.extend(f"kinematics: {line}" for line in cuts.heavy_cuts(flow))
        prior_table = (prior.to_table() if prior is not None
                       else latent_distance.DistancePrior.empty_table())
        return {"flow": flow, "notes": pd.DataFrame({"note": notes}, dtype=object), PRIOR_TABLE: prior_table}

    tables, folder = cached_parts("kinematics", _params(dataset, config, KINEMATICS_SETTINGS), compute)
    parts = tuple(sorted((folder / CANDIDATES).glob("part-*.parquet")))
    prior = (latent_distance.DistancePrior.from_table(tables[PRIOR_TABLE]) if len(tables[PRIOR_TABLE]) else None)
    return KinematicSample(tables["flow"], parts, moving, tuple(tables["notes"]["note"].astype(str)), prior)


def sample_writer(kinematic: KinematicSample) -> PartedTable:
    """The final sample as a partitioned table: each partition's candidates through the halo cut."""
    return PartedTable(kinematic.parts, partial(_in_sample, moving=kinematic.moving))


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
    return (gradients.radial_binning(config.radial_z_edges, config.radial_r_range),
            gradients.vertical_binning(config.vertical_r_edges, config.vertical_z_max))


def _gradient_part(path: Path, chosen: tuple[gradients.Binning, ...], moving: bool,
                   prior: latent_distance.DistancePrior | None, simex_key: np.uint64
                   ) -> tuple[list[list[line_sums.BinShare]], list]:
    """One partition's per-bin sums for each binning: flat, corrected and SIMEX's noisy copies."""
    table = _in_sample(pd.read_parquet(path, columns=list(GRADIENT_COLUMNS)), moving)
    moments = None if prior is None else latent_distance.sample_moments(prior, table)
    out = [line_sums.table_shares(table, binning, moments) for binning in chosen]
    noisy = None
    if prior is not None:
        measure = latent_distance.DistanceMeasure(table["distance_u"].to_numpy(dtype=float),
                                                  table["distance_u_err"].to_numpy(dtype=float), prior.kind)
        ids = table["id"].to_numpy()
        noisy = simex.simex_sums(id_keys(ids), ids, table["ra"].to_numpy(), table["dec"].to_numpy(), measure,
                                 table["feh"].to_numpy(), chosen, simex_key)
    return out, noisy


def _merge_gradient_shares(a, b):
    """Two partitions' gradient shares together."""
    shares = [line_sums.merge_shares(one, two) for one, two in zip(a[0], b[0])]
    return shares, None if a[1] is None else simex.merge(a[1], b[1])


def gradient_fits(dataset: Dataset, config: RunConfig | None = None, progress: bool = False,
                  scheduler: str | Scheduler = "single") -> GradientResults:
    """Fit the radial and vertical gradients of ``dataset``'s final sample (cached), from per-bin sums.

    Each bin is fitted with the study's flat prior on the true x and
    corrected for the errors in x with one latent distance per star
    (:mod:`galchem.analysis.latent_distance`), with SIMEX as a cross-check;
    one pass over the partitions makes every sum.
    """
    config = config or RunConfig()
    radial, vertical = binnings(config)
    chosen = (radial, vertical)

    def compute() -> GradientResults:
        with open_scheduler(scheduler) as runner:
            kinematic = kinematic_sample(dataset, config, progress, runner)
            simex_stream = config.stream("simex")
            shares, noisy = runner.map_reduce(_gradient_part, kinematic.parts, _merge_gradient_shares, chosen,
                                              kinematic.moving, kinematic.prior,
                                              np.uint64(simex_stream.generate_state(1, np.uint64)[0]))
        results = []
        for b, (per_bin, binning) in enumerate(zip(shares, chosen)):
            estimates = None if noisy is None else [simex.estimate(levels) for levels in noisy[b]]
            results.append(line_sums.fit_binned(
                per_bin, binning, min_stars=config.min_stars, n_walkers=config.n_walkers, n_steps=config.n_steps,
                max_steps=config.max_steps, seed=config.stream(binning.name), simex=estimates))
        return GradientResults(*results)

    def load(tables: dict[str, pd.DataFrame]) -> GradientResults:
        return GradientResults(*(gradients.Gradients.from_tables(
            b, {"table": tables[f"{b.name}_table"], "draws": tables[f"{b.name}_draws"]}) for b in (radial, vertical)))

    return cached("gradients", _params(dataset, config, GRADIENT_SETTINGS), compute, load)


@dataclass(frozen=True)
class AzimuthalResults:
    """Stars near the plane with their residuals, the plane's radial fit, the profiles, the two tests and notes.

    ``residuals`` (and :attr:`stars`) are in the order of the stars' ids.
    """

    plane_fit: pd.Series  # m, m_err, b, b_err, lam, lam_err, n, tau, n_eff, reliable of [Fe/H] against R
    residuals: pd.DataFrame  # per star: residual (from the fit), delta (from the ring mean), residual_profile
    profile: pd.DataFrame  # azimuthal.PROFILE_COLUMNS, then mean_residual_profile and sem_residual_profile
    tests: dict  # p_value, statistic, arm_contrast (of the residual), arm_contrast_ring (of δ), ... (azimuthal_tests.json)
    null: np.ndarray  # the permutation null distribution
    notes: tuple[str, ...] = ()
    radial_profiles: pd.DataFrame = field(default_factory=pd.DataFrame)  # profile.SLICE_COLUMNS, one row per |Z| slice
    near_plane: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def stars(self) -> pd.DataFrame:
        """The final sample with |Z| below the limit (every column, by id), with ``predicted``, ``residual``,
        ``delta``, ``residual_profile`` and ``predicted_profile`` (the smooth profile's [Fe/H] at the star).

        Read from the kinematic stage's partitions on first use.
        """
        stars = self.near_plane() if self.near_plane else pd.DataFrame()
        if stars.empty:
            return stars
        stars = stars.assign(predicted=self.plane_fit["m"] * stars["R"] + self.plane_fit["b"], **self.residuals)
        return stars.assign(predicted_profile=stars["feh"] - stars["residual_profile"])

    def to_tables(self) -> dict[str, pd.DataFrame]:
        """The cache's form (the stars are rebuilt from the kinematic stage)."""
        return {"plane_fit": self.plane_fit.to_frame().T, "residuals": self.residuals, "profile": self.profile,
                "tests": _one_row(self.tests), "null": pd.DataFrame({"statistic": self.null}),
                "notes": pd.DataFrame({"note": list(self.notes)}, dtype=object),
                "radial_profiles": self.radial_profiles}

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame]) -> AzimuthalResults:
        """Rebuild from :meth:`to_tables` (without the stars)."""
        return cls(tables["plane_fit"].iloc[0], tables["residuals"], tables["profile"],
                   tables["tests"].to_dict("records")[0], tables["null"]["statistic"].to_numpy(),
                   notes=tuple(tables["notes"]["note"].astype(str)), radial_profiles=tables["radial_profiles"])


def _near_plane_part(path: Path, z_max: float, moving: bool, columns: tuple[str, ...] | None) -> pd.DataFrame:
    """One partition's sample stars with |Z| < z_max (only ``columns``; None: all)."""
    table = _in_sample(pd.read_parquet(path, columns=None if columns is None else list(columns)), moving)
    return table.loc[table["Z"].abs() < z_max]


_NearPlane = tuple[line_sums.BinSums, list[dict[str, np.ndarray]]]


def _near_plane_sums(path: Path, z_max: float, moving: bool) -> _NearPlane:
    """One partition's share of the azimuthal stage: the plane fit's sums and the few columns the rest reads."""
    table = _near_plane_part(path, z_max, moving, AZIMUTHAL_COLUMNS)
    sums = line_sums.bin_sums(table["id"].to_numpy(), table["R"], table["feh"], table["R_err"], table["feh_err"])
    return sums, [{name: table[name].to_numpy(dtype=None if name == "id" else np.float32, copy=True)
                   for name in GATHERED_COLUMNS}]  # copies: the partition's table is freed


def _merge_near_plane(a: _NearPlane, b: _NearPlane) -> _NearPlane:
    """Two shares: the sums merged as they arrive (each holds one array per error group), the columns listed."""
    return line_sums.merge(a[0], b[0]), a[1] + b[1]


def _gather_by_id(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """Partitions' columns (but the id) as one table in the order of the ids, never holding much more than one
    copy of them."""
    order = np.argsort(np.concatenate([part.pop("id") for part in parts]), kind="stable")
    columns = {}
    for name in GATHERED_COLUMNS[1:]:  # each partition's column is released once it is copied
        columns[name] = np.concatenate([part.pop(name) for part in parts])[order]
    return pd.DataFrame(columns, copy=False)


def azimuthal_analysis(dataset: Dataset, config: RunConfig | None = None, progress: bool = False,
                       scheduler: str | Scheduler = "single") -> AzimuthalResults:
    """Residuals from the radial gradient near the plane, ⟨δ[Fe/H]⟩(φ) and the tests for structure (cached).

    The plane's radial fit adds up per-partition sums; only the stars with
    |Z| below ``azimuthal_z_max`` are gathered, with the five columns the
    rest reads (:data:`GATHERED_COLUMNS`), sorted by id before any step that
    depends on their order (the ring means, the shuffles, the bootstrap).
    """
    config = config or RunConfig()
    params = _params(dataset, config, AZIMUTHAL_SETTINGS)

    def near_plane() -> pd.DataFrame:
        with open_scheduler("single") as runner:
            kinematic = kinematic_sample(dataset, config, progress, runner)
            stars = partitions.concat(runner.map(_near_plane_part, kinematic.parts, config.azimuthal_z_max,
                                                 kinematic.moving, None))
        return stars.sort_values("id", kind="stable").reset_index(drop=True)

    def compute() -> AzimuthalResults:
        with open_scheduler(scheduler) as runner:
            kinematic = kinematic_sample(dataset, config, progress, runner)
            sums, columns = runner.map_reduce(_near_plane_sums, kinematic.parts, _merge_near_plane,
                                              config.azimuthal_z_max, kinematic.moving)
        stars = _gather_by_id(columns)
        del columns
        in_annuli = sum(int(stars["R"].between(lo, hi, inclusive="left").sum()) for lo, hi in config.annuli)
        if len(stars) < config.min_stars or in_annuli == 0:
            ranges = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in config.annuli)
            raise StageError(f"{len(stars):,} stars with |Z| < {config.azimuthal_z_max:g} kpc ({in_annuli:,} of them "
                             f"in {ranges} kpc); the plane's fit needs at least {config.min_stars:,} and the profiles "
                             "some in the annuli")
        science = study_near_plane(
            stars, sums, z_edges=profile_edges(config), z_max=config.azimuthal_z_max, ring_width=config.ring_width,
            phi_bin_deg=config.phi_bin_deg, annuli=config.annuli, n_permutations=config.n_permutations,
            n_boot=config.n_boot, n_walkers=config.n_walkers, n_steps=config.n_steps, max_steps=config.max_steps,
            stream=config.stream("azimuthal"))
        return AzimuthalResults(science.plane_fit, science.residuals, science.profile, science.tests.to_dict(),
                                science.null, science.notes, science.radial_profiles)

    result = cached("azimuthal", params, compute, AzimuthalResults.from_tables)
    return AzimuthalResults(result.plane_fit, result.residuals, result.profile, result.tests, result.null,
                            result.notes, result.radial_profiles, near_plane)


def profile_edges(config: RunConfig) -> tuple[float, ...]:
    """The |Z| slices [kpc] of the azimuthal stage's radial profiles: the radial binning's, cut at
    ``azimuthal_z_max``."""
    below = tuple(edge for edge in config.radial_z_edges if edge < config.azimuthal_z_max)
    return (*below, config.azimuthal_z_max) if below else (0.0, config.azimuthal_z_max)
