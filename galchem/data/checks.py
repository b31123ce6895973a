"""Checks at the door: nothing invalid reaches the kinematics, and nothing is dropped without a count.

Run on the canonical table (after the survey's columns are mapped and
converted), the checks sort problems into two kinds:

* **systematic** problems -- a column whose values look like the wrong unit
  (distances in kpc declared as pc, parallaxes in arcsec, proper motions in
  micro-arcsec/yr, velocities in m/s, angles in radians, temperatures in kK),
  ids that are mostly duplicated, or a range problem shared by most rows --
  refuse the file with one line naming the file, the column, how many rows,
  one example and, where one fits, the likely unit slip;
* **per-row** problems -- a position outside the sky, an infinite or
  negative distance or error, percentiles out of order, a value no star can
  have (outside its role's physical range, :data:`PLAUSIBLE`), an id that
  occurs more than once -- are removed by the cut ``valid``, the first row
  of the cut flow, which counts them.

Each numeric role has two ranges (:class:`Plausible`, in the canonical
units of :data:`galchem.data.contract.CANONICAL_UNITS`): a *physical* one
that no star's value can leave by more than :data:`TOLERANCE` of its own
standard errors (a per-row problem), and a *typical* one that most values
of any star sample fall in, which only a unit slip leaves for most rows (a
systematic problem only: a single tiny parallax is a distant star).  Both
judge a column on its own, so a slip is caught even when no other column
could contradict it.

A *missing* value (NaN) is not invalid: the cut that needs it removes the row.

A catalogue read in partitions is judged as a whole: the shares of
:data:`SYSTEMATIC_SHARE` count rows over all partitions
(:func:`count_problems` per partition, added up, then
:func:`refuse_systematic`), duplicated ids are found over all partitions by
their 64-bit keys (:func:`duplicated_keys`), and the angle and temperature
units are judged on the first partition with at least
:data:`~galchem.data.coordinates.MIN_ROWS_FOR_UNITS` rows (:func:`check_units`).
"""
from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from galchem.data.contract import CANONICAL_UNITS, ROLES, unit_factor
from galchem.data.coordinates import MIN_ROWS_FOR_UNITS
from galchem.data.surveys import UNIT_FAMILIES
from galchem.errors import ContractError

__all__ = ["ID_RULE", "PLAUSIBLE", "SYSTEMATIC_SHARE", "TOLERANCE", "Plausible", "Problem", "ProblemCount", "check_units",
           "count_problems", "invalid_rows", "problems", "refuse_systematic", "unit_advice"]

SYSTEMATIC_SHARE = 0.5
"""A problem shared by more than this share of the rows it judges refuses the file instead."""

TOLERANCE = 5.0
"""A value beyond its physical range by more than this many of its own standard errors is no star's value."""

INF = float("inf")

Kind = Literal["row", "range", "typical"]
"""A rule's kind: a per-row problem, a value outside its physical range (per-row too), or outside a typical range."""


@dataclass(frozen=True)
class Plausible:
    """The values one role of the canonical table can take, in its canonical unit.

    ``physical``: no star's true value lies outside (a measured one may, by
    up to :data:`TOLERANCE` times its ``error`` role); ``typical``: the
    absolute values of most rows of any star sample lie inside (None: the
    role has no unit to slip); ``slips``: units a file may have meant
    instead, offered as the likely cause when most rows fall outside.
    """

    role: str
    physical: tuple[float, float] | None
    typical: tuple[float, float] | None
    error: str | None = None
    slips: tuple[str, ...] = ()


