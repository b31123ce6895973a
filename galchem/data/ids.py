"""Star ids as 64-bit keys: the same key for the same id, whichever partition or machine reads it.

An id column as read from a file is checked first (:func:`check_ids`): a
row without an id, or a fractional or too large floating-point id, is
refused in one line naming the row, since a key cannot be made from it.

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

from galchem.errors import ContractError

__all__ = ["GOLDEN", "KEY_BUCKETS", "check_ids", "duplicated_keys", "id_keys", "mixed_keys", "seed_key", "splitmix64"]

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
"""SplitMix64's increment (2^64 over the golden ratio)."""


def seed_key(seed: int | np.random.SeedSequence) -> np.uint64:
    """The 64-bit key of a stage's seed (a ``SeedSequence``, or an integer for ``SeedSequence(seed)``): what keys
    the counter-based streams of the kinematics, SIMEX's noise and the permutation test's shuffles."""
    parent = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.uint64(parent.generate_state(1, np.uint64)[0])


def id_keys(ids) -> np.ndarray:
    """The uint64 key of every id: integers as they are, text (or bytes) hashed with BLAKE2b-8."""
    series = ids if isinstance(ids, pd.Series) else pd.Series(ids)
    if pd.api.types.is_integer_dtype(series):
        return np.ascontiguousarray(series.to_numpy(dtype=np.int64)).view(np.uint64)
    digests = b"".join(hashlib.blake2b(v if isinstance(v, bytes) else str(v).encode("utf-8"), digest_size=8).digest()
                       for v in series)
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def check_ids(values: pd.Series, where: str, offset: int = 0) -> None:
    """Refuse, in one line saying what is wrong and in which row, an id column as read from a file that has an
    empty id (a blank cell, NA, a masked value) or a number that is no whole integer a float can hold exactly.

    ``where`` names the file and column; the rows of ``values`` start at row ``offset`` of the catalogue.
    """
    empty = values.isna().to_numpy(dtype=bool)
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        stripped = values.astype(str).str.strip()
        empty = empty | stripped.isin(["", "b''", 'b""']).to_numpy(dtype=bool)  # bytes are shown as b''
    if empty.any():
        rows = np.flatnonzero(empty)
        more = f" ({rows.size:,} rows in all)" if rows.size > 1 else ""
        raise ContractError(f"{where}: row {offset + int(rows[0])} has an empty id{more}; every row needs its key -- "
                            "fill in the id or drop the row")
    if pd.api.types.is_float_dtype(values):
        array = values.to_numpy(dtype=np.float64)
        fraction = np.flatnonzero(~np.isfinite(array) | (array != np.round(array)))
        if fraction.size:
            first = int(fraction[0])
            raise ContractError(f"{where}: row {offset + first} has the id {float(array[first]):g}, which is not a "
                                "whole number; ids must be integers or text")
        big = np.flatnonzero(np.abs(array) >= 2**53)
        if big.size:
            raise ContractError(f"{where}: ids such as {array[big[0]]:.0f} (row {offset + int(big[0])}) are stored as "
                                "floating point, which keeps only 53 bits, so their last digits may be lost; store "
                                "the id column as integers or text")


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
