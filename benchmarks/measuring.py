"""What the benchmarks share: peak memory of a process tree, timed subprocesses, and the Gaia mock they analyse.

Imported by ``benchmarks/scaling.py`` and ``benchmarks/stages.py`` (run as
scripts, so this folder is on ``sys.path``).
"""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

__all__ = ["GALCHEM", "MOCK_SEED", "PeakSampler", "ROOT", "StagePeak", "galchem_env", "run_measured", "tree_rss",
           "write_gaia_mock"]

ROOT = Path(__file__).resolve().parents[1]
GALCHEM = [sys.executable, "-m", "galchem.cli"]
MOCK_SEED = 42
"""The seed of every benchmark's mock (the study's default)."""


def galchem_env(**extra: str) -> dict[str, str]:
    """This environment with this checkout first on PYTHONPATH (so subprocesses run the galchem benchmarked), plus
    ``extra``."""
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path, **extra}


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


class PeakSampler:
    """Context manager: the largest resident set of ``process`` and its descendants, sampled every ``interval`` s
    by a thread (``peak``, bytes)."""

    def __init__(self, process: psutil.Process, interval: float = 0.1) -> None:
        self.process, self.interval, self.peak = process, interval, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            try:
                self.peak = max(self.peak, tree_rss(self.process))
            except psutil.Error:
                pass
            self._done.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


def _high_water_kb() -> int | None:
    """This process's peak resident set since the last reset (VmHWM) [KB], or None where /proc has no such line."""
    try:
        match = re.search(r"^VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _reset_high_water() -> bool:
    """Reset this process's VmHWM to its current resident set (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class StagePeak:
    """Context manager: the peak memory [bytes] of this process (and its children) while the block runs, ``peak``.

    The kernel's own high-water mark of this process (VmHWM, reset on entry through ``/proc/self/clear_refs``)
    where Linux allows it, so no short spike is missed; else, and for child processes (Dask workers), the
    resident set sampled every 20 ms.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._sampler = PeakSampler(psutil.Process(), interval=0.02)
        self._exact = False

    def __enter__(self) -> StagePeak:
        self._exact = _reset_high_water()
        self._sampler.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._sampler.__exit__(*exc)
        high = _high_water_kb() if self._exact else None
        self.peak = max(self._sampler.peak, 1024 * high if high else 0)


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Run ``command``; return its seconds and peak memory [bytes] (sampled tree RSS, or the kernel's child maximum)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with PeakSampler(psutil.Process(process.pid)) as sampler:
        output, _ = process.communicate()
        seconds = time.perf_counter() - t0
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # largest child so far (KB on Linux)
    return seconds, max(sampler.peak, after * 1024 if after > before else 0)  # the kernel's figure only if this run set it


def write_gaia_mock(n: int, folder: Path, env: dict[str, str]) -> tuple[float, int]:
    """``galchem mock --survey gaia --mock-stars N --out FOLDER`` (partitioned) in a fresh process: its seconds and peak bytes."""
    return run_measured([*GALCHEM, "mock", "--survey", "gaia", "--mock-stars", str(n), "--mock-seed", str(MOCK_SEED),
                         "--out", str(folder)], env)
