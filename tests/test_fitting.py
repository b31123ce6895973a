import numpy as np
import pytest
from helpers import chains, study_log_likelihood
from scipy.optimize import minimize

from galchem.analysis.calibration import (INDEPENDENT_LINE, LineTruth, attenuation, calibrate, coverage_summary,
                                          independent_line, simulate_line)
from galchem.analysis.deconvolution import extreme_deconvolution
from galchem.errors import FitError
from galchem.analysis.fitting import fit_line
from galchem.analysis.line_likelihood import LineData, log_likelihood
from galchem.analysis.priors import FlatPrior, MixturePrior, mixture_points


@pytest.fixture(scope="module")
def big_data():
    return simulate_line(np.random.default_rng(4), 50_000, LineTruth(m=-0.078, b=0.418, lam=0.3),
                         x_err_range=(0.05, 0.4), y_err_range=(0.03, 0.2))


def test_likelihood_exact_and_grouped_match_the_formula(big_data):
    x, y, x_err, y_err = big_data
    zero = np.zeros_like(x)
    theta = np.array([[-0.078, 0.418, 0.3], [-0.05, 0.2, 0.35]])
    expected = [study_log_likelihood(t, x, y, x_err, y_err) for t in theta]
    np.testing.assert_allclose(log_likelihood(theta, LineData.from_points(x, y, x_err, y_err, zero)), expected, rtol=1e-12)
    grouped = log_likelihood(theta, LineData.from_points(x, y, x_err, y_err, zero, bins_per_dex=20))
    np.testing.assert_allclose(grouped, expected, rtol=0, atol=0.01)


def matrix_log_likelihood(theta, data):
    """The likelihood as it was computed before the compiled kernel (issue 26): all 126 moments, numpy products."""
    def outer(*vectors):
        out = vectors[0]
        for v in vectors[1:]:
            out = (out[:, :, None] * v[:, None, :]).reshape(len(out), -1)
        return out

    m, b, lam = np.atleast_2d(theta).T
    p = np.column_stack([-b, -m, np.ones_like(m)])
    w = np.column_stack([m * m, -2 * m, np.ones_like(m)])
    pp = outer(p, p)
    S = w @ data.dbar + (lam * lam * (1 + m * m))[:, None]
    terms = (pp @ data.uu) / S + data.n * np.log(S)
    if data.uud is not None:
        terms += (-(outer(pp, w) @ data.uud) / S**2 + (outer(pp, w, w) @ data.uudd) / S**3
                  - (outer(w, w) @ data.dd2) / (2 * S**2))
    return -0.5 * np.sum(terms, axis=1)


@pytest.mark.parametrize("bins_per_dex", [None, 20])
@pytest.mark.parametrize("correlation", [0.0, 0.4])
def test_compiled_likelihood_matches_the_matrix_form(big_data, bins_per_dex, correlation):
    x, y, x_err, y_err = (v[:20_000] for v in big_data)
    data = LineData.from_points(x, y, x_err, y_err, correlation * x_err * y_err, bins_per_dex)
    theta = np.array([[-0.078, 0.418, 0.3], [-0.05, 0.2, 0.35], [1.5, -12.0, 0.01], [-40.0, 300.0, 2.0]])
    np.testing.assert_allclose(log_likelihood(theta, data), matrix_log_likelihood(theta, data), rtol=1e-10)


def test_noiseless_line_is_recovered():
    rng = np.random.default_rng(1)
    x = rng.uniform(6, 12, 300)
    y = -0.07 * x + 0.5
    fit = fit_line(x, y, np.full(300, 1e-4), np.full(300, 1e-4), seed=1, **chains(max_steps=1000))
    assert fit.m == pytest.approx(-0.07, abs=1e-4)
    assert fit.b == pytest.approx(0.5, abs=1e-3)
    assert fit.lam < 1e-3


def test_noisy_large_sample_within_errors(big_data):
    x, y, x_err, y_err = big_data
    fit = fit_line(x, y, x_err, y_err, seed=3, **chains(max_steps=1000))
    assert fit.method == "grouped"
    expected_m = -0.078 + attenuation(-0.078, x, x_err)  # errors in x flatten the slope, as for least squares
    assert fit.m == pytest.approx(expected_m, abs=3 * fit.m_err)
    assert fit.lam == pytest.approx(0.3, abs=3 * fit.lam_err)
    assert 0.2 < fit.acceptance_fraction < 0.8
    assert fit.burn_in >= 200 and fit.samples.shape == ((1000 - fit.burn_in) * 10, 3)


