import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from galchem.analysis.near_plane import AzimuthalTests

from galchem.analysis import azimuthal as az
from galchem.analysis import radial_spline
from galchem import cli
from galchem.data.sources import load_mock
from galchem.run.config import RunConfig
from galchem.run.stages import kinematic_sample
from galchem.analysis.arms import REID2014
from galchem.report.truth import injected_azimuthal

STUDY = RunConfig()
"""The study's settings, as the tests' functions take them."""


def near_plane(dataset, n_mc=20, seed=0):
    sample = kinematic_sample(dataset, RunConfig(n_mc=n_mc, seed=seed, correction="none")).sample  # no distance prior
    return sample.loc[sample["Z"].abs() < 0.3].reset_index(drop=True)


def observed_and_injected_means(dataset, stars):
    """Observed and injected ⟨δ[Fe/H]⟩(φ) of the same stars, on the same bins."""
    edges = az.phi_edges(stars["phi"], STUDY.phi_bin_deg)
    delta = az.delta_from_ring_mean(stars["R"], stars["feh"], STUDY.ring_width)
    injected, _, _ = injected_azimuthal(dataset, stars, edges, ring_width=STUDY.ring_width, annuli=STUDY.annuli)
    return edges, delta, az.azimuthal_means(stars, delta, edges, STUDY.annuli), injected


@pytest.mark.slow  # 200 000 stars: a detection
def test_azimuthal_means_follow_an_injected_pattern_and_the_test_detects_it():
    # The default mock's ridge runs along the Local arm through the 7-9 kpc annulus, where averaging
    # over 2 kpc in R cancels most of its azimuthal slope (chapter 05 shows this).  Here the pattern
    # is turned by a quarter period and set to 0.15 dex, the upper end of the study's 0.05-0.20 dex,
    # so that both annuli of Figure 6 carry a signal the test can be asked to recover.
    dataset = load_mock("lamost", 200_000, seed=2, azimuthal_amplitude=0.15, ridge_beta=-13.6)
    stars = near_plane(dataset, seed=2)
    edges, delta, observed, injected = observed_and_injected_means(dataset, stars)
    assert list(observed.columns) == az.MEANS_COLUMNS
    for r_lo, _ in STUDY.annuli:
        a = observed.loc[observed["r_lo"] == r_lo, "mean_delta"]
        b = injected.loc[injected["r_lo"] == r_lo, "mean_delta"]
        ok = a.notna() & b.notna()
        assert ok.sum() >= 8
        assert np.corrcoef(a[ok], b[ok])[0, 1] >= 0.7
    assert az.permutation_test(stars, delta, edges, n_permutations=300, seed=1, annuli=STUDY.annuli).p_value < 0.01


@pytest.mark.slow  # ten 60 000-star mocks: a false-positive rate
def test_no_pattern_no_detection_in_nine_of_ten_seeds():
    passes = 0
    for seed in range(10):
        stars = near_plane(load_mock("lamost", 60_000, seed=100 + seed, azimuthal_amplitude=0.0), seed=seed)
        delta = az.delta_from_ring_mean(stars["R"], stars["feh"], STUDY.ring_width)
        test = az.permutation_test(stars, delta, az.phi_edges(stars["phi"], STUDY.phi_bin_deg), n_permutations=200, seed=seed, annuli=STUDY.annuli)
        passes += test.p_value > 0.01
    assert passes >= 9


@pytest.mark.slow  # 120 000 stars: a contrast of a few errors
def test_arm_contrast_recovers_the_injected_one():
    dataset = load_mock("lamost", 120_000, seed=1)  # ridge along the Local arm
    stars = near_plane(dataset, seed=1)
    residual = az.residual_from_fit(stars, -0.08, 0.48)
    groups = az.arm_groups(stars)
    measured = az.arm_contrast(groups, residual)
    pattern = dataset.truth.set_index("source_id").loc[stars["id"], "feh_azimuthal"].to_numpy()
    injected = az.arm_contrast(groups, pattern)
    assert injected.contrast > 0.005
    assert measured.contrast > 2 * measured.error
    assert abs(measured.contrast - injected.contrast) < 3 * measured.error


