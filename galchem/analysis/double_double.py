"""Double-double sums: a running total kept as a double and its exact rounding error.

Every sum that must not depend on how a catalogue was split into partitions
(:mod:`galchem.analysis.line_sums`, :mod:`galchem.analysis.simex`) is kept
as a pair of arrays (hi, lo): hi the rounded total and lo what rounding
left out, added with TwoSum (Knuth 1969).  Compiled with numba and without
fastmath, since TwoSum needs every addition rounded exactly as IEEE 754
says.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["Sums", "accumulate", "add", "merge", "two_sum"]


@numba.njit(cache=True, nogil=True)
def two_sum(a, b):  # pragma: no cover - compiled
    """a + b as a double and its exact rounding error (Knuth's TwoSum)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@numba.njit(cache=True, nogil=True)
def add(hi, lo, row, column, value, value_lo):  # pragma: no cover - compiled
    """(hi, lo)[row, column] += (value, value_lo), renormalised so that hi is the pair's rounded sum."""
    s, e = two_sum(hi[row, column], value)
    e += lo[row, column] + value_lo
    total = s + e
    hi[row, column] = total
    lo[row, column] = e - (total - s)


@numba.njit(cache=True, nogil=True)
def _add_rows(hi, lo, hi_more, lo_more):  # pragma: no cover - compiled
    """(hi, lo) += (hi_more, lo_more), element by element (2-D arrays of one shape)."""
    for r in range(hi.shape[0]):
        for c in range(hi.shape[1]):
            add(hi, lo, r, c, hi_more[r, c], lo_more[r, c])


def merge(hi_a: np.ndarray, lo_a: np.ndarray, hi_b: np.ndarray, lo_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The double-double sum of two (hi, lo) pairs of arrays of one shape, element by element (new arrays)."""
    hi, lo = (np.array(v, dtype=np.float64, order="C") for v in (hi_a, lo_a))
    width = hi.shape[-1] if hi.ndim else 1
    more = (np.ascontiguousarray(v, dtype=np.float64).reshape(-1, width) for v in (hi_b, lo_b))
    _add_rows(hi.reshape(-1, width), lo.reshape(-1, width), *more)
    return hi, lo


@dataclass(frozen=True)
class Sums:
    """An array of double-double sums: ``hi`` the rounded totals and ``lo`` their rounding errors (one shape);
    subclasses say how the array is indexed."""

    hi: np.ndarray
    lo: np.ndarray

    def merge(self, other: Sums) -> Sums:
        """These sums and ``other``'s together (two partitions' shares), exactly: the same whatever the order."""
        return type(self)(*merge(self.hi, self.lo, other.hi, other.lo))


@numba.njit(cache=True, nogil=True)
def accumulate(row, values, hi, lo):  # pragma: no cover - compiled
    """Add row i of ``values`` (N, M) into row ``row[i]`` of the (rows, M) sums; a negative row leaves it out."""
    for i in range(row.size):
        r = row[i]
        if r < 0:
            continue
        for c in range(values.shape[1]):
            add(hi, lo, r, c, values[i, c], 0.0)
