"""Surveys as data: built-in and user survey files, real-shaped catalogues, the canonical table."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from helpers import canonical

from galchem import cli
from galchem.data import contract
from galchem.data.files import write_table
from galchem.data.sources import read_catalog
from galchem.data.surveys import Survey, SurveyError, builtin_surveys, load_survey
from galchem.errors import ContractError, GalchemError
from galchem.run.config import RunConfig

APOGEE_TOML = '''
name = "apogee-dr17"
description = "APOGEE DR17 giants with Gaia EDR3 astrometry"
missing = [-9999.0]
[columns]
id = "APOGEE_ID"
ra = "RA"
dec = "DEC"
pmra = "GAIAEDR3_PMRA"
pmra_error = "GAIAEDR3_PMRA_ERROR"
pmdec = "GAIAEDR3_PMDEC"
pmdec_error = "GAIAEDR3_PMDEC_ERROR"
parallax = "GAIAEDR3_PARALLAX"
parallax_error = "GAIAEDR3_PARALLAX_ERROR"
distance = "GAIAEDR3_R_MED_GEO"
distance_lo = "GAIAEDR3_R_LO_GEO"
distance_hi = "GAIAEDR3_R_HI_GEO"
rv = "VHELIO_AVG"
rv_error = "VERR"
feh = "FE_H"
feh_error = "FE_H_ERR"
[units]
distance = "pc"
[[cuts]]
name = "giants"
column = "LOGG"
max = 3.5
[[cuts]]
name = "snr"
column = "SNR"
above = 70
'''

DISTANCES_ONLY_TOML = '''
name = "lamost-dr3-giants"
description = "LAMOST DR3 disk red giants (Liu et al. 2017 shape): distances in kpc, no parallaxes"
[columns]
id = "obsid"
ra = "ra"
dec = "dec"
pmra = "pmra"
pmra_error = "pmra_err"
pmdec = "pmdec"
pmdec_error = "pmdec_err"
distance = "dist"
distance_error = "disterr"
rv = "rv"
rv_error = "rv_err"
feh = "feh"
feh_error = "feh_err"
[units]
distance = "kpc"
distance_error = "kpc"
[[cuts]]
name = "giants"
all = [{ column = "logg", max = 3.5 }, { column = "teff", below = 5500 }]
'''


def apogee_like(mock, sentinel_rows: int = 40) -> Table:
    """A table shaped like APOGEE's allStar (byte-string ids, big-endian float32, -9999, no units) from a mock."""
    cat = mock.catalog
    n = len(cat)
    rng = np.random.default_rng(0)
    ids = np.array([f"2M{i:08d}+{i % 977:07d}  ".encode() for i in range(n)], dtype="S30")
    columns = {
        "APOGEE_ID": ids, "RA": cat["ra"].to_numpy(">f8"), "DEC": cat["dec"].to_numpy(">f8"),
        "GAIAEDR3_SOURCE_ID": cat["source_id"].to_numpy(">i8"),
        "LOGG": rng.uniform(1.0, 3.3, n).astype(">f4"), "SNR": rng.uniform(80, 300, n).astype(">f4"),
    }
    for mine, theirs in (("pmra", "GAIAEDR3_PMRA"), ("pmra_error", "GAIAEDR3_PMRA_ERROR"), ("pmdec", "GAIAEDR3_PMDEC"),
                         ("pmdec_error", "GAIAEDR3_PMDEC_ERROR"), ("parallax", "GAIAEDR3_PARALLAX"),
                         ("parallax_error", "GAIAEDR3_PARALLAX_ERROR"), ("r_med_geo", "GAIAEDR3_R_MED_GEO"),
                         ("r_lo_geo", "GAIAEDR3_R_LO_GEO"), ("r_hi_geo", "GAIAEDR3_R_HI_GEO"), ("rv", "VHELIO_AVG"),
                         ("rv_err", "VERR"), ("feh", "FE_H"), ("feh_err", "FE_H_ERR")):
        values = cat[mine].to_numpy(dtype=float).copy()
        values[~np.isfinite(values)] = -9999.0
        columns[theirs] = values.astype(">f4")
    columns["FE_H"][:sentinel_rows] = -9999.0  # no metallicity: a sentinel, not NaN
    columns["LOGG"][sentinel_rows:2 * sentinel_rows] = 4.5  # dwarfs
    return Table(columns)


