"""One latent distance per star: the population prior, the posterior moments of R and |Z|, and SIMEX."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galchem.analysis import latent_distance as ld
from galchem.analysis import gradients, jackknife, simex
from galchem.data.mock import make_mock
from galchem.physics import frames


@pytest.fixture(scope="module")
def gaia_mock():
    return make_mock("gaia", 20_000, seed=5)


def _posterior_draws(prior, ra, dec, u, u_err, rng, n_draws=40_000):
    r, mean, var = prior.posterior(np.atleast_1d(ld.sky_cells(ra, dec)), np.atleast_1d(u), np.atleast_1d(u_err))
    component = rng.choice(r.shape[1], n_draws, p=r[0])
    draws = rng.normal(mean[0, component], np.sqrt(var[0, component]))
    draws = draws[ld.distance_from_u(draws, prior.kind) <= ld.D_MAX_KPC]
    position = frames.icrs_to_position(ra, dec, ld.distance_from_u(draws, prior.kind))
    return position.R, np.abs(position.Z)


def test_r_and_z_follow_from_one_distance_and_match_monte_carlo_of_the_posterior(gaia_mock):
    catalog = gaia_mock.catalog
    measure = ld.distance_measure(catalog, has_parallax=True)
    prior = ld.fit_prior(ld.prior_sample(catalog["source_id"].to_numpy().view(np.uint64), catalog["ra"],
                                         catalog["dec"], measure), ld.PARALLAX)
    rng = np.random.default_rng(0)
    # towards the north Galactic pole, the anticentre in the plane, and in between; a noisy parallax of 0.25 mas
    sky = frames.galactocentric_to_sky(np.array([-8.27, -12.0, -10.5]), np.zeros(3), np.array([3.0, 0.029, 1.5]))
    ra, dec = sky[0], sky[1]
    u, u_err = np.full(3, 0.25), np.full(3, 0.06)
    moments = ld.posterior_moments(prior, ra, dec, ld.DistanceMeasure(u, u_err, ld.PARALLAX))
    for i in range(3):
        R, absZ = _posterior_draws(prior, ra[i], dec[i], u[i], u_err[i], rng)
        assert moments["R"][i] == pytest.approx(R.mean(), abs=0.02 + 0.02 * R.std())
        assert moments["absZ"][i] == pytest.approx(absZ.mean(), abs=0.02 + 0.02 * absZ.std())
        assert moments["R_err"][i] == pytest.approx(R.std(), rel=0.05, abs=0.005)
        assert moments["absZ_err"][i] == pytest.approx(absZ.std(), rel=0.05, abs=0.005)
        covariance = np.cov(R, absZ)[0, 1]
        assert moments["R_absZ_cov"][i] == pytest.approx(covariance, abs=0.05 * R.std() * absZ.std() + 1e-9)
    # one distance error moves R and Z together: at the pole only |Z| is uncertain, in the plane only R
    assert moments["R_err"][0] < 0.05 * moments["absZ_err"][0]
    assert moments["absZ_err"][1] < 0.05 * moments["R_err"][1]
    assert 0.3 < moments["absZ_err"][2] / moments["R_err"][2] < 3.0
    # in between, a star further away is both further out and higher up: R and |Z| move together
    assert moments["R_absZ_cov"][2] > 0.9 * moments["R_err"][2] * moments["absZ_err"][2]


@pytest.mark.parametrize("has_parallax", [True, False])
def test_posterior_moments_cover_the_truth_with_parallaxes_or_distance_percentiles_only(gaia_mock, has_parallax):
    catalog, truth = gaia_mock.catalog, gaia_mock.truth
    table = pd.DataFrame({"parallax": catalog["parallax"], "parallax_error": catalog["parallax_error"],
                          "distance": catalog["r_med_geo"] / 1000, "distance_lo": catalog["r_lo_geo"] / 1000,
                          "distance_hi": catalog["r_hi_geo"] / 1000})
    measure = ld.distance_measure(table, has_parallax)
    assert measure.kind == (ld.PARALLAX if has_parallax else ld.LOG_DISTANCE)
    keys = catalog["source_id"].to_numpy().view(np.uint64)
    prior = ld.fit_prior(ld.prior_sample(keys, catalog["ra"], catalog["dec"], measure), measure.kind)
    moments = ld.posterior_moments(prior, catalog["ra"], catalog["dec"], measure)
    precise = (catalog["parallax"] > 0) & (catalog["parallax_error"] < 0.3 * catalog["parallax"])
    precise &= np.isfinite(moments["R"]).to_numpy()
    for name, true in (("R", truth["R"]), ("absZ", truth["Z"].abs())):
        pull = ((true - moments[name]) / moments[f"{name}_err"])[precise]
        assert abs(pull.mean()) < 0.1, (name, pull.mean())
        assert 0.85 < pull.std() < 1.2, (name, pull.std())
    assert (moments["data_weight"][precise] > 0).all() and (moments["data_weight"][precise] <= 1 + 1e-9).all()


def test_the_prior_subsample_does_not_depend_on_how_the_stars_are_split():
    rng = np.random.default_rng(1)
    n = 3_000
    keys, cells = rng.integers(0, 2**62, n).astype(np.uint64), rng.integers(0, ld.N_CELLS, n)
    u, u_err = rng.normal(1.0, 0.3, n), rng.uniform(0.05, 0.1, n)
    whole = ld.PriorSample.of(keys, cells, u, u_err)
    order = rng.permutation(n)
    pieces = [ld.PriorSample.of(keys[i], cells[i], u[i], u_err[i]) for i in np.array_split(order, 4)]
    merged = pieces[0].merge(pieces[1]).merge(pieces[2].merge(pieces[3]))
    for name in ("order", "cell", "u", "u_err", "counts"):
        assert np.array_equal(getattr(merged, name), getattr(whole, name)), name


def test_a_sparse_sky_cell_borrows_its_coarse_cells_prior_before_the_all_sky_one():
    """Near the plane the cells are narrow; one with too few stars takes the pooled stars of its coarse cell
    (same quadrant, the wider latitude band), and only a cell whose coarse cell is sparse too takes the sky's."""
    rng = np.random.default_rng(3)
    band = np.digitize(0.7, ld.B_EDGES) - 1  # 0 < b < 1.5 deg, quadrant 0
    sparse = band * ld.N_LONGITUDES
    coarse = ld.coarse_cells()
    siblings = [c for c in np.flatnonzero(coarse == coarse[sparse]) if c != sparse]
    assert len(siblings) >= 2 and np.all(coarse[siblings] == coarse[sparse])
    far = 1  # the highest southern band, another quadrant: nearby stars only
    cells = np.concatenate([np.full(100, sparse), np.repeat(siblings, 2_000), np.full(5_000, far)])
    u = np.where(cells == far, rng.normal(0.5, 0.1, cells.size), rng.normal(2.0, 0.2, cells.size))
    u_err = rng.uniform(0.05, 0.1, cells.size)
    keys = rng.integers(0, 2**62, cells.size).astype(np.uint64)
    prior = ld.fit_prior(ld.PriorSample.of(keys, cells, u, u_err), ld.PARALLAX)

    def mean_u(cell: int) -> np.ndarray:
        return np.sum(prior.weights[cell] * prior.means[cell], axis=-1)  # per error class

    assert not prior.own[sparse] and prior.own[siblings].all() and prior.own[far]
    assert np.allclose(mean_u(sparse), 2.0, atol=0.05)  # the coarse cell's stars, not the sky's
    empty = 0  # a cell whose coarse cell holds no stars at all
    assert not np.isin(cells, np.flatnonzero(coarse == coarse[empty])).any() and not prior.own[empty]
    assert np.all((mean_u(empty) > 0.8) & (mean_u(empty) < 1.8))  # the whole sky's mixture


