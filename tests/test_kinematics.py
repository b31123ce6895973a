import astropy.coordinates as coord
import astropy.units as u
import numpy as np
import pandas as pd
import pytest

from helpers import canonical

from galchem import cli
from galchem.physics import kinematics
from galchem.physics import membership
from galchem.conventions import galactocentric_frame
from galchem.physics.frames import wrap_angle
from galchem.data.surveys import load_survey
from galchem.data.cuts import cut_flow
from galchem.data.sources import load_mock
from galchem.physics.kinematics import QUANTITIES, Observed, propagate
from galchem.data.mock import make_mock
from galchem.run.config import RunConfig
from galchem.run.stages import SAMPLE_COLUMNS, kinematic_sample


def passed_cuts(n_mock: int, n: int) -> Observed:
    """The first ``n`` stars of a LAMOST mock of ``n_mock`` rows that passed the quality cuts."""
    catalog = cut_flow(canonical(make_mock("lamost", n_mock, seed=11).catalog), load_survey("lamost")).table
    assert len(catalog) >= n
    return Observed.from_catalog(catalog.iloc[:n])


@pytest.fixture(scope="module")
def observed_100k():
    """100 000 LAMOST-like stars that passed the quality cuts."""
    return passed_cuts(260_000, 100_000)


@pytest.fixture(scope="module")
def observed():
    """3 000 LAMOST-like stars that passed the quality cuts: enough for the tests of the Monte Carlo itself."""
    return passed_cuts(9_000, 3_000)


def subset(observed: Observed, n: int) -> Observed:
    return Observed(*(a[:n] for a in observed))


@pytest.mark.slow  # a 260 000-row mock and astropy on 100 000 stars
def test_values_equal_astropy_on_100k_stars(observed_100k):
    star = coord.SkyCoord(
        ra=observed_100k.ra * u.deg, dec=observed_100k.dec * u.deg, distance=observed_100k.r_med * u.kpc,
        pm_ra_cosdec=observed_100k.pmra * u.mas / u.yr, pm_dec=observed_100k.pmdec * u.mas / u.yr,
        radial_velocity=observed_100k.rv * u.km / u.s,
    ).transform_to(galactocentric_frame())
    ours = propagate(observed_100k, n_mc=2, seed=0).value
    for i, (name, unit) in enumerate(zip(("x", "y", "z"), (u.kpc,) * 3)):
        np.testing.assert_allclose(ours[:, i], getattr(star, name).to_value(unit), rtol=0, atol=1e-6)
    for i, name in zip((5, 6, 7), ("v_x", "v_y", "v_z")):
        np.testing.assert_allclose(ours[:, i], getattr(star, name).to_value(u.km / u.s), rtol=0, atol=1e-6)
    cylinder = star.represent_as(coord.CylindricalRepresentation)
    np.testing.assert_allclose(ours[:, 3], cylinder.rho.to_value(u.kpc), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours[:, 4], cylinder.phi.wrap_at(360 * u.deg).to_value(u.rad), rtol=0, atol=1e-9)


def test_monte_carlo_converges_to_the_noise_free_transform(observed):
    small = subset(observed, 2000)
    exact = propagate(small, n_mc=2, seed=0).value
    worst = []
    for shrink in (1e-1, 1e-2, 1e-3):
        noisy = small._replace(
            r_lo=small.r_med - shrink * (small.r_med - small.r_lo),
            r_hi=small.r_med + shrink * (small.r_hi - small.r_med),
            pmra_err=shrink * small.pmra_err, pmdec_err=shrink * small.pmdec_err, rv_err=shrink * small.rv_err,
        )
        result = propagate(noisy, n_mc=500, seed=1)
        offset = result.mean - exact
        offset[:, 4] = wrap_angle(offset[:, 4])
        # the split normal's mean lies off its median, but well within the spread
        assert np.all(np.abs(offset) <= result.std)
        worst.append(np.abs(offset).max(axis=0))
    assert np.all(worst[1] < 0.15 * worst[0]) and np.all(worst[2] < 0.15 * worst[1])
    assert np.all(worst[2][[0, 1, 2, 3]] < 1e-3) and worst[2][4] < 1e-4 and np.all(worst[2][5:] < 1e-1)  # kpc, rad, km/s


