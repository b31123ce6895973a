"""Quality cuts and the cut flow: which rows each cut removes, in order.

The flow of a run is: the ``valid`` cut (:mod:`galchem.data.checks`), the
survey's own cuts (its survey file), then shared
cuts on the canonical table — a known [Fe/H] with a positive error, and the
study's (its section 2.3) parallax precision where the survey has a
parallax and distance precision — then, in the
kinematic stage, the velocity cut and the kinematic halo cut.  Every cut
keeps the rows that satisfy its condition; a row whose needed value is
missing (NaN) fails it, so it is removed and counted by the first cut that
needs that value.  Nothing is dropped anywhere else.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from galchem.data.checks import invalid_rows
from galchem.data.contract import VELOCITY_ROLES
from galchem.data.ids import id_keys
from galchem.data.surveys import Survey

__all__ = ["FLOW_COLUMNS", "Cut", "CutFlow", "PARALLAX_CUT", "DISTANCE_CUT", "METALLICITY_CUT", "VALID_CUT", "VELOCITY_CUT", "apply_cuts",
           "HEAVY_SHARE", "add_flows", "cut_flow", "describe_cuts", "flow_table", "heavy_cuts", "quality_cuts", "valid_cut"]

FLOW_COLUMNS = ("cut", "removed", "remaining")

HEAVY_SHARE = 0.25
"""A cut that removes more than this share of the rows reaching it is worth a line in the notes and on the page."""


@dataclass(frozen=True)
class Cut:
    """A named quality cut: ``keep(table)`` is True for the rows that pass."""

    name: str
    description: str
    keep: Callable[[pd.DataFrame], np.ndarray]


def _finite(table: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    return np.isfinite(table[list(columns)].to_numpy(dtype=float)).all(axis=1)


VALID_CUT = Cut(
    "valid",
    "on the sky; finite, positive, ordered distances; finite values, non-negative errors; values within their "
    "physical ranges; unique id",
    lambda t: ~invalid_rows(t),
)
"""Rows with an invalid (not merely missing) value or a duplicated id (:mod:`galchem.data.checks`)."""

METALLICITY_CUT = Cut(
    "metallicity",
    "[Fe/H] and its error known, the error positive",
    lambda t: (_finite(t, ("feh", "feh_error")) & (t["feh_error"] > 0).to_numpy()),
)
"""Every star the fits see needs a metallicity and a positive error; rows without them are counted here."""

PARALLAX_CUT = Cut(
    "parallax",
    "parallax > 0 and parallax_error / parallax < 0.3",
    lambda t: ((t["parallax"] > 0.0) & (t["parallax_error"] < 0.3 * t["parallax"])).to_numpy(),
)
"""Precise parallaxes (the study's section 2.3), for surveys that have one."""

DISTANCE_CUT = Cut(
    "distance_precision",
    "(distance_hi - distance_lo) / (2 distance) < 0.3",
    lambda t: ((t["distance_hi"] - t["distance_lo"]) < 0.6 * t["distance"]).to_numpy(),
)
"""Precise distances (the study's section 2.3)."""

VELOCITY_CUT = Cut(
    "velocities",
    "proper motions, radial velocity and their errors known",
    lambda t: _finite(t, VELOCITY_ROLES),
)
"""Rows without a full velocity cannot get kinematics; this cut counts them rather than dropping them silently."""


def survey_cuts(survey: Survey) -> tuple[Cut, ...]:
    """The survey's own cuts, as cut-flow rows."""
    return tuple(Cut(cut.name, cut.describe(), cut.keep) for cut in survey.cuts)


def valid_cut(duplicated: np.ndarray | None = None) -> Cut:
    """The ``valid`` cut; ``duplicated`` holds the sorted keys (:mod:`galchem.data.ids`) of ids that occur more than
    once in the whole catalogue, for a table that is one partition of it (None: duplicates within the table)."""
    if duplicated is None:
        return VALID_CUT
    return Cut(VALID_CUT.name, VALID_CUT.description,
               lambda t: ~invalid_rows(t, np.isin(id_keys(t["id"]), duplicated, assume_unique=False)))


def quality_cuts(survey: Survey, duplicated: np.ndarray | None = None) -> tuple[Cut, ...]:
    """The ``valid`` cut, the survey's cuts, then the metallicity cut and the study's precision cuts, in order.

    ``duplicated``: see :func:`valid_cut`.
    """
    shared = (METALLICITY_CUT, PARALLAX_CUT, DISTANCE_CUT) if survey.has_parallax else (METALLICITY_CUT, DISTANCE_CUT)
    return (valid_cut(duplicated), *survey_cuts(survey), *shared)


class CutFlow(NamedTuple):
    """The rows that passed every cut, and the flow table ``cut, removed, remaining``."""

    table: pd.DataFrame
    flow: pd.DataFrame


def apply_cuts(table: pd.DataFrame, cuts: Sequence[Cut], flow: pd.DataFrame | None = None) -> CutFlow:
    """Apply ``cuts`` in order, counting what each removes.

    The flow starts with an ``input`` row; pass an earlier ``flow`` to append
    further cuts to it (for example the kinematic halo cut).
    """
    rows = [] if flow is None else flow[list(FLOW_COLUMNS)].to_dict("records")
    if not rows:
        rows.append({"cut": "input", "removed": 0, "remaining": len(table)})
    for cut in cuts:
        keep = np.asarray(cut.keep(table), dtype=bool)
        table = table.loc[keep]
        rows.append({"cut": cut.name, "removed": int((~keep).sum()), "remaining": len(table)})
    return CutFlow(table.reset_index(drop=True), pd.DataFrame(rows, columns=list(FLOW_COLUMNS)))


def add_flows(flows: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The flow of a catalogue from the flows of its partitions (the same cuts in the same order): counts add up."""
    total = flows[0][list(FLOW_COLUMNS)].copy()
    for flow in flows[1:]:
        if flow["cut"].tolist() != total["cut"].tolist():
            raise ValueError("partition flows with different cuts cannot be added")
        total[["removed", "remaining"]] += flow[["removed", "remaining"]].to_numpy()
    return total


def cut_flow(table: pd.DataFrame, survey: Survey) -> CutFlow:
    """Apply the survey's and the study's quality cuts to a canonical catalogue."""
    return apply_cuts(table, quality_cuts(survey))


def describe_cuts(survey: Survey, more: Sequence[Cut] = ()) -> dict[str, str]:
    """Cut name -> human-readable condition, for tables in the book."""
    return {"input": "rows read", **{c.name: c.description for c in (*quality_cuts(survey), *more)}}


def heavy_cuts(flow: pd.DataFrame) -> list[str]:
    """One line per cut that removed more than :data:`HEAVY_SHARE` of the rows reaching it: easy to miss in a
    table, and often a sign that the cut does not suit the catalogue (the halo cut on an inner-Galaxy sample)."""
    lines = []
    for row in flow.itertuples(index=False):
        reaching = row.removed + row.remaining
        if row.cut != "input" and reaching and row.removed > HEAVY_SHARE * reaching:
            lines.append(f"cut {row.cut}: removed {row.removed:,} of the {reaching:,} rows that reached it "
                         f"({100 * row.removed / reaching:.0f} %)")
    return lines


def flow_table(flow: pd.DataFrame, survey: Survey, more: Sequence[Cut] = ()) -> pd.DataFrame:
    """The cut flow with each cut's condition and the share of the previous rows it removed [%]."""
    before = flow["remaining"] + flow["removed"]
    return flow.assign(
        condition=flow["cut"].map(describe_cuts(survey, more)).fillna(""),
        removed_percent=(100.0 * flow["removed"] / before.where(before > 0)).round(1),
    )