def synthetic_stars(n: int, seed: int, amplitude: float = 0.0) -> pd.DataFrame:
    """Stars in the annuli over 40 degrees of azimuth: a radial and a vertical gradient, Gaussian scatter, and
    ``amplitude`` times a wave in φ (two periods over the footprint)."""
    rng = np.random.default_rng(seed)
    R, phi, Z = rng.uniform(7.0, 11.0, n), rng.uniform(2.8, 3.5, n), rng.uniform(-0.3, 0.3, n)
    feh = (-0.07 * R - 0.2 * np.abs(Z) + amplitude * np.sin(2 * np.pi * (phi - 2.8) / 0.35)
           + rng.normal(0.0, 0.2, n))
    return pd.DataFrame({"R": R, "phi": phi, "Z": Z, "feh": feh})


def shuffle_test(stars: pd.DataFrame, n_permutations: int = 199, seed: int = 0) -> az.PermutationTest:
    delta = az.delta_from_ring_mean(stars["R"], stars["feh"], STUDY.ring_width)
    edges = az.phi_edges(stars["phi"], STUDY.phi_bin_deg)
    return az.permutation_test(stars, delta, edges, n_permutations=n_permutations, seed=seed, annuli=STUDY.annuli)


def test_observed_statistic_is_the_weighted_variance_of_the_binned_means():
    stars = synthetic_stars(20_000, seed=3, amplitude=0.02)
    delta = az.delta_from_ring_mean(stars["R"], stars["feh"], STUDY.ring_width)
    edges = az.phi_edges(stars["phi"], STUDY.phi_bin_deg)
    expected = 0.0
    for r_lo, r_hi in STUDY.annuli:
        ring = stars["R"].between(r_lo, r_hi, inclusive="left").to_numpy()
        index = np.digitize(stars["phi"].to_numpy()[ring], edges) - 1
        n = np.array([np.sum(index == b) for b in range(len(edges) - 1)])
        means = np.array([delta[ring][index == b].mean() if n[b] else 0.0 for b in range(len(edges) - 1)])
        used = n >= az.MIN_PER_BIN
        centre = np.average(means[used], weights=n[used])
        expected += np.average((means[used] - centre) ** 2, weights=n[used])
    ring = np.select([stars["R"].between(lo, hi, inclusive="left") for lo, hi in STUDY.annuli], [0, 1], -1)
    assert az.means_variance(stars["phi"].to_numpy(), delta, ring, edges) == pytest.approx(expected, rel=1e-12)
    assert shuffle_test(stars, n_permutations=5).observed == pytest.approx(expected, rel=1e-12)


def test_null_distribution_does_not_depend_on_the_thread_count():
    numba = pytest.importorskip("numba")
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one thread only")
    stars, threads = synthetic_stars(20_000, seed=4), numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = shuffle_test(stars, n_permutations=64, seed=9).null
        numba.set_num_threads(2)
        two = shuffle_test(stars, n_permutations=64, seed=9).null
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(one, two)
    assert not np.array_equal(one, shuffle_test(stars, n_permutations=64, seed=10).null)  # the seed does matter
    assert np.unique(one).size == one.size  # every shuffle draws its own permutation


def test_shuffles_stay_within_cells_of_r_and_z():
    """A residual that depends only on the star's cell of R and |Z| is unchanged by any shuffle."""
    stars = synthetic_stars(20_000, seed=5)
    cell_value = np.sin(np.floor(stars["R"] / 0.2) * 1.3 + np.floor(stars["Z"].abs() / 0.1) * 0.7).to_numpy()
    edges = az.phi_edges(stars["phi"], STUDY.phi_bin_deg)
    test = az.permutation_test(stars, cell_value, edges, n_permutations=20, seed=0, annuli=STUDY.annuli)
    np.testing.assert_allclose(test.null, test.observed, rtol=1e-9)


