"""Priors on the true x as objects: the flat one is the study's likelihood, the mixture one undoes attenuation."""
import numpy as np
import pytest
from helpers import chains, study_log_likelihood

from galchem.analysis.calibration import LineTruth, attenuation, simulate_line
from galchem.analysis.deconvolution import extreme_deconvolution
from galchem.analysis.fitting import fit_line
from galchem.analysis.line_likelihood import LineData, log_likelihood
from galchem.analysis.priors import FlatPrior, MixturePrior, Prior, mixture_points
from galchem.errors import FitError

THETA = np.array([[-0.08, 0.40, 0.15], [-0.05, 0.20, 0.30], [0.10, -1.0, 0.05]])
LARGE_X_ERRORS = LineTruth(m=-0.08, b=0.40, lam=0.05)
"""A line whose x errors (0.6-1 against a spread of 1.7 in x) flatten a flat-prior slope by about a fifth."""


@pytest.fixture(scope="module")
def small_line():
    return simulate_line(np.random.default_rng(3), 200, x_err_range=(0.2, 0.6))


def test_priors_share_one_interface():
    for prior in (FlatPrior(), MixturePrior()):
        assert isinstance(prior, Prior)
    with pytest.raises(TypeError):
        Prior()  # abstract: a prior must say what it learns and which points the likelihood sees


def test_flat_prior_is_the_study_likelihood(small_line):
    x, y, x_err, y_err = small_line
    flat = FlatPrior().fitted(x, x_err)
    assert flat == FlatPrior()  # nothing to learn
    expected = [study_log_likelihood(t, x, y, x_err, y_err) for t in THETA]
    np.testing.assert_allclose(log_likelihood(THETA, flat.line_data(x, y, x_err, y_err, np.zeros_like(x))),
                               expected, rtol=1e-12)


def test_flat_prior_is_the_default(small_line):
    default = fit_line(*small_line, seed=4, **chains(n_steps=200, max_steps=200))
    flat = fit_line(*small_line, seed=4, prior=FlatPrior(), **chains(n_steps=200, max_steps=200))
    np.testing.assert_array_equal(default.chain, flat.chain)
    assert flat.prior == FlatPrior() and flat.diagnostics()["prior on the true x"] == "flat"


def test_mixture_prior_deconvolves_the_data_and_changes_the_likelihood(small_line):
    x, y, x_err, y_err = small_line
    zero = np.zeros_like(x)
    mixture = MixturePrior(n_components=2).fitted(x, x_err)
    expected = extreme_deconvolution(x, x_err, 2)
    np.testing.assert_array_equal(mixture.mixture.means, expected.means)
    np.testing.assert_array_equal(mixture.mixture.variances, expected.variances)
    ours = log_likelihood(THETA, mixture.line_data(x, y, x_err, y_err, zero))
    np.testing.assert_allclose(ours, log_likelihood(THETA, LineData.from_points(
        *mixture_points(x, y, x_err, y_err, zero, expected))), rtol=1e-12)
    flat = log_likelihood(THETA, FlatPrior().line_data(x, y, x_err, y_err, zero))
    assert np.all(np.abs(ours - flat) > 0.1)  # a different model of the data, not a rounding


def test_a_given_mixture_is_kept_and_fits_as_its_points_under_a_flat_prior(small_line):
    """A population's mixture used for a subset (regression calibration) is not fitted again."""
    x, y, x_err, y_err = small_line
    population = MixturePrior(mixture=extreme_deconvolution(x, x_err))
    inside = x < np.median(x)
    assert population.fitted(x[inside], x_err[inside]) is population
    points = mixture_points(x[inside], y[inside], x_err[inside], y_err[inside], np.zeros(int(inside.sum())),
                            population.mixture)
    as_points = fit_line(*points, seed=5, **chains(n_steps=200, max_steps=200))
    as_prior = fit_line(x[inside], y[inside], x_err[inside], y_err[inside], seed=5, prior=population,
                        **chains(n_steps=200, max_steps=200))
    np.testing.assert_array_equal(as_points.chain, as_prior.chain)
    assert as_prior.prior is population and as_prior.diagnostics()["prior on the true x"] == "mixture"


