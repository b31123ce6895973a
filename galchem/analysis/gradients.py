"""Radial and vertical metallicity gradients: line fits of [Fe/H] in bins (the study's Tables 1 and 2).

Radial: stars in slices of |Z| (0.2 kpc wide, centres 0.1 ... 1.3 kpc),
[Fe/H] against R.  Vertical: stars in rings of R (1 kpc wide, centres
7.5 ... 13.5 kpc), [Fe/H] against |Z|.  Each bin with at least
``min_stars`` stars is fitted with :func:`galchem.analysis.fitting.fit_line`, using
the Monte Carlo errors of R or Z and the [Fe/H] errors; a smaller bin stays
in the table with its ``n`` and NaN fit values.  Stars are binned by their
*measured* coordinates, as the study does.

Every fitted bin has the study's fit, with a flat prior on the true x
(``BinFit.flat``, a :class:`~galchem.analysis.posterior.Posterior`, columns
``m, b, lam``), and a line corrected for the errors in x (``BinFit.corrected``,
:class:`~galchem.analysis.line_values.LineValues`, columns ``m_deconv,
b_deconv, lam_deconv``; the names are kept from an earlier correction): the
least-squares line of the bin's stars in their true coordinate, from each
star's posterior given one latent distance and a population prior
(:mod:`galchem.analysis.latent_distance`, :mod:`galchem.analysis.marginal_slope`),
bins still chosen by the measured coordinate.  SIMEX
(:mod:`galchem.analysis.simex`) gives an independent estimate
(``m_simex``).  ``status_deconv`` says whether the corrected slope can be
trusted and, if not, why (then its values are NaN): too few stars to
estimate it, a prior that dominates most distances, or SIMEX disagreeing
beyond its errors.  The flat fit's chains run until they are 50
autocorrelation times long or reach ``max_steps``; ``reliable`` says whether
they got there (NA where no chain ran).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from galchem.analysis.line_likelihood import PARAMETERS
from galchem.analysis.line_values import VALUES, LineValues
from galchem.analysis.posterior import (Posterior, column_name, posterior_columns, posterior_from_columns, values_columns,
                                       values_from_columns)

__all__ = ["BinFit", "Binning", "COMPARISON_FORMAT", "CORRECTED_COLUMNS", "CORRECTED_OK", "CORRECTED_TAG",
           "DATA_WEIGHT_LIMIT", "FITTED", "FLAT_COLUMNS", "Gradients", "N_DRAWS", "NO_PRIOR", "NOT_ASKED", "OUT_OF_RANGE",
           "PRIOR_DOMINATES", "SIMEX_DISAGREES", "SIMEX_LIMIT", "TABLE_FORMAT", "TOO_FEW", "UNDEFINED", "bin_index",
           "compare", "coordinates", "corrected_fields", "radial_binning", "true_values", "truth_gradients",
           "vertical_binning"]

N_DRAWS = 100
"""Posterior draws kept per bin, for figures."""

FITTED, TOO_FEW, OUT_OF_RANGE = "fitted", "too few stars", "out of range"
"""A bin's ``status``: fitted; stars present but fewer than the minimum; no stars at all (the data do not reach it)."""

FLAT_COLUMNS = (*VALUES, "status", "tau", "n_eff", "acceptance", "reliable")
"""Columns of the flat fit: the study's, the bin's status, then the diagnostics of the fit's chain."""

CORRECTED_TAG = "_deconv"
"""What the corrected fit's columns add to the flat fit's names (:func:`~galchem.analysis.posterior.column_name`)."""

CORRECTED_COLUMNS = (*(column_name(name, CORRECTED_TAG) for name in (*VALUES, "status")), "m_simex", "m_simex_err")
"""Columns of the corrected line (``m_deconv``, ``m_deconv_err``, ... ``lam_deconv_err``), why it can(not) be
trusted (``status_deconv``), and the SIMEX estimate (``m_simex``, ``m_simex_err``)."""

CORRECTED_OK = "ok"
NO_PRIOR = "no distance prior (too few stars with a usable distance)"
NOT_ASKED = "not asked for (correction = none)"
PRIOR_DOMINATES = "the prior dominates: most stars' distances are decided by the prior, not the measurement"
UNDEFINED = "too few stars in some jackknife group, or no spread in the coordinates, to estimate it"
SIMEX_DISAGREES = "SIMEX disagrees beyond its errors"
"""Values of ``status_deconv`` (empty for bins not fitted at all)."""

SIMEX_LIMIT = 3.0
"""The corrected and the SIMEX slope disagree when they differ by more than this many combined errors."""

