"""Catalogues as partitions: bounded pieces of rows that any process can read on its own.

Every run reads its stars partition by partition, so memory never has to
hold a whole catalogue.  A partition is a small, picklable description (a
file and a row range, or a part of the mock) that a Dask worker turns into
the canonical table of :mod:`galchem.data.contract` with :meth:`FilePart.read`
or :meth:`MockPart.read`.  The inputs:

* a **single file**: parquet files are split along their row groups (a row
  group larger than :data:`PART_ROWS` into row ranges), FITS files (memory-
  mapped) into row ranges; text formats (CSV, ECSV, .txt/.dat) are one
  partition, read whole: use parquet or FITS for large catalogues;
* a **folder of parquet files** (a partitioned catalogue; hidden files and
  ``_metadata``-style files are skipped), each file split as above; every
  file must hold the survey's columns with the same types;
* a **HATS catalogue** (the format Gaia DR3 is published in by the LSDB
  project): a folder with a ``properties`` file, whose pixel files are
  listed with the ``hats`` package;
* the **mock**: parts of at most :data:`PART_ROWS` rows, each drawn from its
  own child seed (:func:`galchem.data.mock.make_mock_part`) and cached;
* a **table in memory** (:class:`TablePart`), already canonical: an altered
  copy of a catalogue that fits in memory (for experiments in the notebooks).

Listing checks what can be checked cheaply and early, before any star is
read: an empty folder, a corrupt file (its footer), files mixing schemas,
a HATS folder that cannot be read.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from galchem.data import contract, files, mock
from galchem.data.surveys import Survey
from galchem.errors import ContractError, GalchemError
from galchem.data.cache import cached_frames

__all__ = ["PART_ROWS", "FilePart", "MockPart", "Part", "TablePart", "concat", "content_sha256", "file_parts", "is_hats",
           "list_parts", "mock_parts", "part_sizes", "total_rows"]

PART_ROWS = 250_000
"""Most rows of one partition: about 150 MB for the per-star stages, whatever the catalogue's size."""

HATS_MARKERS = ("properties", "hats.properties", "collection.properties")
"""Files that make a folder a HATS catalogue (or collection)."""


