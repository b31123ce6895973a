import numpy as np
import pandas as pd
import pytest
from helpers import chains

from galchem import cli
from galchem.analysis import gradients, latent_distance, line_sums
from galchem.analysis.fitting import fit_line
from galchem.errors import FitError
from galchem.data.sources import load_mock
from galchem.analysis.gradients import CORRECTED_COLUMNS, Gradients, truth_gradients
from galchem.analysis.marginal_slope import MarginalEstimate
from galchem.analysis.line_values import LineValues
from galchem.analysis.priors import MixturePrior
from galchem.analysis.simex import SimexEstimate
from galchem.run.config import RunConfig
from galchem.run.stages import binnings, kinematic_sample

RADIAL, VERTICAL = binnings(RunConfig())  # the study's slices of |Z| and rings of R


@pytest.fixture(scope="module")
def analysed():
    dataset = load_mock("lamost", 200_000, seed=21)
    kinematic = kinematic_sample(dataset, RunConfig(n_mc=200, seed=21))
    return dataset, kinematic.sample, latent_distance.sample_moments(kinematic.prior, kinematic.sample)


@pytest.mark.slow  # 200 000 stars: slopes against the truth
@pytest.mark.parametrize("binning", [RADIAL, VERTICAL], ids=lambda b: b.name)
def test_fitted_slopes_recover_the_mock_truth(analysed, binning):
    dataset, sample, moments = analysed
    fits = line_sums.fit_table(sample, binning, moments=moments, simex=None, min_stars=500, n_walkers=10, n_steps=400,
                               max_steps=3000, seed=np.random.SeedSequence(1), absent=gradients.NO_PRIOR)
    truth = truth_gradients(sample, dataset.truth, binning, min_stars=500)
    fitted = fits.table.dropna(subset=["m"])
    assert len(fitted) >= 4
    merged = fitted.merge(truth, on=[binning.columns[2], "n"])
    shown = merged[[binning.columns[2], "n", "m", "m_err", "m_deconv", "m_deconv_err", "status_deconv", "m_true"]]
    trusted = merged["status_deconv"] == gradients.CORRECTED_OK
    assert trusted.sum() >= 3, shown
    assert merged.loc[~trusted, "m_deconv"].isna().all(), shown  # an untrusted corrected slope is not shown
    for slope, rows in (("m", merged), ("m_deconv", merged[trusted])):
        off = np.abs(rows[slope] - rows["m_true"])
        assert (off <= 3 * rows[f"{slope}_err"] + 0.003).all(), shown
    # errors in the coordinate flatten the study's slopes; the correction steepens them back
    assert (merged.loc[trusted, "m_deconv"] / merged.loc[trusted, "m"]).median() > 1.0, shown
    # the fits see a real trend: the radial gradient flattens with height, the vertical one with radius
    slopes = fitted["m"].to_numpy()
    assert slopes[0] < slopes[-1]


@pytest.mark.slow  # 200 000 stars: bins on both sides of min_stars
def test_small_bins_are_reported_not_fitted(analysed):
    _, sample, moments = analysed
    fits = line_sums.fit_table(sample, RADIAL, moments=moments, simex=None, min_stars=3000, n_walkers=10, n_steps=100,
                               max_steps=100, seed=np.random.SeedSequence(1), absent=gradients.NO_PRIOR)
    table = fits.table
    assert list(table.columns) == RADIAL.columns and len(table) == 7
    again = Gradients.from_tables(RADIAL, fits.to_tables())
    pd.testing.assert_frame_equal(again.table, table)
    pd.testing.assert_frame_equal(again.draws, fits.draws)
    np.testing.assert_allclose(table["z_center"], [0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3])
    small = table["n"] < 3000
    assert small.any() and (~small).any()
    assert (table.loc[small, "status"] != "fitted").all() and (table.loc[~small, "status"] == "fitted").all()
    assert table.loc[small, ["m", "m_err", "b", "b_err", "lam", "lam_err", *CORRECTED_COLUMNS[:6]]].isna().all().all()
    assert table.loc[~small, ["m", "m_err"]].notna().all().all()
    # a chain of 100 steps is short of 50 tau, which the flat fit says; the corrected line has no chain
    assert not table.loc[~small, "reliable"].any()
    assert table.loc[~small, ["m_deconv", "m_deconv_err"]].notna().all().all()
    # bins never fitted have no verdict at all (NA), not "unreliable"
    assert table.loc[small, "reliable"].isna().all()
    assert (table.loc[small, "status_deconv"] == "").all()
    counted = np.bincount(gradients.bin_index(sample, RADIAL) + 1, minlength=8)[1:]
    np.testing.assert_array_equal(table["n"], counted)
    assert set(fits.draws["bin"]) == set(np.flatnonzero(~small))


