"""Where a run's stars come from: the mock Galaxy (default), the archives, or any catalogue a survey describes.

Every chapter starts with :func:`load_dataset` and shows :meth:`Dataset.banner`,
so every results page says which data it shows.  Whatever the source, a
dataset is a list of partitions (:mod:`galchem.data.partitions`) that each
read as the *canonical table* of :mod:`galchem.data.contract`; the stages
run partition by partition, so a catalogue need not fit in memory.  For
small data and the notebooks, :attr:`Dataset.catalog` (and, for the mock,
:attr:`Dataset.truth`) read every partition into one table on first use.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from galchem.data import contract, files, mock, partitions
from galchem.data.inspection import inspect_catalog
from galchem.data.surveys import Survey, load_survey
from galchem.errors import ContractError, GalchemError
from galchem.data.cache import stage_key

__all__ = ["Dataset", "load_archive", "load_dataset", "load_file", "load_mock", "read_catalog"]


@dataclass(frozen=True)
class Dataset:
    """A catalogue's partitions, its survey, where it came from and (mock) the model that made it.

    ``key`` identifies the data for the stage cache: the mock's parameters,
    or the sha256 of the catalogue's bytes (``sha256``, None for the mock).
    """

    survey: Survey
    parts: tuple[partitions.Part, ...]
    source: str
    key: str
    model: mock.MockModel | None = None
    path: Path | None = None
    sha256: str | None = None

    @property
    def sample(self) -> str:
        """The survey's name."""
        return self.survey.name

    @property
    def is_mock(self) -> bool:
        """True when the data are the mock Galaxy, whose truth is known."""
        return self.model is not None

    @property
    def rows(self) -> int | None:
        """Rows of the whole catalogue, if known without reading it (text files: None)."""
        return partitions.total_rows(self.parts)

    @cached_property
    def catalog(self) -> pd.DataFrame:
        """The whole canonical catalogue in memory (read on first use: for small data and the notebooks)."""
        many = len(self.parts) > 1
        return partitions.concat([part.read(self.survey, many) for part in self.parts])

    @cached_property
    def truth(self) -> pd.DataFrame | None:
        """The mock's truth table in memory (read on first use), keyed by ``source_id``; None for real data."""
        return partitions.concat([part.truth() for part in self.parts]) if self.is_mock else None

    def with_catalog(self, table: pd.DataFrame, label: str) -> Dataset:
        """This dataset with its canonical catalogue replaced by ``table`` (an altered copy, held in memory).

        The truth, if any, is kept; the stage cache is keyed by the table's content.
        """
        digest = hashlib.sha256(pd.util.hash_pandas_object(table, index=True).to_numpy().tobytes())
        digest.update(",".join(f"{name}:{dtype}" for name, dtype in table.dtypes.items()).encode())
        part = partitions.TablePart(f"{self.source}, {label}", table, self.truth)
        return replace(self, parts=(part,), source=part.name, key=f"table-{digest.hexdigest()}", path=None,
                       sha256=None)

    def banner(self) -> str:
        """A MyST admonition saying which data the page shows."""
        distances = "" if "distance" in self.survey.columns else f" Distances are {self.survey.distance_origin}."
        if self.is_mock:
            return (
                ":::{admonition} Mock data with known truth\n:class: important\n"
                f"This page shows **{self.source}**, not real stars. Every number below can be checked "
                "against the mock's truth; to run it on a real catalogue set the `catalog` parameter.\n:::"
            )
        title = "Real stars from the archives" if self.key.startswith("archive-") else "Data from a catalogue file"
        return f":::{{admonition}} {title}\n:class: note\nThis page shows **{self.source}**.{distances}\n:::"


def _catalog_parts(path: Path, survey: Survey) -> tuple[partitions.FilePart, ...]:
    """The checked partitions of a catalogue file or folder (one line for anything that cannot be read)."""
    if not path.is_dir():
        files.table_format(path)
        if not path.is_file():
            raise ContractError(f"{path}: no such file")
        contract.require_columns(files.column_names(path), survey, str(path))
    return partitions.list_parts(path, survey)


def read_catalog(path: str | os.PathLike, survey: str | Survey) -> pd.DataFrame:
    """Read a catalogue described by ``survey`` into one canonical table (only the columns it names).

    For catalogues that fit in memory; the run itself reads partition by partition.
    """
    survey = load_survey(survey)
    path = Path(path)
    parts = _catalog_parts(path, survey)
    inspect_catalog(parts, survey, str(path))
    return partitions.concat([part.read(survey, len(parts) > 1) for part in parts])