_ANGLES = ("arcsec", "uas")
_MOTIONS = ("arcsec/yr", "uas/yr")
PLAUSIBLE: dict[str, Plausible] = {p.role: p for p in (
    # a true parallax lies in 0-768 mas (Proxima Centauri); most samples sit between 20 pc and 200 kpc
    Plausible("parallax", (0.0, 1000.0), (0.005, 50.0), "parallax_error", _ANGLES),
    Plausible("parallax_error", (-INF, 1000.0), (0.001, 10.0), None, _ANGLES),
    # no star moves faster across the sky than Barnard's star (10.4 arcsec/yr)
    Plausible("pmra", (-20_000.0, 20_000.0), (0.02, 500.0), "pmra_error", _MOTIONS),
    Plausible("pmra_error", (-INF, 20_000.0), (0.001, 10.0), None, _MOTIONS),
    Plausible("pmdec", (-20_000.0, 20_000.0), (0.02, 500.0), "pmdec_error", _MOTIONS),
    Plausible("pmdec_error", (-INF, 20_000.0), (0.001, 10.0), None, _MOTIONS),
    # no known star moves faster than about 2 500 km/s; a sample's typical speed is far below the escape speed
    Plausible("rv", (-3000.0, 3000.0), (0.0, 500.0), "rv_error", ("m/s",)),
    Plausible("rv_error", (-INF, 3000.0), (0.0, 100.0), None, ("m/s",)),
    Plausible("distance", None, (0.02, 200.0), None, ("pc", "kpc")),
    Plausible("distance_lo", None, (0.02, 200.0), None, ("pc", "kpc")),
    Plausible("distance_hi", None, (0.02, 200.0), None, ("pc", "kpc")),
    # the most metal-poor stars known have [Fe/H] near -7, the richest about +0.6
    Plausible("feh", (-10.0, 2.0), None, "feh_error"),
    Plausible("feh_error", (-INF, 10.0), None),
)}
"""The plausible values of every numeric role but the position (whose checks are the sky's limits)."""


@dataclass(frozen=True)
class Problem:
    """Rows of one column that break one rule, the rule in words, and the rows the rule could judge.

    ``kind`` is ``"row"`` (a per-row problem: the ``valid`` cut removes
    the rows), ``"range"`` (a value outside its physical range: per-row too)
    or ``"typical"`` (outside the typical range: only a majority matters).
    ``example`` is the row shown in messages.
    """

    column: str
    rule: str
    bad: np.ndarray  # boolean per row
    judged: int
    kind: Kind = "row"
    example: int = 0


