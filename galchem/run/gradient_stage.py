"""The gradient stage: every bin's line fits from per-bin sums made in one pass over the partitions.

Each partition adds its stars' sums of the flat fit, of the corrected fit
(each star at its posterior mean and standard deviation of R or |Z| under
the population's distance prior) and of SIMEX's noisy copies
(:mod:`galchem.analysis.line_sums`, :mod:`galchem.analysis.simex`); the
sums are merged in double-double, so the fits do not depend on the
partitioning, and the one bin loop (:func:`galchem.analysis.line_sums.fit_binned`)
fits them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from galchem.analysis import gradients, latent_distance, line_sums, simex
from galchem.data.cache import cached
from galchem.data.ids import id_keys, seed_key
from galchem.data.sources import Dataset
from galchem.run.config import RunConfig
from galchem.run.kinematic_stage import kinematic_sample
from galchem.run.scheduler import Scheduler, open_scheduler
from galchem.run.stage_support import GRADIENT_SETTINGS, in_sample, stage_params

__all__ = ["GRADIENT_COLUMNS", "GradientResults", "binnings", "gradient_fits"]

GRADIENT_COLUMNS = ("id", "ra", "dec", "distance_u", "distance_u_err", "R", "R_err", "Z", "Z_err", "feh", "feh_err",
                    "p_halo")
"""The columns the gradient fits read."""


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
                   ) -> tuple[list[list[line_sums.BinShare]], list[simex.SimexSums] | None]:
    """One partition's per-bin sums for each binning: flat, corrected and SIMEX's noisy copies."""
    table = in_sample(pd.read_parquet(path, columns=list(GRADIENT_COLUMNS)), moving)
    moments = None if prior is None else latent_distance.sample_moments(prior, table)
    out = [line_sums.table_shares(table, binning, moments) for binning in chosen]
    noisy = None
    if prior is not None:
        measure = latent_distance.DistanceMeasure(table["distance_u"].to_numpy(dtype=float),
                                                  table["distance_u_err"].to_numpy(dtype=float), prior.kind)
        noisy = simex.simex_sums(id_keys(table["id"].to_numpy()), table["ra"].to_numpy(), table["dec"].to_numpy(),
                                 measure, table["feh"].to_numpy(), chosen, simex_key)
    return out, noisy


def _merge_gradient_shares(a, b):
    """Two partitions' gradient shares together."""
    shares = [line_sums.merge_shares(one, two) for one, two in zip(a[0], b[0])]
    return shares, None if a[1] is None else [simex.merge(one, two) for one, two in zip(a[1], b[1])]


def gradient_fits(dataset: Dataset, config: RunConfig | None = None,
                  scheduler: str | Scheduler = "single") -> GradientResults:
    """Fit the radial and vertical gradients of ``dataset``'s final sample (cached), from per-bin sums.

    Each bin is fitted with the study's flat prior on the true x and, unless
    ``config.correction`` is ``"none"``, corrected for the errors in x with
    one latent distance per star (:mod:`galchem.analysis.latent_distance`),
    with SIMEX as a cross-check; one pass over the partitions makes every sum.
    """
    config = config or RunConfig()
    radial, vertical = binnings(config)
    chosen = (radial, vertical)

    def compute() -> GradientResults:
        with open_scheduler(scheduler) as runner:
            kinematic = kinematic_sample(dataset, config, runner)
            shares, noisy = runner.map_reduce(_gradient_part, kinematic.parts, _merge_gradient_shares, chosen,
                                              kinematic.moving, kinematic.prior,
                                              seed_key(config.stream("simex")),
                                              label="gradient sums")
        results = []
        for b, (per_bin, binning) in enumerate(zip(shares, chosen)):
            estimates = None if noisy is None else simex.estimate(noisy[b])
            results.append(line_sums.fit_binned(
                per_bin, binning, min_stars=config.min_stars, n_walkers=config.n_walkers, n_steps=config.n_steps,
                max_steps=config.max_steps, seed=config.stream(binning.name), simex=estimates,
                absent=gradients.NOT_ASKED if config.correction == "none" else gradients.NO_PRIOR))
        return GradientResults(*results)

    def load(tables: dict[str, pd.DataFrame]) -> GradientResults:
        return GradientResults(*(gradients.Gradients.from_tables(
            b, {"table": tables[f"{b.name}_table"], "draws": tables[f"{b.name}_draws"]}) for b in (radial, vertical)))

    return cached("gradients", stage_params(dataset, config, GRADIENT_SETTINGS), compute, load)


