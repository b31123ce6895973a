import numpy as np
import pytest

from galchem.analysis.calibration import LineTruth, attenuation, calibrate, coverage_summary, simulate_line
from galchem.errors import FitError
from galchem.analysis.fitting import LineData, fit_line, log_likelihood


def naive_log_likelihood(theta, x, y, x_err, y_err):
    m, b, lam = theta
    sigma2 = y_err**2 + m * m * x_err**2 + lam * lam * (1 + m * m)
    return -0.5 * np.sum((y - m * x - b) ** 2 / sigma2 + np.log(sigma2))


@pytest.fixture(scope="module")
def big_data():
    return simulate_line(np.random.default_rng(4), 50_000, LineTruth(m=-0.078, b=0.418, lam=0.3),
                         x_err_range=(0.05, 0.4), y_err_range=(0.03, 0.2))


def test_likelihood_exact_and_grouped_match_the_formula(big_data):
    x, y, x_err, y_err = big_data
    zero = np.zeros_like(x)
    theta = np.array([[-0.078, 0.418, 0.3], [-0.05, 0.2, 0.35]])
    expected = [naive_log_likelihood(t, x, y, x_err, y_err) for t in theta]
    np.testing.assert_allclose(log_likelihood(theta, LineData.from_points(x, y, x_err, y_err, zero)), expected, rtol=1e-12)
    grouped = log_likelihood(theta, LineData.from_points(x, y, x_err, y_err, zero, bins_per_dex=20))
    np.testing.assert_allclose(grouped, expected, rtol=0, atol=0.01)


def test_noiseless_line_is_recovered():
    rng = np.random.default_rng(1)
    x = rng.uniform(6, 12, 300)
    y = -0.07 * x + 0.5
    fit = fit_line(x, y, np.full(300, 1e-4), np.full(300, 1e-4), seed=1)
    assert fit.m == pytest.approx(-0.07, abs=1e-4)
    assert fit.b == pytest.approx(0.5, abs=1e-3)
    assert fit.lam < 1e-3


def test_noisy_large_sample_within_errors(big_data):
    x, y, x_err, y_err = big_data
    fit = fit_line(x, y, x_err, y_err, seed=3)
    assert fit.method == "grouped"
    expected_m = -0.078 + attenuation(-0.078, x, x_err)  # errors in x flatten the slope, as for least squares
    assert fit.m == pytest.approx(expected_m, abs=3 * fit.m_err)
    assert fit.lam == pytest.approx(0.3, abs=3 * fit.lam_err)
    assert 0.2 < fit.acceptance_fraction < 0.8
    assert fit.burn_in >= 200 and fit.samples.shape == ((1000 - fit.burn_in) * 10, 3)


def test_errors_in_x_attenuate_the_slope_as_predicted():
    """The study's likelihood (flat prior on the true x) keeps least squares' attenuation."""
    x, y, x_err, y_err = simulate_line(np.random.default_rng(8), 100_000, x_err_range=(0.3, 0.6))
    fit = fit_line(x, y, x_err, y_err, seed=2, n_steps=400)
    predicted = -0.08 + attenuation(-0.08, x, x_err)
    assert abs(predicted + 0.08) > 10 * fit.m_err  # the bias is real and large ...
    assert fit.m == pytest.approx(predicted, abs=3 * fit.m_err)  # ... and as predicted


def test_calibration_coverage_and_bias():
    summary = coverage_summary(calibrate(150, 200, seed=0, n_steps=400))
    assert summary["coverage_68"].between(0.60, 0.76).all(), summary
    assert (summary["mean_pull"].abs() < 0.2).all(), summary


def test_same_seed_same_chain():
    data = simulate_line(np.random.default_rng(0), 200)
    first, again = fit_line(*data, seed=9, n_steps=200), fit_line(*data, seed=9, n_steps=200)
    np.testing.assert_array_equal(first.chain, again.chain)
    assert not np.array_equal(first.chain, fit_line(*data, seed=10, n_steps=200).chain)


def test_short_chain_says_so():
    fit = fit_line(*simulate_line(np.random.default_rng(0), 200), seed=1, n_steps=100)
    assert not fit.reliable and "chain too short" in fit.warning()
    assert not fit.diagnostics()["reliable"]


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
        fit_line(*change(data), n_steps=10)
