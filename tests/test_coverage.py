"""Coverage of the gradient errors over mock realisations: the machinery, and a small calibration check."""
import docutils.core
import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from galchem.report.coverage_table import calibration_failures, coverage_counts, coverage_table
from galchem.run.config import RunConfig
from galchem.run.coverage import (COVERAGE_N_MC, ESTIMATES, coverage_pulls, coverage_summary, least_squares_slopes,
                                  truth_sums)
from galchem.run.stages import binnings


def test_coverage_pulls_run_the_pipeline_per_realisation():
    config = RunConfig(mock_stars=6_000, n_mc=20, n_steps=200, max_steps=200, min_stars=300)
    pulls = coverage_pulls("lamost", 2, config)
    assert set(pulls["realisation"]) == {0, 1} and set(pulls["estimate"]) == set(ESTIMATES)
    flat = pulls[(pulls["estimate"] == "flat") & pulls["m_sample"].notna()]
    assert len(flat) >= 4 and flat["pull"].notna().all() and flat["pull_sample"].notna().all()
    assert flat.groupby("bin")["m"].nunique().max() == 2  # each realisation its own mock
    # with two realisations, each one's truth is the other's own stars' truth
    own = flat.pivot_table(index=["binning", "bin"], columns="realisation", values=["m_true", "m_sample"]).dropna()
    np.testing.assert_allclose(own[("m_true", 0)], own[("m_sample", 1)], rtol=1e-9)
    np.testing.assert_allclose(own[("m_true", 1)], own[("m_sample", 0)], rtol=1e-9)
    summary = coverage_summary(pulls)
    assert ((summary["within_1"] <= summary["within_2"]) | summary["within_1"].isna()).all()
    assert coverage_summary(pulls, "pull_sample")["n"].sum() == summary["n"].sum()


def test_coverage_needs_other_realisations_for_the_truth():
    with pytest.raises(ValueError, match="at least 2 realisations"):
        coverage_pulls("lamost", 1, RunConfig())


def test_pooled_truth_sums_give_the_least_squares_slope_of_the_pooled_stars():
    rng = np.random.default_rng(0)
    radial, _ = binnings(RunConfig())
    parts, truths = [], []
    for offset in (0, 1000):
        n = 1000
        R, Z = rng.uniform(6, 13, n), rng.normal(0, 0.3, n)
        parts.append(pd.DataFrame({"id": np.arange(n) + offset, "R": R + rng.normal(0, 0.2, n), "R_err": 0.2,
                                   "Z": Z, "Z_err": 0.0}))
        truths.append(pd.DataFrame({"source_id": np.arange(n) + offset, "R": R, "Z": Z,
                                    "feh_true": 0.5 - 0.07 * R + rng.normal(0, 0.15, n)}))
    sums = sum(truth_sums(part, truth, radial) for part, truth in zip(parts, truths))
    slope, error = least_squares_slopes(sums)
    pooled, truth = pd.concat(parts), pd.concat(truths).set_index("source_id")
    inside = pooled["Z"].abs().to_numpy() < 0.2
    x = truth.loc[pooled["id"][inside], "R"].to_numpy()
    (m, _), cov = np.polyfit(x, truth.loc[pooled["id"][inside], "feh_true"].to_numpy(), 1, cov=True)
    assert slope[0] == pytest.approx(m, rel=1e-9) and error[0] == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-9)
    assert sums[:, 0].sum() == np.count_nonzero(pooled["Z"].abs() < 1.4) and np.isnan(slope[-1])


N_REALISATIONS = 20
COVERAGE_68 = 0.68
FAMILY_FALSE_ALARM = 0.01
"""Chance that a calibrated method fails the test below somewhere, split over its checks (Bonferroni)."""


def binomial_band(n: int, checks: int) -> tuple[float, float]:
    """The counts within one error that a calibrated fit gives (out of ``n``) but for a share of
    ``FAMILY_FALSE_ALARM / checks`` of the time: the central interval of Binomial(n, 0.68)."""
    return binom.interval(1 - FAMILY_FALSE_ALARM / checks, n, COVERAGE_68)


