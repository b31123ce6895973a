"""The first, cheap pass over a catalogue: the checks at the door, judged on the whole catalogue.

Before any star's kinematics are computed, every partition is read once to
count its per-row problems and to take the 64-bit keys of its ids
(:mod:`galchem.data.ids`).  Added up, the counts decide whether a column is
systematically wrong (:func:`galchem.data.checks.refuse_systematic`), and
the keys reveal every id that occurs more than once, even when its copies
sit in different partitions: those rows are then removed by the ``valid``
cut of each partition.  Unit plausibility is judged on the first partition
with at least :data:`galchem.data.checks.MIN_ROWS_FOR_UNITS` rows.

The keys are the one thing gathered from every star: 8 bytes each, copied
into one array as each partition's report is released, and sorted bucket by
bucket (:func:`galchem.data.checks.duplicated_keys`): about 100 MB for ten
million stars, freed before the next pass.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from galchem.data import checks
from galchem.data.ids import id_keys
from galchem.data.partitions import Part
from galchem.data.surveys import Survey
from galchem.run.scheduler import Scheduler, open_scheduler

__all__ = ["Door", "inspect_catalog"]


@dataclass(frozen=True)
class Door:
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


def _inspect_part(item: tuple[int, Part], survey: Survey, offsets: tuple[int, ...], many: bool, units_part: int,
                  where: str) -> _PartReport:
    """Read one partition: its problem counts, its id keys, and (one partition only) its units."""
    index, part = item
    table = part.read(survey, many)
    if index == units_part:
        checks.check_units(table, where, survey)
    return _PartReport(len(table), id_keys(table["id"]), checks.count_problems(table, offsets[index]),
                       not pd.api.types.is_integer_dtype(table["id"]))


def inspect_catalog(parts: tuple[Part, ...], survey: Survey, where: str,
                    scheduler: str | Scheduler = "single") -> Door:
    """Check a catalogue given as partitions (module docstring); refuse it in one line if a column looks wrong."""
    known = [p.rows for p in parts]
    offsets = tuple(int(v) for v in np.cumsum([0] + [r or 0 for r in known[:-1]]))
    units_part = next((i for i, rows in enumerate(known) if (rows or 0) >= checks.MIN_ROWS_FOR_UNITS), 0)
    with open_scheduler(scheduler) as runner:
        reports = runner.map(_inspect_part, list(enumerate(parts)), survey, offsets, len(parts) > 1, units_part,
                             where)
    rows = sum(r.rows for r in reports)
    keys, at = np.empty(rows, dtype=np.uint64), 0
    for i, report in enumerate(reports):  # each partition's keys are released once copied
        keys[at:at + report.keys.size] = report.keys
        at += report.keys.size
        reports[i] = replace(report, keys=keys[:0])
    del report
    text_ids = any(r.text_ids for r in reports)
    counts: dict[tuple[str, str], checks.ProblemCount] = {}
    for report in reports:
        for count in report.counts:
            name = (count.column, count.rule)
            counts[name] = counts[name].add(count) if name in counts else count
    del reports
    duplicated = checks.duplicated_keys(keys)
    found = list(counts.values())
    if duplicated.size:
        repeated = np.isin(keys, duplicated)
        first = int(np.argmax(repeated))
        example = None if text_ids else int(keys[first].view(np.int64))
        found.append(checks.ProblemCount("id", checks.ID_RULE, int(repeated.sum()), first, example))
    checks.refuse_systematic(found, rows, where)
    return Door(rows, duplicated, text_ids)
