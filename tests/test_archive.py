"""Archive access, offline: recorded replies in the services' VOTable format, the cache, and failure."""
import io
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.io import votable
from astropy.table import MaskedColumn, Table

from galchem import cli
from galchem.data import archive
from galchem.data.sources import read_catalog
from galchem.data.archive import ArchiveError

SNAPSHOT = Path(__file__).parent / "snapshots" / "gaia_query.adql"


def as_votable(table: Table) -> Table:
    """A table as a service would send it: written as a VOTable and parsed back as astroquery does
    (field names over IDs, so VizieR's "[Fe/H]" keeps its name)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", votable.exceptions.VOWarning)  # IDs derived from names like "[Fe/H]"
        votable.from_table(table).to_xml(buffer)
        buffer.seek(0)
        return votable.parse(buffer).get_first_table().to_table(use_names_over_ids=True)


def gaia_reply(n: int, seed: int) -> Table:
    """A Gaia archive reply with the documented columns of gaia_source, astrophysical_parameters and distances."""
    rng = np.random.default_rng(seed)
    r_med = rng.uniform(500, 5000, n)
    rv = MaskedColumn(rng.normal(0, 30, n), mask=np.arange(n) == 0)  # one star without a radial velocity
    flags = np.array(["0" * 41] * n)
    flags[1] = "2" + "0" * 40  # a vbroad-biased Teff: fails the medium-quality flags
    return Table({
        "source_id": rng.integers(1, archive.MAX_SOURCE_ID, n, dtype=np.int64),
        "ra": rng.uniform(0, 360, n), "dec": rng.uniform(-60, 60, n),
        "parallax": 1000 / r_med, "parallax_error": rng.uniform(0.01, 0.05, n),
        "pmra": rng.normal(0, 5, n), "pmra_error": rng.uniform(0.01, 0.05, n),
        "pmdec": rng.normal(0, 5, n), "pmdec_error": rng.uniform(0.01, 0.05, n),
        "radial_velocity": rv, "radial_velocity_error": rng.uniform(0.5, 2, n),
        "ruwe": rng.uniform(0.9, 1.2, n), "phot_g_mean_mag": rng.uniform(8, 14, n),
        "teff_gspspec": rng.uniform(3600, 4690, n), "teff_gspspec_lower": np.full(n, 4000.0),
        "teff_gspspec_upper": np.full(n, 4100.0),
        "logg_gspspec": rng.uniform(0.5, 1.9, n), "logg_gspspec_lower": np.full(n, 1.0),
        "logg_gspspec_upper": np.full(n, 1.2),
        "mh_gspspec": rng.normal(-0.2, 0.2, n), "mh_gspspec_lower": np.full(n, -0.3),
        "mh_gspspec_upper": np.full(n, -0.22),
        "flags_gspspec": flags,
        "r_med_geo": r_med, "r_lo_geo": 0.95 * r_med, "r_hi_geo": 1.05 * r_med,
    })


class FakeJob:
    def __init__(self, table):
        self.table = table

    def get_results(self):
        return self.table


class FakeGaia:
    """Stands in for astroquery's GaiaClass: records the queries, answers with recorded replies."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.queries = []
        self.uploads = []

    def launch_job_async(self, query, dump_to_file=False, upload_resource=None, upload_table_name=None):
        self.queries.append(query)
        self.uploads.append((upload_table_name, upload_resource))
        return FakeJob(self.replies.pop(0))


class FakeVizier:
    def __init__(self, table):
        self.table = table
        self.asked = []

    def get_catalogs(self, catalog):
        self.asked.append(catalog)
        return [self.table]


def test_gaia_query_snapshot():
    assert archive.gaia_query() + "\n" == SNAPSHOT.read_text()
    band = archive.gaia_query(3, 8)
    assert band.startswith(archive.gaia_query())
    lo, hi = 3 * archive.MAX_SOURCE_ID // 8, 4 * archive.MAX_SOURCE_ID // 8
    assert f"g.source_id >= {lo} AND g.source_id < {hi}" in band


def test_gaia_fetch_parses_votables_into_the_contract(tmp_path):
    gaia = FakeGaia([as_votable(gaia_reply(40, seed)) for seed in range(archive.GAIA_BANDS)])
    fetched = archive.fetch("gaia", tmp_path / "gaia.parquet", gaia=gaia)
    table = read_catalog(fetched.path, "gaia")
    assert len(table) == archive.GAIA_BANDS * 39  # one star per band fails the quality flags
    assert table["id"].dtype == np.int64
    assert table["rv"].isna().sum() == archive.GAIA_BANDS  # masked values arrive as NaN
    side = json.loads(fetched.path.with_suffix(".json").read_text())
    assert side["rows"] == len(table) and side["removed_by_mqs_flags"] == archive.GAIA_BANDS
    assert side["query"] == archive.gaia_query() and "Gaia archive" in side["service"]
    assert len(side["sha256"]) == 64 and side["fetched"].startswith("20")
    assert gaia.queries == [archive.gaia_query(band) for band in range(archive.GAIA_BANDS)]


