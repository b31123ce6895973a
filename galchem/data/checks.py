"""Checks at the door: nothing invalid reaches the kinematics, and nothing is dropped without a count.

Run on the canonical table (after the survey's columns are mapped and
converted), the checks sort problems into two kinds:

* **systematic** problems -- a column whose values look like the wrong unit
  (distances in kpc declared as pc, angles in radians, temperatures in kK),
  ids that are mostly duplicated, or a range problem shared by most rows --
  refuse the file with one line naming the file, the column, how many rows
  and one example;
* **per-row** problems -- a position outside the sky, an infinite or
  negative distance or error, percentiles out of order, an id that occurs
  more than once -- are removed by the cut ``valid``, the first row of the
  cut flow, which counts them.

A *missing* value (NaN) is not invalid: the cut that needs it removes the row.

A catalogue read in partitions is judged as a whole: the shares of
:data:`SYSTEMATIC_SHARE` count rows over all partitions
(:func:`count_problems` per partition, added up, then
:func:`refuse_systematic`), duplicated ids are found over all partitions by
their 64-bit keys (:func:`duplicated_keys`), and unit plausibility is judged
on the first partition with at least :data:`MIN_ROWS_FOR_UNITS` rows
(:func:`check_units`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from galchem.data.ids import mixed_keys
from galchem.errors import ContractError

__all__ = ["KEY_BUCKETS", "SYSTEMATIC_SHARE", "Problem", "ProblemCount", "check_catalog", "check_units", "count_problems",
           "duplicated_keys", "invalid_rows", "problems", "refuse_systematic"]

SYSTEMATIC_SHARE = 0.5
"""A per-row problem shared by more than this share of the rows refuses the file instead."""

MIN_ROWS_FOR_UNITS = 20
"""Unit plausibility is judged only on at least this many finite values."""


@dataclass(frozen=True)
class Problem:
    """Rows of one column that break one rule, and the rule in words."""

    column: str
    rule: str
    bad: np.ndarray  # boolean per row

    def message(self, table: pd.DataFrame, where: str, n: int) -> str:
        """One line: the file, the column, how many rows and one example."""
        first = int(np.flatnonzero(self.bad)[0])
        example = table[self.column].iloc[first] if self.column in table else "?"
        return (f"{where}: column {self.column}: {int(self.bad.sum()):,} of {n:,} rows {self.rule} "
                f"(for example row {first}: {example!r})")


def _finite_or_missing(values: np.ndarray) -> np.ndarray:
    """True where a value is finite or NaN (missing); False for +-inf."""
    return ~np.isinf(values)


def problems(table: pd.DataFrame, duplicated: np.ndarray | None = None) -> list[Problem]:
    """Every per-row problem of a canonical table (roles absent from the table are skipped).

    ``duplicated`` marks the rows whose id occurs more than once in the whole
    catalogue (default: within this table).
    """
    found = []

    def column(name: str) -> np.ndarray | None:
        return table[name].to_numpy(dtype=float) if name in table else None

    ra, dec = column("ra"), column("dec")
    with np.errstate(invalid="ignore"):
        found.append(Problem("ra", "are not finite or outside 0-360 deg", ~(np.isfinite(ra) & (ra >= -1e-9) & (ra <= 360))))
        found.append(Problem("dec", "are not finite or outside -90..+90 deg",
                             ~(np.isfinite(dec) & (np.abs(dec) <= 90))))
        for name in ("distance", "distance_lo", "distance_hi"):
            values = column(name)
            found.append(Problem(name, "are infinite, zero or negative",
                                 ~_finite_or_missing(values) | (values <= 0)))
        lo, mid, hi = column("distance_lo"), column("distance"), column("distance_hi")
        found.append(Problem("distance_lo", "have the 16th percentile above the median or the 84th",
                             (lo > mid) | (lo > hi)))
        found.append(Problem("distance_hi", "have the 84th percentile below the median", hi < mid))
        for name in ("pmra_error", "pmdec_error", "rv_error", "parallax_error", "feh_error"):
            values = column(name)
            if values is not None:
                found.append(Problem(name, "are infinite or negative", ~_finite_or_missing(values) | (values < 0)))
        for name in ("pmra", "pmdec", "rv", "parallax", "feh"):
            values = column(name)
            if values is not None:
                found.append(Problem(name, "are infinite", ~_finite_or_missing(values)))
    if duplicated is None:
        duplicated = table["id"].duplicated(keep=False).to_numpy()
    found.append(Problem("id", ID_RULE, np.asarray(duplicated, dtype=bool)))
    return [p for p in found if p.bad.any()]


ID_RULE = "share their id with another row"


def check_units(table: pd.DataFrame, where: str, survey) -> None:
    """Refuse columns whose values look like another unit than the one declared."""
    def finite(name: str) -> np.ndarray:
        values = table[name].to_numpy(dtype=float) if name in table else np.array([])
        return values[np.isfinite(values)]

    distance = finite("distance")
    if distance.size >= MIN_ROWS_FOR_UNITS and "distance" in survey.columns:
        median = float(np.median(distance))
        column = survey.columns["distance"]
        if median < 0.02:
            raise ContractError(f"{where}: column {column} (role distance): median {median * 1000:.3g} pc over "
                                f"{distance.size:,} rows; these look like kpc read as pc -- set distance = \"kpc\" "
                                "under [units] in the survey file")
        if median > 200:
            raise ContractError(f"{where}: column {column} (role distance): median {median:.3g} kpc over "
                                f"{distance.size:,} rows; these look like pc read as kpc -- set distance = \"pc\" "
                                "under [units] in the survey file")
    ra, dec = finite("ra"), finite("dec")
    if ra.size >= MIN_ROWS_FOR_UNITS and ra.max() <= 2 * np.pi + 1e-9 and np.abs(dec).max() <= np.pi / 2 + 1e-9:
        raise ContractError(f"{where}: columns {survey.columns['ra']}, {survey.columns['dec']} (roles ra, dec): all "
                            f"{ra.size:,} values lie within 0-2pi and +-pi/2; they look like radians, not degrees")
    for name in survey.cut_columns():
        if "teff" in name.lower() and name in table and pd.api.types.is_numeric_dtype(table[name]):
            values = finite(name)
            if values.size >= MIN_ROWS_FOR_UNITS and 0 < np.median(values) < 100:
                raise ContractError(f"{where}: column {name}: median {np.median(values):.3g} over {values.size:,} "
                                    "rows; temperatures in K are in the thousands -- these look like kK")


def check_catalog(table: pd.DataFrame, survey, where: str) -> None:
    """Refuse a canonical table with a systematic problem (see the module docstring); per-row ones pass."""
    check_units(table, where, survey)
    n = len(table)
    for problem in problems(table):
        if problem.bad.sum() > SYSTEMATIC_SHARE * n and n >= 2:
            raise ContractError(problem.message(table, where, n) + "; so many that the column itself looks wrong")


def invalid_rows(table: pd.DataFrame, duplicated: np.ndarray | None = None) -> np.ndarray:
    """True for rows with any per-row problem: what the cut ``valid`` removes (``duplicated``: see :func:`problems`)."""
    bad = np.zeros(len(table), dtype=bool)
    for problem in problems(table, duplicated):
        bad |= problem.bad
    return bad


@dataclass(frozen=True)
class ProblemCount:
    """How many rows of a partition (or of several, added up) break one rule, and the first of them."""

    column: str
    rule: str
    count: int
    row: int  # the first bad row, counted over the whole catalogue
    example: object

    def add(self, other: ProblemCount) -> ProblemCount:
        """Two partitions' counts together; the example stays the earlier one."""
        first = self if self.row <= other.row else other
        return ProblemCount(self.column, self.rule, self.count + other.count, first.row, first.example)