@pytest.mark.slow  # the study-size mock: every bin of Tables 1 and 2
def test_cli_analyse_writes_gradient_tables_with_exact_columns(tmp_path):
    out = tmp_path / "results"
    settings = tmp_path / "short.toml"  # the study's fixed-length chains, short: max_steps = n_steps
    settings.write_text("[run]\nn_mc = 20\nn_steps = 60\nmax_steps = 60\n")
    assert cli.main(["analyse", "--config", str(settings), "--out", str(out)]) == 0
    radial = pd.read_csv(out / "radial_gradients.csv")
    vertical = pd.read_csv(out / "vertical_gradients.csv")
    study = ["n", "m", "m_err", "b", "b_err", "lam", "lam_err"]
    diagnostics = ["status", "tau", "n_eff", "acceptance", "reliable"]
    deconvolved = ["m_deconv", "m_deconv_err", "b_deconv", "b_deconv_err", "lam_deconv", "lam_deconv_err",
                   "status_deconv", "m_simex", "m_simex_err"]
    assert list(radial.columns) == ["z_lo", "z_hi", "z_center", *study, *diagnostics, *deconvolved]
    assert list(vertical.columns) == ["r_lo", "r_hi", "r_center", *study, *diagnostics, *deconvolved]
    fitted = radial["status"] == "fitted"
    # the full-size mock covers the study: every row of its Tables 1 and 2 has at least 500 stars and is fitted
    assert fitted.all() and (radial["n"] >= 500).all()
    assert (vertical["status"] == "fitted").all() and (vertical["n"] >= 500).all()
    assert (radial.loc[fitted, "n_eff"] > 0).all() and (radial.loc[fitted, "tau"] > 0).all()
    assert radial.loc[fitted, "m_simex"].notna().all()
    # 60 steps are far fewer than 50 autocorrelation times, and the notes say so; the corrected line needs no chain
    assert not radial.loc[fitted, "reliable"].any()
    trusted = radial["status_deconv"] == gradients.CORRECTED_OK
    assert trusted.sum() >= 5 and radial.loc[trusted, "m_deconv"].notna().all()
    assert radial.loc[~trusted, "m_deconv"].isna().all()
    notes = (out / "notes.txt").read_text()
    assert "(flat prior): chains shorter than 50" in notes
    assert len(radial) == 7 and len(vertical) == 7
    np.testing.assert_allclose(vertical["r_center"], np.arange(7.5, 14.0, 1.0))


