import numpy as np
import pandas as pd
import pytest

from galchem import cli
from galchem.analysis import gradients
from galchem.data.sources import load_mock
from galchem.analysis.gradients import RADIAL, VERTICAL, fit_gradients, truth_gradients
from galchem.run.config import RunConfig
from galchem.run.stages import kinematic_sample


@pytest.fixture(scope="module")
def analysed():
    dataset = load_mock("lamost", 200_000, seed=21)
    return dataset, kinematic_sample(dataset, RunConfig(n_mc=200, seed=21)).sample


@pytest.mark.parametrize("binning", [RADIAL, VERTICAL], ids=lambda b: b.name)
def test_fitted_slopes_recover_the_mock_truth(analysed, binning):
    dataset, sample = analysed
    fits = fit_gradients(sample, binning, n_steps=400, seed=1)
    truth = truth_gradients(sample, dataset.truth, binning)
    fitted = fits.table.dropna(subset=["m"])
    assert len(fitted) >= 4
    merged = fitted.merge(truth, on=[binning.columns[2], "n"])
    off = np.abs(merged["m"] - merged["m_true"])
    assert (off <= 3 * merged["m_err"] + 0.003).all(), merged[[binning.columns[2], "n", "m", "m_err", "m_true"]]
    # the fits see a real trend: the radial gradient flattens with height, the vertical one with radius
    slopes = fitted["m"].to_numpy()
    assert slopes[0] < slopes[-1]


def test_small_bins_are_reported_not_fitted(analysed):
    _, sample = analysed
    fits = fit_gradients(sample, RADIAL, min_stars=3000, n_steps=100, seed=1)
    table = fits.table
    assert list(table.columns) == RADIAL.columns and len(table) == 7
    np.testing.assert_allclose(table["z_center"], [0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3])
    small = table["n"] < 3000
    assert small.any() and (~small).any()
    assert (table.loc[small, "status"] != "fitted").all() and (table.loc[~small, "status"] == "fitted").all()
    assert table.loc[small, ["m", "m_err", "b", "b_err", "lam", "lam_err"]].isna().all().all()
    assert table.loc[~small, ["m", "m_err"]].notna().all().all()
    counted = np.bincount(gradients.bin_index(sample, RADIAL) + 1, minlength=8)[1:]
    np.testing.assert_array_equal(table["n"], counted)
    assert set(fits.draws["bin"]) == set(np.flatnonzero(~small))


def test_cli_analyse_writes_gradient_tables_with_exact_columns(tmp_path):
    out = tmp_path / "results"
    assert cli.main(["analyse", "--sample", "lamost", "--out", str(out), "--n-mc", "20", "--n-steps", "60"]) == 0
    radial = pd.read_csv(out / "radial_gradients.csv")
    vertical = pd.read_csv(out / "vertical_gradients.csv")
    study = ["n", "m", "m_err", "b", "b_err", "lam", "lam_err"]
    diagnostics = ["status", "tau", "n_eff", "acceptance", "reliable"]
    assert list(radial.columns) == ["z_lo", "z_hi", "z_center", *study, *diagnostics]
    assert list(vertical.columns) == ["r_lo", "r_hi", "r_center", *study, *diagnostics]
    fitted = radial["status"] == "fitted"
    assert fitted.any() and (radial.loc[fitted, "n"] >= 500).all() and (radial.loc[~fitted, "n"] < 500).all()
    assert (radial.loc[fitted, "n_eff"] > 0).all() and (radial.loc[fitted, "tau"] > 0).all()
    assert not radial.loc[fitted, "reliable"].any()  # 60 steps are far fewer than 50 autocorrelation times
    assert "too few stars" in (out / "notes.txt").read_text()
    assert len(radial) == 7 and len(vertical) == 7
    np.testing.assert_allclose(vertical["r_center"], np.arange(7.5, 14.0, 1.0))
