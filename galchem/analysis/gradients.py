"""Radial and vertical metallicity gradients: line fits of [Fe/H] in bins (the study's Tables 1 and 2).

Radial: stars in slices of |Z| (0.2 kpc wide, centres 0.1 ... 1.3 kpc),
[Fe/H] against R.  Vertical: stars in rings of R (1 kpc wide, centres
7.5 ... 13.5 kpc), [Fe/H] against |Z|.  Each bin with at least
``min_stars`` stars is fitted with :func:`galchem.analysis.fitting.fit_line`, using
the Monte Carlo errors of R or Z and the [Fe/H] errors; a smaller bin stays
in the table with its ``n`` and NaN fit values.  Stars are binned by their
*measured* coordinates, as the study does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from galchem.analysis.fitting import PARAMETERS, fit_line

MIN_STARS = 500
"""Fewest stars the study fits in a bin."""

N_DRAWS = 100
"""Posterior draws kept per bin, for figures."""


@dataclass(frozen=True)
class Binning:
    """Which coordinate bins the stars (``by``), which is fitted against (``x``), and the bin edges."""

    name: str
    by: str
    x: str
    edges: tuple[float, ...]
    prefix: str

    @property
    def centers(self) -> np.ndarray:
        """Bin centres [kpc]."""
        edges = np.asarray(self.edges)
        return np.round(0.5 * (edges[:-1] + edges[1:]), 6)

    @property
    def columns(self) -> list[str]:
        """The columns of a gradient table."""
        p = self.prefix
        return [f"{p}_lo", f"{p}_hi", f"{p}_center", "n", "m", "m_err", "b", "b_err", "lam", "lam_err"]


RADIAL = Binning("radial", by="absZ", x="R", edges=tuple(np.round(np.arange(0.0, 1.41, 0.2), 1)), prefix="z")
"""Slices of |Z| [kpc], [Fe/H] against R: the study's Table 1."""

VERTICAL = Binning("vertical", by="R", x="absZ", edges=tuple(np.arange(7.0, 14.01, 1.0)), prefix="r")
"""Rings of R [kpc], [Fe/H] against |Z|: the study's Table 2."""


def coordinates(table: pd.DataFrame) -> pd.DataFrame:
    """R, |Z| and their errors [kpc] of an analysed sample."""
    return pd.DataFrame({"R": table["R"], "R_err": table["R_err"], "absZ": table["Z"].abs(), "absZ_err": table["Z_err"]})


def bin_index(table: pd.DataFrame, binning: Binning) -> np.ndarray:
    """Each star's bin number (-1 outside every bin)."""
    values = coordinates(table)[binning.by].to_numpy()
    index = np.digitize(values, binning.edges) - 1
    index[(index < 0) | (index >= len(binning.edges) - 1)] = -1
    return index


@dataclass(frozen=True)
class Gradients:
    """A gradient table (columns ``binning.columns``) and ``N_DRAWS`` posterior draws per fitted bin."""

    table: pd.DataFrame
    draws: pd.DataFrame


