"""Quality cuts and the cut flow: which rows each cut removes, in order.

The cuts are those of the study's sections 2.1-2.3.  Every cut keeps the
rows that satisfy its condition; a row whose needed value is missing (NaN)
fails the condition, so it is removed and counted by the first cut that
needs that value.  Nothing is dropped anywhere else.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from galchem.data import contract

FLOW_COLUMNS = ("cut", "removed", "remaining")


@dataclass(frozen=True)
class Cut:
    """A named quality cut: ``keep(table)`` is True for the rows that pass."""

    name: str
    description: str
    keep: Callable[[pd.DataFrame], np.ndarray]


LAMOST_CUTS = (
    Cut("logg", "(i) 2 <= logg <= 5 dex", lambda t: t["logg"].between(2.0, 5.0)),
    Cut("vsini", "(ii) vsini >= 0 km/s", lambda t: t["vsini"] >= 0.0),
    Cut("teff", "(iii) teff <= 25 000 K", lambda t: t["teff"] <= 25_000.0),
    Cut("snr", "(iv) snr >= 30", lambda t: t["snr"] >= 30.0),
    Cut("chi2ratio", "(v) chi2ratio <= 10", lambda t: t["chi2ratio"] <= 10.0),
    Cut(
        "labels",
        "(vi) rv_err <= 100 km/s; teff, logg, feh known; feh_err < 0.2 dex",
        lambda t: (t["rv_err"] <= 100.0)
        & np.isfinite(t[["teff", "logg", "feh"]]).all(axis=1)
        & (t["feh_err"] < 0.2),
    ),
)
"""Spectroscopic cuts (i)-(vi) for the LAMOST hot stars (study section 2.1)."""

GAIA_CUTS = (
    Cut("teff_gspspec", "teff_gspspec < 4700 K", lambda t: t["teff_gspspec"] < 4700.0),
    Cut("logg_gspspec", "logg_gspspec < 2.0 dex", lambda t: t["logg_gspspec"] < 2.0),
    Cut(
        "distance",
        "Bailer-Jones distance present",
        lambda t: np.isfinite(t[["r_med_geo", "r_lo_geo", "r_hi_geo"]]).all(axis=1),
    ),
)
"""Giant selection for the Gaia DR3 sample (study section 2.2)."""

ASTROMETRIC_CUTS = (
    Cut(
        "parallax",
        "parallax > 0 and parallax_error / parallax < 0.3",
        lambda t: (t["parallax"] > 0.0) & (t["parallax_error"] < 0.3 * t["parallax"]),
    ),
    Cut(
        "distance_precision",
        "(r_hi_geo - r_lo_geo) / (2 r_med_geo) < 0.3",
        lambda t: (t["r_hi_geo"] - t["r_lo_geo"]) < 0.6 * t["r_med_geo"],
    ),
)
"""Precise positions for both samples (study section 2.3)."""


def quality_cuts(sample: str) -> tuple[Cut, ...]:
    """The cuts of ``sample`` in the order the study applies them."""
    contract.columns(sample)
    return (LAMOST_CUTS if sample == "lamost" else GAIA_CUTS) + ASTROMETRIC_CUTS


class CutFlow(NamedTuple):
    """The rows that passed every cut, and the flow table ``cut, removed, remaining``."""

    table: pd.DataFrame
    flow: pd.DataFrame


def apply_cuts(table: pd.DataFrame, cuts: Sequence[Cut], flow: pd.DataFrame | None = None) -> CutFlow:
    """Apply ``cuts`` in order, counting what each removes.

    The flow starts with an ``input`` row; pass an earlier ``flow`` to append
    further cuts to it (for example the kinematic halo cut).
    """
    rows = [] if flow is None else flow.to_dict("records")
    if not rows:
        rows.append({"cut": "input", "removed": 0, "remaining": len(table)})
    for cut in cuts:
        keep = np.asarray(cut.keep(table), dtype=bool)
        table = table.loc[keep]
        rows.append({"cut": cut.name, "removed": int((~keep).sum()), "remaining": len(table)})
    return CutFlow(table.reset_index(drop=True), pd.DataFrame(rows, columns=list(FLOW_COLUMNS)))


def cut_flow(table: pd.DataFrame, sample: str) -> CutFlow:
    """Apply the study's quality cuts for ``sample`` to a contract-valid catalogue."""
    return apply_cuts(table, quality_cuts(sample))


def describe_cuts(sample: str) -> dict[str, str]:
    """Cut name -> human-readable condition, for tables in the book."""
    return {"input": "rows read", **{c.name: c.description for c in quality_cuts(sample)}}


def flow_table(flow: pd.DataFrame, sample: str) -> pd.DataFrame:
    """The cut flow with each cut's condition and the share of the previous rows it removed [%]."""
    before = flow["remaining"] + flow["removed"]
    return flow.assign(
        condition=flow["cut"].map(describe_cuts(sample)).fillna(""),
        removed_percent=(100.0 * flow["removed"] / before).round(1),
    )
