"""Star ids as 64-bit keys: the same key for the same id, whichever partition or machine reads it.

Keys serve two purposes: finding ids that occur more than once across a
whole catalogue (:mod:`galchem.data.checks`), and keying each star's own
random stream (:mod:`galchem.physics.kinematics`), so that a star's Monte
Carlo draws do not depend on where in the catalogue, or in which partition,
it sits.  Integer ids are their own key (their 64 bits, read as unsigned);
text ids are hashed with BLAKE2b to 8 bytes (little-endian), which is stable
across processes and Python versions, unlike ``hash()``.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

__all__ = ["id_keys"]


def id_keys(ids) -> np.ndarray:
    """The uint64 key of every id: integers as they are, text (or bytes) hashed with BLAKE2b-8."""
    series = ids if isinstance(ids, pd.Series) else pd.Series(ids)
    if pd.api.types.is_integer_dtype(series):
        return np.ascontiguousarray(series.to_numpy(dtype=np.int64)).view(np.uint64)
    digests = b"".join(hashlib.blake2b(v if isinstance(v, bytes) else str(v).encode("utf-8"), digest_size=8).digest()
                       for v in series)
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)
