"""A survey's own cuts: named rows of the cut flow, each a list of conditions on file columns.

A condition keeps the rows whose value is finite and inside its bounds:
inclusive ``min``/``max``, strict ``above``/``below``, or just ``finite = true``;
a cut keeps the rows that pass all of its conditions (:func:`parse_cut` reads
one ``[[cuts]]`` entry of a survey file).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["BOUNDS", "Condition", "SurveyCut", "parse_cut"]

BOUNDS = ("min", "max", "above", "below")
"""The keys of a condition's bounds."""


@dataclass(frozen=True)
class Condition:
    """One test on one column: inclusive ``min``/``max``, strict ``above``/``below``, or just ``finite``."""

    column: str
    min: float | None = None
    max: float | None = None
    above: float | None = None
    below: float | None = None

    def keep(self, table: pd.DataFrame) -> np.ndarray:
        """True for rows whose value is finite and within the bounds."""
        values = np.asarray(table[self.column], dtype=float)
        with np.errstate(invalid="ignore"):
            keep = np.isfinite(values)
            if self.min is not None:
                keep &= values >= self.min
            if self.max is not None:
                keep &= values <= self.max
            if self.above is not None:
                keep &= values > self.above
            if self.below is not None:
                keep &= values < self.below
        return keep

    def describe(self) -> str:
        """The condition in words, e.g. ``2 <= logg <= 5``."""
        lower = f"{self.min:g} <= " if self.min is not None else f"{self.above:g} < " if self.above is not None else ""
        upper = f" <= {self.max:g}" if self.max is not None else f" < {self.below:g}" if self.below is not None else ""
        return f"{lower}{self.column}{upper}" if lower or upper else f"{self.column} known"

    def to_dict(self) -> dict:
        """The condition as it is written in a survey file."""
        bounds = {k: getattr(self, k) for k in BOUNDS if getattr(self, k) is not None}
        return {"column": self.column, **(bounds or {"finite": True})}


@dataclass(frozen=True)
class SurveyCut:
    """A named cut of the survey: every condition must hold."""

    name: str
    conditions: tuple[Condition, ...]
    description: str = ""

    def keep(self, table: pd.DataFrame) -> np.ndarray:
        """True for the rows that pass every condition."""
        keep = np.ones(len(table), dtype=bool)
        for condition in self.conditions:
            keep &= condition.keep(table)
        return keep

    def describe(self) -> str:
        """The description from the file, else the conditions in words."""
        return self.description or "; ".join(c.describe() for c in self.conditions)

    def to_dict(self) -> dict:
        """The cut as it is written in a survey file."""
        head = {"name": self.name, **({"description": self.description} if self.description else {})}
        if len(self.conditions) == 1:
            return {**head, **self.conditions[0].to_dict()}
        return {**head, "all": [c.to_dict() for c in self.conditions]}


def parse_cut(entry, index: int, fail: Callable[[str], Exception]) -> SurveyCut:
    """One ``[[cuts]]`` entry of a survey file; ``fail(message)`` makes the error to raise (naming the file)."""
    if not isinstance(entry, Mapping):
        raise fail(f"cut {index + 1} must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise fail(f"cut {index + 1} needs a 'name'")
    where = f"cut {name!r}"
    if "all" in entry:
        extra = sorted(set(entry) - {"name", "description", "all"})
        if extra:
            raise fail(f"{where}: with 'all', the condition keys go inside it, not {', '.join(extra)}")
        conditions = tuple(_parse_condition(c, where, fail) for c in entry["all"])
    else:
        conditions = (_parse_condition({k: v for k, v in entry.items() if k not in ("name", "description")},
                                       where, fail),)
    if not conditions:
        raise fail(f"{where} has no conditions")
    for column in dict.fromkeys(c.column for c in conditions):
        _check_bounds_overlap([c for c in conditions if c.column == column], where, fail)
    return SurveyCut(name, conditions, str(entry.get("description", "")))


def _parse_condition(entry, where: str, fail) -> Condition:
    if not isinstance(entry, Mapping):
        raise fail(f"{where}: each condition must be a table")
    allowed = {"column", "finite", *BOUNDS}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise fail(f"{where}: unknown key(s) {', '.join(unknown)}; use column, min, max, above, below, finite")
    column = entry.get("column")
    if not isinstance(column, str) or not column:
        raise fail(f"{where}: 'column' must name a file column")
    bounds = {}
    for key in BOUNDS:
        if key in entry:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise fail(f"{where}: {key} must be a finite number, got {value!r}")
            bounds[key] = float(value)
    if "finite" in entry and entry["finite"] is not True:
        raise fail(f"{where}: 'finite' can only be true")
    if not bounds and "finite" not in entry:
        raise fail(f"{where}: give at least one of min, max, above, below or finite = true")
    return Condition(column, **bounds)


def _check_bounds_overlap(conditions: list[Condition], where: str, fail) -> None:
    """Refuse conditions on one column whose lower and upper bounds no value can satisfy together (in one
    condition or across the conditions of an ``all`` list): such a cut removes every row."""
    lower = [(key, getattr(c, key)) for c in conditions for key in ("min", "above") if getattr(c, key) is not None]
    upper = [(key, getattr(c, key)) for c in conditions for key in ("max", "below") if getattr(c, key) is not None]
    for low_key, low in lower:
        for high_key, high in upper:
            if low > high or (low == high and (low_key, high_key) != ("min", "max")):
                raise fail(f"{where}: {low_key} = {low:g} and {high_key} = {high:g} on {conditions[0].column} leave "
                           "no value between them, so the cut would remove every row")