def part_sizes(n: int, most: int = PART_ROWS) -> list[int]:
    """``n`` rows in as few near-equal parts of at most ``most`` rows as possible."""
    count = max(1, -(-n // most))
    return [n // count + (1 if i < n % count else 0) for i in range(count)]


@dataclass(frozen=True)
class FilePart:
    """Rows [start, stop) of one catalogue file (stop None: to its end)."""

    path: str
    start: int = 0
    stop: int | None = None

    @property
    def rows(self) -> int | None:
        """Rows in the partition, if known without reading it."""
        return None if self.stop is None else self.stop - self.start

    def where(self, many: bool) -> str:
        """The file (and the rows, when a file has several partitions) for messages."""
        return f"{self.path} (rows {self.start:,}-{self.stop - 1:,})" if many and self.stop is not None else self.path

    def read(self, survey: Survey, many: bool = False) -> pd.DataFrame:
        """The canonical table of the partition (only the columns the survey names are read)."""
        rows = None if self.stop is None else (self.start, self.stop)
        table, units = files.read_table(self.path, survey.file_columns(), rows)
        return contract.canonical_table(table, units, survey, where=self.where(many))


@dataclass(frozen=True)
class MockPart:
    """Part ``index`` of a partitioned mock of ``n_total`` rows (cached like the rest of the stage results)."""

    model: mock.MockModel
    n_total: int
    seed: int
    index: int
    n_parts: int
    n: int

    @property
    def rows(self) -> int:
        """Rows in the part."""
        return self.n

    def where(self, many: bool) -> str:
        """The mock and the part, for messages."""
        return f"the {self.model.survey} mock" + (f" (part {self.index + 1} of {self.n_parts})" if many else "")

    def tables(self, names: tuple[str, ...] | None = None) -> dict[str, pd.DataFrame]:
        """The part's observed catalogue (file columns) and its truth, from the cache or drawn now.

        ``names`` (``"catalog"``, ``"truth"``): only these are read from the cache.
        """
        params = {"survey": self.model.survey, "n": self.n_total, "seed": self.seed, "model": repr(self.model),
                  "part": self.index, "parts": self.n_parts}

        return cached_frames("mock", params, self.draw, names)

    def draw(self) -> dict[str, pd.DataFrame]:
        """The part's catalogue and truth, drawn now (not cached)."""
        made = mock.make_mock_part(self.model.survey, self.n, self.seed, self.index, self.n_parts, self.model)
        return {"catalog": made.catalog, "truth": made.truth}

    def read(self, survey: Survey, many: bool = False) -> pd.DataFrame:
        """The canonical table of the part (only the columns the survey names)."""
        catalog = self.tables(("catalog",))["catalog"][survey.file_columns()]
        return contract.canonical_table(catalog, {}, survey, where=self.where(many))

    def truth(self) -> pd.DataFrame:
        """The part's truth table, populations as a categorical."""
        truth = self.tables(("truth",))["truth"]
        truth["population"] = pd.Categorical(truth["population"], categories=[p.name for p in self.model.populations])
        return truth


@dataclass(frozen=True)
class TablePart:
    """A canonical table in memory as one partition, with its truth (None for real data)."""

    name: str
    table: pd.DataFrame = field(repr=False, compare=False)
    truth_table: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def rows(self) -> int:
        """Rows in the table."""
        return len(self.table)

    def where(self, many: bool) -> str:
        """The table's name, for messages."""
        return self.name

    def read(self, survey: Survey, many: bool = False) -> pd.DataFrame:
        """A copy of the table (already canonical)."""
        return self.table.copy()

    def truth(self) -> pd.DataFrame:
        """The table's truth."""
        if self.truth_table is None:
            raise GalchemError(f"{self.name} has no truth table")
        return self.truth_table


Part = FilePart | MockPart | TablePart


def mock_parts(model: mock.MockModel, n: int, seed: int, most: int = PART_ROWS) -> tuple[MockPart, ...]:
    """The parts of a mock of ``n`` rows drawn from ``seed``."""
    sizes = part_sizes(n, most)
    return tuple(MockPart(model, n, seed, i, len(sizes), size) for i, size in enumerate(sizes))


def file_parts(path: Path, most: int = PART_ROWS) -> list[FilePart]:
    """The partitions of one catalogue file (see the module docstring)."""
    fmt = files.table_format(path)
    if fmt == ".parquet":
        parts, start, size = [], 0, 0
        for rows in files.parquet_row_groups(path):
            if size and size + rows > most:  # close the current part before this row group
                parts.append(FilePart(str(path), start, start + size))
                start, size = start + size, 0
            if rows > most:  # a large row group: near-equal ranges
                for chunk in part_sizes(rows, most):
                    parts.append(FilePart(str(path), start, start + chunk))
                    start += chunk
            else:
                size += rows
        if size:
            parts.append(FilePart(str(path), start, start + size))
        return parts
    if fmt == ".fits":
        parts, start = [], 0
        for chunk in part_sizes(files.row_count(path), most):
            parts.append(FilePart(str(path), start, start + chunk))
            start += chunk
        return parts
    return [FilePart(str(path))]


def is_hats(folder: Path) -> bool:
    """True for a folder that declares itself a HATS catalogue or collection."""
    return folder.is_dir() and any((folder / name).is_file() for name in HATS_MARKERS)


def _hats_files(folder: Path) -> list[Path]:
    """The parquet files of a HATS catalogue's pixels, in pixel order, listed with the ``hats`` package."""
    import hats
    from hats.io import paths

    try:
        catalog = hats.read_hats(folder)
        if hasattr(catalog, "main_catalog_dir"):  # a collection: its main catalogue
            catalog = hats.read_hats(catalog.main_catalog_dir)
        pixels = sorted(catalog.get_healpix_pixels(), key=lambda p: (p.order, p.pixel))
        found = [Path(str(paths.pixel_catalog_file(catalog.catalog_base_dir, pixel))) for pixel in pixels]
    except Exception as err:  # hats raises many kinds of errors for a folder that is not a catalogue
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise GalchemError(f"{folder}: not a readable HATS catalogue ({type(err).__name__}: {reason})") from None
    listed = []
    for path in found:  # a pixel may be a file or a folder of files
        listed.extend(sorted(path.rglob("*.parquet")) if path.is_dir() else [path])
    missing = [p for p in listed if not p.is_file()]
    if missing:
        raise GalchemError(f"{folder}: the HATS catalogue lists pixel file {missing[0]}, which does not exist")
    return listed


def _folder_files(folder: Path) -> list[Path]:
    """The parquet files of a partitioned catalogue, in path order (hidden and ``_``-prefixed files skipped)."""
    return sorted(path for path in folder.rglob("*.parquet")
                  if path.is_file() and not any(p.startswith((".", "_")) for p in path.relative_to(folder).parts))


def _check_schemas(folder: Path, paths: list[Path], survey: Survey) -> None:
    """Every file holds the survey's columns, with the same types in each: else one line naming the file."""
    import pyarrow.parquet as pq

    needed = survey.file_columns()
    first: dict[str, str] | None = None
    for path in paths:
        with files.readable(path, "parquet"):
            schema = pq.read_schema(path)
        contract.require_columns(schema.names, survey, str(path))
        types = {c: str(schema.field(c).type) for c in needed}
        if first is None:
            first = types
            reference = path
        elif types != first:
            column = next(c for c in needed if types[c] != first[c])
            raise ContractError(f"{folder}: its files mix schemas: column {column} is {first[column]} in "
                                f"{reference.relative_to(folder)} but {types[column]} in {path.relative_to(folder)}")


def list_parts(path: Path, survey: Survey, most: int = PART_ROWS) -> tuple[FilePart, ...]:
    """The partitions of a catalogue file, a folder of parquet files or a HATS catalogue, checked for reading."""
    if not path.is_dir():
        return tuple(file_parts(path, most) or [FilePart(str(path), 0, 0)])  # no rows: said when it is read
    paths = _hats_files(path) if is_hats(path) else _folder_files(path)
    if not paths:
        raise GalchemError(f"{path}: the folder holds no .parquet files; a catalogue folder is a partitioned parquet "
                           "catalogue or a HATS catalogue")
    _check_schemas(path, paths, survey)
    parts = [part for file in paths for part in file_parts(file, most) if part.rows]
    if not parts:
        raise ContractError(f"{path}: the catalogue has no rows")
    return tuple(parts)


def content_sha256(path: Path, parts: tuple[FilePart, ...]) -> str:
    """The sha256 of a catalogue's bytes: of the file, or of every partition file's name and sha256 in order."""
    if not path.is_dir():
        return files.file_sha256(path)
    digest = hashlib.sha256()
    for file in dict.fromkeys(Path(p.path) for p in parts):
        digest.update(os.fsencode(file.relative_to(path)))
        digest.update(files.file_sha256(file).encode())
    return digest.hexdigest()


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Partitions' tables as one (for small catalogues and the notebooks)."""
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def total_rows(parts: tuple[Part, ...]) -> int | None:
    """The rows of all partitions, if each is known without reading it."""
    rows = [p.rows for p in parts]
    return None if any(r is None for r in rows) else int(np.sum(rows))