@pytest.fixture(scope="module")
def apogee(tmp_path_factory, lamost_mock):
    folder = tmp_path_factory.mktemp("apogee")
    path = folder / "allStar-like.fits"
    apogee_like(lamost_mock).write(path)
    survey = folder / "apogee.toml"
    survey.write_text(APOGEE_TOML)
    return path, survey


def test_builtin_surveys_are_files_of_the_same_form():
    files = builtin_surveys()
    assert set(files) >= {"lamost", "gaia"}
    for name, path in files.items():
        assert load_survey(name) == load_survey(str(path)).__class__(**{**load_survey(str(path)).__dict__,
                                                                       "origin": name})


def test_apogee_shaped_file_reads_into_the_canonical_table(apogee, lamost_mock):
    path, survey_file = apogee
    survey = load_survey(survey_file)
    table = read_catalog(path, survey)
    assert pd.api.types.is_string_dtype(table["id"]) and table["id"].iloc[0] == "2M00000000+0000000"  # decoded and stripped
    expected = 40 + lamost_mock.catalog["feh"].iloc[40:].isna().sum()  # the -9999 sentinels and the mock's own NaNs
    assert table["feh"].dtype == np.float64 and table["feh"].isna().sum() == expected
    np.testing.assert_allclose(table["distance"], lamost_mock.catalog["r_med_geo"] / 1000, rtol=1e-6)  # pc -> kpc
    assert {"LOGG", "SNR"} <= set(table.columns) and "GAIAEDR3_SOURCE_ID" not in table.columns


@pytest.mark.slow  # analyses the 20 000-row session mock
def test_apogee_shaped_file_runs_cutflow_and_analyse_end_to_end(apogee, tmp_path, capsys):
    path, survey_file = apogee
    flow_csv = tmp_path / "flow.csv"
    assert cli.main(["cutflow", "--survey", str(survey_file), "--catalog", str(path), "--out", str(flow_csv),
                     "--n-mc", "20"]) == 0
    printed = capsys.readouterr().out
    flow = pd.read_csv(flow_csv)
    assert flow["cut"].tolist() == ["input", "valid", "giants", "snr", "metallicity", "parallax", "distance_precision", "velocities",
                                  "halo"]
    assert flow["removed"].iloc[1:].sum() + flow["remaining"].iloc[-1] == flow["remaining"].iloc[0] == 20_000
    assert "giants" in printed and "halo" in printed
    out = tmp_path / "res"
    assert cli.main(["analyse", "--survey", str(survey_file), "--catalog", str(path), "--out", str(out),
                     "--n-mc", "20", "--n-steps", "60", "--max-steps", "60", "--n-permutations", "5"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out / "cutflow.csv"), flow)
    sample = pd.read_parquet(out / "sample")
    assert len(sample) == flow["remaining"].iloc[-1] and sample["id"].str.startswith("2M").all()
    radial = pd.read_csv(out / "radial_gradients.csv")
    assert {"n_eff", "tau", "reliable", "status"} <= set(radial.columns)
    assert (radial["status"] == "fitted").any()
    assert "apogee-dr17" in (out / "config.toml").read_text()


