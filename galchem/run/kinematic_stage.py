"""The kinematic stage: the catalogue checked, cut, moved into the Galaxy's frame and sorted into populations.

Per partition it applies the survey's and the precision cuts and the
velocity cut, draws the Monte Carlo kinematics (:mod:`galchem.physics.kinematics`),
assigns membership and writes the partition's candidates to a parquet file
of the cache entry; the cut flows of the partitions add up.  It also keeps,
per sky cell, a bounded subsample of the stars' distance measures *before*
the cuts that select on them, from which it fits the population's distance
prior (:mod:`galchem.analysis.latent_distance`).

Stored candidates keep positions, velocities, [Fe/H] and membership in
float64 (they decide bins, cuts and fits to the last digit); the Monte Carlo
standard deviations and velocity covariances (each uncertain by a few per
cent) are stored as float32.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path

import numpy as np
import pandas as pd

from galchem.analysis import latent_distance
from galchem.data import cuts, partitions
from galchem.data.cache import cached_parts
from galchem.data.files import write_parquet
from galchem.data.ids import id_keys
from galchem.data.inspection import inspect_catalog
from galchem.data.partitions import Part
from galchem.data.sources import Dataset
from galchem.data.surveys import Survey
from galchem.physics import kinematics, membership
from galchem.run.config import RunConfig
from galchem.run.outputs import PartedTable
from galchem.run.resources import check_memory
from galchem.run.scheduler import Scheduler, open_scheduler, planned_workers
from galchem.run.stage_support import KINEMATICS_SETTINGS, in_sample, stage_params

__all__ = ["CANDIDATES", "KinematicSample", "PRIOR_TABLE", "SAMPLE_COLUMNS", "kinematic_sample", "sample_writer"]

SAMPLE_COLUMNS = ("id", "ra", "dec", "distance_u", "distance_u_err", *(
    name for quantity in kinematics.QUANTITIES for name in (quantity, f"{quantity}_err")
), "feh", "feh_err", "p_thin", "p_thick", "p_halo", *kinematics.COVARIANCES)
"""The columns of the analysed sample (``sample/part-NNNNN.parquet``); the membership probabilities follow
``halo_rule``.  ``distance_u`` and its error are the distance measure of :mod:`galchem.analysis.latent_distance`
(the parallax [mas] where the survey has one, else ln(distance / kpc))."""

FLOAT32_COLUMNS = (*(f"{quantity}_err" for quantity in kinematics.QUANTITIES), *kinematics.COVARIANCES)
"""Sample columns stored as float32: Monte Carlo standard deviations and covariances."""

PRIOR_TABLE = "distance_prior"
"""The kinematic stage's table of the distance prior (:meth:`latent_distance.DistancePrior.to_table`)."""

CANDIDATES = "candidates"
"""Subfolder of the kinematic stage's cache entry holding one candidates file per partition."""


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
        return in_sample(self.candidates, self.moving).reset_index(drop=True)


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
                    seed: np.random.SeedSequence, folder: str, many: bool, text_ids: bool, halo_rule: str,
                    corrected: bool) -> tuple[pd.DataFrame, latent_distance.PriorSample | None]:
    """One partition: cuts, kinematics, membership and halo cut; writes its candidates, returns its cut flow and
    (for ``corrected`` runs) its share of the distance prior's subsample (stars through every cut but those that
    select on the distance)."""
    index, part = item
    moving = survey.has_velocities
    table = part.read(survey, many)
    chosen = (*cuts.quality_cuts(survey, duplicated), *((cuts.VELOCITY_CUT,) if moving else ()))
    share = None
    if corrected:
        parent = cuts.apply_cuts(table, [cut for cut in chosen if cut.name not in PRECISION_CUTS]).table
        share = latent_distance.prior_sample(id_keys(parent["id"]), parent["ra"].to_numpy(),
                                             parent["dec"].to_numpy(),
                                             latent_distance.distance_measure(parent, survey.has_parallax))
        del parent
    passed = cuts.apply_cuts(table, chosen)
    del table
    candidates = _candidates(passed.table, survey, n_mc, seed, text_ids, halo_rule)
    write_parquet(candidates, Path(folder) / f"part-{index:05d}.parquet")
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


def kinematic_sample(dataset: Dataset, config: RunConfig | None = None,
                     scheduler: str | Scheduler = "single") -> KinematicSample:
    """Check the catalogue, then run the cut flow, the Monte Carlo kinematics and membership (cached).

    ``scheduler``: where the partitions are processed (:mod:`galchem.run.scheduler`);
    the result does not depend on it.
    """
    config = config or RunConfig()
    survey = dataset.survey
    moving = survey.has_velocities
    corrected = config.correction != "none"  # only corrected fits need the distance prior
    where = str(dataset.path) if dataset.path else dataset.source

    largest = max((p.rows or 0) for p in dataset.parts) or partitions.PART_ROWS
    check_memory(dataset.rows or largest, largest, where, planned_workers(scheduler))

    def compute(folder: Path) -> dict[str, pd.DataFrame]:
        with open_scheduler(scheduler) as runner:
            inspection = inspect_catalog(dataset.parts, survey, where, runner.map)
            (folder / CANDIDATES).mkdir()
            results = runner.map(_kinematic_part, list(enumerate(dataset.parts)), survey, inspection.duplicated,
                                 config.n_mc, config.stream("kinematics"), str(folder / CANDIDATES),
                                 len(dataset.parts) > 1, inspection.text_ids, config.halo_rule, corrected,
                                 label="kinematics")
        flow = cuts.add_flows([flow for flow, _ in results])
        prior = None
        if corrected:
            sample = results[0][1]
            for _, share in results[1:]:
                sample = sample.merge(share)
            prior = _distance_prior(sample, latent_distance.PARALLAX if survey.has_parallax
                                    else latent_distance.LOG_DISTANCE)
        notes = []
        if corrected and prior is None:
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

    tables, folder = cached_parts("kinematics", stage_params(dataset, config, KINEMATICS_SETTINGS), compute)
    parts = tuple(sorted((folder / CANDIDATES).glob("part-*.parquet")))
    prior = (latent_distance.DistancePrior.from_table(tables[PRIOR_TABLE]) if len(tables[PRIOR_TABLE]) else None)
    return KinematicSample(tables["flow"], parts, moving, tuple(tables["notes"]["note"].astype(str)), prior)


def sample_writer(kinematic: KinematicSample) -> PartedTable:
    """The final sample as a partitioned table: each partition's candidates through the halo cut."""
    return PartedTable(kinematic.parts, partial(in_sample, moving=kinematic.moving))


