"""Issue 25: no prior may clip a line fit silently; the fit's settings are checked (FitError, not emcee's errors)."""
import numpy as np
import pytest
from helpers import chains

from galchem.analysis.calibration import LineTruth, simulate_line
from galchem.analysis.fitting import fit_line
from galchem.errors import FitError


def steep_bin(rng: np.random.Generator, n: int = 17) -> tuple[np.ndarray, ...]:
    """A small bin like the APOGEE one of issue 25: a steep line whose intercept at x = 0 is far beyond 2."""
    return simulate_line(rng, n, LineTruth(m=-0.8, b=6.4, lam=0.08), x_range=(7.0, 9.0), x_err_range=(0.05, 0.1),
                         y_err_range=(0.03, 0.06))


def test_steep_small_bin_is_recovered():
    truth = LineTruth(m=-0.8, b=6.4, lam=0.08)
    fit = fit_line(*steep_bin(np.random.default_rng(11)), seed=3, **chains())
    assert abs(fit.m - truth.m) < 2 * fit.m_err
    assert abs(fit.b - truth.b) < 2 * fit.b_err
    assert fit.b > 2  # where the old prior's wall stood
    assert fit.reliable, fit.warning()


def test_intercept_error_is_propagated_per_sample():
    fit = fit_line(*steep_bin(np.random.default_rng(11)), seed=3, **chains())
    assert fit.pivot == pytest.approx(8.0, abs=0.6)
    assert fit.b_err == pytest.approx(np.std(fit.samples[:, 1]))
    assert fit.b_err > 3 * fit.c_err  # b = c - m x0 carries the slope's error times the pivot
    assert fit.b == pytest.approx(fit.c - fit.m * fit.pivot, abs=0.2 * fit.b_err)


def test_offset_of_two_dex_leaves_the_slope_alone():
    x, y, x_err, y_err = simulate_line(np.random.default_rng(5), 3000, LineTruth(m=-0.088, b=0.65, lam=0.15))
    plain, shifted = (fit_line(x, y + offset, x_err, y_err, seed=7, **chains()) for offset in (0.0, 2.0))
    assert abs(shifted.m - plain.m) < 0.1 * plain.m_err
    assert shifted.m_err == pytest.approx(plain.m_err, rel=0.1)
    assert shifted.b - plain.b == pytest.approx(2.0, abs=0.1 * plain.b_err)
    assert abs(plain.m + 0.088) < 3 * plain.m_err
    assert shifted.reliable and plain.reliable


def test_slope_of_five_is_recovered():
    x, y, x_err, y_err = simulate_line(np.random.default_rng(2), 300, LineTruth(m=5.0, b=-3.0, lam=0.2),
                                       x_range=(0.0, 2.0), x_err_range=(0.002, 0.01))
    fit = fit_line(x, y, x_err, y_err, seed=1, **chains())
    assert abs(fit.m - 5.0) < 3 * fit.m_err and fit.m_err < 0.1
    assert abs(fit.lam - 0.2) < 3 * fit.lam_err
    assert fit.reliable, fit.warning()


@pytest.mark.parametrize("bounds, words", [
    (((-0.075, 1.0), (-10.0, 10.0), (0.0, 10.0)), "m = "),
    (((-1.0, 1.0), (-10.0, -0.33), (0.0, 10.0)), "c (the intercept at the pivot"),
    (((-1.0, 1.0), (-10.0, 10.0), (0.0, 0.152)), "lam = "),
])
def test_a_fit_against_a_bound_is_flagged_with_its_reason(bounds, words):
    x, y, x_err, y_err = simulate_line(np.random.default_rng(3), 2000)  # m = -0.08, lam = 0.15, c = -0.32
    fit = fit_line(x, y, x_err, y_err, seed=2, bounds=bounds, **chains())
    assert not fit.reliable
    assert "the prior may clip the posterior" in fit.warning() and words in fit.warning()
    assert not fit.diagnostics()["reliable"]
    free = fit_line(x, y, x_err, y_err, seed=2, **chains())
    assert free.reliable and free.warning() == ""


def test_no_scatter_is_not_a_wall():
    """lam > 0 folds the posterior (the likelihood depends on lam^2): a line without scatter is not flagged for it."""
    x, y, x_err, y_err = simulate_line(np.random.default_rng(4), 400, LineTruth(lam=0.0))
    fit = fit_line(x, y, x_err, y_err, seed=1, **chains())
    assert fit.lam < 3 * fit.lam_err
    assert fit.near_bounds() == []


@pytest.mark.parametrize("options, message", [
    ({"n_steps": 0}, "n_steps must be an integer of at least 1, got 0"),
    ({"n_steps": -5}, "n_steps must be an integer of at least 1, got -5"),
    ({"n_steps": 100.0}, "n_steps must be an integer"),
    ({"n_walkers": 1}, r"n_walkers must be an integer of at least 6 \(emcee's moves need two walkers per parameter"),
    ({"n_walkers": 5}, "n_walkers must be an integer of at least 6"),
    ({"max_steps": -1}, "max_steps must be an integer of at least 0"),
    ({"burn_in": 50, "n_steps": 50}, "burn_in must be smaller than n_steps"),
    ({"bounds": ((-1, 1), (-1, 1))}, "bounds must be three"),
    ({"bounds": ((1, -1), (-1, 1), (0, 1))}, "bounds must be three"),
    ({"bounds": ((-1, 1), (-1, 1), (-1, 1))}, "lam >= 0"),
    ({"bounds": ((-np.inf, 1), (-1, 1), (0, 1))}, "three finite"),
])
def test_settings_are_checked(options, message):
    with pytest.raises(FitError, match=message):
        fit_line(*simulate_line(np.random.default_rng(0), 20), **chains(**options))


def test_numpy_integers_are_accepted():
    data = simulate_line(np.random.default_rng(0), 50)
    fit = fit_line(*data, n_walkers=np.int32(8), n_steps=np.int64(120), max_steps=np.int64(120), burn_in=np.int16(20),
                   seed=np.int64(3))
    assert fit.chain.shape == (120, 8, 3) and fit.burn_in == 20
