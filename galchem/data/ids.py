"""Star ids as 64-bit keys: the same key for the same id, whichever partition or machine reads it.

Keys serve three purposes: finding ids that occur more than once across a
whole catalogue (:mod:`galchem.data.checks`); keying each star's own
random stream (:mod:`galchem.physics.kinematics`), so that a star's Monte
Carlo draws do not depend on where in the catalogue, or in which partition,
it sits; and, mixed by SplitMix64 (:func:`mixed_keys`), choosing the same
random-looking subsample of stars however the catalogue is split.  Integer
ids are their own key (their 64 bits, read as unsigned); text ids are hashed
with BLAKE2b to 8 bytes (little-endian), which is stable across processes
and Python versions, unlike ``hash()``.
"""
from __future__ import annotations

import hashlib

import numba
import numpy as np
import pandas as pd

__all__ = ["GOLDEN", "id_keys", "mixed_keys", "splitmix64"]

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
"""SplitMix64's increment (2^64 over the golden ratio)."""


def id_keys(ids) -> np.ndarray:
    """The uint64 key of every id: integers as they are, text (or bytes) hashed with BLAKE2b-8."""
    series = ids if isinstance(ids, pd.Series) else pd.Series(ids)
    if pd.api.types.is_integer_dtype(series):
        return np.ascontiguousarray(series.to_numpy(dtype=np.int64)).view(np.uint64)
    digests = b"".join(hashlib.blake2b(v if isinstance(v, bytes) else str(v).encode("utf-8"), digest_size=8).digest()
                       for v in series)
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


@numba.njit(cache=True, nogil=True)
def splitmix64(z):  # pragma: no cover - compiled
    """SplitMix64's output function (Steele, Lea & Flood 2014): a bijective mix of 64 bits."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _mix_all(keys, out):  # pragma: no cover - compiled
    for i in range(keys.size):
        out[i] = splitmix64(keys[i] + GOLDEN)


def mixed_keys(keys: np.ndarray) -> np.ndarray:
    """Each key mixed by SplitMix64: consecutive ids (or ids that encode a sky position) land in random-looking
    order, so the stars with the smallest mixed keys are a fair, reproducible subsample."""
    keys = np.ascontiguousarray(keys, dtype=np.uint64)
    out = np.empty_like(keys)
    _mix_all(keys, out)
    return out