def count_problems(table: pd.DataFrame, offset: int) -> list[ProblemCount]:
    """The per-row problems of one partition (ids apart: see :func:`duplicated_keys`); its rows start at ``offset``."""
    counts = []
    for problem in problems(table, duplicated=np.zeros(len(table), dtype=bool)):
        first = int(np.flatnonzero(problem.bad)[0])
        example = table[problem.column].iloc[first] if problem.column in table else "?"
        counts.append(ProblemCount(problem.column, problem.rule, int(problem.bad.sum()), offset + first,
                                   example.item() if hasattr(example, "item") else example))
    return counts


KEY_BUCKETS = 16
""":func:`duplicated_keys` sorts the keys in this many buckets, so it needs a sixteenth of their memory beside them."""


def duplicated_keys(keys: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """The sorted keys (:func:`galchem.data.ids.id_keys`) that occur more than once among ``keys``.

    Equal keys share a bucket (the low bits of their SplitMix64 mix, so no
    pattern in the ids can crowd one bucket), and each bucket is sorted on
    its own: ten million keys (80 MB) need about 20 MB more, not a sorted copy.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    bucket = np.empty(keys.size, dtype=np.uint8)
    for start in range(0, keys.size, chunk):
        bucket[start:start + chunk] = mixed_keys(keys[start:start + chunk]) & np.uint64(KEY_BUCKETS - 1)
    found = []
    for b in range(KEY_BUCKETS):
        ordered = np.sort(keys[bucket == b])
        found.append(ordered[1:][ordered[1:] == ordered[:-1]])
    return np.unique(np.concatenate(found))


def refuse_systematic(counts: list[ProblemCount], n: int, where: str) -> None:
    """Refuse a catalogue of ``n`` rows in which one problem is shared by more than :data:`SYSTEMATIC_SHARE` of them."""
    for count in counts:
        if count.count > SYSTEMATIC_SHARE * n and n >= 2:
            example = "" if count.example is None else f": {count.example!r}"
            raise ContractError(f"{where}: column {count.column}: {count.count:,} of {n:,} rows {count.rule} "
                                f"(for example row {count.row}{example}); so many that the column itself looks wrong")
