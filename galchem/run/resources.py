"""Will a run fit in this machine's memory?  Estimated before it starts, not discovered when it dies.

Runs read their catalogue partition by partition (:mod:`galchem.data.partitions`),
so memory grows with the size of a partition and the number of processes
working on partitions at once, and only slowly with the catalogue: the first
pass gathers 16 bytes per star (the id keys, while sorted) and the azimuthal
stage the few columns it reads of the stars near the plane.  The constants
are calibrated on the study's Gaia mock (1.03 million candidates, full
defaults: see ``benchmarks/scaling.py``).  ``GALCHEM_MEMORY_LIMIT`` (bytes,
or with a K/M/G suffix) overrides what the machine reports, for shared
machines and for tests.
"""
from __future__ import annotations

import os
from pathlib import Path

from galchem.errors import GalchemError

__all__ = ["BASE_BYTES", "GATHERED_BYTES_PER_ROW", "PART_BYTES_PER_ROW", "available_memory", "check_memory",
           "memory_needed"]

PART_BYTES_PER_ROW = 2_000
"""Peak bytes per row of a partition being processed (canonical table, Monte Carlo results, candidates)."""

GATHERED_BYTES_PER_ROW = 80
"""Bytes per catalogue row that a run gathers in one process (id keys; the near-plane stars' columns)."""

BASE_BYTES = 300 * 2**20
"""Memory a run needs whatever its size: Python, numpy, pandas, numba, astropy and dask loaded."""


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


def memory_needed(rows: int, part_rows: int, workers: int = 1) -> int:
    """Estimated peak bytes of a run on ``rows`` rows in partitions of at most ``part_rows``, ``workers`` at a time."""
    return BASE_BYTES * workers + part_rows * PART_BYTES_PER_ROW * workers + rows * GATHERED_BYTES_PER_ROW


def check_memory(rows: int, part_rows: int, what: str, workers: int = 1) -> None:
    """Refuse, in one line saying how much is needed, a run that would not fit in the memory available."""
    available = available_memory()
    need = memory_needed(rows, part_rows, workers)
    if available is not None and need > available:
        raise GalchemError(f"{what}: {rows:,} rows need about {need / 2**30:.1f} GB of memory, but only "
                           f"{available / 2**30:.1f} GB are available")
