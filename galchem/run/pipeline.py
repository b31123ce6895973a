"""The whole study in one call: ``galchem.analyse(survey, catalog, config)``, and its output folder.

This is the Python API behind ``galchem analyse``.  The output folder holds
the tables, the final sample as ``sample/part-NNNNN.parquet`` (one file per
partition of the input; ``pandas.read_parquet(OUT / "sample")`` reads them
all), ``azimuthal_tests.json``, ``notes.txt`` (one line per thing the
run could not do, such as bins the data do not reach) and ``config.toml``:
the run's whole configuration, the survey and the input's checksum, so that
``galchem analyse --config OUT/config.toml --out OTHER`` reproduces it.
"""
from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from galchem.analysis.near_plane import AzimuthalTests
from galchem.data.sources import Dataset, load_file, load_dataset
from galchem.data.surveys import Survey, load_survey
from galchem.errors import GalchemError
from galchem.run.config import RunConfig, RunFile, read_run_file, run_file_text
from galchem.run.outputs import PartedTable
from galchem.run.scheduler import open_scheduler
from galchem.run.stages import (AzimuthalResults, GradientResults, KinematicSample, azimuthal_analysis,
                                gradient_fits, kinematic_sample, sample_writer)

__all__ = ["RunResult", "NUMERIC_WARNINGS", "analyse", "from_run_file", "numeric_warnings", "strict_json"]


@dataclass
class RunResult:
    """The results of every stage of one run, and the notes of what could not be done."""

    dataset: Dataset
    config: RunConfig
    kinematic: KinematicSample
    gradients: GradientResults | None = None
    azimuthal: AzimuthalResults | None = None
    notes: list[str] = field(default_factory=list)
    azimuthal_status: str = "computed"  # or "not computed: <reason>" when the stage could not run

    def run_file(self) -> RunFile:
        """What ``config.toml`` records of this run."""
        path = self.dataset.path
        catalog = "mock" if self.dataset.is_mock else str(path.resolve()) if path else "archive"
        rows = None if self.dataset.is_mock else int(self.kinematic.flow["remaining"].iloc[0])
        return RunFile(self.config, self.dataset.survey.to_dict(), catalog, self.dataset.sha256, rows)

    def outputs(self) -> dict[str, pd.DataFrame | str | PartedTable]:
        """File (or folder) name -> table, text or partitioned table: everything the run writes."""
        out: dict[str, pd.DataFrame | str | PartedTable] = {"cutflow.csv": self.kinematic.flow,
                                                            "sample": sample_writer(self.kinematic)}
        if self.gradients is not None:
            out["radial_gradients.csv"] = self.gradients.radial.table
            out["vertical_gradients.csv"] = self.gradients.vertical.table
        if self.azimuthal is not None:
            out["azimuthal.csv"] = self.azimuthal.means
            out["azimuthal_tests.json"] = strict_json(self.azimuthal.tests)
        else:  # the file is always there, in the same shape; what could not be computed says why
            out["azimuthal_tests.json"] = strict_json(AzimuthalTests.not_computed(
                self.azimuthal_status, n_permutations=self.config.n_permutations,
                z_max=self.config.azimuthal_z_max, phi_bin_deg=self.config.phi_bin_deg).to_dict())
        out["notes.txt"] = "".join(f"{line}\n" for line in self.notes)
        out["config.toml"] = run_file_text(self.run_file())
        return out


def strict_json(data: dict) -> str:
    """JSON without NaN or infinity (they become null), one key per line, ending in a newline."""
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if hasattr(value, "item"):  # numpy scalars
            return clean(value.item())
        return value

    return json.dumps({key: clean(value) for key, value in data.items()}, indent=2, allow_nan=False) + "\n"


NUMERIC_WARNINGS = (RuntimeWarning, np.exceptions.RankWarning)
"""What NumPy says about degenerate data (stars at one place, identical values): a note of the run, not a wall
of warnings."""


