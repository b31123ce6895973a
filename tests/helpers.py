"""Small helpers shared by the tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from astropy.table import Table

from galchem.data import contract
from galchem.data.surveys import load_survey
from galchem.run.config import RunConfig


def canonical(catalog: pd.DataFrame, survey: str = "lamost") -> pd.DataFrame:
    """A mock catalogue (built-in file columns) as the canonical table the pipeline reads."""
    return contract.canonical_table(catalog, {}, load_survey(survey), where=f"the {survey} test catalogue")


def chains(**changes) -> dict:
    """The line fit's chain settings (n_walkers, n_steps, max_steps): the study's, with ``changes``."""
    config = RunConfig()
    return {"n_walkers": config.n_walkers, "n_steps": config.n_steps, "max_steps": config.max_steps, **changes}


def study_log_likelihood(theta, x, y, x_err, y_err) -> float:
    """The study's likelihood written out (Hogg, Bovy & Lang 2010): a flat prior on the true x, marginalised."""
    m, b, lam = theta
    sigma2 = y_err**2 + m * m * x_err**2 + lam * lam * (1 + m * m)
    return -0.5 * np.sum((y - m * x - b) ** 2 / sigma2 + np.log(sigma2))


def write_catalog(table: pd.DataFrame, path: Path) -> Path:
    """``table`` as a catalogue file of the format its suffix names (parquet, csv, or anything astropy writes)."""
    if path.suffix == ".parquet":
        table.to_parquet(path)
    elif path.suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        Table.from_pandas(table).write(path)
    return path
