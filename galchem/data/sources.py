"""Where a run's stars come from: the mock Galaxy (default), the archives, or any catalogue file a survey describes.

Every chapter starts with :func:`load_sample` and shows :meth:`Dataset.banner`,
so every results page says which data it shows.  Whatever the source, the
dataset holds the *canonical table* of :mod:`galchem.data.contract`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from galchem.data import contract, files, mock
from galchem.data.checks import check_catalog
from galchem.data.surveys import Survey, load_survey
from galchem.errors import ContractError, GalchemError
from galchem.run.cache import cached_frames, stage_key
from galchem.run.config import RunConfig, sha256_file
from galchem.run.resources import check_memory

__all__ = ["Dataset", "load_archive", "load_file", "load_mock", "load_sample", "read_catalog"]


@dataclass(frozen=True)
class Dataset:
    """A canonical catalogue ready for the cut flow, its survey, where it came from and (mock) its truth.

    ``key`` identifies the data for the stage cache: the mock's parameters,
    or the sha256 of a file's bytes.
    """

    survey: Survey
    catalog: pd.DataFrame
    source: str
    key: str
    truth: pd.DataFrame | None = None
    model: mock.MockModel | None = None
    path: Path | None = None

    @property
    def sample(self) -> str:
        """The survey's name."""
        return self.survey.name

    @property
    def is_mock(self) -> bool:
        """True when the data are the mock Galaxy, whose truth is known."""
        return self.truth is not None

    def banner(self) -> str:
        """A MyST admonition saying which data the page shows."""
        distances = "" if "distance" in self.survey.columns else f" Distances are {self.survey.distance_origin}."
        if self.is_mock:
            return (
                ":::{admonition} Mock data with known truth\n:class: important\n"
                f"This page shows **{self.source}**, not real stars. Every number below can be checked "
                "against the mock's truth; to run it on a real catalogue set the `data_source` parameter.\n:::"
            )
        title = "Real stars from the archives" if self.key.startswith("archive-") else "Data from a catalogue file"
        return f":::{{admonition}} {title}\n:class: note\nThis page shows **{self.source}**.{distances}\n:::"


def read_catalog(path: str | os.PathLike, survey: str | Survey) -> pd.DataFrame:
    """Read a catalogue file described by ``survey`` into the canonical table (only the columns it names)."""
    survey = load_survey(survey)
    path = Path(path)
    if path.is_dir():
        raise ContractError(f"{path}: is a folder, not a catalogue file")
    files.table_format(path)
    if not path.is_file():
        raise ContractError(f"{path}: no such file")
    check_memory(files.row_count(path), str(path))
    present = set(files.column_names(path))
    absent = [column for column in survey.file_columns() if column not in present]
    if absent:
        roles = {column: name for name, column in survey.columns.items()}
        listing = ", ".join(f"{c} (role {roles[c]})" if c in roles else f"{c} (read by a cut)" for c in absent)
        raise ContractError(f"{path}: missing column(s) that survey {survey.name!r} names: {listing}")
    table, units = files.read_table(path, survey.file_columns())
    canonical = contract.canonical_table(table, units, survey, where=str(path))
    check_catalog(canonical, survey, where=str(path))
    return canonical


def load_mock(survey: str | Survey = "lamost", n_stars: int | None = None, seed: int | None = None,
              **metallicity: float) -> Dataset:
    """The mock sample of a built-in survey (cached): ``n_stars`` candidate rows (default: the study's size).

    ``seed`` defaults to :attr:`RunConfig.mock_seed`; keyword arguments
    override :class:`galchem.data.mock.MetallicityField` fields.
    """
    survey = load_survey(survey)
    seed = RunConfig().mock_seed if seed is None else int(seed)
    model = mock.mock_model(survey.name, **metallicity)
    n = model.size if n_stars is None else int(n_stars)
    if n < 1:
        raise GalchemError(f"a mock needs at least one star, not {n}")
    check_memory(n, f"the {survey.name} mock")

    def draw() -> dict[str, pd.DataFrame]:
        made = mock.make_mock(survey.name, n, seed, model)
        return {"catalog": made.catalog, "truth": made.truth}

    params = {"sample": survey.name, "n": n, "seed": seed, "model": repr(model)}
    tables = cached_frames("mock", params, draw)
    truth = tables["truth"]
    truth["population"] = pd.Categorical(truth["population"], categories=[p.name for p in model.populations])
    catalog = contract.canonical_table(tables["catalog"], {}, survey, where=f"the {survey.name} mock")
    source = f"the mock Galaxy ({survey.name}, {n:,} candidates, seed {seed})"
    return Dataset(survey, catalog, source, f"mock-{stage_key('mock', params)}", truth, model)


def load_archive(survey: str | Survey, refresh: bool = False) -> Dataset:
    """The real catalogue of a built-in survey, fetched from the archives once and then read from the local cache."""
    from galchem.data import archive

    survey = load_survey(survey)
    fetched = archive.fetch(survey.name, refresh=refresh)
    catalog = read_catalog(fetched.path, survey)
    side = fetched.sidecar
    source = (f"the {survey.name} catalogue from {side['service']} ({len(catalog):,} rows, "
              f"fetched {side['fetched'][:10]})")
    return Dataset(survey, catalog, source, f"archive-{side['sha256']}", path=fetched.path)


def load_file(path: str | os.PathLike, survey: str | Survey) -> Dataset:
    """A catalogue file described by ``survey``; keyed for the cache by the sha256 of its bytes."""
    survey = load_survey(survey)
    path = Path(path).expanduser()
    catalog = read_catalog(path, survey)
    source = f"the catalogue {path.name} ({len(catalog):,} rows, survey {survey.name})"
    return Dataset(survey, catalog, source, f"file-{sha256_file(path)}", path=path)


def load_sample(survey: str | Survey = "lamost", data_source: str = "mock", n_stars: int | None = None,
                seed: int | None = None) -> Dataset:
    """Load ``survey``'s stars from ``data_source``: ``'mock'``, ``'archive'`` or the path of a catalogue file.

    ``n_stars`` and ``seed`` (the mock's seed) apply to the mock only;
    ``'mock'`` and ``'archive'`` exist for the built-in surveys.
    ``'archive'`` needs the network the first time (see :mod:`galchem.data.archive`).
    """
    survey = load_survey(survey)
    if data_source in ("mock", "archive") and survey.name not in mock.MODELS:
        raise GalchemError(f"data_source {data_source!r} exists only for the built-in surveys "
                           f"({', '.join(mock.MODELS)}); for survey {survey.name!r} give a catalogue file")
    if data_source == "mock":
        return load_mock(survey, n_stars, seed)
    if data_source == "archive":
        return load_archive(survey)
    path = Path(data_source).expanduser()
    if not path.exists():
        raise GalchemError(f"data_source {data_source!r} is neither 'mock', 'archive' nor an existing catalogue file")
    return load_file(path, survey)
