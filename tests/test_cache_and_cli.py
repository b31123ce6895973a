import numpy as np
import pandas as pd
import pytest

from galchem import cli
from galchem.run.cache import cache_dir, cached
from galchem.data.sources import load_sample
from galchem.errors import GalchemError


def test_cache_reuses_and_keys_on_parameters():
    calls = []

    def compute():
        calls.append(1)
        return {"t": pd.DataFrame({"a": np.arange(3)})}

    first = cached("demo", {"n": 3}, compute)
    again = cached("demo", {"n": 3}, compute)
    cached("demo", {"n": 4}, compute)
    assert len(calls) == 2
    pd.testing.assert_frame_equal(first["t"], again["t"])
    assert not list(cache_dir().glob(".demo-*"))  # no temporary entries left behind


def test_load_sample_mock_and_file(tmp_path, lamost_mock):
    mock = load_sample("lamost", "mock", n_stars=3000, seed=5)
    assert mock.is_mock and "mock" in mock.banner().lower()
    path = tmp_path / "cat.parquet"
    lamost_mock.catalog.to_parquet(path)
    real = load_sample("lamost", str(path))
    assert not real.is_mock and "cat.parquet" in real.banner()
    with pytest.raises(GalchemError, match="neither 'mock', 'archive' nor an existing"):
        load_sample("lamost", str(tmp_path / "nothing.fits"))


def test_cli_mock_then_cutflow(tmp_path, capsys):
    out = tmp_path / "m.parquet"
    assert cli.main(["mock", "--sample", "gaia", "--n", "3000", "--seed", "2", "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "m.truth.parquet").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    flow_csv = tmp_path / "flow.csv"
    assert cli.main(["cutflow", "--sample", "gaia", "--catalog", str(out), "--out", str(flow_csv)]) == 0
    flow = pd.read_csv(flow_csv)
    assert list(flow.columns) == ["cut", "removed", "remaining"]
    assert flow["remaining"].iloc[0] == 3000
    assert "teff_gspspec" in capsys.readouterr().out


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, lamost_mock):
    bad = tmp_path / "bad.csv"
    lamost_mock.catalog.drop(columns=["rv_err"]).head(10).to_csv(bad, index=False)
    assert cli.main(["cutflow", "--sample", "lamost", "--catalog", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.csv" in err and "rv_err [km/s]" in err
