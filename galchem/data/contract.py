"""The input contract: the roles a catalogue's columns play, their units, and the table every stage reads.

A survey file (:mod:`galchem.data.surveys`) says which column of a catalogue
plays which *role*; this module turns such a catalogue into the **canonical
table**: one column per role, named after the role, as float64 in the units
below (distances in kpc), plus the file columns the survey's cuts read.
Nothing downstream ever sees a file's own column names, units or sentinels.

Conventions, stated once:

* ``id`` is the survey's unique key, kept as 64-bit integers or as text.
* Distances: ``distance`` is the median and ``distance_lo`` / ``distance_hi``
  the 16th / 84th percentiles (Bailer-Jones et al. 2021).  A survey may give
  ``distance_error`` (1 sigma) instead: then lo/hi = distance -/+ error.
  A survey without distances gets ``1 / parallax`` with percentiles
  ``1 / (parallax +/- parallax_error)``; :attr:`Survey.distance_origin` says
  which, and the pages print it.
* [Fe/H]: ``feh_error`` is 1 sigma; a survey may give ``feh_lo`` / ``feh_hi``
  (16th / 84th percentiles) instead, and the error is half their distance.
* Velocities (proper motions and the radial velocity with their errors) are
  optional as a group: without them the run is positional only.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import astropy.units as u
import numpy as np
import pandas as pd

from galchem.errors import ContractError

__all__ = ["CANONICAL_UNITS", "ROLES", "VELOCITY_ROLES", "Role", "canonical_table", "describe", "require_columns", "role", "unit_factor"]


@dataclass(frozen=True)
class Role:
    """One role a catalogue column can play: its name, the unit a file is assumed to use, and its meaning."""

    name: str
    file_unit: str
    description: str

    @property
    def label(self) -> str:
        """The name with its unit, for messages and tables."""
        return f"{self.name} [{self.file_unit}]" if self.file_unit else self.name


ROLES: dict[str, Role] = {r.name: r for r in (
    Role("id", "", "unique key of a row (integers or text)"),
    Role("ra", "deg", "right ascension (ICRS)"),
    Role("dec", "deg", "declination (ICRS)"),
    Role("pmra", "mas/yr", "proper motion in right ascension times cos(dec)"),
    Role("pmra_error", "mas/yr", "uncertainty of pmra (1 sigma)"),
    Role("pmdec", "mas/yr", "proper motion in declination"),
    Role("pmdec_error", "mas/yr", "uncertainty of pmdec (1 sigma)"),
    Role("parallax", "mas", "parallax (optional when distances are given)"),
    Role("parallax_error", "mas", "uncertainty of the parallax (1 sigma)"),
    Role("distance", "pc", "distance, posterior median (optional when a parallax is given)"),
    Role("distance_lo", "pc", "distance, 16th percentile"),
    Role("distance_hi", "pc", "distance, 84th percentile"),
    Role("distance_error", "pc", "distance uncertainty (1 sigma), instead of distance_lo and distance_hi"),
    Role("rv", "km/s", "line-of-sight (radial) velocity"),
    Role("rv_error", "km/s", "uncertainty of rv (1 sigma)"),
    Role("feh", "dex", "metallicity [Fe/H]"),
    Role("feh_error", "dex", "uncertainty of [Fe/H] (1 sigma)"),
    Role("feh_lo", "dex", "[Fe/H], 16th percentile (instead of feh_error)"),
    Role("feh_hi", "dex", "[Fe/H], 84th percentile (instead of feh_error)"),
)}
"""Every role a survey file may map, in the order tables list them."""

CANONICAL_UNITS = {"ra": "deg", "dec": "deg", "pmra": "mas/yr", "pmra_error": "mas/yr", "pmdec": "mas/yr",
                   "pmdec_error": "mas/yr", "parallax": "mas", "parallax_error": "mas", "distance": "kpc",
                   "distance_lo": "kpc", "distance_hi": "kpc", "distance_error": "kpc", "rv": "km/s",
                   "rv_error": "km/s", "feh": "dex", "feh_error": "dex", "feh_lo": "dex", "feh_hi": "dex"}
"""Units of the canonical table's numeric roles."""

VELOCITY_ROLES = ("pmra", "pmra_error", "pmdec", "pmdec_error", "rv", "rv_error")
"""Roles a survey maps all together or not at all."""


def role(name: str) -> Role:
    """The role called ``name``, or a clear error listing the known ones."""
    try:
        return ROLES[name]
    except KeyError:
        raise ContractError(f"unknown role {name!r}; roles are: {', '.join(ROLES)}") from None


