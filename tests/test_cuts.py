import numpy as np
import pandas as pd

from helpers import canonical

from galchem.data.surveys import load_survey
from galchem.data.cuts import FLOW_COLUMNS, Cut, apply_cuts, cut_flow, heavy_cuts, quality_cuts


def independent_lamost_counts(t: pd.DataFrame) -> list[int]:
    """Remaining rows after each cut, written out by hand and in a different style."""
    masks = [
        pd.Series(True, index=t.index),  # valid: the mock has no invalid values
        (t.logg >= 2) & (t.logg <= 5),
        t.vsini >= 0,
        t.teff <= 25000,
        t.snr >= 30,
        t.chi2ratio <= 10,
        (t.rv_err <= 100) & t.teff.notna() & t.logg.notna() & t.feh.notna() & (t.feh_err < 0.2),
        t.feh.notna() & (t.feh_err > 0),
        (t.parallax > 0) & (t.parallax_error / t.parallax < 0.3),
        (t.r_hi_geo - t.r_lo_geo) / (2 * t.r_med_geo) < 0.3,
    ]
    keep = np.ones(len(t), bool)
    counts = [len(t)]
    for mask in masks:
        keep &= mask.fillna(False).to_numpy()
        counts.append(int(keep.sum()))
    return counts


def test_lamost_cut_flow_matches_independent_count(lamost_mock):
    result = cut_flow(canonical(lamost_mock.catalog, "lamost"), load_survey("lamost"))
    assert tuple(result.flow.columns) == FLOW_COLUMNS
    assert result.flow["remaining"].tolist() == independent_lamost_counts(lamost_mock.catalog)
    assert (result.flow["removed"].iloc[1:].to_numpy() == -np.diff(result.flow["remaining"])).all()
    assert len(result.table) == result.flow["remaining"].iloc[-1]


def test_gaia_cut_flow_matches_independent_count(gaia_mock):
    t = gaia_mock.catalog
    keep = (t.teff_gspspec < 4700) & (t.logg_gspspec < 2) & t.r_med_geo.notna()
    keep &= t.mh_gspspec.notna() & (t.mh_gspspec_upper > t.mh_gspspec_lower)
    keep &= (t.parallax > 0) & (t.parallax_error / t.parallax < 0.3)
    keep &= (t.r_hi_geo - t.r_lo_geo) / (2 * t.r_med_geo) < 0.3
    result = cut_flow(canonical(t, "gaia"), load_survey("gaia"))
    assert result.flow["cut"].tolist() == ["input"] + [c.name for c in quality_cuts(load_survey("gaia"))]
    assert result.flow["remaining"].iloc[-1] == int(keep.sum())
    reached = (t.teff_gspspec < 4700) & (t.logg_gspspec < 2)
    assert result.flow["removed"].iloc[4] == int(t.r_med_geo[reached].isna().sum())  # the NaNs that reach it


def test_nan_removed_and_counted_by_first_cut_needing_it(lamost_mock):
    t = lamost_mock.catalog.head(1000).copy()
    t["logg"] = 4.0
    t["vsini"] = 50.0
    t.loc[t.index[:5], "logg"] = np.nan
    t.loc[t.index[5:8], "vsini"] = np.nan
    flow = cut_flow(canonical(t, "lamost"), load_survey("lamost")).flow.set_index("cut")
    assert flow.loc["logg", "removed"] == 5
    assert flow.loc["vsini", "removed"] == 3


def test_further_cuts_append_to_a_flow(lamost_mock):
    first = cut_flow(canonical(lamost_mock.catalog, "lamost"), load_survey("lamost"))
    more = apply_cuts(first.table, [Cut("west", "ra < 180 deg", lambda t: t["ra"] < 180)], flow=first.flow)
    assert more.flow["cut"].tolist()[-1] == "west"
    assert more.flow["remaining"].iloc[-1] == int((first.table["ra"] < 180).sum())


def test_a_cut_removing_more_than_a_quarter_of_what_reaches_it_is_named():
    flow = pd.DataFrame({"cut": ["input", "valid", "giants", "halo"], "removed": [0, 10, 500, 900],
                         "remaining": [2055, 2045, 1545, 645]})
    lines = heavy_cuts(flow)
    assert lines == ["cut halo: removed 900 of the 1,545 rows that reached it (58 %)"]  # giants: 500 of 2,045
