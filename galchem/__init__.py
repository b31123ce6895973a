"""galchem: chemical cartography of the Milky Way's disk, as an executable book.

The package reads as the data flow:

* :mod:`galchem.data` -- data in: the input contract, survey files, readers,
  the mock Galaxy, the archives and the quality cuts;
* :mod:`galchem.physics` -- Galactocentric frames, distances, Monte Carlo
  kinematics and kinematic membership;
* :mod:`galchem.analysis` -- the Bayesian line fit, gradients in bins,
  azimuthal variations and spiral arms;
* :mod:`galchem.run` -- one frozen run configuration, the cached stages and
  the output folder;
* :mod:`galchem.report` -- figures, numbered page tables, literature values
  and comparisons with the mock's truth;
* :mod:`galchem.site` -- the book builder, apart from the science.

The Python API in one line: ``galchem.analyse("lamost", "mock", galchem.RunConfig(n_mc=200))``.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from galchem.errors import ContractError, GalchemError

__version__ = "0.2.0"

_LAZY = {
    "analyse": "galchem.run.pipeline",
    "RunResult": "galchem.run.pipeline",
    "RunConfig": "galchem.run.config",
    "Survey": "galchem.data.surveys",
    "load_survey": "galchem.data.surveys",
    "load_dataset": "galchem.data.sources",
    "fit_line": "galchem.analysis.fitting",
}
"""Public names imported on first use, so ``import galchem`` (and the command line) start fast."""

__all__ = ["ContractError", "GalchemError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'galchem' has no attribute {name!r}")