@pytest.mark.slow  # analyses the 20 000-row session mock
def test_distances_without_parallax_in_kpc_run_end_to_end(lamost_mock, tmp_path):
    cat = lamost_mock.catalog
    rng = np.random.default_rng(1)
    text = pd.DataFrame({
        "obsid": np.arange(len(cat)) + 10**9, "ra": cat["ra"], "dec": cat["dec"], "pmra": cat["pmra"],
        "pmra_err": cat["pmra_error"], "pmdec": cat["pmdec"], "pmdec_err": cat["pmdec_error"],
        "dist": cat["r_med_geo"] / 1000, "disterr": (cat["r_hi_geo"] - cat["r_lo_geo"]) / 2000,
        "rv": cat["rv"], "rv_err": cat["rv_err"], "feh": cat["feh"], "feh_err": cat["feh_err"],
        "logg": rng.uniform(1.5, 3.6, len(cat)), "teff": rng.uniform(4000, 5600, len(cat)),
    })
    path = write_table(text, tmp_path / "giants.txt")
    assert path.read_text().startswith("# obsid ra dec")
    survey_file = tmp_path / "dr3.toml"
    survey_file.write_text(DISTANCES_ONLY_TOML)
    out = tmp_path / "res"
    assert cli.main(["analyse", "--survey", str(survey_file), "--catalog", str(path), "--out", str(out),
                     "--n-mc", "20", "--n-steps", "60", "--max-steps", "60", "--n-permutations", "5"]) == 0
    flow = pd.read_csv(out / "cutflow.csv")
    assert "parallax" not in flow["cut"].tolist()  # no parallax: no parallax cut
    assert flow["removed"].iloc[1:].sum() + flow["remaining"].iloc[-1] == len(cat)
    sample = pd.read_parquet(out / "sample")
    assert np.nanmedian(sample["R"]) == pytest.approx(8.9, abs=1.0)  # kpc read as kpc, not as pc


def test_a_survey_without_velocities_runs_positionally(lamost_mock, tmp_path, capsys):
    cat = lamost_mock.catalog
    path = write_table(cat.drop(columns=["pmra", "pmra_error", "pmdec", "pmdec_error", "rv", "rv_err"]),
                       tmp_path / "nopm.parquet")
    text = load_survey("lamost").to_dict()
    for role in ("pmra", "pmra_error", "pmdec", "pmdec_error", "rv", "rv_error"):
        del text["columns"][role]
    text["cuts"] = [c for c in text["cuts"] if c["name"] != "labels"]
    survey = Survey.from_dict({**text, "name": "positions-only"})
    out = tmp_path / "res"
    from galchem.run.pipeline import analyse
    result = analyse(survey, str(path), RunConfig(n_mc=20, n_steps=60, max_steps=60, n_permutations=5))
    assert any("positions only" in note for note in result.notes)
    assert "velocities" not in result.kinematic.flow["cut"].tolist()
    assert result.kinematic.sample["vR"].isna().all() and result.kinematic.sample["R_err"].gt(0).all()
    assert (result.gradients.radial.table["status"] == "fitted").any()
    assert out.exists() is False


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["columns"].pop("feh"), "must map the role 'feh'"),
    (lambda d: d["columns"].pop("pmdec"), "velocities need all six"),
    (lambda d: d["columns"].update(colour="BP_RP"), "unknown role 'colour'"),
    (lambda d: d["columns"].pop("distance_lo"), "distance's spread"),
    (lambda d: d.update(units={"distance": "furlong"}), "cannot be converted"),
    (lambda d: d["cuts"][0].update(max="high"), "max must be a finite number"),
    (lambda d: d["cuts"][0].update(colum="x"), "unknown key"),
    (lambda d: d.update(extra=1), "unknown key"),
])
def test_bad_survey_files_are_one_clear_line(tmp_path, mutate, message):
    data = load_survey("lamost").to_dict()
    mutate(data)
    with pytest.raises(SurveyError, match=message) as err:
        Survey.from_dict(data, origin="my.toml")
    assert str(err.value).startswith("my.toml: ") and "\n" not in str(err.value)


def test_survey_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(SurveyError, match=r"bad\.toml: not a valid TOML file"):
        load_survey(bad)
    with pytest.raises(SurveyError, match="neither a built-in survey"):
        load_survey(tmp_path / "absent.toml")


