"""The gradient stage: every bin's line fits from per-bin sums made in one pass over the partitions.

Each partition adds its stars' sums of the flat fit, of the corrected line
(from each star's posterior moments of R and |Z| under the population's
distance prior) and of SIMEX's noisy copies (:mod:`galchem.analysis.line_sums`,
:mod:`galchem.analysis.marginal_slope`, :mod:`galchem.analysis.simex`); the
sums are merged in double-double, so the fits do not depend on the
partitioning, and the one bin loop (:func:`galchem.analysis.line_sums.fit_binned`)
fits them.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from galchem.analysis import gradients, latent_distance, line_sums, marginal_slope, simex
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


class _Share(NamedTuple):
    """One partition's sums for each binning: as measured, of the corrected line and of SIMEX (None without a
    distance prior)."""

    flat: list[list[line_sums.BinSums]]
    corrected: list[marginal_slope.MarginalSums] | None
    noisy: list[simex.SimexSums] | None


def _gradient_part(path: Path, chosen: tuple[gradients.Binning, ...], moving: bool,
                   prior: latent_distance.DistancePrior | None, simex_key: np.uint64) -> _Share:
    """One partition's per-bin sums for each binning: flat, corrected and SIMEX's noisy copies."""
    table = in_sample(pd.read_parquet(path, columns=list(GRADIENT_COLUMNS)), moving)
    flat = [line_sums.table_shares(table, binning) for binning in chosen]
    if prior is None:
        return _Share(flat, None, None)
    keys = id_keys(table["id"].to_numpy())
    ra, dec = table["ra"].to_numpy(dtype=float), table["dec"].to_numpy(dtype=float)
    measure = latent_distance.sample_measure(table, prior.kind)
    moments = latent_distance.posterior_moments(prior, ra, dec, measure)
    corrected = [marginal_slope.marginal_sums(keys, gradients.bin_index(table, binning), moments, table["feh"],
                                              table["feh_err"], binning) for binning in chosen]
    noisy = simex.simex_sums(keys, ra, dec, measure, table["feh"].to_numpy(), chosen, simex_key)
    return _Share(flat, corrected, noisy)


def _merge_gradient_shares(a: _Share, b: _Share) -> _Share:
    """Two partitions' gradient shares together."""
    flat = [[line_sums.merge(one, two) for one, two in zip(x, y)] for x, y in zip(a.flat, b.flat)]
    if a.corrected is None:
        return _Share(flat, None, None)
    return _Share(flat, [one.merge(two) for one, two in zip(a.corrected, b.corrected)],
                  [one.merge(two) for one, two in zip(a.noisy, b.noisy)])


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
            share = runner.map_reduce(_gradient_part, kinematic.parts, _merge_gradient_shares, chosen,
                                      kinematic.moving, kinematic.prior, seed_key(config.stream("simex")),
                                      label="gradient sums")
        results = []
        for b, (per_bin, binning) in enumerate(zip(share.flat, chosen)):
            corrected = None if share.corrected is None else marginal_slope.estimate(share.corrected[b])
            estimates = None if share.noisy is None else simex.estimate(share.noisy[b])
            results.append(line_sums.fit_binned(
                per_bin, binning, min_stars=config.min_stars, n_walkers=config.n_walkers, n_steps=config.n_steps,
                max_steps=config.max_steps, seed=config.stream(binning.name), corrected=corrected, simex=estimates,
                absent=gradients.NOT_ASKED if config.correction == "none" else gradients.NO_PRIOR))
        return GradientResults(*results)

    def load(tables: dict[str, pd.DataFrame]) -> GradientResults:
        return GradientResults(*(gradients.Gradients.from_tables(
            b, {"table": tables[f"{b.name}_table"], "draws": tables[f"{b.name}_draws"]}) for b in (radial, vertical)))

    return cached("gradients", stage_params(dataset, config, GRADIENT_SETTINGS), compute, load)


