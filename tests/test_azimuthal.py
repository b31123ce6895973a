import json

import numpy as np
import pandas as pd

from galchem.analysis import azimuthal as az
from galchem import cli
from galchem.data.sources import load_mock
from galchem.run.config import RunConfig
from galchem.run.stages import kinematic_sample
from galchem.analysis.arms import REID2014
from galchem.report.truth import injected_azimuthal


def near_plane(dataset, n_mc=20, seed=0):
    sample = kinematic_sample(dataset, RunConfig(n_mc=n_mc, seed=seed)).sample
    return sample.loc[sample["Z"].abs() < 0.3].reset_index(drop=True)


def profiles(dataset, stars):
    """Observed and injected ⟨δ[Fe/H]⟩(φ) of the same stars, on the same bins."""
    edges = az.phi_edges(stars["phi"])
    delta = az.delta_from_ring_mean(stars["R"], stars["feh"])
    injected, _, _ = injected_azimuthal(dataset, stars, edges)
    return edges, delta, az.azimuthal_profile(stars, delta, edges), injected


def test_profile_follows_an_injected_pattern_and_the_test_detects_it():
    # The default mock's ridge runs along the Local arm through the 7-9 kpc annulus, where averaging
    # over 2 kpc in R cancels most of its azimuthal slope (chapter 05 shows this).  Here the pattern
    # is turned by a quarter period and set to 0.15 dex, the upper end of the study's 0.05-0.20 dex,
    # so that both annuli of Figure 6 carry a signal the test can be asked to recover.
    dataset = load_mock("lamost", 200_000, seed=2, azimuthal_amplitude=0.15, ridge_beta=-13.6)
    stars = near_plane(dataset, seed=2)
    edges, delta, observed, injected = profiles(dataset, stars)
    assert list(observed.columns) == az.PROFILE_COLUMNS
    for r_lo, _ in az.ANNULI:
        a = observed.loc[observed["r_lo"] == r_lo, "mean_delta"]
        b = injected.loc[injected["r_lo"] == r_lo, "mean_delta"]
        ok = a.notna() & b.notna()
        assert ok.sum() >= 8
        assert np.corrcoef(a[ok], b[ok])[0, 1] >= 0.7
    assert az.permutation_test(stars, delta, edges, n_permutations=300, seed=1).p_value < 0.01


def test_no_pattern_no_detection_in_nine_of_ten_seeds():
    passes = 0
    for seed in range(10):
        stars = near_plane(load_mock("lamost", 60_000, seed=100 + seed, azimuthal_amplitude=0.0), seed=seed)
        delta = az.delta_from_ring_mean(stars["R"], stars["feh"])
        test = az.permutation_test(stars, delta, az.phi_edges(stars["phi"]), n_permutations=200, seed=seed)
        passes += test.p_value > 0.01
    assert passes >= 9


def test_arm_contrast_recovers_the_injected_one():
    dataset = load_mock("lamost", 120_000, seed=1)  # ridge along the Local arm
    stars = near_plane(dataset, seed=1)
    residual = az.residual_from_fit(stars, -0.08, 0.48)
    measured = az.arm_contrast(stars, residual, n_boot=300)
    pattern = dataset.truth.set_index("source_id").loc[stars["id"], "feh_azimuthal"].to_numpy()
    injected = az.arm_contrast(stars, pattern, n_boot=10)
    assert injected.contrast > 0.005
    assert measured.contrast > 2 * measured.error
    assert abs(measured.contrast - injected.contrast) < 3 * measured.error


def test_ring_mean_matches_brute_force():
    rng = np.random.default_rng(0)
    R, feh = rng.uniform(7, 11, 500), rng.normal(0, 0.2, 500)
    brute = np.array([f - feh[np.abs(R - r) <= 0.2].mean() for r, f in zip(R, feh)])
    np.testing.assert_allclose(az.delta_from_ring_mean(R, feh), brute, atol=1e-12)


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
    assert cli.main(["analyse", "--sample", "lamost", "--out", str(out), "--n-mc", "20", "--n-steps", "60",
                     "--n-permutations", "50"]) == 0
    profile = pd.read_csv(out / "azimuthal.csv")
    assert list(profile.columns) == ["r_lo", "r_hi", "phi_lo", "phi_hi", "phi_center", "n", "mean_delta", "sem"]
    assert set(zip(profile["r_lo"], profile["r_hi"])) == {(7.0, 9.0), (9.0, 11.0)}
    tests = json.loads((out / "azimuthal_tests.json").read_text())
    assert 0 < tests["p_value"] <= 1
    assert {"arm_contrast", "arm_contrast_err", "arm_contrast_ring", "arm_contrast_ring_err"} <= set(tests)
