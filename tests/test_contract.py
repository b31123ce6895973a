from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from galchem.data import contract
from galchem.errors import ContractError, GalchemError
from galchem.data.files import write_table


@pytest.fixture
def catalog(lamost_mock):
    return lamost_mock.catalog.head(50)


@pytest.mark.parametrize("suffix", [".parquet", ".fits", ".csv", ".ecsv"])
def test_every_format_round_trips(catalog, tmp_path, suffix):
    path = write_table(catalog, tmp_path / f"cat{suffix}", units=contract.units("lamost"))
    back = contract.read_catalog(path, "lamost")
    pd.testing.assert_frame_equal(back[catalog.columns], catalog, check_dtype=False, rtol=1e-12)
    assert back["source_id"].dtype == np.int64


def test_missing_columns_name_file_columns_and_units(catalog, tmp_path):
    path = write_table(catalog.drop(columns=["feh", "r_med_geo"]), tmp_path / "cat.csv")
    with pytest.raises(ContractError) as err:
        contract.read_catalog(path, "lamost")
    message = str(err.value)
    assert "cat.csv" in message and "feh [dex]" in message and "r_med_geo [pc]" in message
    assert "\n" not in message


def test_non_numeric_column(catalog, tmp_path):
    path = write_table(catalog.assign(snr="high"), tmp_path / "cat.parquet")
    with pytest.raises(ContractError, match=r"cat\.parquet: non-numeric column.*snr"):
        contract.read_catalog(path, "lamost")


def test_empty_table(catalog, tmp_path):
    path = write_table(catalog.iloc[:0], tmp_path / "cat.parquet")
    with pytest.raises(ContractError, match="no rows"):
        contract.read_catalog(path, "lamost")


def test_source_id_must_be_integer(catalog, tmp_path):
    path = write_table(catalog.assign(source_id=catalog["source_id"].astype(float)), tmp_path / "cat.parquet")
    with pytest.raises(ContractError, match="source_id.*64-bit integers"):
        contract.read_catalog(path, "lamost")


def test_extra_columns_kept_and_nan_allowed(catalog, tmp_path):
    table = catalog.assign(my_flag=1.0)
    table.loc[table.index[:3], "feh"] = np.nan
    back = contract.read_catalog(write_table(table, tmp_path / "cat.parquet"), "lamost")
    assert "my_flag" in back.columns
    assert back["feh"].isna().sum() == 3


def test_units_in_file_are_converted(catalog, tmp_path):
    table = Table.from_pandas(catalog, units=contract.units("lamost"))
    for name in ("r_med_geo", "r_lo_geo", "r_hi_geo"):
        table[name] = table[name].to("kpc")
    table.write(tmp_path / "cat.ecsv")
    back = contract.read_catalog(tmp_path / "cat.ecsv", "lamost")
    np.testing.assert_allclose(back["r_med_geo"], catalog["r_med_geo"], rtol=1e-12)


@pytest.mark.filterwarnings("ignore:The unit .dex. could not be saved")
def test_incompatible_units_are_an_error(catalog, tmp_path):
    table = Table.from_pandas(catalog, units=contract.units("lamost"))
    table["parallax"].unit = "km"
    table.write(tmp_path / "cat.fits")
    with pytest.raises(ContractError, match="'parallax' has unit 'km', expected mas"):
        contract.read_catalog(tmp_path / "cat.fits", "lamost")


def test_unknown_sample_format_and_file(catalog, tmp_path):
    with pytest.raises(ContractError, match="unknown sample"):
        contract.read_catalog(tmp_path / "cat.parquet", "apogee")
    with pytest.raises(GalchemError, match="unsupported table format"):
        contract.read_catalog(tmp_path / "cat.txt", "lamost")
    with pytest.raises(GalchemError, match="no such file"):
        contract.read_catalog(tmp_path / "absent.csv", "lamost")


def test_gaia_metallicity_error_is_half_the_percentile_width(gaia_mock):
    table = gaia_mock.catalog
    feh, err = contract.metallicity(table, "gaia")
    assert feh.equals(table["mh_gspspec"])
    np.testing.assert_allclose(err, (table["mh_gspspec_upper"] - table["mh_gspspec_lower"]) / 2)


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def write_half_then_fail(self, path, **kwargs):
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_table(pd.DataFrame({"a": [1.0]}), tmp_path / "out.parquet")
    assert list(tmp_path.iterdir()) == []