def test_a_bin_without_a_distance_prior_gets_the_flat_fit_only():
    """Without a distance prior (too few stars with a usable distance) a bin has NaN corrected columns and says why."""
    rng = np.random.default_rng(0)
    R, feh = rng.uniform(7, 8, 4), rng.normal(0, 0.1, 4)
    sums = line_sums.bin_sums(np.arange(4), R, feh, np.full(4, 0.1), np.full(4, 0.05))
    fits = line_sums.fit_binned([sums], gradients.vertical_binning((7.0, 8.0), None), min_stars=3, n_walkers=6,
                                n_steps=50, max_steps=50, seed=np.random.SeedSequence(0), corrected=None, simex=None,
                                absent=gradients.NO_PRIOR)
    row = fits.table.iloc[0]
    assert row["status"] == gradients.FITTED and np.isfinite(row["m"])
    assert np.isnan(row["m_deconv"])
    assert row["status_deconv"] == gradients.NO_PRIOR
    assert any(gradients.NO_PRIOR in line for line in fits.notes())
    with pytest.raises(FitError, match="at least 6 points"):
        fit_line(R, feh, np.full(4, 0.1), np.full(4, 0.05), prior=MixturePrior(), **chains(n_steps=50))


def test_bin_fits_hold_a_posterior_and_a_corrected_line_and_round_trip_through_their_table():
    """A bin's flat posterior and corrected line become the table's columns and come back from them; a corrected
    slope SIMEX contradicts is withheld with the reason."""
    rng = np.random.default_rng(1)
    R = rng.uniform(7, 8, 200)
    feh, R_err, feh_err = 0.5 - 0.07 * R + rng.normal(0, 0.05, 200), np.full(200, 0.1), np.full(200, 0.05)
    flat = line_sums.bin_sums(np.arange(200), R, feh, R_err, feh_err)
    empty = line_sums.bin_sums(np.arange(0), *[np.empty(0)] * 4)
    line = LineValues(-0.07, 0.002, 0.5, 0.02, 0.05, 0.003)
    corrected = [MarginalEstimate(line, 200, 0), MarginalEstimate(line, 200, 0), MarginalEstimate(line, 200, 0),
                 MarginalEstimate(LineValues(*[np.nan] * 6), 0, 0)]
    cross = [SimexEstimate(-0.03, 0.002, -0.06, 0.002), SimexEstimate(-0.071, 0.003, -0.06, 0.002), None, None]
    binning = gradients.vertical_binning((7.0, 8.0, 9.0, 10.0, 11.0), None)
    fits = line_sums.fit_binned([flat, flat, flat, empty], binning, min_stars=3, n_walkers=6, n_steps=100,
                                max_steps=100, seed=np.random.SeedSequence(0), corrected=corrected, simex=cross,
                                absent=gradients.NO_PRIOR)
    withheld, trusted, no_simex, nothing = fits.fits
    assert withheld.corrected_status.startswith(gradients.SIMEX_DISAGREES) and np.isnan(withheld.corrected.m)
    assert trusted.corrected_status == gradients.CORRECTED_OK and trusted.corrected == line
    assert no_simex.corrected_status == gradients.CORRECTED_OK  # no cross-check: nothing contradicts it
    assert np.isfinite(withheld.flat.m) and withheld.flat.n_eff > 0
    assert nothing.flat is None and nothing.corrected is None and nothing.status == gradients.OUT_OF_RANGE
    table = fits.table
    assert list(table.columns) == ["r_lo", "r_hi", "r_center", "n", "m", "m_err", "b", "b_err", "lam", "lam_err",
                                   "status", "tau", "n_eff", "acceptance", "reliable", "m_deconv", "m_deconv_err",
                                   "b_deconv", "b_deconv_err", "lam_deconv", "lam_deconv_err", "status_deconv",
                                   "m_simex", "m_simex_err"]
    assert table.loc[0, "m"] == withheld.flat.m and table.loc[1, "m_deconv_err"] == line.m_err
    again = Gradients.from_tables(fits.binning, fits.to_tables())
    pd.testing.assert_frame_equal(again.table, table)
    assert again.fits[0].flat == withheld.flat  # every flat diagnostic is in the table
    assert again.fits[1].corrected == line and again.fits[3].corrected is None and again.fits[3].flat is None


