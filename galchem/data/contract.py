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
  ``distance_error`` (1 sigma) instead: then lo/hi = distance -/+ error; or
  ``distance_err_lo`` / ``distance_err_hi``, offsets below and above the
  distance: then lo = distance - err_lo and hi = distance + err_hi.
  A survey without distances gets ``1 / parallax`` with percentiles
  ``1 / (parallax +/- parallax_error)``; :attr:`Survey.distance_origin` says
  which, and the pages print it.
* [Fe/H]: ``feh_error`` is 1 sigma; a survey may give ``feh_lo`` / ``feh_hi``
  (16th / 84th percentiles) instead, and the error is half their distance.
* An uncertainty (:data:`CONSTANT_ROLES`) may be one number for every row
  instead of a column (``feh_error = 0.1``), in the role's unit.
* Velocities (proper motions and the radial velocity with their errors) are
  optional as a group: without them the run is positional only.
  Correlations (:data:`CORRELATION_ROLES`) are optional; one not mapped, or
  missing in a row, is zero.
* Positions may be given in Galactic coordinates (``l``, ``b``, with
  ``pm_l_cosb`` / ``pm_b``) or as Galactocentric ``x``, ``y``, ``z`` (with
  ``vx``, ``vy``, ``vz``): :mod:`galchem.data.coordinates` turns them into
  the ICRS roles with astropy as the table is read, and the canonical table
  holds only those.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import astropy.units as u
import numpy as np
import pandas as pd

from galchem.data import coordinates
from galchem.errors import ContractError

__all__ = ["CANONICAL_UNITS", "CONSTANT_ROLES", "CORRELATION_ROLES", "ROLES", "VELOCITY_ROLES", "Role",
           "canonical_table", "describe", "require_columns", "role", "unit_factor"]


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
    Role("distance_err_lo", "pc", "distance minus its 16th percentile (an offset), instead of distance_lo"),
    Role("distance_err_hi", "pc", "84th percentile minus the distance (an offset), instead of distance_hi"),
    Role("rv", "km/s", "line-of-sight (radial) velocity"),
    Role("rv_error", "km/s", "uncertainty of rv (1 sigma)"),
    Role("feh", "dex", "metallicity [Fe/H]"),
    Role("feh_error", "dex", "uncertainty of [Fe/H] (1 sigma)"),
    Role("feh_lo", "dex", "[Fe/H], 16th percentile (instead of feh_error)"),
    Role("feh_hi", "dex", "[Fe/H], 84th percentile (instead of feh_error)"),
    Role("pmra_pmdec_corr", "", "correlation coefficient of the pmra and pmdec errors"),
    Role("parallax_pmra_corr", "", "correlation coefficient of the parallax and pmra errors (parallax distances)"),
    Role("parallax_pmdec_corr", "", "correlation coefficient of the parallax and pmdec errors (parallax distances)"),
    Role("l", "deg", "Galactic longitude (instead of ra and dec)"),
    Role("b", "deg", "Galactic latitude (instead of ra and dec)"),
    Role("pm_l_cosb", "mas/yr", "proper motion in Galactic longitude times cos(b) (instead of pmra and pmdec)"),
    Role("pm_l_cosb_error", "mas/yr", "uncertainty of pm_l_cosb (1 sigma)"),
    Role("pm_b", "mas/yr", "proper motion in Galactic latitude"),
    Role("pm_b_error", "mas/yr", "uncertainty of pm_b (1 sigma)"),
    Role("pm_l_pm_b_corr", "", "correlation coefficient of the pm_l_cosb and pm_b errors"),
    Role("x", "kpc", "Galactocentric X in galchem's frame (Sun at X = -8.27 kpc), instead of ra, dec and distance"),
    Role("y", "kpc", "Galactocentric Y (towards Galactic longitude 90 deg)"),
    Role("z", "kpc", "Galactocentric Z (towards the north Galactic pole; Sun at +0.029 kpc)"),
    Role("vx", "km/s", "Galactocentric velocity along X (instead of pmra, pmdec and rv)"),
    Role("vy", "km/s", "Galactocentric velocity along Y"),
    Role("vz", "km/s", "Galactocentric velocity along Z"),
)}
"""Every role a survey file may map, in the order tables list them."""

CANONICAL_UNITS = {name: "kpc" if name.startswith("distance") else spec.file_unit
                   for name, spec in ROLES.items() if name != "id"}
"""Units of the canonical table's numeric roles: a file's, but distances in kpc."""

VELOCITY_ROLES = ("pmra", "pmra_error", "pmdec", "pmdec_error", "rv", "rv_error")
"""Roles the canonical table holds all together or not at all (a survey may give them in other coordinates)."""

CORRELATION_ROLES = ("pmra_pmdec_corr", "parallax_pmra_corr", "parallax_pmdec_corr")
"""Correlation coefficients the kinematics use; zero when a survey gives none."""

CONSTANT_ROLES = ("pmra_error", "pmdec_error", "parallax_error", "distance_error", "distance_err_lo", "distance_err_hi",
                  "rv_error", "feh_error", "pm_l_cosb_error", "pm_b_error")
