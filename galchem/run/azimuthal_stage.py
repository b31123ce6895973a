"""The azimuthal stage: residuals from the radial gradient near the plane, their azimuthal means and tests.

The plane's radial fit adds up per-partition sums; only the stars with |Z|
below the limit are gathered, with the few columns the science reads
(:data:`~galchem.run.azimuthal_stage.GATHERED_COLUMNS`), sorted by id before any step that depends on
their order.  The science itself is :func:`galchem.analysis.near_plane.study_near_plane`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from galchem.analysis import line_sums
from galchem.analysis.near_plane import study_near_plane
from galchem.data import partitions
from galchem.data.cache import cached
from galchem.data.sources import Dataset
from galchem.run.config import RunConfig
from galchem.run.kinematic_stage import kinematic_sample
from galchem.run.scheduler import Scheduler, open_scheduler
from galchem.run.stage_support import AZIMUTHAL_SETTINGS, StageError, in_sample, stage_params

__all__ = ["AZIMUTHAL_COLUMNS", "AzimuthalResults", "GATHERED_COLUMNS", "azimuthal_analysis", "gather_by_id", "spline_z_edges"]

AZIMUTHAL_COLUMNS = ("id", "R", "R_err", "Z", "phi", "feh", "feh_err", "p_halo")
"""The columns the azimuthal stage reads."""

GATHERED_COLUMNS = ("id", "R", "Z", "phi", "feh")
"""The columns of the near-plane stars that the azimuthal stage gathers (its fit adds up sums instead).

All but the id are gathered as float32 (1 pc in R and Z, 0.1 microradian in φ, 1e-7 dex in [Fe/H]: far below
their errors), and the id only until the stars are sorted by it: about 16 bytes per star, the one part of the run
that grows with the catalogue.  The plane's fit uses float64 sums made in each partition."""


@dataclass(frozen=True)
class AzimuthalResults:
    """Stars near the plane with their residuals, the plane's radial fit, means and splines, the two tests and notes.

    ``residuals`` (and :attr:`stars`) are in the order of the stars' ids.
    """

    plane_fit: pd.Series  # m, m_err, b, b_err, lam, lam_err, n, tau, n_eff, reliable of [Fe/H] against R
    residuals: pd.DataFrame  # per star: residual (from the fit), delta (from the ring mean), residual_spline
    means: pd.DataFrame  # azimuthal.MEANS_COLUMNS, then mean_residual_spline and sem_residual_spline
    tests: dict  # p_value, statistic, arm_contrast (of the residual), arm_contrast_ring (of δ), ... (azimuthal_tests.json)
    null: np.ndarray  # the permutation null distribution
    notes: tuple[str, ...] = ()
    radial_splines: pd.DataFrame = field(default_factory=pd.DataFrame)  # radial_spline.SPLINE_COLUMNS, one row per |Z| slice
    near_plane: Callable[[], pd.DataFrame] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def stars(self) -> pd.DataFrame:
        """The final sample with |Z| below the limit (every column, by id), with ``predicted``, ``residual``,
        ``delta``, ``residual_spline`` and ``predicted_spline`` (the smooth spline's [Fe/H] at the star).

        Read from the kinematic stage's partitions on first use.
        """
        stars = self.near_plane() if self.near_plane else pd.DataFrame()
        if stars.empty:
            return stars
        stars = stars.assign(predicted=self.plane_fit["m"] * stars["R"] + self.plane_fit["b"], **self.residuals)
        return stars.assign(predicted_spline=stars["feh"] - stars["residual_spline"])

    def to_tables(self) -> dict[str, pd.DataFrame]:
        """The cache's form (the stars are rebuilt from the kinematic stage)."""
        return {"plane_fit": self.plane_fit.to_frame().T, "residuals": self.residuals, "means": self.means,
                "tests": pd.DataFrame([self.tests]), "null": pd.DataFrame({"statistic": self.null}),
                "notes": pd.DataFrame({"note": list(self.notes)}, dtype=object),
                "radial_splines": self.radial_splines}

    @classmethod
    def from_tables(cls, tables: dict[str, pd.DataFrame]) -> AzimuthalResults:
        """Rebuild from :meth:`to_tables` (without the stars)."""
        return cls(tables["plane_fit"].iloc[0], tables["residuals"], tables["means"],
                   tables["tests"].to_dict("records")[0], tables["null"]["statistic"].to_numpy(),
                   notes=tuple(tables["notes"]["note"].astype(str)), radial_splines=tables["radial_splines"])