@pytest.mark.parametrize("suffix", [".parquet", ".fits", ".csv", ".ecsv", ".txt"])
def test_every_format_round_trips(lamost_mock, tmp_path, suffix):
    catalog = lamost_mock.catalog.head(50)
    survey = load_survey("lamost")
    path = write_table(catalog, tmp_path / f"cat{suffix}", units=survey.file_units())
    pd.testing.assert_frame_equal(read_catalog(path, survey), canonical(catalog), check_dtype=False, rtol=1e-12)


def test_units_in_the_file_win_and_are_converted(lamost_mock, tmp_path):
    catalog = lamost_mock.catalog.head(50)
    table = Table.from_pandas(catalog)
    for name in ("r_med_geo", "r_lo_geo", "r_hi_geo"):
        table[name].unit = "pc"
        table[name] = table[name].to("kpc")
    table.write(tmp_path / "cat.ecsv")
    back = read_catalog(tmp_path / "cat.ecsv", "lamost")
    np.testing.assert_allclose(back["distance"], catalog["r_med_geo"] / 1000, rtol=1e-12)


def test_incompatible_file_units_are_an_error(lamost_mock, tmp_path):
    table = Table.from_pandas(lamost_mock.catalog.head(50))
    table["parallax"].unit = "km"
    table.write(tmp_path / "cat.ecsv")
    with pytest.raises(ContractError, match=r"'parallax' \(role parallax\): unit 'km' cannot be converted to mas"):
        read_catalog(tmp_path / "cat.ecsv", "lamost")


def test_missing_columns_are_named_with_their_roles(lamost_mock, tmp_path):
    path = write_table(lamost_mock.catalog.head(20).drop(columns=["feh", "snr"]), tmp_path / "cat.csv")
    with pytest.raises(ContractError) as err:
        read_catalog(path, "lamost")
    message = str(err.value)
    assert "cat.csv" in message and "feh (role feh)" in message and "snr (read by a cut)" in message
    assert "\n" not in message


def test_gaia_metallicity_error_is_half_the_percentile_width(gaia_mock):
    table = canonical(gaia_mock.catalog, "gaia")
    np.testing.assert_array_equal(table["feh"], gaia_mock.catalog["mh_gspspec"])
    np.testing.assert_allclose(table["feh_error"],
                               (gaia_mock.catalog["mh_gspspec_upper"] - gaia_mock.catalog["mh_gspspec_lower"]) / 2)


def test_parallax_only_gives_inverse_parallax_distances():
    survey = Survey.from_dict({"name": "p", "columns": {"id": "i", "ra": "a", "dec": "d", "parallax": "p",
                                                        "parallax_error": "e", "feh": "f", "feh_error": "fe"}})
    table = contract.canonical_table(pd.DataFrame({"i": [1, 2], "a": [10.0, 20.0], "d": [5.0, 6.0], "p": [2.0, 0.5],
                                                   "e": [0.1, 0.6], "f": [0.0, 0.1], "fe": [0.1, 0.1]}), {}, survey, "t")
    np.testing.assert_allclose(table["distance"], [0.5, 2.0])
    np.testing.assert_allclose(table["distance_lo"], [1 / 2.1, 1 / 1.1])
    assert np.isclose(table["distance_hi"].iloc[0], 1 / 1.9) and np.isnan(table["distance_hi"].iloc[1])
    assert "1/parallax" in survey.distance_origin


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def write_half_then_fail(self, path, **kwargs):
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", write_half_then_fail)
    with pytest.raises(GalchemError, match="out.parquet: cannot write it .disk full"):
        write_table(pd.DataFrame({"a": [1.0]}), tmp_path / "out.parquet")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_format_and_absent_file(tmp_path):
    with pytest.raises(GalchemError, match="unsupported table format"):
        read_catalog(tmp_path / "cat.xlsx", "lamost")
    with pytest.raises(GalchemError, match="no such file"):
        read_catalog(tmp_path / "absent.csv", "lamost")