def test_uncertainties_match_drawing_every_observable(observed):
    small = subset(observed, 400)
    fast = propagate(small, n_mc=2000, seed=2)
    slow = kinematics.brute_force(small, n_mc=2000, seed=3)
    np.testing.assert_allclose(fast.value, slow.value, rtol=1e-12, atol=1e-12)
    ratio = fast.std / slow.std
    # each sigma from 2000 draws is uncertain by ~1.6 %; over 400 stars the mean ratio by < 0.2 %
    assert np.all(np.abs(ratio.mean(axis=0) - 1) < 0.01), dict(zip(QUANTITIES, ratio.mean(axis=0)))
    assert np.all(np.abs(ratio - 1) < 0.12)
    # the velocity covariances, as correlation coefficients (each uncertain by ~0.02 from 2000 draws)
    pairs = ((8, 9), (8, 10), (9, 10))  # vR vphi, vR vz, vphi vz
    fast_rho = np.stack([fast.velocity_cov[:, k] / (fast.std[:, i] * fast.std[:, j]) for k, (i, j) in enumerate(pairs)], 1)
    slow_rho = np.stack([slow.velocity_cov[:, k] / (slow.std[:, i] * slow.std[:, j]) for k, (i, j) in enumerate(pairs)], 1)
    assert np.all(np.abs(fast_rho) <= 1 + 1e-9)
    assert np.all(np.abs(np.mean(fast_rho - slow_rho, axis=0)) < 0.01) and np.all(np.abs(fast_rho - slow_rho) < 0.15)


def test_first_order_errors_agree_when_errors_are_small(observed):
    small = subset(observed, 2000)
    precise = (small.r_hi - small.r_lo) / small.r_med < 0.1
    mc = propagate(small, n_mc=4000, seed=4).std[precise]
    linear = kinematics.linear_errors(small)[precise]
    assert precise.sum() > 200
    assert np.all(np.abs(np.median(linear / mc, axis=0) - 1) < 0.02)


def test_same_seed_same_numbers_and_chunks_are_independent(observed, monkeypatch):
    small = subset(observed, 3000)
    first = propagate(small, n_mc=50, seed=9)
    np.testing.assert_array_equal(first.std, propagate(small, n_mc=50, seed=9).std)
    assert not np.array_equal(first.std, propagate(small, n_mc=50, seed=10).std)
    monkeypatch.setattr(kinematics, "CHUNK", 1000)  # three chunks, three streams: still reproducible
    np.testing.assert_array_equal(propagate(small, n_mc=50, seed=9).std, propagate(small, n_mc=50, seed=9).std)


def test_membership_sums_to_one_and_matches_hand_computation():
    U = np.array([0.0, 50.0, -30.0, 200.0])
    V = np.array([-15.0, -60.0, -40.0, -250.0])
    W = np.array([0.0, 30.0, -50.0, 100.0])
    probs = membership.probabilities(U, V, W)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)

    def gaussian(u, v, w, x, su, sv, sw, va):
        k = 1.0 / ((2 * np.pi) ** 1.5 * su * sv * sw)
        return x * k * np.exp(-u**2 / (2 * su**2) - (v - va) ** 2 / (2 * sv**2) - w**2 / (2 * sw**2))

    for i in range(len(U)):
        f = [gaussian(U[i], V[i], W[i], 0.94, 35, 20, 16, -15), gaussian(U[i], V[i], W[i], 0.06, 67, 38, 35, -46),
             gaussian(U[i], V[i], W[i], 0.0015, 160, 90, 90, -220)]
        np.testing.assert_allclose(probs.iloc[i].to_numpy(), np.array(f) / sum(f), rtol=1e-10)
    assert probs["p_thin"].iloc[0] > 0.95 and probs["p_halo"].iloc[3] > 0.99


def test_error_aware_membership_convolves_each_ellipsoid_with_the_errors():
    from scipy.stats import multivariate_normal

    U, V, W = np.array([40.0, -80.0]), np.array([-60.0, -150.0]), np.array([30.0, 70.0])
    none = np.zeros((2, 6))
    np.testing.assert_allclose(membership.probabilities(U, V, W, covariance=none), membership.probabilities(U, V, W),
                               rtol=1e-12)
    errors = np.array([[900.0, 400.0, 100.0, 300.0, -50.0, 80.0], [2500.0, 1600.0, 400.0, -900.0, 200.0, 100.0]])
    got = membership.probabilities(U, V, W, covariance=errors).to_numpy()
    for k in range(2):
        uu, vv, ww, uv, uw, vw = errors[k]
        error = np.array([[uu, uv, uw], [uv, vv, vw], [uw, vw, ww]])
        weights = np.array([e.fraction * multivariate_normal(
            [0.0, e.v_asym, 0.0], np.diag([e.sigma_u, e.sigma_v, e.sigma_w]) ** 2 + error).pdf([U[k], V[k], W[k]])
            for e in membership.BENSBY2003])
        np.testing.assert_allclose(got[k], weights / weights.sum(), rtol=1e-10)
    assert got[1, 2] < membership.probabilities(U, V, W).to_numpy()[1, 2]  # a poorly measured star is less "halo"