def test_lamost_fetch_renames_and_keeps_the_nearest_gaia_match(tmp_path):
    n = 5
    vizier_reply = as_votable(Table({
        "RAJ2000": np.linspace(10, 50, n), "DEJ2000": np.linspace(5, 45, n),
        "Teff": np.full(n, 9000.0), "e_Teff": np.full(n, 90.0), "logg": np.full(n, 4.0), "e_logg": np.full(n, 0.1),
        "[Fe/H]": np.linspace(-0.5, 0.2, n), "e_[Fe/H]": np.full(n, 0.08), "vsini": np.full(n, 100.0),
        "SNR": np.full(n, 80.0), "chi2r": np.full(n, 1.1), "RV": np.full(n, 5.0), "e_RV": np.full(n, 6.0),
    }))
    gaia = gaia_reply(6, seed=3)
    gaia["row_id"] = [0, 0, 1, 2, 3, 3]  # rows 0 and 3 have two candidates; row 4 has none
    gaia["separation"] = [1.5, 0.3, 0.5, 1.0, 0.2, 1.9]
    fake_gaia = FakeGaia([as_votable(gaia)])
    fetched = archive.fetch("lamost", tmp_path / "lamost.parquet", vizier=FakeVizier(vizier_reply), gaia=fake_gaia)
    table = read_catalog(fetched.path, "lamost")
    assert len(table) == 4 and fetched.sidecar["removed_without_gaia_match"] == 1
    np.testing.assert_array_equal(table["id"], np.asarray(gaia["source_id"])[[1, 2, 3, 4]])
    np.testing.assert_allclose(table["feh"], np.linspace(-0.5, 0.2, n)[:4])
    name, upload = fake_gaia.uploads[0]
    assert name == "lamost" and len(upload) == n and "tap_upload.lamost" in fake_gaia.queries[0]


def test_lamost_catalogue_without_a_column_is_a_clear_error():
    with pytest.raises(ArchiveError, match=r"no column\(s\) vsini.*LAMOST_COLUMNS"):
        archive.rename_lamost(pd.DataFrame({k: [1.0] for k in archive.LAMOST_COLUMNS if k != "vsini"}))


def test_cache_reuse_refresh_and_corruption(tmp_path):
    out = tmp_path / "gaia.parquet"
    replies = lambda: FakeGaia([as_votable(gaia_reply(10, s)) for s in range(archive.GAIA_BANDS)])  # noqa: E731
    first = archive.fetch("gaia", out, gaia=replies())
    untouched = FakeGaia([])
    again = archive.fetch("gaia", out, gaia=untouched)  # served from the cache, no query
    assert again.sidecar == first.sidecar and not untouched.queries
    refreshed_client = replies()
    archive.fetch("gaia", out, refresh=True, gaia=refreshed_client)
    assert len(refreshed_client.queries) == archive.GAIA_BANDS
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0xFF
    out.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="sha256.*--refresh"):
        archive.fetch("gaia", out, gaia=FakeGaia([]))


@pytest.mark.parametrize("sample", ["gaia", "lamost"])
def test_offline_failure_is_one_line_fast_and_leaves_nothing(tmp_path, monkeypatch, capsys, sample):
    """The real astroquery clients, pointed at hosts that cannot resolve (.invalid): what a user offline sees."""
    from astroquery.vizier import Vizier

    gaia = archive._gaia_client().__class__(gaia_tap_server="https://gaia.invalid/",
                                            gaia_data_server="https://gaia.invalid/", show_server_messages=False)
    vizier = Vizier(columns=["**"], row_limit=-1, vizier_server="vizier.invalid")
    out = tmp_path / "cache" / f"{sample}.parquet"
    t0 = time.perf_counter()
    with pytest.raises(ArchiveError) as failure:
        archive.fetch(sample, out, gaia=gaia, vizier=vizier)
    assert time.perf_counter() - t0 < 30
    message = str(failure.value)
    assert "\n" not in message and "failed" in message and "catalog='mock'" in message
    assert ("VizieR" if sample == "lamost" else "Gaia archive") in message
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_cli_fetch_offline_exits_with_one_line(tmp_path, monkeypatch, capsys):
    original = archive._gaia_client
    monkeypatch.setattr(archive, "_gaia_client", lambda: original().__class__(
        gaia_tap_server="https://gaia.invalid/", gaia_data_server="https://gaia.invalid/", show_server_messages=False))
    assert cli.main(["fetch", "--survey", "gaia", "--out", str(tmp_path / "g.parquet")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("galchem fetch: error:") and "Gaia archive" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.remote_data
def test_gaia_archive_answers_a_tiny_query():
    job = archive._gaia_client().launch_job_async("SELECT TOP 3 source_id, ra, dec FROM gaiadr3.gaia_source")
    assert len(job.get_results()) == 3


def test_load_sample_archive_reads_the_cache_and_says_so(tmp_path, monkeypatch):
    from galchem.data.sources import load_dataset

    monkeypatch.setenv("GALCHEM_CACHE_DIR", str(tmp_path))
    archive.fetch("gaia", gaia=FakeGaia([as_votable(gaia_reply(20, s)) for s in range(archive.GAIA_BANDS)]))
    dataset = load_dataset("gaia", "archive")
    assert len(dataset.catalog) == archive.GAIA_BANDS * 19 and not dataset.is_mock
    assert "Real stars from the archives" in dataset.banner() and "Gaia archive" in dataset.banner()
