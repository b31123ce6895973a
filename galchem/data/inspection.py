"""The first, cheap pass over a catalogue: the checks at the door, judged on the whole catalogue.

Before any star's kinematics are computed, every partition is read once to
count its per-row problems and to take the 64-bit keys of its ids
(:mod:`galchem.data.ids`).  Added up, the counts decide whether a column is
systematically wrong (:func:`galchem.data.checks.refuse_systematic`), and
the keys reveal every id that occurs more than once, even when its copies
sit in different partitions: those rows are then removed by the ``valid``
cut of each partition.  The same counts judge each role's plausible ranges
(:data:`galchem.data.checks.PLAUSIBLE`); a refusal for a unit slip gives the
fix that works, which depends on whether the file declares its own units.
Angles and temperatures are judged on the first partition with at least
:data:`galchem.data.checks.MIN_ROWS_FOR_UNITS` rows.  A file's id column is
checked as read, before it becomes keys: an empty id is named with its row.

The keys are the one thing gathered from every star: 8 bytes each, copied
into one array as each partition's report is released, and sorted bucket by
bucket (:func:`galchem.data.ids.duplicated_keys`): about 100 MB for ten
million stars, freed before the next pass.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from galchem.data import checks, contract, files
from galchem.data.ids import check_ids, duplicated_keys, id_keys
from galchem.data.partitions import FilePart, Part
from galchem.data.surveys import Survey

__all__ = ["Inspection", "MapParts", "inspect_catalog", "map_in_process"]

MapParts = Callable[..., list]
"""``map_parts(function, items, *args) -> [function(item, *args) for item in items]``, in order: in this process
(:func:`map_in_process`) or on a scheduler's workers (``galchem.run.scheduler.Scheduler.map``)."""


def map_in_process(function: Callable, items: Sequence, *args) -> list:
    """:data:`MapParts` in this process."""
    return [function(item, *args) for item in items]


@dataclass(frozen=True)
class Inspection:
    """What the first pass learned: the rows, the keys of duplicated ids, and whether ids are text."""

    rows: int
    duplicated: np.ndarray  # sorted uint64 keys
    text_ids: bool


@dataclass(frozen=True)
class _PartReport:
    rows: int
    keys: np.ndarray
    counts: list[checks.ProblemCount]
    text_ids: bool
    file_units: dict[str, str]


def _read(part: Part, survey: Survey, many: bool, offset: int) -> tuple[pd.DataFrame, dict[str, str]]:
    """The canonical table of a partition and the units its file declares; a file's ids are checked as read."""
    if not isinstance(part, FilePart):
        return part.read(survey, many), {}
    where = part.where(many)
    rows = None if part.stop is None else (part.start, part.stop)
    table, units = files.read_table(part.path, survey.file_columns(), rows)
    contract.require_columns(table.columns, survey, where)
    column = survey.columns["id"]
    check_ids(table[column], f"{where}: column {column!r} (role id)", offset)
    return contract.canonical_table(table, units, survey, where), units


def _inspect_part(item: tuple[int, Part], survey: Survey, offsets: tuple[int, ...], many: bool, units_part: int,
                  where: str) -> _PartReport:
    """Read one partition: its problem counts, its id keys, its file's units, and (one partition only) its angles."""
    index, part = item
    table, units = _read(part, survey, many, offsets[index])
    if index == units_part:
        checks.check_units(table, where, survey)
    return _PartReport(len(table), id_keys(table["id"]), checks.count_problems(table, offsets[index], survey.columns),
                       not pd.api.types.is_integer_dtype(table["id"]), units)


def inspect_catalog(parts: tuple[Part, ...], survey: Survey, where: str,
                    map_parts: MapParts = map_in_process) -> Inspection:
    """Check a catalogue given as partitions (module docstring); refuse it in one line if a column looks wrong.

    ``map_parts`` reads the partitions (:data:`MapParts`): this pass needs nothing of a scheduler but its map.
    """
    known = [p.rows for p in parts]
    offsets = tuple(int(v) for v in np.cumsum([0] + [r or 0 for r in known[:-1]]))
    units_part = next((i for i, rows in enumerate(known) if (rows or 0) >= checks.MIN_ROWS_FOR_UNITS), 0)
    reports = map_parts(_inspect_part, list(enumerate(parts)), survey, offsets, len(parts) > 1, units_part, where)
    rows = sum(r.rows for r in reports)
    keys, at = np.empty(rows, dtype=np.uint64), 0
    for i, report in enumerate(reports):  # each partition's keys are released once copied
        keys[at:at + report.keys.size] = report.keys
        at += report.keys.size
        reports[i] = replace(report, keys=keys[:0])
    del report
    text_ids = any(r.text_ids for r in reports)
    file_units = next((r.file_units for r in reports if r.file_units), {})
    counts: dict[tuple[str, str], checks.ProblemCount] = {}
    for report in reports:
        for count in report.counts:
            name = (count.column, count.rule)
            counts[name] = counts[name].add(count) if name in counts else count
    del reports
    duplicated = duplicated_keys(keys)
    found = list(counts.values())
    if duplicated.size:
        repeated = np.isin(keys, duplicated)
        first = int(np.argmax(repeated))
        example = None if text_ids else int(keys[first].view(np.int64))
        found.append(checks.ProblemCount("id", checks.ID_RULE, int(repeated.sum()), rows, first, example))
    checks.refuse_systematic(found, where, survey, file_units)
    return Inspection(rows, duplicated, text_ids)