def test_velocity_errors_keep_disk_stars_on_the_disk_side_of_the_halo_line():
    """Proper motions 5 mas/yr off (as in some real catalogues): the point rule calls many disk stars halo."""
    dataset = load_mock("lamost", 60_000, seed=6)
    rng = np.random.default_rng(0)
    catalog = dataset.catalog.copy()
    for name in ("pmra", "pmdec"):
        catalog[name] += rng.normal(0.0, 5.0, len(catalog))
        catalog[f"{name}_error"] = np.hypot(catalog[f"{name}_error"], 5.0)
    noisy = dataset.with_catalog(catalog, "proper motions 5 mas/yr worse")
    truth = dataset.truth.set_index("source_id")["population"]
    removed = {}
    for rule in ("point", "errors"):
        result = kinematic_sample(noisy, RunConfig(n_mc=50, seed=0, halo_rule=rule, correction="none"))
        population = truth.loc[result.candidates["id"]].to_numpy()
        gone = result.candidates["p_halo"].to_numpy() >= membership.HALO_LIMIT
        removed[rule] = {"thin": int(np.sum(gone & (population == "thin"))), "halo": np.mean(gone[population == "halo"])}
        assert result.flow["removed"].iloc[-1] == gone.sum()
    assert removed["point"]["thin"] > 5 * removed["errors"]["thin"], removed
    assert removed["errors"]["halo"] > 0.5, removed  # the halo stars are still caught
    crossings = membership.halo_crossings(result.candidates)
    assert crossings.loc["point estimate", "stars"] == (crossings.loc["both", "stars"]
                                                        + crossings.loc["point estimate only", "stars"])
    assert crossings.loc["with velocity errors", "stars"] == removed["errors"]["thin"] + np.sum(
        (result.candidates["p_halo"].to_numpy() >= membership.HALO_LIMIT)
        & (truth.loc[result.candidates["id"]].to_numpy() != "thin"))


def test_the_sun_is_a_thin_disk_star():
    U, V, W = membership.lsr_velocities(-12.9, 245.0, 7.78)
    assert (U, V, W) == pytest.approx((12.9, 12.24, 7.78))
    assert membership.membership(-12.9, 245.0, 7.78)["p_thin"].iloc[0] > 0.95


@pytest.mark.slow  # 120 000 stars: enough halo stars to count
def test_halo_cut_removes_mostly_mock_halo_stars():
    dataset = load_mock("lamost", 120_000, seed=5)
    result = kinematic_sample(dataset, RunConfig(n_mc=100, seed=0, correction="none"))
    truth = dataset.truth.set_index("source_id")["population"]
    population = truth.loc[result.candidates["id"]].to_numpy()
    removed = result.candidates["p_halo"].to_numpy() >= membership.HALO_LIMIT
    assert removed.sum() > 50
    assert np.mean(population[removed] == "halo") > 0.5
    assert np.mean(removed[population == "halo"]) > 0.8  # most mock halo stars are caught
    assert np.mean(population[~removed] == "thin") > 0.95
    assert result.flow["cut"].iloc[-1] == "halo"
    assert result.flow["remaining"].iloc[-1] == len(result.sample)


def test_cli_analyse_writes_the_tables(tmp_path, capsys):
    catalog = tmp_path / "cat.parquet"
    assert cli.main(["mock", "--survey", "gaia", "--mock-stars", "6000", "--mock-seed", "4", "--out", str(catalog)]) == 0
    out = tmp_path / "results"
    assert cli.main(["analyse", "--survey", "gaia", "--catalog", str(catalog), "--out", str(out),
                     "--n-mc", "50", "--n-steps", "60", "--max-steps", "60", "--n-permutations", "20"]) == 0  # short chains and tests: this checks the kinematic tables
    flow = pd.read_csv(out / "cutflow.csv")
    sample = pd.read_parquet(out / "sample")
    assert list(flow.columns) == ["cut", "removed", "remaining"]
    assert list(sample.columns) == list(SAMPLE_COLUMNS)
    assert list(SAMPLE_COLUMNS[-3:]) == ["vR_vphi_cov", "vR_vz_cov", "vphi_vz_cov"]
    assert flow["remaining"].iloc[-1] == len(sample) > 1000
    assert (flow["removed"].iloc[1:].to_numpy() == -np.diff(flow["remaining"])).all()
    assert (sample[[f"{q}_err" for q in QUANTITIES]] > 0).all().all()


def test_cli_analyse_bad_input_is_one_line(tmp_path, capsys, lamost_mock):
    broken = tmp_path / "broken.parquet"
    lamost_mock.catalog.drop(columns=["rv_err"]).to_parquet(broken)
    assert cli.main(["analyse", "--survey", "lamost", "--catalog", str(broken), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rv_err" in err and "broken.parquet" in err
    assert not (tmp_path / "o").exists()