def test_a_strong_signal_is_detected_and_no_signal_gives_uniform_p_values():
    assert shuffle_test(synthetic_stars(20_000, seed=6, amplitude=0.05)).p_value < 0.01
    p_values = np.array([shuffle_test(synthetic_stars(4_000, seed=1000 + s), n_permutations=99, seed=s).p_value
                         for s in range(150)])  # an exact test: uniform on 0.01, 0.02, ..., 1
    assert stats.kstest(p_values, "uniform").pvalue > 0.001
    assert np.mean(p_values <= 0.05) < 0.12


def test_closed_form_error_of_the_arm_contrast_matches_a_bootstrap():
    stars = synthetic_stars(20_000, seed=7)
    stars["phi"] = np.random.default_rng(7).uniform(np.pi - 0.3, np.pi + 0.1, len(stars))  # where the arms are traced
    groups = az.arm_groups(stars)
    result = az.arm_contrast(groups, stars["feh"].to_numpy())
    arm = stars["feh"].to_numpy()[groups.traced & groups.inside]
    between = stars["feh"].to_numpy()[groups.traced & ~groups.inside]
    assert result.n_arm == arm.size and result.n_between == between.size and min(arm.size, between.size) > 1000
    assert result.contrast == pytest.approx(arm.mean() - between.mean(), rel=1e-12)
    rng = np.random.default_rng(0)
    boots = [rng.choice(arm, arm.size).mean() - rng.choice(between, between.size).mean() for _ in range(2000)]
    assert result.error == pytest.approx(np.std(boots, ddof=1), rel=0.08)


def test_ring_mean_matches_brute_force():
    rng = np.random.default_rng(0)
    R, feh = rng.uniform(7, 11, 500), rng.normal(0, 0.2, 500)
    brute = np.array([f - feh[np.abs(R - r) <= 0.2].mean() for r, f in zip(R, feh)])
    np.testing.assert_allclose(az.delta_from_ring_mean(R, feh, 0.2), brute, atol=1e-12)


def test_arm_membership_follows_the_reid_arms():
    arms = {a.name: a for a in REID2014}
    beta = np.array([0.0, 10.0, 20.0])
    phi = np.pi - np.deg2rad(beta)
    on = arms["Local"].radius(beta)
    assert az.in_arm(on, phi).all()
    assert az.in_arm(on + 0.45 * arms["Local"].width, phi).all()
    between = 0.5 * (on + arms["Perseus"].radius(beta))  # an inter-arm region
    assert not az.in_arm(between, phi).any()
    assert not az.in_arm(on, phi + np.pi).any()  # the far side of the Galaxy has no traced arm here


def test_cli_writes_azimuthal_tables(tmp_path):
    out = tmp_path / "results"
    settings = tmp_path / "short.toml"
    settings.write_text("[run]\nn_mc = 20\nn_steps = 60\nmax_steps = 60\nn_permutations = 50\nmock_stars = 12000\n")
    assert cli.main(["analyse", "--config", str(settings), "--out", str(out)]) == 0
    table = pd.read_csv(out / "azimuthal.csv")
    assert list(table.columns) == ["r_lo", "r_hi", "phi_lo", "phi_hi", "phi_center", "n", "mean_delta", "sem",
                                   "mean_residual_spline", "sem_residual_spline"]
    assert set(zip(table["r_lo"], table["r_hi"])) == {(7.0, 9.0), (9.0, 11.0)}
    tests = json.loads((out / "azimuthal_tests.json").read_text())
    assert list(tests) == list(AzimuthalTests.__dataclass_fields__)  # one shape, computed or not
    assert 0 < tests["p_value"] <= 1
    assert {"arm_contrast", "arm_contrast_err", "arm_contrast_ring", "arm_contrast_ring_err", "arm_contrast_spline",
            "arm_contrast_spline_err"} <= set(tests)
    assert tests["arm_contrast_spline_status"] == "computed" and tests["arm_contrast_spline_err"] > 0


