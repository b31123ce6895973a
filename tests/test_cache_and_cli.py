"""The stage cache (keyed by content, verified on read) and the command line's basic contract."""
import os

import numpy as np
import pandas as pd
import pytest

from galchem import cli
from galchem.data.sources import load_dataset
from galchem.errors import GalchemError
from galchem.data.cache import cache_dir, cached_frames


def test_cache_reuses_and_keys_on_parameters():
    calls = []

    def compute():
        calls.append(1)
        return {"t": pd.DataFrame({"a": np.arange(3)})}

    first = cached_frames("demo", {"n": 3}, compute)
    again = cached_frames("demo", {"n": 3}, compute)
    cached_frames("demo", {"n": 4}, compute)
    assert len(calls) == 2
    pd.testing.assert_frame_equal(first["t"], again["t"])
    assert not list(cache_dir().glob(".demo-*"))  # no temporary entries left behind


def test_a_damaged_entry_is_discarded_and_recomputed(capsys):
    def compute():
        return {"t": pd.DataFrame({"m": [-0.080, -0.060]})}

    cached_frames("damage", {"n": 1}, compute)
    (entry,) = cache_dir().glob("damage-*")
    data = bytearray((entry / "t.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    (entry / "t.parquet").write_bytes(bytes(data))
    again = cached_frames("damage", {"n": 1}, compute)
    assert again["t"]["m"].tolist() == [-0.080, -0.060]
    assert "discarded and recomputed" in capsys.readouterr().err


def test_an_entry_swapped_for_another_is_refused(capsys):
    cached_frames("swap", {"n": 1}, lambda: {"t": pd.DataFrame({"m": [1.0]})})
    cached_frames("swap", {"n": 2}, lambda: {"t": pd.DataFrame({"m": [2.0]})})
    one, two = sorted(cache_dir().glob("swap-*"))
    for name in os.listdir(two):
        (one / name).write_bytes((two / name).read_bytes())
    first_key = one.name.split("-", 1)[1]
    values = [cached_frames("swap", {"n": n}, lambda n=n: {"t": pd.DataFrame({"m": [float(n)]})})["t"]["m"][0]
              for n in (1, 2)]
    assert values == [1.0, 2.0] and first_key
    assert "another stage or key" in capsys.readouterr().err


def test_an_unusable_cache_folder_means_no_cache(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GALCHEM_CACHE_DIR", str(blocker))
    result = cached_frames("nocache", {"n": 1}, lambda: {"t": pd.DataFrame({"m": [3.0]})})
    assert result["t"]["m"][0] == 3.0
    assert "running without a cache" in capsys.readouterr().err


def test_file_data_are_keyed_by_content_not_by_name_size_or_time(tmp_path, lamost_mock):
    path = tmp_path / "cat.parquet"
    lamost_mock.catalog.to_parquet(path)
    first = load_dataset("lamost", str(path))
    stat = path.stat()
    edited = lamost_mock.catalog.assign(feh=lamost_mock.catalog["feh"] + 0.0)
    edited.loc[edited.index[0], "feh"] = 0.123456
    edited.to_parquet(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert load_dataset("lamost", str(path)).key != first.key


def test_load_sample_mock_and_file(tmp_path, lamost_mock):
    mock = load_dataset("lamost", "mock", n_stars=3000, seed=5)
    assert mock.is_mock and "mock" in mock.banner().lower()
    path = tmp_path / "cat.parquet"
    lamost_mock.catalog.to_parquet(path)
    real = load_dataset("lamost", str(path))
    assert not real.is_mock and "cat.parquet" in real.banner()
    with pytest.raises(GalchemError, match="neither 'mock', 'archive' nor an existing"):
        load_dataset("lamost", str(tmp_path / "nothing.fits"))


def test_cli_mock_then_cutflow(tmp_path, capsys):
    out = tmp_path / "m.parquet"
    assert cli.main(["mock", "--survey", "gaia", "--mock-stars", "3000", "--mock-seed", "2", "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "m.truth.parquet").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    flow_csv = tmp_path / "flow.csv"
    assert cli.main(["cutflow", "--survey", "gaia", "--catalog", str(out), "--out", str(flow_csv),
                     "--n-mc", "20"]) == 0
    flow = pd.read_csv(flow_csv)
    assert list(flow.columns) == ["cut", "removed", "remaining"]
    assert flow["remaining"].iloc[0] == 3000 and flow["cut"].iloc[-1] == "halo"  # the kinematic cuts too
    assert "teff_gspspec" in capsys.readouterr().out


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, lamost_mock):
    bad = tmp_path / "bad.csv"
    lamost_mock.catalog.drop(columns=["rv_err"]).head(10).to_csv(bad, index=False)
    assert cli.main(["cutflow", "--survey", "lamost", "--catalog", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bad.csv" in err and "rv_err (role rv_error)" in err


def test_leftovers_of_an_interrupted_run_are_cleaned():
    cached_frames("left", {"n": 0}, lambda: {"t": pd.DataFrame({"a": [1]})})
    dead = cache_dir() / ".left-0123.tmp999999999.abcd"  # no such process
    dead.mkdir()
    (dead / "t.parquet").write_bytes(b"half")
    alive = cache_dir() / f".left-4567.tmp{os.getpid()}.efgh"  # a concurrent writer: left alone
    alive.mkdir()
    cached_frames("left", {"n": 1}, lambda: {"t": pd.DataFrame({"a": [2]})})
    assert not dead.exists() and alive.exists()
    alive.rmdir()
