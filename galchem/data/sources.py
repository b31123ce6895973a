"""Loading a sample for the book: the mock Galaxy (default) or a local catalogue.

Every chapter starts with :func:`load_sample` and shows :meth:`Dataset.banner`,
so every results page says which data it shows.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from galchem.data import contract
from galchem.physics import distances
from galchem.data import mock
from galchem.run.cache import cached, stage_key
from galchem.errors import GalchemError


@dataclass(frozen=True)
class Dataset:
    """A catalogue ready for the cut flow, where it came from, and (for the mock) its truth.

    ``key`` identifies the data for the stage cache: the mock's parameters, or
    a file's path, size and modification time.
    """

    sample: str
    catalog: pd.DataFrame
    source: str
    key: str
    truth: pd.DataFrame | None = None
    model: mock.MockModel | None = None

    @property
    def is_mock(self) -> bool:
        """True when the data are the mock Galaxy, whose truth is known."""
        return self.truth is not None

    def banner(self) -> str:
        """A MyST admonition saying which data the page shows."""
        if self.is_mock:
            return (
                ":::{admonition} Mock data with known truth\n:class: important\n"
                f"This page shows **{self.source}**, not real stars. Every number below can be checked "
                "against the mock's truth; to run it on a real catalogue set the `data_source` parameter.\n:::"
            )
        title = "Real stars from the archives" if self.key.startswith("archive-") else "Data from a catalogue file"
        return f":::{{admonition}} {title}\n:class: note\nThis page shows **{self.source}**.\n:::"


def load_mock(sample: str, n_stars: int | None = None, seed: int = 42, **metallicity: float) -> Dataset:
    """The mock sample (cached), ``n_stars`` candidate rows (default: the study's size).

    Keyword arguments override :class:`galchem.data.mock.MetallicityField` fields.
    """
    model = mock.mock_model(sample, **metallicity)
    n = model.size if n_stars is None else int(n_stars)

    def draw() -> dict[str, pd.DataFrame]:
        made = mock.make_mock(sample, n, seed, model)
        return {"catalog": made.catalog, "truth": made.truth}

    params = {"sample": sample, "n": n, "seed": seed, "model": repr(model)}
    tables = cached("mock", params, draw, (mock, distances))
    truth = tables["truth"]
    truth["population"] = pd.Categorical(truth["population"], categories=[p.name for p in model.populations])
    source = f"the mock Galaxy ({sample}, {n:,} candidates, seed {seed})"
    return Dataset(sample, tables["catalog"], source, f"mock-{stage_key('mock', params, (mock, distances))}", truth, model)


def load_archive(sample: str, refresh: bool = False) -> Dataset:
    """The real catalogue of ``sample``, fetched from the archives once and then read from the local cache."""
    from galchem.data import archive

    fetched = archive.fetch(sample, refresh=refresh)
    catalog = contract.read_catalog(fetched.path, sample)
    side = fetched.sidecar
    source = f"the {sample} catalogue from {side['service']} ({len(catalog):,} rows, fetched {side['fetched'][:10]})"
    return Dataset(sample, catalog, source, f"archive-{side['sha256'][:16]}")


def load_sample(sample: str, data_source: str = "mock", n_stars: int | None = None, seed: int = 42) -> Dataset:
    """Load ``sample`` from ``data_source``: ``'mock'``, ``'archive'`` or the path of a catalogue file.

    A file must obey the input contract (:mod:`galchem.data.contract`); ``n_stars``
    and ``seed`` apply to the mock only.  ``'archive'`` needs the network the
    first time (see :mod:`galchem.data.archive`).
    """
    contract.columns(sample)
    if data_source == "mock":
        return load_mock(sample, n_stars, seed)
    if data_source == "archive":
        return load_archive(sample)
    path = Path(data_source).expanduser()
    if not path.is_file():
        raise GalchemError(f"data_source {data_source!r} is neither 'mock', 'archive' nor an existing catalogue file")
    catalog = contract.read_catalog(path, sample)
    stat = path.stat()
    key = f"file-{path.resolve()}-{stat.st_size}-{stat.st_mtime_ns}"
    return Dataset(sample, catalog, f"the catalogue {path.name} ({len(catalog):,} rows)", key)