def _near_plane_part(path: Path, z_max: float, moving: bool, columns: tuple[str, ...] | None) -> pd.DataFrame:
    """One partition's sample stars with |Z| < z_max (only ``columns``; None: all)."""
    table = in_sample(pd.read_parquet(path, columns=None if columns is None else list(columns)), moving)
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


def gather_by_id(parts: list[dict[str, np.ndarray]]) -> pd.DataFrame:
    """Partitions' columns (but the id) as one table in the order of the ids, never holding much more than one
    copy of them."""
    order = np.argsort(np.concatenate([part.pop("id") for part in parts]), kind="stable")
    columns = {}
    for name in GATHERED_COLUMNS[1:]:  # each partition's column is released once it is copied
        columns[name] = np.concatenate([part.pop(name) for part in parts])[order]
    return pd.DataFrame(columns, copy=False)


def azimuthal_analysis(dataset: Dataset, config: RunConfig | None = None,
                       scheduler: str | Scheduler = "single") -> AzimuthalResults:
    """Residuals from the radial gradient near the plane, ⟨δ[Fe/H]⟩(φ) and the tests for structure (cached).

    The plane's radial fit adds up per-partition sums; only the stars with
    |Z| below ``azimuthal_z_max`` are gathered, with the five columns the
    rest reads (:data:`~galchem.run.azimuthal_stage.GATHERED_COLUMNS`), sorted by id before any step that
    depends on their order (the ring means, the shuffles).
    """
    config = config or RunConfig()
    params = stage_params(dataset, config, AZIMUTHAL_SETTINGS)

    def near_plane() -> pd.DataFrame:
        with open_scheduler("single") as runner:
            kinematic = kinematic_sample(dataset, config, runner)
            stars = partitions.concat(runner.map(_near_plane_part, kinematic.parts, config.azimuthal_z_max,
                                                 kinematic.moving, None))
        return stars.sort_values("id", kind="stable").reset_index(drop=True)

    def compute() -> AzimuthalResults:
        with open_scheduler(scheduler) as runner:
            kinematic = kinematic_sample(dataset, config, runner)
            sums, columns = runner.map_reduce(_near_plane_sums, kinematic.parts, _merge_near_plane,
                                              config.azimuthal_z_max, kinematic.moving, label="near-plane stars")
        stars = gather_by_id(columns)
        del columns
        in_annuli = sum(int(stars["R"].between(lo, hi, inclusive="left").sum()) for lo, hi in config.annuli)
        if len(stars) < config.min_stars or in_annuli == 0:
            ranges = ", ".join(f"{lo:g}-{hi:g}" for lo, hi in config.annuli)
            raise StageError(f"{len(stars):,} stars with |Z| < {config.azimuthal_z_max:g} kpc ({in_annuli:,} of them "
                             f"in {ranges} kpc); the plane's fit needs at least {config.min_stars:,} and the azimuthal means "
                             "some in the annuli")
        science = study_near_plane(
            stars, sums, z_edges=spline_z_edges(config), z_max=config.azimuthal_z_max, ring_width=config.ring_width,
            phi_bin_deg=config.phi_bin_deg, annuli=config.annuli, n_permutations=config.n_permutations,
            n_walkers=config.n_walkers, n_steps=config.n_steps, max_steps=config.max_steps,
            stream=config.stream("azimuthal"))
        return AzimuthalResults(science.plane_fit, science.residuals, science.means, science.tests.to_dict(),
                                science.null, science.notes, science.radial_splines)

    result = cached("azimuthal", params, compute, AzimuthalResults.from_tables)
    return AzimuthalResults(result.plane_fit, result.residuals, result.means, result.tests, result.null,
                            result.notes, result.radial_splines, near_plane)


def spline_z_edges(config: RunConfig) -> tuple[float, ...]:
    """The |Z| slices [kpc] of the azimuthal stage's radial splines: the radial binning's, cut at
    ``azimuthal_z_max``."""
    below = tuple(edge for edge in config.radial_z_edges if edge < config.azimuthal_z_max)
    return (*below, config.azimuthal_z_max) if below else (0.0, config.azimuthal_z_max)
