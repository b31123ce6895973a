"""Benchmark: the whole pipeline (mock -> analyse) at 0.3, 1, 3 and 10 million Gaia-like stars.

For each size, ``galchem mock --survey gaia --mock-stars N --out DIR/`` writes a
partitioned mock, then ``galchem analyse --survey gaia --catalog DIR --out
OUT`` runs with the study's full defaults (1000 Monte Carlo draws, 1000
steps, 1000 permutations), each in a fresh process with an empty cache.
Printed per size: the analysis's seconds, its peak memory (the largest of
the resident set sampled over the analysing process and all its children,
and the kernel's own maximum for the waited-for children,
``getrusage(RUSAGE_CHILDREN)``, when this run raised it), and stars per second; then
``time_ratio_10M_vs_1M`` (goal: at most 11, linear), ``memory_ratio_10M_vs_1M``
(goal: at most 1.5, bounded) and ``ratio_vs_astropy`` of the kinematics
stage, measured by ``benchmarks/kinematics.py`` (goal: at least 20).

Usage: ``python benchmarks/scaling.py [--sizes 0.3,1,3,10] [--scheduler single|local] [--keep DIR]``.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from measuring import GALCHEM, ROOT, galchem_env, run_measured, write_gaia_mock


def kinematics_ratio(env: dict[str, str]) -> float:
    """``ratio_vs_astropy`` as benchmarks/kinematics.py measures it."""
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kinematics.py")], env=env, capture_output=True,
                         text=True, check=True).stdout
    return float(re.search(r"ratio_vs_astropy: ([0-9.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.3,1,3,10", help="millions of stars, comma-separated")
    parser.add_argument("--scheduler", default="single")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one, removed)")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    work = args.keep or Path(tempfile.mkdtemp(prefix="galchem-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    env = galchem_env()
    rows = []
    try:
        for millions in sizes:
            n = int(round(millions * 1e6))
            catalog, out, cache = work / f"gaia-{n}", work / f"out-{n}", work / f"cache-{n}"
            for path in (catalog, out, cache, work / f"gaia-{n}.truth"):
                shutil.rmtree(path, ignore_errors=True)
            size_env = galchem_env(GALCHEM_CACHE_DIR=str(cache))
            mock_seconds, mock_peak = write_gaia_mock(n, catalog, size_env)
            seconds, peak = run_measured([*GALCHEM, "analyse", "--survey", "gaia", "--catalog", str(catalog), "--out",
                                          str(out), "--scheduler", args.scheduler], size_env)
            rows.append((n, seconds, peak, mock_seconds, mock_peak))
            print(f"{n:>10,} stars: analyse {seconds:8.1f} s, peak {peak / 2**20:7.0f} MB, {n / seconds:9,.0f} stars/s"
                  f"   (mock {mock_seconds:6.1f} s, peak {mock_peak / 2**20:5.0f} MB)", flush=True)
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'stars':>10}  {'seconds':>8}  {'peak MB':>8}  {'stars/s':>9}")
    for n, seconds, peak, _, _ in rows:
        print(f"{n:>10,}  {seconds:8.1f}  {peak / 2**20:8.0f}  {n / seconds:9,.0f}")
    by_size = {n: (seconds, peak) for n, seconds, peak, _, _ in rows}
    if 1_000_000 in by_size and 10_000_000 in by_size:
        print(f"time_ratio_10M_vs_1M: {by_size[10_000_000][0] / by_size[1_000_000][0]:.2f}")
        print(f"memory_ratio_10M_vs_1M: {by_size[10_000_000][1] / by_size[1_000_000][1]:.2f}")
    print(f"ratio_vs_astropy: {kinematics_ratio(env):.1f}")


if __name__ == "__main__":
    main()