def test_mixture_prior_recovers_a_slope_the_flat_prior_flattens():
    x, y, x_err, y_err = simulate_line(np.random.default_rng(6), 2000, LARGE_X_ERRORS, x_err_range=(0.6, 1.0))
    options = chains(n_steps=400, max_steps=400)
    flat = fit_line(x, y, x_err, y_err, seed=7, **options)
    mixture = fit_line(x, y, x_err, y_err, seed=7, prior=MixturePrior(), **options)
    truth = LARGE_X_ERRORS.m
    assert (flat.m - truth) / flat.m_err > 5  # attenuated towards zero by many errors
    assert flat.m - truth == pytest.approx(attenuation(truth, x, x_err), rel=0.3)
    assert abs(mixture.m - truth) < 3 * mixture.m_err  # about 2.3 errors: a mixture of three fits uniform x roughly
    assert abs(mixture.m - truth) < 0.25 * abs(flat.m - truth)
    assert mixture.prior.mixture is not None  # the fit keeps the prior it deconvolved


def test_mixture_prior_needs_enough_points_and_its_mixture():
    x, y, x_err, y_err = simulate_line(np.random.default_rng(0), 5)
    with pytest.raises(FitError, match="3 components needs at least 6 points"):
        fit_line(x, y, x_err, y_err, prior=MixturePrior(), **chains(n_steps=10))
    with pytest.raises(FitError, match="call fitted"):
        MixturePrior().points(x, y, x_err, y_err, np.zeros_like(x))


def test_extreme_deconvolution_recovers_a_mixture_and_survives_a_point_far_from_every_component():
    """Two true populations blurred by known errors come back with their weights, means and spreads; a point
    thousands of errors away from both leaves the log-likelihood finite (its density is taken relative to the
    nearest component, which cannot underflow to zero)."""
    rng = np.random.default_rng(4)
    true = np.concatenate([rng.normal(0.0, 0.5, 6_000), rng.normal(4.0, 0.3, 4_000)])
    x_err = rng.uniform(0.2, 0.6, true.size)
    x = true + rng.normal(0.0, x_err)
    mixture = extreme_deconvolution(x, x_err, 2)
    order = np.argsort(mixture.means)
    assert mixture.converged
    assert np.allclose(mixture.weights[order], [0.6, 0.4], atol=0.02)
    assert np.allclose(mixture.means[order], [0.0, 4.0], atol=0.05)
    assert np.allclose(np.sqrt(mixture.variances[order]), [0.5, 0.3], atol=0.05)
    far = extreme_deconvolution(np.append(x, 1e4), np.append(x_err, 0.01), 2)
    assert np.isfinite(far.log_likelihood)
    assert np.isfinite(far.means).all() and np.isfinite(far.variances).all()


def test_extreme_deconvolution_stays_finite_when_extrapolation_kills_a_component():
    """Small samples with a few far, precise outliers: SQUAREM's jumps can drive a component's weight to zero or
    its width to infinity.  Such a dead component must take no share of any point (an earlier E step divided by
    zero in 33 of 3,000 of these samples, five of them among the first 400)."""
    for seed in range(400):
        rng = np.random.default_rng(seed)
        n, k, m = int(rng.integers(10, 60)), int(rng.integers(2, 5)), int(rng.integers(1, 4))
        x = np.concatenate([rng.normal(0.0, 1.0, n), rng.uniform(50.0, 1e4, m)])
        x_err = np.concatenate([rng.uniform(0.1, 0.5, n), np.full(m, 1e-4)])
        mixture = extreme_deconvolution(x, x_err, k)
        assert np.isfinite(mixture.log_likelihood), seed
        assert np.isfinite(mixture.weights).all() and np.isfinite(mixture.means).all(), seed
