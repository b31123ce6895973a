"""A smooth radial spline of [Fe/H](R), per slice of |Z|: the reference the residuals need when the trend is curved.

The study measures azimuthal variations as residuals from a straight line
in R.  When the mean [Fe/H] curves with R, the line's misfit is a function
of R, and because the spiral arms sit at particular radii in the part of the
disk a survey sees, that misfit leaks into residual maps and arm contrasts.
Here the reference is a penalised B-spline (a P-spline, Eilers & Marx 1996,
Statistical Science 11, 89): cubic B-splines on equally spaced knots, with a
penalty on the second differences of neighbouring coefficients.  As the
penalty grows the fit tends to a straight line (second differences of a
line's coefficients vanish), so the P-spline contains the study's model and
departs from it only as far as the data ask.  The penalty is chosen by
generalised cross-validation (Craven & Wahba 1979) on a grid.

The fit is ordinary (unweighted) least squares, like the ring mean that
defines the study's δ[Fe/H]: the [Fe/H] errors are smaller than the
intrinsic scatter, which is the same for all stars.  No random numbers are
drawn.

What a flexible spline cannot tell apart: any part of an azimuthal pattern
that, averaged over the azimuths a survey sees, varies with R.  A spiral
whose ridge follows an arm looks, in a narrow footprint, like a bump in R at
the arm's radius; the spline takes it in, as the study's ring mean does
within its 0.2 kpc.  So the fair counterpart of a contrast measured against
the spline is the injected pattern seen through the same smoother: the same
knots and penalties applied to the pattern (``smoothing=`` the penalties of
the data's fit, see :func:`spline_residuals`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.interpolate import BSpline

__all__ = ["KNOT_SPACING", "MIN_STARS", "SPLINE_COLUMNS", "RadialSpline", "fit_spline", "spline_residuals"]

KNOT_SPACING = 0.5
"""Distance between knots [kpc]: the finest structure in R the spline can follow (the penalty decides how much
it does)."""

MIN_STARS = 20
"""Fewest stars in a slice for a spline; per knot interval at least this many are kept (fewer knots otherwise)."""

DEGREE = 3
"""Cubic B-splines."""
CHUNK = 1 << 18
"""Stars per chunk when the design matrix is built and the spline evaluated."""
SPLINE_COLUMNS = ["z_lo", "z_hi", "n", "smoothing", "effective_parameters"]
"""Columns of the per-slice table of :func:`spline_residuals`."""
SMOOTHING_GRID = np.logspace(-4, 8, 49)
"""Penalties tried, in units of the mean diagonal of B^T B (so the grid does not depend on the number of stars)."""


@dataclass(frozen=True)
class RadialSpline:
    """A P-spline [Fe/H](R): knots, coefficients, the chosen penalty and the effective number of parameters."""

    knots: np.ndarray
    coefficients: np.ndarray
    smoothing: float  # the penalty lambda, in units of the mean diagonal of B^T B
    effective_parameters: float  # trace of the hat matrix: 2 for a straight line, up to len(coefficients)
    n: int

    def __call__(self, R) -> np.ndarray:
        """[Fe/H] of the spline at radii ``R`` [kpc] (held at the end values outside the fitted range)."""
        lo, hi = self.knots[DEGREE], self.knots[-DEGREE - 1]
        return BSpline(self.knots, self.coefficients, DEGREE, extrapolate=False)(np.clip(R, lo, hi))


def fit_spline(R, feh, knot_spacing: float = KNOT_SPACING, smoothing: float | None = None) -> RadialSpline:
    """Fit a P-spline to [Fe/H] against R [kpc], its penalty chosen by generalised cross-validation.

    GCV(lambda) = n RSS / (n - edf)^2, with edf the trace of the hat matrix;
    the smallest value on :data:`SMOOTHING_GRID` wins.  A given
    ``smoothing`` is used as it is (the knots follow from the stars' R, so
    the same stars and penalty give the same smoother).
    """
    return _fit(np.asarray(R), np.asarray(feh), None, knot_spacing, smoothing)


def _fit(R: np.ndarray, feh: np.ndarray, inside: np.ndarray | None, knot_spacing: float, smoothing: float | None
         ) -> RadialSpline:
    """:func:`fit_spline` on the stars where ``inside`` is True (None: all), a chunk at a time, without copies."""
    n = R.size if inside is None else int(np.count_nonzero(inside))
    if n < MIN_STARS:
        raise ValueError(f"a radial spline needs at least {MIN_STARS} stars, got {n}")

    def chunks():
        for start in range(0, R.size, CHUNK):
            part = slice(start, start + CHUNK)
            chosen = slice(None) if inside is None else inside[part]
            yield R[part][chosen].astype(float), feh[part][chosen].astype(float)

    lo = min((float(r.min()) for r, _ in chunks() if r.size), default=0.0)
    hi = max((float(r.max()) for r, _ in chunks() if r.size), default=0.0)
    segments = int(max(1, min(np.ceil((hi - lo) / knot_spacing), n // MIN_STARS)))
    inner = np.linspace(lo, hi, segments + 1)
    step = inner[1] - inner[0] if hi > lo else 1.0
    outside = step * np.arange(1, DEGREE + 1)
    knots = np.concatenate([inner[0] - outside[::-1], inner, inner[-1] + outside])
    size = knots.size - DEGREE - 1
    gram, rhs, yy = np.zeros((size, size)), np.zeros(size), 0.0
    for r, y in chunks():  # B^T B, B^T y and y^T y a chunk of stars at a time: the design matrix stays small
        basis = BSpline.design_matrix(np.clip(r, lo, hi), knots, DEGREE)
        gram += (basis.T @ basis).toarray()
        rhs += basis.T @ y
        yy += float(y @ y)
    difference = np.diff(np.eye(gram.shape[0]), n=2, axis=0)
    penalty = difference.T @ difference
    scale = float(np.mean(np.diag(gram)))
    best = None
    for smoothing in SMOOTHING_GRID if smoothing is None else [smoothing]:
        inverse = np.linalg.inv(gram + smoothing * scale * penalty)
        coefficients = inverse @ rhs
        edf = float(np.trace(inverse @ gram))
        rss = max(yy - 2 * coefficients @ rhs + coefficients @ gram @ coefficients, 0.0)
        score = n * rss / max(n - edf, 1.0) ** 2
        if best is None or score < best[0]:
            best = (score, smoothing, coefficients, edf)
    _, smoothing, coefficients, edf = best
    return RadialSpline(knots, coefficients, float(smoothing), edf, n)


def spline_residuals(table: pd.DataFrame, z_edges, *, values=None, smoothing=None,
                     knot_spacing: float = KNOT_SPACING) -> tuple[np.ndarray, pd.DataFrame]:
    """Each star's ``values`` (default: its [Fe/H]) minus the radial spline of its |Z| slice, and one row per slice.

    The slices are those of ``z_edges`` [kpc]; their table has
    :data:`SPLINE_COLUMNS`.  ``smoothing`` (one penalty per slice, e.g. the
    ``smoothing`` column of an earlier call on the same stars) replaces the
    cross-validation.  Stars outside the slices, or in a slice with fewer
    than :data:`MIN_STARS` stars, get NaN.
    """
    R, abs_z = table["R"].to_numpy(), table["Z"].abs().to_numpy()
    values = table["feh"].to_numpy() if values is None else np.asarray(values)
    penalties = [None] * (len(z_edges) - 1) if smoothing is None else list(smoothing)
    residual = np.full(len(table), np.nan, dtype=np.result_type(values.dtype, np.float32))
    rows = []
    for lo, hi, given in zip(z_edges[:-1], z_edges[1:], penalties):
        inside = (abs_z >= lo) & (abs_z < hi)
        row = {"z_lo": lo, "z_hi": hi, "n": int(inside.sum()), "smoothing": np.nan, "effective_parameters": np.nan}
        if row["n"] >= MIN_STARS and np.ptp(R[inside]) > 0:  # a spline needs a range of R
            given = None if given is None or not np.isfinite(given) else float(given)
            spline = _fit(R, values, inside, knot_spacing, given)
            members = np.flatnonzero(inside)
            for start in range(0, members.size, CHUNK):
                chunk = members[start:start + CHUNK]
                residual[chunk] = values[chunk] - spline(R[chunk])
            row.update(smoothing=spline.smoothing, effective_parameters=spline.effective_parameters)
        rows.append(row)
    return residual, pd.DataFrame(rows, columns=SPLINE_COLUMNS)