def _problem(column: str, rule: str, bad: np.ndarray, judged: int | None = None, kind: Kind = "row",
             values: np.ndarray | None = None) -> Problem:
    """A problem whose example is its first bad row, or (``values`` given) the bad row of median value."""
    rows = np.flatnonzero(bad)
    example = int(rows[0]) if rows.size else 0
    if values is not None and rows.size:
        example = int(rows[np.argsort(values[rows], kind="stable")[rows.size // 2]])
    return Problem(column, rule, bad, len(bad) if judged is None else judged, kind, example)


def _finite_or_missing(values: np.ndarray) -> np.ndarray:
    """True where a value is finite or NaN (missing); False for +-inf."""
    return ~np.isinf(values)


def _bounds(low: float, high: float, unit: str) -> str:
    """A range in words: ``outside -10..2 dex``, ``above 1000 mas``."""
    if low == -INF:
        return f"above {high:g} {unit}"
    return f"outside {low:g}..{high:g} {unit}"


def _range_rules(table: pd.DataFrame) -> list[Problem]:
    """The physical-range rule of every role in ``table``: a value beyond it by more than :data:`TOLERANCE` of its
    own error (none when the error is missing) is no star's."""
    found = []
    for plausible in PLAUSIBLE.values():
        if plausible.physical is None or plausible.role not in table:
            continue
        values = table[plausible.role].to_numpy(dtype=float)
        error = table[plausible.error].to_numpy(dtype=float) if plausible.error in table else np.zeros(len(values))
        slack = TOLERANCE * np.where(np.isfinite(error) & (error > 0), error, 0.0)
        low, high = plausible.physical
        with np.errstate(invalid="ignore"):
            bad = np.isfinite(values) & ((values < low - slack) | (values > high + slack))
        rule = f"are {_bounds(low, high, CANONICAL_UNITS[plausible.role])}, where no star's value lies"
        if plausible.error:
            rule += f" (by more than {TOLERANCE:g} of their errors)"
        found.append(_problem(plausible.role, rule, bad, int(np.isfinite(values).sum()), "range"))
    return found


def problems(table: pd.DataFrame, duplicated: np.ndarray | None = None) -> list[Problem]:
    """Every per-row problem of a canonical table (roles absent from the table are skipped).

    ``duplicated`` marks the rows whose id occurs more than once in the whole
    catalogue (default: within this table).
    """
    return [p for p in _row_rules(table, duplicated) if p.bad.any()]


def _row_rules(table: pd.DataFrame, duplicated: np.ndarray | None) -> list[Problem]:
    """Every per-row rule applied to ``table``, broken by some rows or by none."""
    found = []

    def column(name: str) -> np.ndarray | None:
        return table[name].to_numpy(dtype=float) if name in table else None

    ra, dec = column("ra"), column("dec")
    with np.errstate(invalid="ignore"):
        found.append(_problem("ra", "are not finite or outside 0-360 deg",
                              ~(np.isfinite(ra) & (ra >= -1e-9) & (ra <= 360))))
        found.append(_problem("dec", "are not finite or outside -90..+90 deg",
                              ~(np.isfinite(dec) & (np.abs(dec) <= 90))))
        for name in ("distance", "distance_lo", "distance_hi"):
            values = column(name)
            found.append(_problem(name, "are infinite, zero or negative", ~_finite_or_missing(values) | (values <= 0)))
        lo, mid, hi = column("distance_lo"), column("distance"), column("distance_hi")
        found.append(_problem("distance_lo", "have the 16th percentile above the median or the 84th",
                              (lo > mid) | (lo > hi)))
        found.append(_problem("distance_hi", "have the 84th percentile below the median", hi < mid))
        for name in ("pmra_error", "pmdec_error", "rv_error", "parallax_error", "feh_error"):
            values = column(name)
            if values is not None:
                found.append(_problem(name, "are infinite or negative", ~_finite_or_missing(values) | (values < 0)))
        for name in ("pmra", "pmdec", "rv", "parallax", "feh"):
            values = column(name)
            if values is not None:
                found.append(_problem(name, "are infinite", ~_finite_or_missing(values)))
    found.extend(_range_rules(table))
    if duplicated is None:
        duplicated = table["id"].duplicated(keep=False).to_numpy()
    found.append(_problem("id", ID_RULE, np.asarray(duplicated, dtype=bool)))
    return found


ID_RULE = "share their id with another row"


def _typical_rules(table: pd.DataFrame, roles: Collection[str]) -> list[Problem]:
    """The typical-range rule of every role the survey maps (``roles``), applied to ``table``: rows whose absolute
    value lies outside.  Only a majority of them is a problem (a unit slip): see :func:`refuse_systematic`."""
    found = []
    for plausible in PLAUSIBLE.values():
        if plausible.typical is None or plausible.role not in roles or plausible.role not in table:
            continue
        values = np.abs(table[plausible.role].to_numpy(dtype=float))
        finite = np.isfinite(values)
        low, high = plausible.typical
        unit = CANONICAL_UNITS[plausible.role]
        with np.errstate(invalid="ignore"):
            sides = ((finite & (values < low), f"below {low:g}"), (finite & (values > high), f"above {high:g}"))
            for bad, side in sides:
                rule = f"have |{plausible.role}| {side} {unit}, unlike any star sample"
                found.append(_problem(plausible.role, rule, bad, int(finite.sum()), "typical", values))
    return found


def check_units(table: pd.DataFrame, where: str, survey) -> None:
    """Refuse angles that look like radians and temperatures (read by a cut) that look like kK."""
    def finite(name: str) -> np.ndarray:
        values = table[name].to_numpy(dtype=float) if name in table else np.array([])
        return values[np.isfinite(values)]

    ra, dec = finite("ra"), finite("dec")
    if "ra" in survey.columns and ra.size >= MIN_ROWS_FOR_UNITS and ra.max() <= 2 * np.pi + 1e-9 and np.abs(dec).max() <= np.pi / 2 + 1e-9:
        raise ContractError(f"{where}: columns {survey.columns['ra']}, {survey.columns['dec']} (roles ra, dec): all "
                            f"{ra.size:,} values lie within 0-2pi and +-pi/2; they look like radians, not degrees")
    for name in survey.cut_columns():
        if "teff" in name.lower() and name in table and pd.api.types.is_numeric_dtype(table[name]):
            values = finite(name)
            if values.size >= MIN_ROWS_FOR_UNITS and 0 < np.median(values) < 100:
                raise ContractError(f"{where}: column {name}: median {np.median(values):.3g} over {values.size:,} "
                                    "rows; temperatures in K are in the thousands -- these look like kK")


def invalid_rows(table: pd.DataFrame, duplicated: np.ndarray | None = None) -> np.ndarray:
    """True for rows with any per-row problem: what the cut ``valid`` removes (``duplicated``: see :func:`problems`)."""
    bad = np.zeros(len(table), dtype=bool)
    for problem in problems(table, duplicated):
        bad |= problem.bad
    return bad


@dataclass(frozen=True)
class ProblemCount:
    """How many rows of a partition (or of several, added up) break one rule, of how many judged, and an example."""

    column: str
    rule: str
    count: int
    judged: int
    row: int  # the example row, counted over the whole catalogue
    example: object
    kind: Kind = "row"

    def add(self, other: ProblemCount) -> ProblemCount:
        """Two partitions' counts together; the example stays the earlier one, or for a typical range (whose
        example suggests the unit) the one of the partition with more rows outside it."""
        broken = [c for c in (self, other) if c.count] or [self]
        if self.kind == "typical":
            first = max(broken, key=lambda c: c.count)
        else:
            first = min(broken, key=lambda c: c.row)
        return ProblemCount(self.column, self.rule, self.count + other.count, self.judged + other.judged, first.row,
                            first.example, self.kind)


def count_problems(table: pd.DataFrame, offset: int, roles: Collection[str]) -> list[ProblemCount]:
    """Every rule's count on one partition whose rows start at ``offset``, also when no row breaks it (so that the
    rows judged add up over the catalogue): the typical ranges of the ``roles`` the survey maps,
    then the per-row rules (ids apart: see :func:`duplicated_keys`)."""
    counts = []
    for problem in (*_typical_rules(table, roles), *_row_rules(table, np.zeros(len(table), dtype=bool))):
        example = table[problem.column].iloc[problem.example] if problem.column in table and len(table) else None
        counts.append(ProblemCount(problem.column, problem.rule, int(problem.bad.sum()), problem.judged,
                                   offset + problem.example, example.item() if hasattr(example, "item") else example,
                                   problem.kind))
    return counts


def _sentinel(value: float) -> bool:
    """True for the usual 'no measurement' numbers: -9999, 99.99, 999 ..."""
    return bool(re.fullmatch(r"-?9{2,}(\.9+)?", f"{value:g}"))


def unit_advice(role: str, example: float, survey, file_units: Mapping[str, str]) -> str:
    """The likely cause of a ``role`` whose values, like ``example`` (canonical units), are mostly implausible.

    A unit from :attr:`Plausible.slips` that would bring ``example`` into the
    typical range, said as the fix that works: the survey's ``[units]`` for a
    column without unit metadata, the file itself for one with it (a file's
    own units win); else a 'no measurement' sentinel to list under ``missing``;
    else nothing.
    """
    column = survey.columns.get(role)
    plausible = PLAUSIBLE.get(role)
    if column is None or plausible is None or not np.isfinite(example):
        return ""
    canonical = CANONICAL_UNITS[role]
    declared = file_units.get(column) or survey.units.get(role) or ROLES[role].file_unit
    to_canonical = unit_factor(declared, canonical, column)
    low, high = plausible.typical or (0.0, INF)
    for slip in plausible.slips:
        factor = unit_factor(slip, canonical, column) / to_canonical
        if factor != 1.0 and low <= abs(example) * factor <= high:
            if column in file_units:
                return (f"these look like {slip}, but the file declares {declared!r} for {column}, and a file's own "
                        f"units win over the survey's [units] -- correct the unit in the file")
            return f"these look like {slip} read as {declared} -- {_units_fix(role, slip, survey, file_units)}"
    raw = example / to_canonical
    if _sentinel(raw):
        return f"{raw:g} looks like a 'no measurement' value -- list it under missing = [...] in the survey file"
    return ""


def _units_fix(role: str, slip: str, survey, file_units: Mapping[str, str]) -> str:
    """The survey-file edit for a ``role`` read in the wrong unit: its ``[units]`` entry, the roles measuring the
    same quantity (:data:`galchem.data.surveys.UNIT_FAMILIES`) that may share the slip, and the survey's cuts
    that compare those columns in the file's own unit."""
    family = next((f for f in UNIT_FAMILIES if role in f), (role,))
    mapped = [r for r in family if r in survey.columns and survey.columns[r] not in file_units]
    companions = [r for r in mapped if r != role]
    fix = f'set {role} = "{slip}"' + (f" (and {', '.join(companions)}, if in {slip} too)" if companions else "")
    fix += " under [units] in the survey file"
    columns = {survey.columns[r] for r in mapped}
    compared = [cut.name for cut in survey.cuts if columns & {c.column for c in cut.conditions}]
    if compared:
        read = sorted(columns & set(survey.cut_columns()))
        fix += (f"; cut {', '.join(map(repr, compared))} compares {', '.join(read)} in the file's own unit, so scale "
                "its bounds too")
    return fix


def _column_label(name: str, survey) -> str:
    """A canonical column in words: its file column and role, or a derived role, or a column read by a cut."""
    if name in survey.columns:
        return f"{survey.columns[name]} (role {name})"
    return f"{name} (derived)" if name in ROLES else name


def refuse_systematic(counts: list[ProblemCount], where: str, survey, file_units: Mapping[str, str]) -> None:
    """Refuse a catalogue in which one problem is shared by more than :data:`SYSTEMATIC_SHARE` of the rows it judged.

    One line: the file, the column, how many rows, an example and, for a
    range problem, the likely unit slip (:func:`unit_advice`; ``file_units``:
    the units the file declares, column -> unit).  Unit slips are said
    first, then impossible values, then other problems, each in role order.
    """
    order = {kind: i for i, kind in enumerate(("typical", "range", "row"))}
    roles = list(ROLES)
    for count in sorted(counts, key=lambda c: (order[c.kind], roles.index(c.column) if c.column in roles else 0)):
        enough = MIN_ROWS_FOR_UNITS if count.kind == "typical" else 2
        if count.count == 0 or count.count <= SYSTEMATIC_SHARE * count.judged or count.judged < enough:
            continue
        unit = CANONICAL_UNITS.get(count.column, "")
        shown = f"{count.example:.6g}" if isinstance(count.example, float) else repr(count.example)
        example = "" if count.example is None else f": {shown}" + (f" {unit}" if unit else "")
        advice = unit_advice(count.column, float(count.example), survey, file_units) if count.kind != "row" else ""
        raise ContractError(f"{where}: column {_column_label(count.column, survey)}: {count.count:,} of "
                            f"{count.judged:,} rows {count.rule} (for example row {count.row}{example}); "
                            + (advice or "so many that the column itself looks wrong"))
