"""Benchmark: where the time and the memory of one study-size Gaia analysis go, stage by stage.

Writes the study-size Gaia mock (1.03 million candidate rows; ``--stars N``
for fewer) as ``benchmarks/scaling.py`` does (``galchem mock --survey gaia``,
partitioned, in a fresh process), then analyses it in this process as
``galchem analyse --survey gaia`` does (:func:`galchem.analyse` with the
full ``RunConfig()`` defaults on the ``single`` scheduler, then the output
folder), with a private, empty cache (``GALCHEM_CACHE_DIR`` in a temporary
folder, removed after), so every stage is computed once and a later stage
reads only what the earlier ones stored.  numba's compiled code comes from its
on-disk cache, as in any run after the first.

Each stage is timed by wrapping the function :func:`galchem.analyse` calls
for it; steps inside the stages (the door check, the Monte Carlo
kinematics, the MCMC fits, ...) by wrapping theirs, each counted once
(its own time, without the steps inside it), the rest of a stage as
``other``.  Printed, one line per stage: wall seconds, CPU seconds (user
plus system, every thread of this process: above the wall time where numba
uses several cores) and peak MB (the kernel's high-water mark of this
process, VmHWM, reset at the stage's start, so the figure is the stage's
own peak, including what earlier stages still hold; see
``measuring.StagePeak``); under each stage its steps; then the analysis'
total.  Then the same analysis with ``correction="none"`` (the study's flat
fits alone: no distance prior, corrected fits or SIMEX), in a cache of its
own and untimed inside, and ``ratio_corrected_vs_flat X``: the full
analysis' wall time over the flat one's (issue 23's goal: at most 1.5).
Last, ``ratio_vs_floor X``: the full analysis' wall time divided by the
time spent in the Monte Carlo kinematics (:func:`galchem.physics.kinematics.propagate`)
on the stars that passed the cuts in the same run, the floor no analysis of
these stars can go below (goal: at most 2).

Usage: ``python benchmarks/stages.py [--stars N] [--keep DIR]``.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from measuring import ROOT, StagePeak, galchem_env, write_gaia_mock

sys.path.insert(0, str(ROOT))  # analyse this checkout's galchem, as the mock's subprocess does

import pandas as pd  # noqa: E402

from galchem.analysis import azimuthal, latent_distance, line_sums, marginal_slope, radial_spline, simex  # noqa: E402
from galchem.data import cuts, partitions  # noqa: E402
from galchem.data.mock import mock_model  # noqa: E402
from galchem.physics import kinematics, membership  # noqa: E402
from galchem.run import azimuthal_stage, kinematic_stage, pipeline  # noqa: E402
from galchem.run.config import RunConfig  # noqa: E402
from galchem.run.outputs import write_outputs  # noqa: E402

FLOOR = "Monte Carlo kinematics"

STAGES = ((pipeline, "load_dataset", "load"), (pipeline, "kinematic_sample", "kinematics"),
          (pipeline, "gradient_fits", "gradients"), (pipeline, "azimuthal_analysis", "azimuthal"))
"""(module, function, stage): the stages :func:`galchem.run.pipeline.analyse` runs, as it looks them up."""

STEPS = (
    (kinematic_stage, "inspect_catalog", "door check"),
    (partitions.FilePart, "read", "read partitions"),
    (cuts, "apply_cuts", "cuts"),
    (kinematics, "propagate", FLOOR),
    (membership, "membership", "membership"),
    (membership, "membership_with_errors", "membership"),
    (pd, "read_parquet", "parquet reads"),
    (pd.DataFrame, "to_parquet", "parquet writes"),
    (line_sums, "bin_sums", "line sums"),
    (latent_distance, "fit_prior", "distance prior"),
    (latent_distance, "posterior_moments", "latent-distance moments"),
    (marginal_slope, "marginal_sums", "corrected-line sums"),
    (simex, "simex_sums", "SIMEX sums"),
    (line_sums, "fit_sums", "MCMC line fits"),
    (azimuthal_stage, "gather_by_id", "gather near-plane stars"),
    (azimuthal, "delta_from_ring_mean", "ring means"),
    (radial_spline, "spline_residuals", "radial splines"),
    (azimuthal, "permutation_test", "permutation test"),
    (azimuthal, "arm_groups", "arm contrasts"),
    (azimuthal, "arm_contrast", "arm contrasts"),
)
"""(owner, attribute, step): functions timed inside the stages, where their callers look them up."""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Clock:
    """Wall time per (stage, step), each step's own time (without the steps inside it), and per stage its CPU
    time and peak memory."""

    def __init__(self) -> None:
        self.stages: dict[str, tuple[float, float, int]] = {}  # stage -> (seconds, CPU seconds, peak bytes)
        self.steps: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._open: list[list] = []  # [label, start, seconds of the steps inside]

    @contextmanager
    def span(self, label: str) -> Iterator[None]:
        self._open.append([label, time.perf_counter(), 0.0])
        try:
            yield
        finally:
            name, start, inside = self._open.pop()
            seconds = time.perf_counter() - start
            if self._open:
                self._open[-1][2] += seconds
            self.steps[self._open[0][0] if self._open else name][name] += seconds - inside

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        cpu, start = cpu_seconds(), time.perf_counter()
        peak = StagePeak()
        try:
            with peak, self.span(label):
                yield
        finally:  # a stage that stops with an error (analyse notes it and goes on) still took its time
            self.stages[label] = (time.perf_counter() - start, cpu_seconds() - cpu, peak.peak)

    def wrap(self, owner: object, name: str, label: str, stage: bool = False) -> Callable[[], None]:
        """Time every call of ``owner.name`` (as a stage or a step); returns the function that undoes it."""
        original = getattr(owner, name)
        timer = self.stage if stage else self.span

        def timed(*args, **kwargs):
            with timer(label):
                return original(*args, **kwargs)

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)


def report(clock: Clock) -> None:
    print(f"{'stage':<32} {'seconds':>8} {'cpu s':>8} {'peak MB':>8}")
    for label, (seconds, cpu, peak) in clock.stages.items():
        print(f"{label:<32} {seconds:8.2f} {cpu:8.2f} {peak / 2**20:8.0f}")
        steps = dict(clock.steps[label])
        other = steps.pop(label, 0.0)
        for step, spent in sorted(steps.items(), key=lambda item: -item[1]):
            print(f"  {step:<30} {spent:8.2f}")
        if steps:
            print(f"  {'other':<30} {other:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=mock_model("gaia").n_stars, help="mock rows (default: the study's)")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one, removed)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="galchem-stages-"))
    work.mkdir(parents=True, exist_ok=True)
    catalog, out, cache = work / f"gaia-{args.stars}", work / f"out-{args.stars}", work / f"cache-{args.stars}"
    undo = []
    try:
        for path in (catalog, out, cache, work / f"gaia-{args.stars}.truth", out.with_name(f"{out.name}-flat"),
                     cache.with_name(f"{cache.name}-flat")):
            shutil.rmtree(path, ignore_errors=True)
        mock_seconds, mock_peak = write_gaia_mock(args.stars, catalog, galchem_env())
        print(f"mock: {args.stars:,} Gaia rows in {mock_seconds:.1f} s, peak {mock_peak / 2**20:.0f} MB (galchem mock, "
              "another process; not part of the analysis)")
        os.environ["GALCHEM_CACHE_DIR"] = str(cache)
        clock = Clock()
        undo = [clock.wrap(owner, name, label, stage=True) for owner, name, label in STAGES]
        undo += [clock.wrap(owner, name, label) for owner, name, label in STEPS]
        config = RunConfig()
        result = pipeline.analyse("gaia", str(catalog), config)
        with clock.stage("write outputs"):
            write_outputs(result.outputs(), out, [catalog], config.to_dict())
        for restore in reversed(undo):
            restore()
        undo = []
        os.environ["GALCHEM_CACHE_DIR"] = str(cache.with_name(f"{cache.name}-flat"))
        flat_config = config.replace(correction="none")
        start = time.perf_counter()
        flat = pipeline.analyse("gaia", str(catalog), flat_config)
        write_outputs(flat.outputs(), out.with_name(f"{out.name}-flat"), [catalog], flat_config.to_dict())
        flat_seconds = time.perf_counter() - start
    finally:
        for restore in reversed(undo):
            restore()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    report(clock)
    total = sum(seconds for seconds, _, _ in clock.stages.values())
    cpu = sum(cpu for _, cpu, _ in clock.stages.values())
    peak = max(peak for _, _, peak in clock.stages.values())
    floor = clock.steps["kinematics"][FLOOR]
    if floor == 0:
        raise SystemExit("no star passed the cuts: there is no Monte Carlo kinematics to compare with")
    print(f"{'analysis':<32} {total:8.2f} {cpu:8.2f} {peak / 2**20:8.0f}")
    print(f"floor: {FLOOR} of {int(result.kinematic.flow['remaining'].iloc[-2]):,} stars, "
          f"{config.n_mc} draws each: {floor:.2f} s")
    print(f"flat-only analysis (correction none) {flat_seconds:8.2f}")
    print(f"ratio_corrected_vs_flat {total / flat_seconds:.2f}")
    print(f"ratio_vs_floor {total / floor:.2f}")


if __name__ == "__main__":
    main()