def fit_gradients(table: pd.DataFrame, binning: Binning, *, min_stars: int = MIN_STARS, n_walkers: int = 10,
                  n_steps: int = 1000, seed: int = 0, progress: bool = False) -> Gradients:
    """Fit [Fe/H] against ``binning.x`` in every bin of ``binning.by`` with at least ``min_stars`` stars."""
    coords = coordinates(table)
    index = bin_index(table, binning)
    rows, draws = [], []
    edges = binning.edges
    for k in tqdm(range(len(edges) - 1), desc=f"{binning.name} gradients", disable=not progress):
        inside = index == k
        row = {binning.columns[0]: edges[k], binning.columns[1]: edges[k + 1],
               binning.columns[2]: binning.centers[k], "n": int(inside.sum())}
        if row["n"] >= min_stars:
            fit = fit_line(coords[binning.x].to_numpy()[inside], table["feh"].to_numpy()[inside],
                           coords[f"{binning.x}_err"].to_numpy()[inside], table["feh_err"].to_numpy()[inside],
                           n_walkers=n_walkers, n_steps=n_steps, seed=seed + k)
            row.update({name: getattr(fit, name) for name in PARAMETERS})
            row.update({f"{name}_err": getattr(fit, f"{name}_err") for name in PARAMETERS})
            chosen = np.random.default_rng(seed + k).choice(len(fit.samples), N_DRAWS, replace=False)
            draws.append(pd.DataFrame(fit.samples[chosen], columns=list(PARAMETERS)).assign(bin=k))
        rows.append(row)
    result = pd.DataFrame(rows).reindex(columns=binning.columns)
    draws = pd.concat(draws, ignore_index=True) if draws else pd.DataFrame(columns=[*PARAMETERS, "bin"])
    return Gradients(result.astype({"n": int}), draws)


def truth_gradients(table: pd.DataFrame, truth: pd.DataFrame, binning: Binning, *, min_stars: int = MIN_STARS
                    ) -> pd.DataFrame:
    """The mock's truth per bin: noise-free [Fe/H] of the same stars, least squares against their true coordinate.

    Columns: the bin columns, ``n``, ``m_true``, ``b_true`` and ``m_true_err``
    (the least-squares standard error, from the intrinsic scatter alone).
    """
    true = truth.set_index("source_id").loc[table["source_id"].to_numpy()]
    x_true = (true["R"] if binning.x == "R" else true["Z"].abs()).to_numpy()
    feh_true = true["feh_true"].to_numpy()
    index = bin_index(table, binning)
    rows = []
    for k in range(len(binning.edges) - 1):
        inside = index == k
        row = {binning.columns[2]: binning.centers[k], "n": int(inside.sum()),
               "m_true": np.nan, "b_true": np.nan, "m_true_err": np.nan}
        if row["n"] >= min_stars:
            (m, b), cov = np.polyfit(x_true[inside], feh_true[inside], 1, cov=True)
            row.update(m_true=m, b_true=b, m_true_err=float(np.sqrt(cov[0, 0])))
        rows.append(row)
    return pd.DataFrame(rows)


def compare(measured: pd.DataFrame, published: pd.DataFrame, truth: pd.DataFrame | None, binning: Binning
            ) -> pd.DataFrame:
    """Side by side per bin: the study's slope, this book's slope and (on the mock) the truth and the pull."""
    center = binning.columns[2]
    table = measured[[center, "n", "m", "m_err"]].merge(
        published[[center, "n", "m", "m_err"]].rename(columns={"n": "n_paper", "m": "m_paper", "m_err": "m_paper_err"}),
        on=center, how="left",
    )
    if truth is not None:
        table = table.merge(truth[[center, "m_true"]], on=center, how="left")
        table["pull"] = (table["m"] - table["m_true"]) / table["m_err"]
    return table


COMPARISON_FORMAT = {
    "z_center": "{:.1f}", "r_center": "{:.1f}", "n": "{:,}", "n_paper": "{:,.0f}", "m": "{:+.4f}", "m_err": "{:.4f}",
    "m_paper": "{:+.3f}", "m_paper_err": "{:.3f}", "m_true": "{:+.4f}", "pull": "{:+.1f}",
}
"""Display formats for :func:`compare` tables."""

TABLE_FORMAT = {
    "z_lo": "{:.1f}", "z_hi": "{:.1f}", "z_center": "{:.1f}", "r_lo": "{:.0f}", "r_hi": "{:.0f}", "r_center": "{:.1f}",
    "n": "{:,}", "m": "{:+.4f}", "m_err": "{:.4f}", "b": "{:+.3f}", "b_err": "{:.3f}", "lam": "{:.3f}",
    "lam_err": "{:.3f}", "m_true": "{:+.4f}", "pull": "{:+.1f}",
}
"""Display formats for gradient tables."""
