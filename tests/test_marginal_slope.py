"""The corrected line of a bin: regression calibration through the law of total covariance, with jackknife errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galchem.analysis import gradients, marginal_slope
from galchem.analysis import latent_distance as ld
from galchem.analysis.fitting import fit_line
from galchem.analysis.priors import MixturePrior
from galchem.data.mock import make_mock
from galchem.physics import frames

RADIAL = gradients.radial_binning((0.0, 1.0), None)  # one bin, [Fe/H] against R
VERTICAL = gradients.vertical_binning((0.0, 20.0), None)  # one bin, [Fe/H] against |Z|


def one_coordinate(x_mean: np.ndarray, x_sd: np.ndarray) -> pd.DataFrame:
    """Posterior moments of stars with a true x alone (as R; |Z| the same for all)."""
    zero = np.zeros_like(x_mean)
    return pd.DataFrame({"R": x_mean, "R_err": x_sd, "absZ": zero, "absZ_err": zero, "R_absZ_cov": zero,
                         "R2_absZ": zero, "absZ2_R": zero, "data_weight": np.ones_like(x_mean)})


def corrected(moments: pd.DataFrame, feh, feh_err, inside: np.ndarray, binning=RADIAL
              ) -> marginal_slope.MarginalEstimate:
    keys = np.arange(len(moments), dtype=np.uint64)
    sums = marginal_slope.marginal_sums(keys, np.where(inside, 0, -1), moments, feh, feh_err, binning)
    [estimate] = marginal_slope.estimate(sums)
    return estimate


def test_a_line_in_a_bin_cut_on_the_observed_x_is_recovered_where_an_in_bin_prior_fails():
    rng = np.random.default_rng(3)
    n = 40_000
    x = rng.gamma(4.0, 0.5, n)  # skewed, like a distance distribution
    x_err = rng.uniform(0.3, 0.7, n)  # larger than the bin
    x_obs = x + rng.normal(0.0, x_err)
    y_err = np.full(n, 0.05)
    y = 0.5 * x + rng.normal(0.0, 0.05, n) + rng.normal(0.0, y_err)
    keys = np.arange(n, dtype=np.uint64)
    prior = ld.fit_prior(ld.PriorSample.of(keys, np.zeros(n, dtype=np.int64), x_obs, x_err), ld.LOG_DISTANCE)
    r, mean, var = prior.posterior(np.zeros(n, dtype=np.int64), x_obs, x_err)  # the whole population's prior
    centre = np.sum(r * mean, axis=1)
    spread = np.sqrt(np.sum(r * (var + (mean - centre[:, None]) ** 2), axis=1))
    inside = (x_obs > 2.0) & (x_obs < 2.4)
    line = corrected(one_coordinate(centre, spread), y, y_err, inside).line
    in_bin = fit_line(x_obs[inside], y[inside], x_err[inside], y_err[inside], seed=2, prior=MixturePrior(),
                      n_walkers=10, n_steps=300, max_steps=300)
    truth = np.polyfit(x[inside], 0.5 * x[inside], 1)[0]
    # within 3 errors: in a bin far narrower than the errors the slope leans on the prior, whose own uncertainty
    # (it is fitted once, from every star) the jackknife over stars does not carry; over seeds the pulls spread by 1.3
    assert abs(line.m - truth) < 3 * line.m_err, (line.m, line.m_err, truth)
    # the in-bin prior either misses by more than 3 errors or learns nothing (a slope error ten times larger)
    assert abs(in_bin.m - truth) > 3 * in_bin.m_err or in_bin.m_err > 10 * line.m_err, (in_bin.m, in_bin.m_err)


def test_jackknife_errors_match_the_spread_of_independent_realisations():
    """A line in x with a Gaussian population (so E[x|obs] is exact): over 40 realisations the slopes scatter by
    the jackknife error and centre on the truth."""
    rng = np.random.default_rng(4)
    mu, V, s = 8.0, 1.0, 0.6
    slopes, errors = [], []
    for _ in range(40):
        x = rng.normal(mu, np.sqrt(V), 3000)
        x_obs = x + rng.normal(0.0, s, x.size)
        y = -0.06 * x + rng.normal(0.0, 0.1, x.size)
        gain = V / (V + s**2)
        moments = one_coordinate(mu + gain * (x_obs - mu), np.full(x.size, np.sqrt(gain) * s))
        line = corrected(moments, y, np.full(x.size, 0.05), np.ones(x.size, dtype=bool)).line
        slopes.append(line.m)
        errors.append(line.m_err)
    slopes, errors = np.array(slopes), np.array(errors)
    assert 0.7 < slopes.std(ddof=1) / errors.mean() < 1.4, (slopes.std(ddof=1), errors.mean())
    assert abs(slopes.mean() + 0.06) < 3 * slopes.std(ddof=1) / np.sqrt(slopes.size)


def test_the_sums_do_not_depend_on_how_the_stars_are_split():
    rng = np.random.default_rng(5)
    n = 5000
    moments = one_coordinate(rng.normal(8.0, 1.0, n), rng.uniform(0.1, 0.3, n)).assign(absZ=rng.uniform(0, 1, n))
    feh, feh_err, keys = rng.normal(0.0, 0.2, n), rng.uniform(0.05, 0.1, n), rng.integers(0, 2**62, n).astype(np.uint64)
    index = rng.integers(-1, 3, n)
    binning = gradients.radial_binning((0.0, 0.3, 0.6, 1.0), None)
    whole = marginal_slope.marginal_sums(keys, index, moments, feh, feh_err, binning)
    parts = [marginal_slope.marginal_sums(keys[i], index[i], moments.iloc[i], feh[i], feh_err[i], binning)
             for i in np.array_split(rng.permutation(n), 3)]
    merged = parts[2].merge(parts[0].merge(parts[1]))
    assert np.array_equal(merged.hi, whole.hi)
    assert [e.line for e in marginal_slope.estimate(merged)] == [e.line for e in marginal_slope.estimate(whole)]


@pytest.fixture(scope="module")
def geometry():
    """Gaia-like stars (sky positions and true R and Z) with parallax errors three times Gaia's, and their
    posterior moments."""
    mock = make_mock("gaia", 60_000, seed=8)
    catalog, truth = mock.catalog, mock.truth
    rng = np.random.default_rng(8)
    u_err = 3 * catalog["parallax_error"].to_numpy()
    u = 1.0 / truth["distance"].to_numpy() + rng.normal(0.0, u_err)
    measure = ld.DistanceMeasure(u, u_err, ld.PARALLAX)
    keys = catalog["source_id"].to_numpy().view(np.uint64)
    prior = ld.fit_prior(ld.prior_sample(keys, catalog["ra"], catalog["dec"], measure), measure.kind)
    moments = ld.posterior_moments(prior, catalog["ra"], catalog["dec"], measure)
    precise = (u > 0) & (u_err < 0.3 * u)
    observed = frames.icrs_to_position(catalog["ra"], catalog["dec"], np.where(precise, 1.0 / np.abs(u), np.nan))
    return keys, moments, precise, observed, truth["R"].to_numpy(), np.abs(truth["Z"].to_numpy())


@pytest.mark.parametrize("binning, cut", [(RADIAL, ("Z", 0.2, 0.6)), (VERTICAL, ("R", 10.0, 12.0))],
                         ids=["radial |Z| 0.2-0.6", "vertical R 10-12"])
def test_a_bin_whose_stars_follow_no_single_line_gets_their_least_squares_slope(geometry, binning, cut):
    """[Fe/H] with a vertical gradient that flattens outwards (so no bin holds one line), R and |Z| from one
    parallax each: the corrected slope is the least-squares slope of the bin's stars against their true
    coordinate, where the slope against the measured coordinate is not."""
    keys, moments, precise, observed, R, Z = geometry
    rng = np.random.default_rng(6)
    feh_true = -0.06 * (R - 8.2) + (-0.22 + 0.04 * (R - 7.5)) * Z + rng.normal(0.0, 0.05, R.size)
    feh_err = np.full(R.size, 0.05)
    feh = feh_true + rng.normal(0.0, feh_err)
    name, lo, hi = cut
    by = np.abs(observed.Z) if name == "Z" else observed.R
    inside = precise & (by >= lo) & (by < hi)
    true_x, observed_x = (R, observed.R) if binning.x == "R" else (Z, np.abs(observed.Z))
    truth = np.polyfit(true_x[inside], feh_true[inside], 1)[0]
    keys_in, rows = keys, np.where(inside, 0, -1)
    [estimate] = marginal_slope.estimate(marginal_slope.marginal_sums(keys_in, rows, moments, feh, feh_err, binning))
    line = estimate.line
    assert estimate.n == inside.sum() >= 1000
    assert abs(line.m - truth) < 2.5 * line.m_err, (line.m, line.m_err, truth)
    naive = np.polyfit(observed_x[inside], feh[inside], 1)[0]
    assert abs(naive - truth) > 3 * line.m_err, (naive, truth, line.m_err)  # the errors matter here


def test_a_height_the_same_for_every_star_leaves_the_slope_to_r_alone():
    """|Z| constant (one slice, no spread) but moving with R along each line of sight: the regression drops
    E[|Z||obs] and E[R|Z||obs] rather than fit noise, in every jackknife group."""
    rng = np.random.default_rng(7)
    n = 3000
    R = rng.normal(8.0, 1.0, n)
    moments = one_coordinate(R, np.full(n, 0.2)).assign(absZ=0.3, R_absZ_cov=0.01)
    feh = -0.06 * R + rng.normal(0.0, 0.05, n)
    line = corrected(moments, feh, np.full(n, 0.05), np.ones(n, dtype=bool)).line
    # on R alone the estimate is the least-squares slope on E[R|obs]; the spread of noise fitted as a slope in |Z|
    # would have made it (and its jackknife error) wander
    assert line.m == pytest.approx(np.polyfit(R, feh, 1)[0], rel=1e-9)
    assert line.m_err < 2 * 0.05 / np.sqrt(n)