def numeric_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """One note summing up the numerical warnings of a run (others are shown as usual); none if there were none."""
    numeric = [w for w in caught if issubclass(w.category, NUMERIC_WARNINGS)]
    others = {(str(w.message), w.category, w.filename, w.lineno): w for w in caught
              if not issubclass(w.category, NUMERIC_WARNINGS)}
    for w in others.values():
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not numeric:
        return []
    kinds = list(dict.fromkeys(f"{w.message} ({Path(w.filename).name}:{w.lineno})" for w in numeric))
    shown = "; ".join(kinds[:3]) + (f"; and {len(kinds) - 3} more" if len(kinds) > 3 else "")
    return [f"numerical warnings: {len(numeric)}, from degenerate data (such as stars at one position or with "
            f"identical values): {shown}"]


def analyse(survey: str | Survey = "lamost", catalog: str = "mock", config: RunConfig | dict | None = None,
            progress: bool = False, log: Callable[[str], None] = lambda line: None, scheduler: str = "single"
            ) -> RunResult:
    """Run the cuts, the kinematics, the gradient fits and the azimuthal stage on ``catalog``.

    ``catalog`` is ``'mock'``, ``'archive'`` or a catalogue described by
    ``survey`` (a built-in name or a survey file): a file, a folder of
    parquet files or a HATS catalogue.  ``scheduler`` says where the
    partitions are processed (:mod:`galchem.run.scheduler`); it never
    changes a result.  ``config`` may be a dict of settings
    (``{"n_mc": 200}``), read like a ``config.toml``'s ``[run]``.  A later stage that cannot run is named in
    :attr:`RunResult.notes` with its cause; the earlier stages' results are kept.
    NumPy's warnings about degenerate data become one line of the notes.
    """
    survey = load_survey(survey)
    if isinstance(config, dict):
        config = RunConfig.from_dict(config, origin="config", base=RunConfig.for_survey(survey))
    elif config is None:
        config = RunConfig.for_survey(survey)
    elif not isinstance(config, RunConfig):
        raise GalchemError(f"config should be a galchem.RunConfig (or a dict of its settings), not a "
                           f"{type(config).__name__}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_scheduler(scheduler, progress) as runner:
            dataset = load_dataset(survey, catalog, config.mock_stars, config.mock_seed)
            log(f"analysing {dataset.source}")
            result = RunResult(dataset, config, kinematic_sample(dataset, config, runner))
            result.notes.extend(result.kinematic.notes)
            result.gradients = gradient_fits(dataset, config, runner)
            result.notes.extend(result.gradients.notes())
            try:
                result.azimuthal = azimuthal_analysis(dataset, config, runner)
                result.notes.extend(result.azimuthal.notes)
            except GalchemError as err:
                result.azimuthal_status = f"not computed: {err}"
                result.notes.append(f"azimuthal: {result.azimuthal_status}")
    result.notes.extend(numeric_warnings(caught))
    for line in result.notes:
        log(line)
    return result


def from_run_file(path: str | Path, catalog: str | None = None) -> tuple[Survey, str, RunConfig]:
    """The survey, catalogue and configuration a ``config.toml`` records (``catalog`` overrides its input).

    A catalogue (file or folder) whose sha256 differs from the recorded one
    is refused: it is not the input of that run.
    """
    run = read_run_file(path)
    survey = Survey.from_dict(run.survey, origin=f"{path} [survey]") if run.survey else load_survey("lamost")
    source = catalog or run.catalog
    if source not in ("mock", "archive") and run.catalog_sha256 and Path(source).exists():
        found = load_file(source, survey).sha256
        if found != run.catalog_sha256:
            raise GalchemError(f"{source}: its sha256 ({found[:12]}...) is not the one {path} records "
                               f"({run.catalog_sha256[:12]}...): this is not the input of that run")
    return survey, source, run.config
