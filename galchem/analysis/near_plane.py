"""The azimuthal science near the plane, given its stars: residuals, ⟨δ[Fe/H]⟩(φ), the permutation test, arm contrasts.

The pipeline (``galchem.run.stages.azimuthal_analysis``) only gathers the
stars with |Z| below its limit, sorted by id, and the sums of the plane's
radial fit; everything it then reports is decided here:

* three radial references and each star's residual from them: the plane's
  straight line, the mean of the stars in a ring of the same R (δ[Fe/H], the
  study's choice) and a smooth P-spline per |Z| slice
  (:mod:`galchem.analysis.radial_spline`);
* ⟨δ⟩ against φ in the annuli, and ⟨residual from the spline⟩ beside it;
* the permutation test for structure in φ and the arm contrasts against the
  three references (:mod:`galchem.analysis.azimuthal`).

The result is an :class:`AzimuthalScience` whose :class:`AzimuthalTests`
have one shape, whether or not they could be computed: a value is None
exactly when its status says why (``azimuthal_tests.json``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from galchem.analysis import azimuthal, line_sums, radial_spline

__all__ = ["AzimuthalScience", "AzimuthalTests", "study_near_plane"]


@dataclass(frozen=True)
class AzimuthalTests:
    """The tests for azimuthal structure (``azimuthal_tests.json``): each value, or None with its status."""

    p_value: float | None
    p_value_status: str
    statistic: float | None
    n_permutations: int
    arm_contrast: float | None  # mean residual from the plane's line inside the arms minus between them [dex]
    arm_contrast_err: float | None
    arm_contrast_status: str
    n_in_arms: int
    n_between_arms: int
    arm_contrast_ring: float | None  # the same of δ (from the ring mean)
    arm_contrast_ring_err: float | None
    arm_contrast_spline: float | None  # the same of the residual from the smooth radial spline
    arm_contrast_spline_err: float | None
    arm_contrast_spline_status: str
    z_max: float
    phi_bin_deg: float

    def to_dict(self) -> dict:
        """The tests as ``azimuthal_tests.json`` holds them."""
        return asdict(self)

    @classmethod
    def not_computed(cls, reason: str, *, n_permutations: int, z_max: float, phi_bin_deg: float) -> AzimuthalTests:
        """The tests of a run whose azimuthal stage could not run, every value None and every status ``reason``."""
        return cls(None, reason, None, n_permutations, None, None, reason, 0, 0, None, None, None, None, reason,
                   z_max, phi_bin_deg)


@dataclass(frozen=True)
class AzimuthalScience:
    """What the azimuthal stage reports of the stars near the plane (in the order of their ids)."""

    plane_fit: pd.Series  # m, m_err, b, b_err, lam, lam_err, n, tau, n_eff, reliable of [Fe/H] against R
    residuals: pd.DataFrame  # per star: residual (from the fit), delta (from the ring mean), residual_spline
    means: pd.DataFrame  # azimuthal.MEANS_COLUMNS, then mean_residual_spline and sem_residual_spline
    tests: AzimuthalTests
    null: np.ndarray  # the permutation null distribution
    notes: tuple[str, ...]
    radial_splines: pd.DataFrame  # radial_spline.SPLINE_COLUMNS, one row per |Z| slice


def study_near_plane(stars: pd.DataFrame, sums: line_sums.BinSums, *, z_edges: tuple[float, ...], z_max: float,
                     ring_width: float, phi_bin_deg: float, annuli: tuple[tuple[float, float], ...],
                     n_permutations: int, n_walkers: int, n_steps: int, max_steps: int,
                     stream: np.random.SeedSequence) -> AzimuthalScience:
    """The azimuthal science of ``stars`` (R, Z, phi, feh; sorted by id), the plane's fit from ``sums``.

    ``stream`` is the stage's random stream.  Its first child seeds the
    plane's fit (a NumPy generator), its second keys the permutation test's
    shuffles (:func:`galchem.data.ids.seed_key`); nothing else
    draws (the arm contrasts' errors are closed-form), so neither shifts the
    other's numbers.
    """
    fit_stream, test_stream = stream.spawn(2)
    fit = line_sums.fit_sums(sums, n_walkers=n_walkers, n_steps=n_steps, max_steps=max_steps,
                             seed=np.random.default_rng(fit_stream))
    residual = azimuthal.residual_from_fit(stars, fit.m, fit.b)
    delta = azimuthal.delta_from_ring_mean(stars["R"], stars["feh"], ring_width)
    residual_spline, slices = radial_spline.spline_residuals(stars, z_edges)
    edges = azimuthal.phi_edges(stars["phi"], phi_bin_deg)
    test = azimuthal.permutation_test(stars, delta, edges, n_permutations=n_permutations, seed=test_stream,
                                      annuli=annuli)
    groups = azimuthal.arm_groups(stars)
    arms, arms_ring, arms_spline = (azimuthal.arm_contrast(groups, values)
                                    for values in (residual, delta, residual_spline))
    plane = pd.Series({**fit.summary(), "tau": float(np.max(fit.autocorr_time)),
                       "n_eff": float(fit.effective_samples), "reliable": fit.reliable})
    tests = AzimuthalTests(test.p_value, test.status, test.observed, n_permutations, arms.contrast, arms.error,
                           arms.status, arms.n_arm, arms.n_between, arms_ring.contrast, arms_ring.error,
                           arms_spline.contrast, arms_spline.error, arms_spline.status, z_max, phi_bin_deg)
    notes = (f"azimuthal: permutation test {test.status}" if test.p_value is None else "",
             f"azimuthal: arm contrast {arms.status}" if arms.contrast is None else "",
             f"azimuthal: arm contrast against the radial spline {arms_spline.status}"
             if arms_spline.contrast is None else "",
             "" if fit.reliable else f"azimuthal: the plane's radial fit is unreliable: {fit.warning()}")
    against_spline = azimuthal.azimuthal_means(stars, residual_spline, edges, annuli)
    means = azimuthal.azimuthal_means(stars, delta, edges, annuli).assign(
        mean_residual_spline=against_spline["mean_delta"], sem_residual_spline=against_spline["sem"])
    residuals = pd.DataFrame({"residual": residual, "delta": delta, "residual_spline": residual_spline})
    return AzimuthalScience(plane, residuals, means, tests, test.null, tuple(n for n in notes if n), slices)
