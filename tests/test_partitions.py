"""Partitioned catalogues: the same tables whatever the scheduler, the workers and the partitioning.

Each run gets its own empty cache, so every table is computed again; the
tables that must agree byte for byte are those of :data:`TABLES`.  Memory is
measured by ``benchmarks/scaling.py``, never asserted here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from galchem import cli
from galchem.analysis import latent_distance, line_likelihood, line_sums, simex
from galchem.data import partitions
from galchem.data.ids import id_keys
from galchem.data.mock import mock_model
from galchem.data.sources import load_dataset
from galchem.physics import kinematics
from galchem.run.config import RunConfig
from galchem.run.stages import binnings

FAST = ["--n-mc", "30", "--n-steps", "60", "--max-steps", "60", "--n-permutations", "30",
        "--min-stars", "100", "--seed", "4"]
TABLES = ("cutflow.csv", "radial_gradients.csv", "vertical_gradients.csv", "azimuthal.csv", "azimuthal_tests.json",
          "notes.txt")
ROWS, PART = 4_500, 1_600


@pytest.fixture(scope="module")
def mock_folder(tmp_path_factory):
    """A LAMOST mock written as three partitions by ``galchem mock``, and its rows in one table."""
    folder = tmp_path_factory.mktemp("partitioned") / "lamost"
    assert cli.main(["mock", "--survey", "lamost", "--mock-stars", str(ROWS), "--mock-seed", "6", "--partition-rows", str(PART),
                     "--out", str(folder)]) == 0
    return folder, pd.read_parquet(folder)


def analyse(catalog, out, cache, monkeypatch, *options: str) -> dict[str, bytes]:
    monkeypatch.setenv("GALCHEM_CACHE_DIR", str(cache))  # empty: everything is computed, by the workers too
    assert cli.main(["analyse", "--catalog", str(catalog), "--out", str(out), *FAST, *options]) == 0
    return {name: (out / name).read_bytes() for name in TABLES}


@pytest.fixture(scope="module")
def reference(mock_folder, tmp_path_factory):
    folder, _ = mock_folder
    with pytest.MonkeyPatch.context() as patch:
        base = tmp_path_factory.mktemp("reference")
        return analyse(folder, base / "out", base / "cache", patch)


def test_mock_partitions_have_unique_ids_and_their_own_truth(mock_folder):
    folder, table = mock_folder
    files = sorted(folder.glob("part-*.parquet"))
    assert [len(pd.read_parquet(f)) for f in files] == partitions.part_sizes(ROWS, PART) == [1500, 1500, 1500]
    assert table["source_id"].is_unique
    truth = pd.read_parquet(folder.with_name("lamost.truth"))
    assert (truth["source_id"].to_numpy() == table["source_id"].to_numpy()).all()
    first = pd.read_parquet(files[0])
    second = pd.read_parquet(files[1])
    assert not np.allclose(first["ra"].to_numpy(), second["ra"].to_numpy())  # each part its own child seed


def test_single_file_mock_is_the_folder_mock(mock_folder, tmp_path):
    folder, table = mock_folder
    single = tmp_path / "one.parquet"
    assert cli.main(["mock", "--survey", "lamost", "--mock-stars", str(ROWS), "--mock-seed", "6", "--partition-rows", str(PART),
                     "--out", str(single)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(single), table)


def test_repartitioned_catalogues_give_byte_identical_tables(mock_folder, reference, tmp_path, monkeypatch):
    folder, table = mock_folder
    other = tmp_path / "repartitioned"
    (other / "deeper").mkdir(parents=True)
    shuffled = table.sample(frac=1.0, random_state=3).reset_index(drop=True)  # other rows in other files
    for i, (lo, hi) in enumerate([(0, 700), (700, 2900), (2900, 3000), (3000, ROWS)]):
        shuffled.iloc[lo:hi].to_parquet(other / ("deeper" if i == 1 else "") / f"chunk{i}.parquet")
    single = tmp_path / "single.parquet"
    table.to_parquet(single, row_group_size=1000)  # one file, five row groups, split into two partitions
    assert len(load_dataset("lamost", str(other)).parts) == 4
    for catalog in (other, single):
        assert analyse(catalog, tmp_path / f"out-{catalog.name}", tmp_path / f"cache-{catalog.name}",
                       monkeypatch) == reference, catalog.name


@pytest.mark.slow  # starts a LocalCluster of worker processes
def test_local_cluster_gives_byte_identical_tables(mock_folder, reference, tmp_path, monkeypatch):
    folder, _ = mock_folder
    assert analyse(folder, tmp_path / "out", tmp_path / "cache", monkeypatch, "--scheduler", "local") == reference
    sample = pd.read_parquet(tmp_path / "out" / "sample")
    assert len(sample) == pd.read_csv(tmp_path / "out" / "cutflow.csv")["remaining"].iloc[-1]
    assert sorted(p.name for p in (tmp_path / "out" / "sample").iterdir()) == [
        f"part-{i:05d}.parquet" for i in range(3)]


@pytest.mark.slow  # runs the hats-import pipeline on Dask
def test_a_hats_catalogue_reads_to_the_same_tables(mock_folder, reference, tmp_path, monkeypatch):
    from dask.distributed import Client
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.pipeline import pipeline_with_client

    folder, _ = mock_folder
    arguments = ImportArguments(output_artifact_name="lamost_hats", output_path=str(tmp_path), file_reader="parquet",
                                input_file_list=[str(p) for p in sorted(folder.glob("*.parquet"))],
                                ra_column="ra", dec_column="dec", pixel_threshold=900, progress_bar=False,
                                tmp_dir=str(tmp_path / "tmp"))
    with Client(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as client:
        pipeline_with_client(arguments, client)
    catalogue = tmp_path / "lamost_hats"
    dataset = load_dataset("lamost", str(catalogue))
    assert "HATS catalogue" in dataset.source and len(dataset.parts) > 3
    assert analyse(catalogue, tmp_path / "out", tmp_path / "cache", monkeypatch) == reference


def test_each_star_draws_from_its_own_stream_whatever_the_chunks(monkeypatch):
    catalog = load_dataset("lamost", "mock", 600, 2).catalog
    observed = kinematics.Observed.from_catalog(catalog)
    keys = np.arange(600, dtype=np.uint64) * np.uint64(7919)
    whole = kinematics.propagate(observed, 40, 5, keys=keys).std
    monkeypatch.setattr(kinematics, "CHUNK", 97)
    np.testing.assert_array_equal(kinematics.propagate(observed, 40, 5, keys=keys).std, whole)
    tail = kinematics.Observed(*(a[450:] for a in observed))
    np.testing.assert_array_equal(kinematics.propagate(tail, 40, 5, keys=keys[450:]).std, whole[450:])
    assert not np.array_equal(kinematics.propagate(observed, 40, 6, keys=keys).std, whole)


def test_sums_do_not_depend_on_how_the_points_are_split():
    rng = np.random.default_rng(8)
    n = 30_000
    x, y = rng.uniform(7, 12, n), rng.normal(0, 0.2, n)
    x_err, y_err = np.exp(rng.normal(-2, 0.8, n)), np.exp(rng.normal(-2.5, 0.3, n))
    ids = np.arange(n)
    whole = line_sums.bin_sums(ids, x, y, x_err, y_err)
    cuts = [0, 11, 9_000, 9_001, 25_000, n]
    pieces = [line_sums.bin_sums(*(v[a:b] for v in (ids, x, y, x_err, y_err))) for a, b in zip(cuts, cuts[1:])]
    merged = pieces[4]
    for piece in (pieces[2], pieces[0], pieces[3], pieces[1]):  # another order, too
        merged = line_sums.merge(piece, merged)
    assert np.array_equal(merged.hi, whole.hi) and np.array_equal(merged.keys, whole.keys)
    error_keys = np.floor(np.log10(np.stack([x_err, y_err], axis=1)) * line_likelihood.BINS_PER_DEX).astype(np.int64)
    assert np.array_equal(whole.keys, np.unique(error_keys, axis=0))  # the groups in lexicographic order
    assert merged.n == n and merged.points is None
    grouped = line_likelihood.LineData.from_points(x, y, x_err, y_err, np.zeros(n), line_likelihood.BINS_PER_DEX)
    theta = np.array([[-0.05, 0.3, 0.1], [0.02, -0.1, 0.3]])
    np.testing.assert_allclose(line_likelihood.log_likelihood(theta, line_sums.line_data(whole)),
                               line_likelihood.log_likelihood(theta, grouped), rtol=1e-12)


def test_simex_sums_do_not_depend_on_how_the_stars_are_split():
    """Each star's extra noise is its own and the sums are double-double: any split adds up to the same bits."""
    rng = np.random.default_rng(8)
    n = 6_000
    ids = rng.choice(10**9, size=n, replace=False)
    ra, dec = rng.uniform(0, 360, n), np.rad2deg(np.arcsin(rng.uniform(-1, 1, n)))
    measure = latent_distance.DistanceMeasure(rng.uniform(0.2, 2.0, n), rng.uniform(0.01, 0.05, n),
                                              latent_distance.PARALLAX)
    feh = rng.normal(0.0, 0.2, n)
    chosen = binnings(RunConfig())

    def sums(index):
        part = latent_distance.DistanceMeasure(measure.u[index], measure.u_err[index], measure.kind)
        return simex.simex_sums(id_keys(ids[index]), ra[index], dec[index], part, feh[index], chosen, np.uint64(5))

    whole = sums(np.arange(n))
    order = rng.permutation(n)
    pieces = [sums(np.sort(i)) for i in np.array_split(order, 3)]
    for b, binning_sums in enumerate(whole):
        merged = pieces[2][b].merge(pieces[0][b]).merge(pieces[1][b])
        assert np.array_equal(merged.hi, binning_sums.hi)
        assert merged.hi[..., 0].sum() > 0


def test_a_mock_in_parts_is_drawn_part_by_part():
    model = mock_model("gaia")
    parts = partitions.mock_parts(model, 1_030_000, 42)
    assert len(parts) == 5 and sum(p.n for p in parts) == 1_030_000 and max(p.n for p in parts) <= partitions.PART_ROWS