DATA_WEIGHT_LIMIT = 0.5
"""A star's distance is decided by the prior when its measurement's weight in the posterior mean is below this."""


@dataclass(frozen=True)
class Binning:
    """Which coordinate bins the stars (``by``), which is fitted against (``x``), the bin edges, and the window of
    ``x`` a star must lie in to enter any bin (the fits' R range or |Z| cap; none by default)."""

    name: str
    by: str
    x: str
    edges: tuple[float, ...]
    prefix: str
    window: tuple[float, float] = (0.0, float("inf"))

    def index(self, by: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Each star's bin number from its binning and fitted coordinates (-1 outside every bin or the window)."""
        by, x = np.asarray(by, dtype=float), np.asarray(x, dtype=float)
        index = np.digitize(by, self.edges) - 1
        with np.errstate(invalid="ignore"):
            outside = ~np.isfinite(by) | ~(x >= self.window[0]) | ~(x <= self.window[1])
        index[outside | (index < 0) | (index >= len(self.edges) - 1)] = -1
        return index

    @property
    def centers(self) -> np.ndarray:
        """Bin centres [kpc]."""
        edges = np.asarray(self.edges)
        return np.round(0.5 * (edges[:-1] + edges[1:]), 6)

    @property
    def columns(self) -> list[str]:
        """The columns of a gradient table: the bin, its star count, the flat fit, then the corrected fit."""
        p = self.prefix
        return [f"{p}_lo", f"{p}_hi", f"{p}_center", "n", *FLAT_COLUMNS, *CORRECTED_COLUMNS]

    def label(self, k: int) -> str:
        """Bin ``k`` in words, e.g. ``|Z| 1.2-1.4 kpc``."""
        name = {"absZ": "|Z|", "R": "R"}[self.by]
        return f"{name} {self.edges[k]:g}-{self.edges[k + 1]:g} kpc"


def radial_binning(edges, r_range: tuple[float, float] | None) -> Binning:
    """Slices of |Z| [kpc] with these edges; [Fe/H] against R (the study's Table 1), R within ``r_range``."""
    window = (0.0, float("inf")) if r_range is None else tuple(float(r) for r in r_range)
    return Binning("radial", by="absZ", x="R", edges=tuple(float(e) for e in edges), prefix="z", window=window)


def vertical_binning(edges, z_max: float | None) -> Binning:
    """Rings of R [kpc] with these edges; [Fe/H] against |Z| (the study's Table 2), |Z| up to ``z_max``."""
    window = (0.0, float("inf") if z_max is None else float(z_max))
    return Binning("vertical", by="R", x="absZ", edges=tuple(float(e) for e in edges), prefix="r", window=window)


def coordinates(table: pd.DataFrame) -> pd.DataFrame:
    """R, |Z| and their errors [kpc] of an analysed sample."""
    return pd.DataFrame({"R": table["R"], "R_err": table["R_err"], "absZ": table["Z"].abs(), "absZ_err": table["Z_err"]})


def bin_index(table: pd.DataFrame, binning: Binning) -> np.ndarray:
    """Each star's bin number (-1 outside every bin)."""
    coords = coordinates(table)
    return binning.index(coords[binning.by].to_numpy(), coords[binning.x].to_numpy())


@dataclass(frozen=True)
class BinFit:
    """One bin's fits: the flat prior's posterior and the corrected line, and a status when the bin is not fitted.

    ``corrected`` is None where no corrected line was asked for or possible
    (no distance prior, or the bin is not fitted); its numbers are NaN unless
    ``corrected_status`` is :data:`CORRECTED_OK`.
    """

    lo: float
    hi: float
    center: float
    n: int
    status: str
    flat: Posterior | None = None  # None: the bin is not fitted
    corrected: LineValues | None = None
    corrected_status: str = ""  # why the corrected slope can(not) be trusted ("" for bins not fitted at all)
    m_simex: float = np.nan
    m_simex_err: float = np.nan
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)  # (N_DRAWS, 3): m, b, lam (flat prior)

    def columns(self, binning: Binning) -> dict[str, object]:
        """This bin's row of a gradient table, by column name (a few more than ``binning.columns``)."""
        lo, hi, center = binning.columns[:3]
        return {lo: self.lo, hi: self.hi, center: self.center, "n": self.n, "status": self.status,
                **posterior_columns(self.flat), **values_columns(self.corrected, CORRECTED_TAG),
                "status_deconv": self.corrected_status, "m_simex": self.m_simex, "m_simex_err": self.m_simex_err}

    @classmethod
    def from_columns(cls, binning: Binning, row: dict, draws: np.ndarray | None) -> BinFit:
        """Rebuild from a row of :meth:`columns` (``draws``: the bin's kept draws, if any)."""
        lo, hi, center = binning.columns[:3]
        corrected_status = "" if pd.isna(row["status_deconv"]) else str(row["status_deconv"])
        corrected = None if corrected_status in ("", NO_PRIOR, NOT_ASKED) else values_from_columns(row, CORRECTED_TAG)
        return cls(row[lo], row[hi], row[center], int(row["n"]), str(row["status"]), posterior_from_columns(row),
                   corrected, corrected_status, row["m_simex"], row["m_simex_err"], draws=draws)