def test_errors_in_x_attenuate_the_slope_as_predicted():
    """The study's likelihood (flat prior on the true x) keeps least squares' attenuation."""
    x, y, x_err, y_err = simulate_line(np.random.default_rng(8), 100_000, x_err_range=(0.3, 0.6))
    fit = fit_line(x, y, x_err, y_err, seed=2, **chains(n_steps=400, max_steps=400))
    predicted = -0.08 + attenuation(-0.08, x, x_err)
    assert abs(predicted + 0.08) > 10 * fit.m_err  # the bias is real and large ...
    assert fit.m == pytest.approx(predicted, abs=3 * fit.m_err)  # ... and as predicted


@pytest.mark.slow  # 150 simulated lines: the coverage needs them
def test_calibration_coverage_and_bias():
    summary = coverage_summary(calibrate(150, 200, seed=0, **chains(n_steps=400, max_steps=400)))
    assert summary["coverage_68"].between(0.60, 0.76).all(), summary
    assert (summary["mean_pull"].abs() < 0.2).all(), summary


def test_same_seed_same_chain():
    data = simulate_line(np.random.default_rng(0), 200)
    first, again = (fit_line(*data, seed=9, **chains(n_steps=200, max_steps=200)) for _ in range(2))
    np.testing.assert_array_equal(first.chain, again.chain)
    assert not np.array_equal(first.chain, fit_line(*data, seed=10, **chains(n_steps=200, max_steps=200)).chain)


def test_short_chain_says_so():
    fit = fit_line(*simulate_line(np.random.default_rng(0), 200), seed=1, **chains(n_steps=100, max_steps=100))
    assert not fit.reliable and "chain too short" in fit.warning()
    assert not fit.diagnostics()["reliable"]


def test_chains_extend_to_fifty_autocorrelation_times_and_no_further_than_the_cap():
    data = simulate_line(np.random.default_rng(5), 500)
    fixed = fit_line(*data, seed=4, **chains(n_steps=200, max_steps=200))  # the study's way: a fixed length
    assert fixed.chain.shape[0] == 200 and not fixed.reliable
    grown = fit_line(*data, seed=4, **chains(n_steps=200))
    assert grown.reliable and grown.chain.shape[0] >= 50 * np.max(grown.autocorr_time)
    assert grown.chain.shape[0] <= 1.2 * 50 * np.max(grown.autocorr_time) + 200  # extended, not run to the cap
    np.testing.assert_array_equal(grown.chain[:200], fixed.chain)  # the same chain, continued
    capped = fit_line(*data, seed=4, **chains(n_steps=200, max_steps=300))
    assert capped.chain.shape[0] == 300 and not capped.reliable
    np.testing.assert_array_equal(capped.chain[:200], fixed.chain)


def test_deconvolution_recovers_a_known_mixture():
    rng = np.random.default_rng(3)
    true = np.where(rng.uniform(size=40_000) < 0.3, rng.normal(7.0, 0.5, 40_000), rng.normal(10.0, 1.0, 40_000))
    x_err = rng.uniform(0.2, 0.8, true.size)
    mixture = extreme_deconvolution(true + x_err * rng.normal(size=true.size), x_err, n_components=2)
    order = np.argsort(mixture.means)
    assert mixture.converged
    np.testing.assert_allclose(mixture.weights[order], [0.3, 0.7], atol=0.02)
    np.testing.assert_allclose(mixture.means[order], [7.0, 10.0], atol=0.05)
    np.testing.assert_allclose(np.sqrt(mixture.variances[order]), [0.5, 1.0], atol=0.05)  # the errors taken out
    mean, var = mixture.moments(np.array([7.0, 13.0]), np.array([0.5, 0.5]) ** 2)
    assert 7.0 < mean[0] < 7.3 and 12.0 < mean[1] < 13.0  # pulled towards where the true values are
    assert (var < 0.5**2).all()