def test_a_bin_without_a_distance_prior_reads_back_without_a_corrected_line():
    rng = np.random.default_rng(1)
    R = rng.uniform(7, 8, 50)
    sums = line_sums.bin_sums(np.arange(50), R, 0.5 - 0.07 * R, np.full(50, 0.1), np.full(50, 0.05))
    fits = line_sums.fit_binned([sums], gradients.vertical_binning((7.0, 8.0), None), min_stars=3, n_walkers=6,
                                n_steps=50, max_steps=50, seed=np.random.SeedSequence(0), corrected=None, simex=None,
                                absent=gradients.NO_PRIOR)
    again = Gradients.from_tables(fits.binning, fits.to_tables())
    assert again.fits[0].corrected is None and again.fits[0].corrected_status == gradients.NO_PRIOR


def test_fit_windows_keep_stars_outside_them_out_of_every_bin():
    table = pd.DataFrame({"R": [6.0, 8.0, 10.0, 12.0], "R_err": 0.1, "Z": [0.1, -0.1, 0.3, 2.5], "Z_err": 0.01})
    radial, vertical = binnings(RunConfig(radial_r_range=(7.0, 11.0), vertical_z_max=1.0))
    assert gradients.bin_index(table, radial).tolist() == [-1, 0, 1, -1]  # R 6 and 12 outside the R window
    assert gradients.bin_index(table, vertical).tolist() == [-1, 1, 3, -1]  # R 6 in no ring; |Z| 2.5 above the cap
    assert gradients.bin_index(table, RADIAL).tolist() == [0, 0, 1, -1]  # the study's: every R


def test_correction_none_fits_the_flat_slopes_alone_and_leaves_them_as_they_were():
    """``correction="none"`` skips the distance prior, the corrected fits and SIMEX; the flat fits are the same."""
    from galchem.run.stages import gradient_fits

    dataset = load_mock("lamost", 20_000, seed=4)
    settings = {"n_mc": 20, "n_steps": 100, "max_steps": 100, "min_stars": 300}
    both = gradient_fits(dataset, RunConfig(**settings))
    flat_only = gradient_fits(dataset, RunConfig(**settings, correction="none"))
    assert kinematic_sample(dataset, RunConfig(**settings, correction="none")).prior is None
    for one, other in ((both.radial, flat_only.radial), (both.vertical, flat_only.vertical)):
        fitted = other.table["status"] == gradients.FITTED
        assert fitted.sum() >= 2
        assert (other.table.loc[fitted, "status_deconv"] == gradients.NOT_ASKED).all()
        assert other.table.loc[fitted, ["m_deconv", "m_simex"]].isna().all().all()
        assert one.table["m_simex"].notna().any()  # the corrected run has its cross-check
        flat = ["n", "m", "m_err", "b", "b_err", "lam", "lam_err", "status", "tau"]
        pd.testing.assert_frame_equal(one.table[flat], other.table[flat])
    assert not any("corrected" in line for line in flat_only.notes())


def test_bins_fitted_in_threads_give_the_same_tables_as_one_at_a_time(monkeypatch):
    rng = np.random.default_rng(2)
    shares = []
    for k in range(4):
        R = rng.uniform(7 + k, 8 + k, 300)
        feh = 0.5 - 0.07 * R + rng.normal(0, 0.05, 300)
        sums = line_sums.bin_sums(np.arange(300), R, feh, np.full(300, 0.1), np.full(300, 0.05))
        shares.append(sums)
    binning = gradients.vertical_binning((7.0, 8.0, 9.0, 10.0, 11.0), None)
    tables = []
    for threads in (1, 3):
        monkeypatch.setattr(line_sums, "FIT_THREADS", threads)
        tables.append(line_sums.fit_binned(shares, binning, min_stars=3, n_walkers=6, n_steps=80, max_steps=80,
                                           seed=np.random.SeedSequence(5), corrected=None, simex=None,
                                           absent=gradients.NO_PRIOR).table)
    pd.testing.assert_frame_equal(*tables)
