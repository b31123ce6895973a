"""galchem: chemical cartography of the Milky Way's disk, as an executable book.

The package behind the book's chapters: the input contract and readers
(:mod:`~galchem.data.contract`), the mock Galaxy (:mod:`~galchem.data.mock`), the quality
cuts (:mod:`~galchem.data.cuts`), coordinate frames (:mod:`~galchem.physics.frames`),
Monte Carlo kinematics (:mod:`~galchem.physics.kinematics`) and membership
(:mod:`~galchem.physics.membership`), the line fit (:mod:`~galchem.analysis.fitting`), gradients
(:mod:`~galchem.analysis.gradients`), azimuthal analysis (:mod:`~galchem.analysis.azimuthal`),
spiral arms (:mod:`~galchem.analysis.arms`), archive access
(:mod:`~galchem.data.archive`), the pipeline's cached stages
(:mod:`~galchem.run.stages`), figures (:mod:`~galchem.report.plotting`) and the
``galchem`` command line (:mod:`~galchem.cli`).
"""
from galchem.errors import ContractError, GalchemError

__version__ = "0.1.0"

__all__ = ["ContractError", "GalchemError", "__version__"]