def _bins(count: int) -> str:
    """``count`` bins, in words ("1 bin", "3 bins")."""
    return f"{count} bin" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class Gradients:
    """A gradient per bin of ``binning``: typed fits that become tables only at the cache boundary."""

    binning: Binning
    fits: tuple[BinFit, ...]

    @property
    def table(self) -> pd.DataFrame:
        """One row per bin, columns ``binning.columns`` (the study's names, then the diagnostics)."""
        rows = [f.columns(self.binning) for f in self.fits]
        return pd.DataFrame(rows, columns=self.binning.columns).astype(
            {"n": int, "reliable": "boolean", "status_deconv": str})

    @property
    def draws(self) -> pd.DataFrame:
        """``N_DRAWS`` posterior draws (m, b, lam) per fitted bin, with the bin number."""
        parts = [pd.DataFrame(f.draws, columns=list(PARAMETERS)).assign(bin=k)
                 for k, f in enumerate(self.fits) if f.draws is not None]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*PARAMETERS, "bin"])

    def notes(self) -> list[str]:
        """One line per kind of unfitted bin, naming the bins (empty when every bin is fitted); corrected slopes not
        asked for are no news."""
        lines = []
        for status in (OUT_OF_RANGE, TOO_FEW):
            chosen = [(k, f) for k, f in enumerate(self.fits) if f.status == status]
            if chosen:
                listing = ", ".join(f"{self.binning.label(k)} ({f.n} stars)" for k, f in chosen)
                lines.append(f"{self.binning.name} gradients: {len(chosen)} of {len(self.fits)} bins {status}: {listing}")
        unreliable = [self.binning.label(k) for k, f in enumerate(self.fits) if f.status == FITTED and not f.flat.reliable]
        if unreliable:
            lines.append(f"{self.binning.name} gradients (flat prior): chains shorter than 50 autocorrelation "
                         f"times in {_bins(len(unreliable))}: {', '.join(unreliable)}")
        for status in sorted({f.corrected_status for f in self.fits} - {CORRECTED_OK, NOT_ASKED, ""}):
            chosen = [self.binning.label(k) for k, f in enumerate(self.fits) if f.corrected_status == status]
            lines.append(f"{self.binning.name} gradients: no corrected slope in {_bins(len(chosen))}, {status}: "
                         f"{', '.join(chosen)}")
        return lines

    def to_tables(self) -> dict[str, pd.DataFrame]:
        """The cache's form: the table and the draws."""
        return {"table": self.table, "draws": self.draws}

    @classmethod
    def from_tables(cls, binning: Binning, tables: dict[str, pd.DataFrame]) -> Gradients:
        """Rebuild from :meth:`to_tables`."""
        draws = tables["draws"]
        fits = []
        for k, row in enumerate(tables["table"].to_dict("records")):
            chosen = draws.loc[draws["bin"] == k, list(PARAMETERS)].to_numpy()
            fits.append(BinFit.from_columns(binning, row, chosen if len(chosen) else None))
        return cls(binning, tuple(fits))


def corrected_fields(line: LineValues | None, n: int, dominated: int, simex, absent: str) -> dict[str, object]:
    """A fitted bin's :class:`BinFit` fields ``corrected``, ``corrected_status``, ``m_simex`` and ``m_simex_err``,
    from its corrected line (None: none was made, for the reason ``absent``), its star count, how many of its stars'
    distances the prior decides, and its SIMEX estimate (or None).

    The corrected slope is kept only when the status is :data:`CORRECTED_OK`; otherwise the status says why it
    cannot be trusted and its numbers are NaN.
    """
    m_simex, m_simex_err = (np.nan, np.nan) if simex is None else (simex.m, simex.m_err)
    simex_fields = {"m_simex": m_simex, "m_simex_err": m_simex_err}
    if line is None:
        return {"corrected": None, "corrected_status": absent, **simex_fields}
    pull = (line.m - m_simex) / np.hypot(line.m_err, m_simex_err)
    if not (np.isfinite(line.m) and np.isfinite(line.m_err)):
        status = UNDEFINED
    elif 2 * dominated > n:
        status = PRIOR_DOMINATES
    elif np.isfinite(pull) and abs(pull) > SIMEX_LIMIT:
        status = f"{SIMEX_DISAGREES} ({pull:+.1f} sigma)"
    else:
        status = CORRECTED_OK
    return {"corrected": line if status == CORRECTED_OK else line.withheld(), "corrected_status": status,
            **simex_fields}