def arm_pattern(R, phi, amplitude=0.05):
    """[Fe/H] raised by ``amplitude`` along the centre of every Reid et al. (2014) arm, a Gaussian of its half width."""
    beta = (np.rad2deg(np.pi - phi) + 180.0) % 360.0 - 180.0
    pattern = np.zeros_like(R)
    for arm in REID2014:
        traced = (beta >= arm.beta_range[0]) & (beta <= arm.beta_range[1])
        pattern += np.where(traced, amplitude * np.exp(-0.5 * ((R - arm.radius(beta)) / (arm.width / 2)) ** 2), 0.0)
    return pattern


def test_flexible_spline_keeps_a_curved_radial_trend_out_of_the_arm_contrast():
    """Stars within 4 kpc of the Sun, [Fe/H] curved in R plus metal-rich arms: the straight line's misfit
    swamps the arm contrast; against the P-spline it is recovered.  Its counterpart is the injected
    pattern seen through the same smoother (same knots and penalties): what a radial spline can tell apart."""
    rng = np.random.default_rng(0)
    n = 40_000
    s, angle = 4.0 * np.sqrt(rng.uniform(size=n)), rng.uniform(0.0, 2 * np.pi, n)
    X, Y = -8.27 + s * np.cos(angle), s * np.sin(angle)
    R, phi = np.hypot(X, Y), np.arctan2(Y, X) % (2 * np.pi)
    pattern = arm_pattern(R, phi)
    feh = -0.075 * (R - 8.27) + 0.02 * (R - 8.27) ** 2 + pattern + 0.15 * rng.normal(size=n)
    stars = pd.DataFrame({"R": R, "phi": phi, "Z": rng.uniform(-0.3, 0.3, n), "feh": feh})
    edges = (0.0, 0.2, 0.3)
    residual, slices = radial_spline.spline_residuals(stars, edges)
    assert list(slices.columns) == radial_spline.SPLINE_COLUMNS and np.isfinite(residual).all()
    seen, _ = radial_spline.spline_residuals(stars, edges, values=pattern, smoothing=slices["smoothing"])
    groups = az.arm_groups(stars)
    against_spline = az.arm_contrast(groups, residual)
    injected = az.arm_contrast(groups, seen).contrast
    assert injected > 10 * against_spline.error  # a pattern the data can see
    assert abs(against_spline.contrast - injected) < 3 * against_spline.error
    m, b = np.polyfit(R, feh, 1)
    against_line = az.arm_contrast(groups, az.residual_from_fit(stars, m, b))
    line_injected = az.arm_contrast(groups, pattern - np.polyval(np.polyfit(R, pattern, 1), R)).contrast
    assert abs(against_line.contrast - line_injected) > 5 * against_line.error


def test_spline_is_a_line_for_a_line_and_follows_a_curve():
    rng = np.random.default_rng(1)
    R = rng.uniform(6.0, 13.0, 20_000)
    grid = np.linspace(6.5, 12.5, 13)
    feh = -0.07 * R + 0.15 * rng.normal(size=R.size)
    line = radial_spline.fit_spline(R, feh)
    np.testing.assert_allclose(line(grid), -0.07 * grid, atol=0.01)
    stiff = radial_spline.fit_spline(R, feh, smoothing=1e8)  # a large penalty leaves the straight line it contains
    assert stiff.effective_parameters == pytest.approx(2.0, abs=0.01)
    np.testing.assert_allclose(stiff(grid), np.polyval(np.polyfit(R, feh, 1), grid), atol=1e-4)
    curve = radial_spline.fit_spline(R, 0.03 * (R - 9.0) ** 2 + 0.15 * rng.normal(size=R.size))
    np.testing.assert_allclose(curve(grid), 0.03 * (grid - 9.0) ** 2, atol=0.015)


def test_a_slice_whose_stars_share_one_radius_gets_no_spline():
    rng = np.random.default_rng(1)
    stars = pd.DataFrame({"R": np.full(30, 8.0), "Z": np.zeros(30), "feh": rng.normal(0, 0.1, 30)})
    residual, slices = radial_spline.spline_residuals(stars, (0.0, 0.3))
    assert np.isnan(residual).all() and np.isnan(slices["smoothing"].iloc[0])