def test_simex_noise_is_each_stars_own_and_standard_normal():
    keys = np.arange(100_000, dtype=np.uint64) * np.uint64(7919)
    draws = simex.noise(keys, np.uint64(42), 3)
    assert abs(draws.mean()) < 0.02 and abs(draws.std() - 1) < 0.02
    assert np.array_equal(simex.noise(keys[::-1], np.uint64(42), 3), draws[::-1])
    assert not np.allclose(simex.noise(keys, np.uint64(42), 4), draws)


def test_simex_extrapolates_a_quadratic_in_zeta_to_minus_one():
    x = np.linspace(0.0, 2.0, 50)
    hi = np.zeros((1, len(simex.levels()), jackknife.N_GROUPS, simex.MOMENTS))
    for level, (zeta, _) in enumerate(simex.levels()):
        slope = 1.0 - 0.2 * zeta + 0.01 * zeta**2
        for g in range(jackknife.N_GROUPS):
            y = slope * x + 0.3 + g
            hi[0, level, g] = [x.size, x.sum(), y.sum(), (x * x).sum(), (x * y).sum(), (y * y).sum()]
    [result] = simex.estimate(simex.SimexSums(hi, np.zeros_like(hi)))
    assert result.m == pytest.approx(1.21, abs=1e-9)
    assert result.naive == pytest.approx(1.0, abs=1e-12)
    assert result.m_err == pytest.approx(0.0, abs=1e-9)  # every group has the same slope: no jackknife spread


def test_simex_jackknife_error_matches_the_spread_of_independent_realisations():
    """Naive slopes of a noisy line in a bin cut on the noisy x: the jackknife error is the scatter across
    realisations within a third, and the estimate is nearer the truth than the naive slope on average."""
    rng = np.random.default_rng(2)
    estimates = []
    for realisation in range(6):
        n = 20_000
        d = rng.uniform(0.3, 1.5, n)
        ra, dec = frames.galactocentric_to_sky(np.full(n, -8.27), np.zeros(n), np.full(n, 1.0))[:2]
        u_err = np.full(n, 0.125)
        u = 1.0 / d + rng.normal(0.0, u_err)
        # towards the north Galactic pole: a line in the true |Z| ~ d; every star's R is near 8.27 kpc, in the ring
        feh = -0.3 * d + rng.normal(0.0, 0.05, n)
        [sums] = simex.simex_sums(np.arange(n, dtype=np.uint64) + np.uint64(realisation * n), ra, dec,
                                  ld.DistanceMeasure(u, u_err, ld.PARALLAX), feh,
                                  (gradients.vertical_binning((8.0, 8.6), None),), np.uint64(realisation))
        estimates.extend(simex.estimate(sums))
    slopes = np.array([e.m for e in estimates])
    errors = np.array([e.m_err for e in estimates])
    naive = np.array([e.naive for e in estimates])
    assert np.abs(slopes.mean() + 0.3) < np.abs(naive.mean() + 0.3)
    assert 0.5 < errors.mean() / slopes.std(ddof=1) < 2.0, (errors, slopes)
