"""galchem: chemical cartography of the Milky Way's disk, as an executable book.

The package behind the book's chapters: the input contract and readers
(:mod:`~galchem.contract`), the mock Galaxy (:mod:`~galchem.mock`), the quality
cuts (:mod:`~galchem.cuts`), coordinate frames (:mod:`~galchem.frames`),
Monte Carlo kinematics (:mod:`~galchem.kinematics`) and membership
(:mod:`~galchem.membership`), the line fit (:mod:`~galchem.fitting`), gradients
(:mod:`~galchem.gradients`), azimuthal analysis (:mod:`~galchem.azimuthal`),
spiral arms (:mod:`~galchem.spiral_arms`), archive access
(:mod:`~galchem.archive`), the pipeline's cached stages
(:mod:`~galchem.pipeline`), figures (:mod:`~galchem.plotting`) and the
``galchem`` command line (:mod:`~galchem.cli`).
"""
from galchem.errors import ContractError, GalchemError

__version__ = "0.1.0"

__all__ = ["ContractError", "GalchemError", "__version__"]