def exact_mixture_log_likelihood(theta, x, y, x_err, y_err, xy_cov, mixture):
    """The mixture prior marginalised without approximation: ln sum_k r_k N2 per point, summed."""
    m, b, lam = theta
    r, a, W = mixture.posterior(x, x_err**2)
    total = mixture.variances + x_err[:, None] ** 2
    c = xy_cov[:, None]
    mean = m * a + b + c * (x[:, None] - mixture.means) / total
    var = (m * m * W - 2 * m * c * mixture.variances / total + y_err[:, None] ** 2 - c * c / total
           + lam * lam * (1 + m * m))
    terms = np.log(r) - 0.5 * ((y[:, None] - mean) ** 2 / var + np.log(var))
    top = terms.max(axis=1)
    return np.sum(top + np.log(np.exp(terms - top[:, None]).sum(axis=1)))


@pytest.mark.parametrize("correlation", [0.0, 0.5])
def test_mixture_likelihood_matches_the_exact_mixture(correlation):
    """The library keeps the first two moments of p(y | x); the exact mixture must give the same slope."""
    x, y, x_err, y_err = independent_line(np.random.default_rng(5))
    xy_cov = correlation * x_err * y_err
    mixture = extreme_deconvolution(x, x_err)
    approximate = LineData.from_points(*mixture_points(x, y, x_err, y_err, xy_cov, mixture))

    def best(objective):
        return minimize(objective, list(INDEPENDENT_LINE), method="Nelder-Mead",
                        options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 5000}).x

    ours = best(lambda t: -log_likelihood(t, approximate)[0])
    exact = best(lambda t: -exact_mixture_log_likelihood(t, x, y, x_err, y_err, xy_cov, mixture))
    assert np.all(np.abs(ours - exact) < [1e-5, 1e-4, 2e-5])  # a hundredth of each parameter's error


@pytest.mark.slow  # 40 000 points: the bias must be many errors
def test_mixture_prior_corrects_the_slope_where_the_flat_one_does_not():
    """Issue 15's line: errors in R of 4 % of R flatten the study's slope by ~3.7 %."""
    truth = INDEPENDENT_LINE.m
    x, y, x_err, y_err = independent_line(np.random.default_rng(0))
    flat, mixture = (fit_line(x, y, x_err, y_err, seed=1, prior=prior, **chains())
                     for prior in (FlatPrior(), MixturePrior()))
    assert abs(mixture.m - truth) < 2 * mixture.m_err
    assert mixture.m - flat.m == pytest.approx(-attenuation(truth, x, x_err), rel=0.3)  # the bias, removed
    # ten times the points: the flat prior's bias is many of its errors, the mixture's slope still right
    x, y, x_err, y_err = independent_line(np.random.default_rng(1), 40_000)
    flat, mixture = (fit_line(x, y, x_err, y_err, seed=2, prior=prior, **chains(max_steps=2000))
                     for prior in (FlatPrior(), MixturePrior()))
    assert flat.method == mixture.method == "grouped"
    assert (flat.m - truth) / flat.m_err > 4
    assert abs(mixture.m - truth) < 2 * mixture.m_err


@pytest.mark.slow  # 150 simulated lines: the coverage needs them
def test_mixture_calibration_coverage_with_large_errors_in_x():
    """With x errors a third of the x spread the flat prior covers ~40 %; the mixture must cover 68 %."""
    summary = coverage_summary(calibrate(150, 200, seed=0, x_err_range=(0.3, 0.9), prior=MixturePrior(),
                                         **chains(n_steps=400, max_steps=400)))
    assert summary["coverage_68"].between(0.60, 0.76).all(), summary
    assert (summary["mean_pull"].abs() < 0.25).all(), summary


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: (a[0][:-1], *a[1:]), "same length"),
        (lambda a: (a[0], a[1], a[2], np.where(np.arange(a[3].size) == 3, 0.0, a[3])), "y_err must be positive"),
        (lambda a: (a[0], a[1], -a[2], a[3]), "x_err must be positive"),
        (lambda a: (np.where(np.arange(a[0].size) == 0, np.nan, a[0]), *a[1:]), "x has 1 non-finite"),
        (lambda a: tuple(v[:2] for v in a), "at least 3 points"),
    ],
)
def test_invalid_input(change, message):
    data = simulate_line(np.random.default_rng(0), 20)
    with pytest.raises(FitError, match=message):
        fit_line(*change(data), **chains(n_steps=10))


def test_unknown_prior_is_refused():
    with pytest.raises(FitError, match="prior must be a galchem.analysis.priors.Prior"):
        fit_line(*simulate_line(np.random.default_rng(0), 20), prior="mixture", **chains(n_steps=10))
