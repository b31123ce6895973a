"""The analysis pipeline, stage by stage, shared by the notebooks, ``galchem analyse`` and the Python API.

survey cuts -> precision cuts -> velocity cut -> Monte Carlo kinematics -> membership -> halo cut
-> gradient fits in bins; residuals near the plane, azimuthal means and tests

Each stage takes a :class:`~galchem.data.sources.Dataset` and a
:class:`~galchem.run.config.RunConfig`, returns a typed result that carries
its diagnostics and notes, and is cached under a key made of the data, the
survey, the settings it reads and the package's code (:mod:`galchem.data.cache`).
A survey without velocities runs positionally: no velocity or halo cut, and
the notes say so.

Every stage runs partition by partition on Dask (:mod:`galchem.run.scheduler`):

* the **kinematic stage** first checks the whole catalogue (:mod:`galchem.data.inspection`),
  then, per partition, applies the cuts, the Monte Carlo kinematics and
  membership and writes the partition's candidates to a parquet file of the
  cache entry; the cut flows of the partitions add up;
* the kinematic stage also keeps, per sky cell, a bounded subsample of the
  stars' distance measures *before* the cuts that select on them (parallax
  and distance precision), from which it fits the population's distance
  prior (:mod:`galchem.analysis.latent_distance`);
* the **gradient fits** reduce per-bin sums of the flat fit
  (:mod:`galchem.analysis.line_sums`), of the corrected line (from each
  star's posterior moments of R and |Z| under that prior,
  :mod:`galchem.analysis.marginal_slope`) and of SIMEX's noisy copies
  (:mod:`galchem.analysis.simex`), all in one pass;
* the **azimuthal stage** fits the plane from sums too, and gathers only the
  stars it needs (|Z| below its limit), only the columns it reads, sorted by id.

So memory does not grow with the catalogue beyond what the azimuthal stage
gathers, and the same seed gives the same tables whatever the scheduler and
the partitioning.

Each stage is a module of its own (:mod:`galchem.run.kinematic_stage`,
:mod:`galchem.run.gradient_stage`, :mod:`galchem.run.azimuthal_stage`, with
what they share in :mod:`galchem.run.stage_support`); this module gathers
their front doors in one place.  The science they call lives in
:mod:`galchem.analysis` and :mod:`galchem.physics`.
"""
from __future__ import annotations

from galchem.run.azimuthal_stage import GATHERED_COLUMNS, AzimuthalResults, azimuthal_analysis, spline_z_edges
from galchem.run.gradient_stage import GradientResults, binnings, gradient_fits
from galchem.run.kinematic_stage import SAMPLE_COLUMNS, KinematicSample, kinematic_sample, sample_writer
from galchem.run.stage_support import StageError

__all__ = ["AzimuthalResults", "GATHERED_COLUMNS", "GradientResults", "KinematicSample", "SAMPLE_COLUMNS", "StageError",
           "azimuthal_analysis", "binnings", "gradient_fits", "kinematic_sample", "sample_writer", "spline_z_edges"]
