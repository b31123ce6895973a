"""Will a run fit in this machine's memory?  Estimated before it starts, not discovered when it dies.

The estimate is per input row (the cut flow, the Monte Carlo kinematics and
the stages after them keep a few hundred values per star, with pandas'
copies on top), calibrated on the study's Gaia mock: about 2.5 kB per
candidate row.  ``GALCHEM_MEMORY_LIMIT`` (bytes, or with a K/M/G suffix)
overrides what the machine reports, for shared machines and for tests.
"""
from __future__ import annotations

import os
from pathlib import Path

from galchem.errors import GalchemError

__all__ = ["BYTES_PER_ROW", "available_memory", "check_memory"]

BYTES_PER_ROW = 2_500
"""Peak bytes per input row of a run (measured: 2.45 GB for the study's 1.03 million Gaia candidates)."""

BASE_BYTES = 400 * 2**20
"""Memory a run needs whatever its size: Python, numpy, pandas, numba and astropy loaded."""


def _parse_size(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    text = text.strip().upper().removesuffix("B")
    try:
        return int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)
    except ValueError:
        raise GalchemError(f"GALCHEM_MEMORY_LIMIT={text!r} is not a size (for example 8G or 500M)") from None


def available_memory() -> int | None:
    """Bytes available to a run: ``GALCHEM_MEMORY_LIMIT``, else the kernel's MemAvailable (None if unknown)."""
    limit = os.environ.get("GALCHEM_MEMORY_LIMIT")
    if limit:
        return _parse_size(limit)
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(rows: int, what: str) -> None:
    """Refuse, in one line saying how much is needed, a run on ``rows`` input rows that would not fit."""
    available = available_memory()
    need = BASE_BYTES + rows * BYTES_PER_ROW
    if available is not None and need > available:
        raise GalchemError(f"{what}: {rows:,} rows need about {need / 2**30:.1f} GB of memory, but only "
                           f"{available / 2**30:.1f} GB are available")