"""Uncertainties a survey file may give as one number for every row instead of a column."""


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
    n = len(table)
    values = {}
    for name, column in survey.columns.items():
        if name == "id":
            continue
        context = f"{where}: column {column!r} (role {name})"
        declared = file_units.get(column) or survey.units.get(name) or ROLES[name].file_unit
        values[name] = _numbers(table[column], survey.missing, context) * unit_factor(
            declared, CANONICAL_UNITS[name], context)
    for name, value in survey.constants.items():  # one number for every row, in the survey's unit for the role
        declared = survey.units.get(name) or ROLES[name].file_unit
        values[name] = np.full(n, value * unit_factor(declared, CANONICAL_UNITS[name], f"{where}: constant {name}"))
    _refuse_bad_correlations(values, survey.columns, n, where)
    values = coordinates.to_icrs(values, survey.columns, where)
    key = survey.columns["id"]
    frame = pd.DataFrame({"id": _ids(table[key], f"{where}: column {key!r} (role id)"), **values})
    if "distance" not in frame:  # from the parallax: 1/parallax, percentiles through the same monotone map
        parallax, error = frame["parallax"].to_numpy(), frame["parallax_error"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["distance"] = np.where(parallax > 0, 1.0 / parallax, np.nan)
            frame["distance_lo"] = np.where(parallax + error > 0, 1.0 / (parallax + error), np.nan)
            frame["distance_hi"] = np.where(parallax - error > 0, 1.0 / (parallax - error), np.nan)
    elif "distance_lo" not in frame:  # a 16th percentile at or below zero is undefined: NaN, removed by a cut
        below, above = ("distance_error", "distance_error") if "distance_error" in frame else \
            ("distance_err_lo", "distance_err_hi")
        lo = frame["distance"] - frame[below]
        frame["distance_lo"] = lo.where(lo > 0)
        frame["distance_hi"] = frame["distance"] + frame[above]
    if "feh_error" not in frame:
        frame["feh_error"] = 0.5 * (frame["feh_hi"] - frame["feh_lo"])
    for name in CORRELATION_ROLES:  # a correlation not given is zero
        if name in frame:
            frame[name] = frame[name].fillna(0.0)
    frame = frame.drop(columns=[c for c in ("distance_error", "distance_err_lo", "distance_err_hi", "feh_lo", "feh_hi")
                                if c in frame])
    for column in survey.cut_columns():  # cuts compare numbers
        if column not in frame:
            frame[column] = _numbers(table[column], survey.missing, f"{where}: column {column!r} (read by a cut)")
    return frame


CORRELATION_TOLERANCE = 1e-6
"""How far below zero the determinant of a row's correlation matrix may fall (catalogues store float32)."""


def _refuse_bad_correlations(values: dict[str, np.ndarray], columns: Mapping[str, str], n: int, where: str) -> None:
    """Refuse, in one line, correlation coefficients outside -1..+1 or that make no correlation matrix; clip
    those within rounding of +-1 to it.

    No real catalogue has them: they mean a column mapped to the wrong role.
    (Per-row removal by the ``valid`` cut would need a rule in :mod:`galchem.data.checks`.)
    """
    for name in (*CORRELATION_ROLES, "pm_l_pm_b_corr"):
        if name in values:
            with np.errstate(invalid="ignore"):
                bad = np.abs(values[name]) > 1.0 + CORRELATION_TOLERANCE
            if bad.any():
                first = int(np.flatnonzero(bad)[0])
                raise ContractError(f"{where}: column {columns[name]!r} (role {name}): {int(bad.sum()):,} of {n:,} "
                                    f"rows lie outside -1..+1 (for example row {first}: {values[name][first]!r}); a "
                                    "correlation coefficient cannot -- is the right column mapped?")
            values[name] = np.clip(values[name], -1.0, 1.0)  # float32 rounding past +-1
    if "parallax_pmra_corr" not in values:
        return
    zero = np.zeros(n)
    a, d, ad = (np.nan_to_num(values.get(name, zero), nan=0.0)
                for name in ("parallax_pmra_corr", "parallax_pmdec_corr", "pmra_pmdec_corr"))
    determinant = 1.0 + 2.0 * a * d * ad - a * a - d * d - ad * ad
    bad = determinant < -CORRELATION_TOLERANCE
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        named = ", ".join(columns[name] for name in CORRELATION_ROLES if name in columns)
        raise ContractError(f"{where}: columns {named}: {int(bad.sum()):,} of {n:,} rows have correlations of "
                            f"parallax, pmra and pmdec that no covariance matrix has (for example row {first}: "
                            f"{a[first]:.3g}, {d[first]:.3g}, {ad[first]:.3g}); is the right column mapped?")


def describe(survey) -> pd.DataFrame:
    """Which file column (or constant) plays each role, in which unit, for the book and the command line."""
    rows = []
    for name, spec in ROLES.items():
        column = survey.columns.get(name)
        if column is None and name in survey.constants:
            column = f"{survey.constants[name]:g} (every row)"
        if column is None:
            continue
        rows.append({"role": name, "column": column, "unit": survey.units.get(name) or spec.file_unit or "-",
                     "meaning": spec.description})
    return pd.DataFrame(rows)