def unit_factor(declared: str, target: str, where: str) -> float:
    """The factor from a ``declared`` unit to ``target``; dex stays dex."""
    if target == "dex" or declared == "dex":
        if declared.strip() not in ("dex", "", "[dex]") or target != "dex":
            raise ContractError(f"{where}: unit {declared!r} cannot be converted to {target}")
        return 1.0
    try:
        return float(u.Unit(declared).to(u.Unit(target)))
    except (ValueError, u.UnitsError):
        raise ContractError(f"{where}: unit {declared!r} cannot be converted to {target}") from None


def _numbers(values, missing: tuple[float, ...], where: str) -> np.ndarray:
    """A column as native float64, with the survey's sentinel values as NaN."""
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise ContractError(f"{where}: expected numbers, found {series.dtype} (for example {series.iloc[0]!r})")
    array = np.array(series, dtype=np.float64)  # copies: native byte order, float32 widened
    if missing:
        array[np.isin(array, np.asarray(missing, dtype=np.float64))] = np.nan
    return array


def _ids(values, where: str) -> np.ndarray:
    """The key column as int64 or as stripped text (byte strings decoded)."""
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if pd.api.types.is_integer_dtype(series):
        return np.asarray(series, dtype=np.int64)
    if pd.api.types.is_float_dtype(series):
        array = np.asarray(series, dtype=np.float64)
        if np.isfinite(array).all() and np.all(array == np.round(array)) and np.abs(array).max(initial=0) < 2**53:
            return array.astype(np.int64)
        raise ContractError(f"{where}: ids must be integers or text, found non-integer numbers")
    text = series.map(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else ("" if v is None else str(v)))
    return text.str.strip().to_numpy(dtype=object)


def require_columns(present, survey, where: str) -> None:
    """Refuse, in one line naming each missing column and its role, a file that lacks a column the survey names."""
    present = set(present)
    absent = [column for column in survey.file_columns() if column not in present]
    if absent:
        roles = {column: name for name, column in survey.columns.items()}
        listing = ", ".join(f"{c} (role {roles[c]})" if c in roles else f"{c} (read by a cut)" for c in absent)
        raise ContractError(f"{where}: missing column(s) that survey {survey.name!r} names: {listing}")


def canonical_table(table: pd.DataFrame, file_units: Mapping[str, str], survey, where: str) -> pd.DataFrame:
    """The canonical table of a catalogue read from a file (see the module docstring).

    ``file_units`` are the units the file itself declares (column -> unit);
    the survey's ``[units]`` apply only to columns without one, and the
    contract's file units (:data:`ROLES`) to the rest.  ``where`` names the
    file in messages.
    """
    require_columns(table.columns, survey, where)
    if len(table) == 0:
        raise ContractError(f"{where}: the table has no rows")
    out = {"id": _ids(table[survey.columns["id"]], f"{where}: column {survey.columns['id']!r} (role id)")}
    for name, column in survey.columns.items():
        if name == "id":
            continue
        context = f"{where}: column {column!r} (role {name})"
        declared = file_units.get(column) or survey.units.get(name) or ROLES[name].file_unit
        out[name] = _numbers(table[column], survey.missing, context) * unit_factor(
            declared, CANONICAL_UNITS[name], context)
    frame = pd.DataFrame(out)
    if "distance" not in frame:  # from the parallax: 1/parallax, percentiles through the same monotone map
        parallax, error = frame["parallax"].to_numpy(), frame["parallax_error"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["distance"] = np.where(parallax > 0, 1.0 / parallax, np.nan)
            frame["distance_lo"] = np.where(parallax + error > 0, 1.0 / (parallax + error), np.nan)
            frame["distance_hi"] = np.where(parallax - error > 0, 1.0 / (parallax - error), np.nan)
    elif "distance_error" in frame:  # a 16th percentile at or below zero is undefined: NaN, removed by a cut
        lo = frame["distance"] - frame["distance_error"]
        frame["distance_lo"] = lo.where(lo > 0)
        frame["distance_hi"] = frame["distance"] + frame["distance_error"]
    if "feh_error" not in frame:
        frame["feh_error"] = 0.5 * (frame["feh_hi"] - frame["feh_lo"])
    frame = frame.drop(columns=[c for c in ("distance_error", "feh_lo", "feh_hi") if c in frame])
    for column in survey.cut_columns():  # cuts compare numbers
        if column not in frame:
            frame[column] = _numbers(table[column], survey.missing, f"{where}: column {column!r} (read by a cut)")
    return frame


def describe(survey) -> pd.DataFrame:
    """Which file column plays each role, in which unit, for the book and the command line."""
    rows = []
    for name, spec in ROLES.items():
        column = survey.columns.get(name)
        if column is None:
            continue
        rows.append({"role": name, "column": column, "unit": survey.units.get(name) or spec.file_unit or "-",
                     "meaning": spec.description})
    return pd.DataFrame(rows)