@pytest.mark.slow  # 20 pipeline runs: the statistics need them (about a minute on two cores)
def test_corrected_slopes_cover_the_population_truth_as_often_as_their_errors_say():
    # small mocks and the two fullest bins of each binning keep it short; the corrected line needs no chain, so the
    # flat fits (not judged here) run short ones
    config = RunConfig(mock_stars=10_000, n_mc=COVERAGE_N_MC // 5, min_stars=300, radial_z_edges=(0.0, 0.2, 0.4),
                       vertical_r_edges=(8.0, 9.0, 10.0), n_steps=100, max_steps=100)
    pulls = coverage_pulls("lamost", N_REALISATIONS, config)
    corrected = pulls[(pulls["estimate"] == "corrected") & np.isfinite(pulls["pull"])]
    inside = (corrected["pull"].abs() <= 1).groupby([corrected["binning"], corrected["bin"]]).agg(["sum", "size"])
    by_binning = inside.groupby(level="binning").sum()
    assert len(inside) == 4 and (inside["size"] >= N_REALISATIONS - 2).all(), inside
    # At 20 realisations a calibrated bin's count within one error is Binomial(20, 0.68): about 13.6 +- 2.1, so
    # the task's 60-76 % (12 to 15 of 20) fails a calibrated bin a third of the time.  The bands are instead
    # binomial intervals that a calibrated method leaves with a 1 % chance over all the checks together: each
    # bin's count, and each binning's total over its bins (disjoint stars, so close to independent: tighter).
    checks = len(inside) + len(by_binning)
    for (binning, label), row in inside.iterrows():
        low, high = binomial_band(int(row["size"]), checks)
        assert low <= row["sum"] <= high, f"{binning} {label}: {row['sum']} of {row['size']} within one error"
    for binning, row in by_binning.iterrows():
        low, high = binomial_band(int(row["size"]), checks)
        assert low <= row["sum"] <= high, f"{binning}: {row['sum']} of {row['size']} within one error"


def test_coverage_table_counts_realisations_within_the_errors_per_bin():
    summary = pd.DataFrame({"binning": "radial", "bin": ["|Z| 0-0.2 kpc"] * 3 + ["|Z| 1.2-1.4 kpc"] * 3,
                            "estimate": ["flat", "corrected", "simex"] * 2, "n": [20.0, 18.0, 20.0, 0.0, 0.0, 0.0],
                            "within_1": [0.65, 13 / 18, 0.7, np.nan, np.nan, np.nan],
                            "within_2": [0.95, 1.0, 0.9, np.nan, np.nan, np.nan],
                            "mean_pull": [0.8, -0.05, 0.1, np.nan, np.nan, np.nan]})
    table = coverage_counts(summary)
    assert table["bin"].tolist() == ["|Z| 0-0.2 kpc"]  # a bin without any value is left out
    assert table.loc[0, ["flat 1σ", "corrected 1σ", "corrected 2σ", "SIMEX 2σ"]].tolist() == ["13/20", "13/18",
                                                                                            "18/18", "18/20"]
    assert "| +0.80 |" in coverage_table(summary, "tab-demo", "A caption.").data


def demo_summary(within_1: float, mean_pull: float, n: float = 20.0) -> pd.DataFrame:
    """A coverage summary with two bins per binning, every estimate with the same counts and mean pull."""
    rows = [{"binning": binning, "bin": label, "estimate": estimate, "n": n, "within_1": within_1, "within_2": 0.95,
             "mean_pull": mean_pull}
            for binning, labels in (("radial", ["|Z| 0-0.2 kpc", "|Z| 0.2-0.4 kpc"]), ("vertical", ["R 6-7 kpc"]))
            for label in labels for estimate in ("flat", "corrected", "simex")]
    return pd.DataFrame(rows)


def test_coverage_table_is_a_grid_table_docutils_reads_with_the_binnings_as_row_groups():
    markdown = coverage_table(demo_summary(0.25, 1.39), "tab-demo", "A caption with |Z|.").data
    rst = markdown.removeprefix("```{eval-rst}\n").removesuffix("\n```")
    html = docutils.core.publish_parts(rst, writer_name="html",
                                       settings_overrides={"report_level": 2, "halt_level": 2})["body"]
    assert 'colspan="3">' in html and "radial gradient (slices in |Z|)" in html and "vertical gradient" in html
    assert "|Z|&nbsp;0\u2060–\u20600.2&nbsp;kpc" in html  # a bin label that cannot break
    assert html.count("<tr") == 2 + 2 + 3  # two header rows, two group rows, three bins


def test_calibration_failures_name_what_fails_and_say_when_nothing_does():
    failing = calibration_failures({"gaia": demo_summary(0.25, 1.39)}, {"gaia": "Gaia"}, 20).data
    assert "**Gaia, vertical gradients, corrected slope**: within one error in 5 of 20 fits" in failing
    # 15 tests (6 pooled counts, 9 bins' mean pulls), each at 0.01 / 15: a mean pull of 20 realisations may reach
    # 3.40 / sqrt(20)
    assert "|Z| 0–0.2 kpc (+1.39; chance allows ±0.76)" in failing and "too small" in failing
    assert "makes 15 such tests" in failing
    calibrated = calibration_failures({"gaia": demo_summary(0.7, 0.1)}, {"gaia": "Gaia"}, 20).data
    assert "Nothing fails these tests" in calibrated
    # beyond a single test's 2.58 / sqrt(20) = 0.58 but within what 15 tests together allow: no false alarm
    assert "Nothing fails these tests" in calibration_failures({"gaia": demo_summary(0.7, 0.65)}, {"gaia": "Gaia"},
                                                               20).data
    assert "too few to judge" in calibration_failures({"gaia": demo_summary(0.5, 0.0, 2.0)}, {"gaia": "Gaia"}, 2).data
