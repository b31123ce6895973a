"""Priors on the true x of a straight-line fit, as objects with one interface.

A line fit marginalises each point's true x under a prior.  Every prior here
leaves the likelihood of :mod:`galchem.analysis.line_likelihood` in one form,
the flat prior's, on the points it sees: a prior says which points those are
(:meth:`Prior.points`), and learns what it needs from the data first
(:meth:`Prior.fitted`).  :func:`galchem.analysis.fitting.fit_line` takes any
:class:`Prior`, as emcee's sampler takes any of its moves.

:class:`FlatPrior` is the study's (after Hogg, Bovy & Lang 2010, sections
7-8): every true x equally likely, the points as measured.  It keeps the
attenuation of the slope by errors in x that ordinary least squares has (the
reliability ratio of Fuller 1987, *Measurement Error Models*, chapter 1).

:class:`MixturePrior` replaces it by a Gaussian mixture fitted to the
observed x by extreme deconvolution (:mod:`galchem.analysis.deconvolution`;
Bovy, Hogg & Roweis 2011); knowing how the true x are distributed undoes the
attenuation.  Given the observed x_i, the true x is then a Gaussian mixture
with mean xbar_i and variance v_i (:meth:`XMixture.moments`), and [Fe/H] at
fixed true x scatters by lambda^2 (1 + m^2) in y (the flat model's
perpendicular scatter, which under a flat prior is the same thing).  p(y_i |
x_i) is replaced by the Gaussian with its exact mean m xbar_i + b and
variance m^2 v_i + sy2_i + lambda^2 (1 + m^2) (with correlated errors, the
general terms of :func:`mixture_points`): the flat form with x_i -> xbar_i
and sx2_i -> v_i, so the error groups apply unchanged and a corrected fit
costs one deconvolution more than a flat one.  For one component this is
exact; for several, what is left out is the non-Gaussian shape of p(y_i |
x_i), whose components differ in mean by m times a fraction of sigma_x: for
[Fe/H] against R a few thousandths of the [Fe/H] scatter
(tests/test_fitting.py compares with the exact mixture).  The mixture is
fitted once and held fixed (its own uncertainty is not propagated; the
calibration checks the coverage that results).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from galchem.analysis.deconvolution import N_COMPONENTS, XMixture, extreme_deconvolution
from galchem.analysis.line_likelihood import LineData
from galchem.errors import FitError

__all__ = ["FlatPrior", "MixturePrior", "Prior", "mixture_points"]

Points = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""x, y, x_err, y_err, xy_cov of a line fit's points."""


class Prior(ABC):
    """A prior on the true x of a line fit: what it learns from the data, and the points the likelihood sees."""

    name: ClassVar[str]
    """A short name for diagnostics, e.g. ``"flat"``."""

    @abstractmethod
    def fitted(self, x: np.ndarray, x_err: np.ndarray) -> Prior:
        """This prior made ready for data with observed ``x`` and errors ``x_err`` (self if nothing is to learn)."""

    @abstractmethod
    def points(self, x: np.ndarray, y: np.ndarray, x_err: np.ndarray, y_err: np.ndarray, xy_cov: np.ndarray
               ) -> Points:
        """The points whose flat-form likelihood is this prior's likelihood of the data (a fitted prior's)."""

    def line_data(self, x, y, x_err, y_err, xy_cov, bins_per_dex: int | None = None) -> LineData:
        """The likelihood's sums of :meth:`points` (grouped by error when ``bins_per_dex`` is given)."""
        return LineData.from_points(*self.points(x, y, x_err, y_err, xy_cov), bins_per_dex)


@dataclass(frozen=True)
class FlatPrior(Prior):
    """Every true x equally likely: the study's likelihood, on the points as measured."""

    name: ClassVar[str] = "flat"

    def fitted(self, x: np.ndarray, x_err: np.ndarray) -> FlatPrior:
        """Itself: a flat prior learns nothing."""
        return self

    def points(self, x, y, x_err, y_err, xy_cov) -> Points:
        """The points unchanged."""
        return x, y, x_err, y_err, xy_cov


@dataclass(frozen=True, eq=False)  # a mixture of arrays: a prior equals only itself
class MixturePrior(Prior):
    """A Gaussian mixture for the true x: ``mixture`` if given, else ``n_components`` deconvolved from the data."""

    n_components: int = N_COMPONENTS
    mixture: XMixture | None = field(default=None, repr=False)

    name: ClassVar[str] = "mixture"

    def fitted(self, x: np.ndarray, x_err: np.ndarray) -> MixturePrior:
        """The prior with its mixture: the one given, or extreme deconvolution of ``x`` with errors ``x_err``."""
        if self.mixture is not None:
            return self
        if x.size < 2 * self.n_components:
            raise FitError(f"a deconvolved fit with {self.n_components} components needs at least "
                           f"{2 * self.n_components} points, got {x.size}")
        return MixturePrior(self.n_components, extreme_deconvolution(x, x_err, self.n_components))

    def points(self, x, y, x_err, y_err, xy_cov) -> Points:
        """:func:`mixture_points` of the fitted mixture."""
        if self.mixture is None:
            raise FitError("a mixture prior needs its mixture: call fitted(x, x_err) first")
        return mixture_points(x, y, x_err, y_err, xy_cov, self.mixture)


def mixture_points(x, y, x_err, y_err, xy_cov, mixture: XMixture) -> Points:
    """The points a mixture-prior fit sees: x, y, x_err, y_err, xy_cov with the same likelihood form as the data.

    Component k (weight r_k given x) has true x ~ N(mu_k, V_k); with
    T_k = V_k + sx2 it gives y | x a mean m a_k + b + g_k and a variance
    m^2 W_k - 2 m c_k + e_k + lambda^2 (1 + m^2), where
    a_k = mu_k + V_k (x - mu_k) / T_k, W_k = V_k sx2 / T_k,
    g_k = sxy (x - mu_k) / T_k, c_k = sxy V_k / T_k, e_k = sy2 - sxy^2 / T_k.
    Matching the mixture's mean and variance over k gives x -> sum r a,
    y -> y - sum r g, sx2 -> sum r W + var_r(a), sxy -> sum r c - cov_r(a, g)
    and sy2 -> sum r e + var_r(g).
    """
    x_var = x_err**2
    r, a, W = mixture.posterior(x, x_var)
    total = mixture.variances + x_var[:, None]
    g = xy_cov[:, None] * (x[:, None] - mixture.means) / total
    a_bar, g_bar = np.sum(r * a, axis=1), np.sum(r * g, axis=1)
    xx = np.sum(r * (W + (a - a_bar[:, None]) ** 2), axis=1)
    xy = np.sum(r * (xy_cov[:, None] * mixture.variances / total - (a - a_bar[:, None]) * (g - g_bar[:, None])), axis=1)
    yy = np.sum(r * (y_err[:, None] ** 2 - xy_cov[:, None] ** 2 / total + (g - g_bar[:, None]) ** 2), axis=1)
    return a_bar, y - g_bar, np.sqrt(xx), np.sqrt(yy), xy