def _whole_number(value, name: str, low: int, high: int) -> int:
    """``value`` as a Python int if it is a whole number (NumPy integers too, bools not) from ``low`` to ``high``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise GalchemError(f"the mock's {name} = {value!r} is not allowed: an integer from {low:,} to {high:,}")
    return int(value)


def load_mock(survey: str | Survey = "lamost", n_stars: int | None = None, seed: int | None = None,
              model: mock.MockModel | None = None, **metallicity: float) -> Dataset:
    """The mock sample of a built-in survey: ``n_stars`` candidate rows (default: the model's size).

    ``seed`` defaults to :data:`galchem.data.mock.SEED`.  ``model`` draws
    the mock from another :class:`galchem.data.mock.MockModel` of the same
    survey (a Galaxy with another truth or other errors, to validate the
    method on); without it, the survey's default model with any keyword
    arguments overriding :class:`galchem.data.mock.MetallicityField` fields.
    The mock is drawn in parts of at most :data:`galchem.data.partitions.PART_ROWS`
    rows, each cached, when a stage first reads it.
    """
    survey = load_survey(survey)
    seed = mock.SEED if seed is None else _whole_number(seed, "seed", 0, 2**63 - 1)
    if model is None:
        model = mock.mock_model(survey.name, **metallicity)
    elif metallicity or model.survey != survey.name:
        raise GalchemError(f"a model given to load_mock is the whole truth: it must be for survey {survey.name!r} "
                           "and come without MetallicityField keywords (replace them in the model)")
    n = model.n_stars if n_stars is None else _whole_number(n_stars, "n_stars", 1, 10**9)
    params = {"survey": survey.name, "n": n, "seed": seed, "model": repr(model), "part_rows": partitions.PART_ROWS}
    source = f"the mock Galaxy ({survey.name}, {n:,} candidates, seed {seed})"
    return Dataset(survey, partitions.mock_parts(model, n, seed), source, f"mock-{stage_key('mock', params)}", model)


def load_archive(survey: str | Survey, refresh: bool = False) -> Dataset:
    """The real catalogue of a built-in survey, fetched from the archives once and then read from the local cache."""
    from galchem.data import archive

    survey = load_survey(survey)
    fetched = archive.fetch(survey.name, refresh=refresh)
    side = fetched.sidecar
    parts = _catalog_parts(fetched.path, survey)
    source = (f"the {survey.name} catalogue from {side['service']} ({side['rows']:,} rows, "
              f"fetched {side['fetched'][:10]})")
    return Dataset(survey, parts, source, f"archive-{side['sha256']}", path=fetched.path, sha256=side["sha256"])


def load_file(path: str | os.PathLike, survey: str | Survey) -> Dataset:
    """A catalogue file, a folder of parquet files or a HATS catalogue described by ``survey``.

    Keyed for the cache by the sha256 of its bytes (of every file, for a folder).
    """
    survey = load_survey(survey)
    path = Path(path).expanduser()
    parts = _catalog_parts(path, survey)
    digest = partitions.content_sha256(path, parts)
    rows = partitions.total_rows(parts)
    kind = ("HATS catalogue" if partitions.is_hats(path) else "partitioned catalogue") if path.is_dir() else "catalogue"
    size = f"{rows:,} rows, " if rows is not None else ""
    many = f"{len(parts)} partitions, " if len(parts) > 1 else ""
    source = f"the {kind} {path.name} ({size}{many}survey {survey.name})"
    return Dataset(survey, parts, source, f"file-{digest}", path=path, sha256=digest)


def load_dataset(survey: str | Survey = "lamost", catalog: str = "mock", n_stars: int | None = None,
                seed: int | None = None) -> Dataset:
    """Load ``survey``'s stars from ``catalog``: ``'mock'``, ``'archive'`` or the path of a catalogue
    (a file, a folder of parquet files or a HATS catalogue).

    ``n_stars`` and ``seed`` (the mock's seed) apply to the mock only;
    ``'mock'`` and ``'archive'`` exist for the built-in surveys.
    ``'archive'`` needs the network the first time (see :mod:`galchem.data.archive`).
    """
    survey = load_survey(survey)
    if not isinstance(catalog, (str, os.PathLike)):
        raise GalchemError(f"catalog should be 'mock', 'archive' or the path of a catalogue, not a "
                           f"{type(catalog).__name__}; write a table to a file first (table.to_parquet(PATH))")
    if catalog in ("mock", "archive") and survey.name not in mock.MODELS:
        raise GalchemError(f"catalog {catalog!r} exists only for the built-in surveys "
                           f"({', '.join(mock.MODELS)}); for survey {survey.name!r} give a catalogue file")
    if catalog == "mock":
        return load_mock(survey, n_stars, seed)
    if catalog == "archive":
        return load_archive(survey)
    path = Path(catalog).expanduser()
    if not path.exists():
        raise GalchemError(f"catalog {catalog!r} is neither 'mock', 'archive' nor an existing catalogue file "
                           "or folder")
    return load_file(path, survey)