def true_values(table: pd.DataFrame, truth: pd.DataFrame, binning: Binning) -> tuple[np.ndarray, np.ndarray]:
    """The mock's true fitted coordinate (R or |Z|) and noise-free [Fe/H] of each star of ``table``, in its order."""
    true = truth.set_index("source_id").loc[table["id"].to_numpy()]
    x_true = (true["R"] if binning.x == "R" else true["Z"].abs()).to_numpy()
    return x_true, true["feh_true"].to_numpy()


def truth_gradients(table: pd.DataFrame, truth: pd.DataFrame, binning: Binning, *, min_stars: int
                    ) -> pd.DataFrame:
    """The mock's truth per bin: noise-free [Fe/H] of the same stars, least squares against their true coordinate.

    Columns: the bin columns, ``n``, ``m_true``, ``b_true`` and ``m_true_err``
    (the least-squares standard error, from the intrinsic scatter alone).
    """
    x_true, feh_true = true_values(table, truth, binning)
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
    """Side by side per bin: the study's slope, this book's slope and (on the mock) the truth and the pull.

    The corrected slope follows (``m_deconv``, ``m_deconv_err`` and, on
    the mock, ``pull_deconv``), then SIMEX's (``m_simex``, ``m_simex_err``,
    ``pull_simex``).
    """
    center = binning.columns[2]
    table = measured[[center, "n", "m", "m_err"]].merge(
        published[[center, "n", "m", "m_err"]].rename(columns={"n": "n_paper", "m": "m_paper", "m_err": "m_paper_err"}),
        on=center, how="left",
    )
    if truth is not None:
        table = table.merge(truth[[center, "m_true"]], on=center, how="left")
        table["pull"] = (table["m"] - table["m_true"]) / table["m_err"]
    table = table.merge(measured[[center, "m_deconv", "m_deconv_err"]], on=center, how="left")
    if truth is not None:
        table["pull_deconv"] = (table["m_deconv"] - table["m_true"]) / table["m_deconv_err"]
    table = table.merge(measured[[center, "m_simex", "m_simex_err"]], on=center, how="left")
    if truth is not None:
        table["pull_simex"] = (table["m_simex"] - table["m_true"]) / table["m_simex_err"]
    return table


COMPARISON_FORMAT = {
    "z_center": "{:.1f}", "r_center": "{:.1f}", "n": "{:,}", "n_paper": "{:,.0f}", "m": "{:+.4f}", "m_err": "{:.4f}",
    "m_paper": "{:+.3f}", "m_paper_err": "{:.3f}", "m_true": "{:+.4f}", "pull": "{:+.1f}",
    "m_deconv": "{:+.4f}", "m_deconv_err": "{:.4f}", "pull_deconv": "{:+.1f}",
    "m_simex": "{:+.4f}", "m_simex_err": "{:.4f}", "pull_simex": "{:+.1f}",
}
"""Display formats for :func:`compare` tables."""

TABLE_FORMAT = {
    "z_lo": "{:.1f}", "z_hi": "{:.1f}", "z_center": "{:.1f}", "r_lo": "{:.0f}", "r_hi": "{:.0f}", "r_center": "{:.1f}",
    "n": "{:,}", "m": "{:+.4f}", "m_err": "{:.4f}", "b": "{:+.3f}", "b_err": "{:.3f}", "lam": "{:.3f}",
    "lam_err": "{:.3f}", "m_true": "{:+.4f}", "pull": "{:+.1f}", "tau": "{:.0f}", "n_eff": "{:,.0f}",
    "acceptance": "{:.2f}", "m_deconv": "{:+.4f}", "m_deconv_err": "{:.4f}", "b_deconv": "{:+.3f}",
    "b_deconv_err": "{:.3f}", "lam_deconv": "{:.3f}", "lam_deconv_err": "{:.3f}",
    "m_simex": "{:+.4f}", "m_simex_err": "{:.4f}",
}
"""Display formats for gradient tables."""
