"""The permutation test's statistic and its null distribution, compiled: shuffles run in parallel, each on its own
random stream.

The statistic (:func:`binned_variance`) is the star-weighted variance of the
mean residual over φ bins, summed over annuli; it needs only each
(annulus, φ bin) cell's count and sum of residuals.  A shuffle permutes the
residuals among the stars of each block (a cell of R and |Z| within one
annulus) by Fisher–Yates, so the cells' counts never change and only their
sums are made again (:func:`shuffled_variances`).

Random numbers are counter based, so that shuffle s draws the same numbers
whichever thread runs it and whatever the thread count: the stage's seed
gives a 64-bit key (:func:`galchem.data.ids.seed_key`); the s-th output of SplitMix64
(Steele, Lea & Flood 2014) seeded with the key seeds shuffle s's own
SplitMix64 generator, and bounded integers come from its upper 32 bits by
Lemire's (2019) multiply-and-reject method, unbiased.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from galchem.data.ids import GOLDEN, splitmix64

__all__ = ["binned_variance", "cell_sums", "shuffled_variances"]

LOW_32 = np.uint64(0xFFFFFFFF)
TWO_32 = np.uint64(1 << 32)


@numba.njit(cache=True, nogil=True)
def _below(state, bound):  # pragma: no cover - compiled
    """A uniform integer in [0, bound) (bound <= 2^32) and the generator's next state, by Lemire's method."""
    state += GOLDEN
    product = (splitmix64(state) >> np.uint64(32)) * bound
    if (product & LOW_32) < bound:  # only here can the draw be biased: reject the few low words that make it so
        threshold = (TWO_32 - bound) % bound
        while (product & LOW_32) < threshold:
            state += GOLDEN
            product = (splitmix64(state) >> np.uint64(32)) * bound
    return product >> np.uint64(32), state


@numba.njit(cache=True, nogil=True)
def cell_sums(values, cells, n_cells):  # pragma: no cover - compiled
    """Sum of ``values`` per cell index (0 ... n_cells - 1), in the order of the values."""
    sums = np.zeros(n_cells)
    for i in range(values.size):
        sums[cells[i]] += values[i]
    return sums


@numba.njit(cache=True, nogil=True)
def binned_variance(sums, weights):  # pragma: no cover - compiled
    """The statistic from the (annulus, φ bin) cells' sums, flat (cell annulus times bins plus bin; any further
    entries ignored), and star counts shaped (annuli, bins).

    Bins of weight 0 take no part (the caller zeroes those with too few
    stars); an annulus with fewer than two bins left has no spread to
    measure and adds nothing.  Per annulus: the weighted variance of the
    bins' means about their weighted centre.
    """
    total = 0.0
    n_bins = weights.shape[1]
    for ring in range(weights.shape[0]):
        used, weight_sum, weighted_sum = 0, 0.0, 0.0
        for b in range(weights.shape[1]):
            if weights[ring, b] > 0:
                used += 1
                weight_sum += weights[ring, b]
                weighted_sum += sums[ring * n_bins + b]  # weight times mean is the sum itself
        if used < 2:
            continue
        centre = weighted_sum / weight_sum
        spread = 0.0
        for b in range(weights.shape[1]):
            if weights[ring, b] > 0:
                spread += weights[ring, b] * (sums[ring * n_bins + b] / weights[ring, b] - centre) ** 2
        total += spread / weight_sum
    return total


@numba.njit(cache=True, nogil=True)
def _shuffled_variance(values, cells, weights, starts, largest, seed):  # pragma: no cover - compiled
    """The statistic after one Fisher–Yates shuffle of ``values`` within each block, drawn from ``seed``.

    Going down a block, the value that lands on position j is final once
    drawn, so it is added to j's cell at once and never written back.
    """
    sums = np.zeros(weights.size + 1)  # the last cell: stars outside the φ bins
    block = np.empty(largest)
    state = seed
    for b in range(starts.size - 1):
        lo, n = starts[b], starts[b + 1] - starts[b]
        for j in range(n):  # element by element: no shape checks to compile
            block[j] = values[lo + j]
        for j in range(n - 1, 0, -1):
            drawn, state = _below(state, np.uint64(j + 1))
            i = np.int64(drawn)
            sums[cells[lo + j]] += block[i]
            block[i] = block[j]
        sums[cells[lo]] += block[0]
    return binned_variance(sums, weights)


@numba.njit(cache=True, nogil=True)
def _shuffle_range(values, cells, weights, starts, key, first, null):  # pragma: no cover - compiled
    """Shuffles ``first`` ... ``first + null.size - 1`` into ``null``, each from its own stream of ``key``."""
    largest = 0
    for b in range(starts.size - 1):
        largest = max(largest, starts[b + 1] - starts[b])
    for s in range(null.size):
        stream = splitmix64(key + GOLDEN * np.uint64(first + s + 1))
        null[s] = _shuffled_variance(values, cells, weights, starts, largest, stream)


def shuffled_variances(values: np.ndarray, cells: np.ndarray, weights: np.ndarray, starts: np.ndarray, *, key: int,
                       n_shuffles: int) -> np.ndarray:
    """The statistic of ``n_shuffles`` shuffles of ``values`` (float64) within blocks: the null distribution.

    ``cells`` gives each star's (annulus, φ bin) cell, annulus times the
    number of bins plus bin, or ``weights.size`` outside the bins;
    ``weights`` the cells' star counts shaped (annuli, bins), 0 where a bin
    takes no part; ``starts`` the blocks' first positions followed by the
    number of stars (the stars sorted by block).  Shuffle s draws from its own
    stream of ``key`` (module docstring), so the result does not depend on
    the number of threads.
    """
    arrays = (np.ascontiguousarray(values, dtype=np.float64), np.ascontiguousarray(cells),
              np.ascontiguousarray(weights, dtype=np.float64), np.ascontiguousarray(starts))
    null = np.empty(n_shuffles)
    chunks = np.array_split(np.arange(n_shuffles), min(n_shuffles, 4 * (os.cpu_count() or 1)))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # the kernel releases the GIL
        list(pool.map(lambda chunk: _shuffle_range(*arrays, np.uint64(key), chunk[0], null[chunk[0]:chunk[-1] + 1]),
                      [c for c in chunks if c.size]))
    return null
