"""Reading and writing tables by file suffix, with atomic writes.

Every write goes to a temporary file in the target directory and is renamed
into place only when complete, so an interrupted run never leaves a partial
file behind.
"""
from __future__ import annotations

import hashlib
import csv
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.table import Table

from galchem.errors import GalchemError

__all__ = ["SUFFIXES", "atomic_path", "column_names", "current_umask", "file_sha256", "parquet_row_groups", "read_table", "readable",
           "row_count", "table_format", "write_parquet", "write_table"]

SUFFIXES = (".parquet", ".fits", ".csv", ".ecsv", ".txt", ".dat")
"""Table formats by file suffix (.txt and .dat: whitespace-separated text, header in a leading '#' line)."""

TEXT_SUFFIXES = (".txt", ".dat")


def table_format(path: Path) -> str:
    """The table format named by a file's suffix, or a clear error."""
    suffix = Path(path).suffix.lower()
    if suffix == ".fit":
        suffix = ".fits"
    if suffix not in SUFFIXES:
        raise GalchemError(f"{path}: unsupported table format {suffix!r}; use one of {', '.join(SUFFIXES)}")
    return suffix


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes, read in blocks (the one checksum of files: cache entries, manifests, inputs)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The file gets the usual permissions (0666 less the umask); a failure to
    write is one :class:`GalchemError` line, and leaves nothing behind.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    except OSError as err:
        raise GalchemError(f"{path}: cannot write here ({err.strerror or err})") from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except OSError as err:
        raise GalchemError(f"{path}: cannot write it ({err.strerror or err})") from None
    finally:
        tmp.unlink(missing_ok=True)


def current_umask() -> int:
    """The process's umask (read without changing it for long)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


PARQUET_OPTIONS = {"use_dictionary": False}
"""How galchem writes parquet: plain encoding, no dictionary (its columns are floats and ids, nearly all distinct, so
a dictionary only costs time, about ten times the write, and space)."""


def write_parquet(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``table`` to ``path`` as parquet (no index), with :data:`PARQUET_OPTIONS`; not atomic by itself."""
    table.to_parquet(path, index=False, **PARQUET_OPTIONS)


def write_table(table: pd.DataFrame, path: str | os.PathLike, units: dict[str, str] | None = None) -> Path:
    """Write ``table`` atomically in the format its suffix names.

    ``units`` (column -> unit string) are stored in formats that carry units
    (FITS, ECSV).
    """
    path = Path(path)
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt == ".parquet":
            write_parquet(table, tmp)
        elif fmt == ".csv":
            table.to_csv(tmp, index=False)
        elif fmt in TEXT_SUFFIXES:
            with tmp.open("w") as handle:
                handle.write("# " + " ".join(map(str, table.columns)) + "\n")
                table.to_csv(handle, sep=" ", index=False, header=False)
        else:
            if fmt == ".fits":  # FITS cannot store some units (dex); leave those columns without one
                units = {name: unit for name, unit in (units or {}).items() if _fits_unit(unit)}
            astropy_table = Table.from_pandas(table, units=units)
            astropy_table.write(tmp, format="fits" if fmt == ".fits" else "ascii.ecsv", overwrite=True)
    return path


def _fits_unit(unit: str) -> bool:
    try:
        u.Unit(unit).to_string("fits")
    except (ValueError, u.UnitsError):
        return False
    return True


def _text_header(path: Path) -> list[str] | None:
    """Column names of a whitespace-separated text file whose header line starts with '#', if it has one."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        first = handle.readline()
    return first.lstrip("#").split() if first.startswith("#") else None


@contextmanager
def readable(path: Path, what: str) -> Iterator[None]:
    """Turn any failure to read ``path`` into one :class:`GalchemError` line naming the file and the reason."""
    if path.is_dir():
        raise GalchemError(f"{path}: is a folder, not a {what} file")
    if not path.exists():
        raise GalchemError(f"{path}: no such file")
    try:
        yield
    except GalchemError:
        raise
    except MemoryError:
        raise GalchemError(f"{path}: too large to read into this machine's memory") from None
    except PermissionError:
        raise GalchemError(f"{path}: permission denied") from None
    except Exception as err:  # corrupt, truncated, empty or mislabelled files fail in many library-specific ways
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise GalchemError(f"{path}: cannot be read as a {what} file ({type(err).__name__}: {reason})") from None


def column_names(path: str | os.PathLike) -> list[str]:
    """The column names of a table file, read without loading its rows."""
    path = Path(path)
    fmt = table_format(path)
    with readable(path, fmt.lstrip(".")):
        return _column_names(path, fmt)


def _column_names(path: Path, fmt: str) -> list[str]:
    if fmt == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if fmt == ".csv":
        return list(pd.read_csv(path, nrows=0).columns)
    if fmt in TEXT_SUFFIXES:
        return _text_header(path) or list(pd.read_csv(path, sep=r"\s+", nrows=0).columns)
    return list(_astropy_read(path, fmt).colnames)


def row_count(path: str | os.PathLike) -> int:
    """The number of rows of a table file, from its metadata where it has some (parquet, FITS), else by lines."""
    path = Path(path)
    fmt = table_format(path)
    with readable(path, fmt.lstrip(".")):
        if fmt == ".parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        if fmt == ".fits":
            from astropy.io import fits

            with fits.open(path, memmap=True) as hdus:
                tables = [hdu for hdu in hdus if isinstance(hdu, fits.BinTableHDU | fits.TableHDU)]
                if not tables:
                    raise GalchemError(f"{path}: the FITS file holds no table")
                return int(tables[0].header["NAXIS2"])
        lines = 0
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 24), b""):
                lines += block.count(b"\n")
        return lines


def parquet_row_groups(path: str | os.PathLike) -> list[int]:
    """The number of rows of each row group of a parquet file, read from its footer."""
    import pyarrow.parquet as pq

    path = Path(path)
    with readable(path, "parquet"):
        metadata = pq.ParquetFile(path).metadata
        return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def read_table(path: str | os.PathLike, columns: list[str] | None = None, rows: tuple[int, int] | None = None
               ) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a table (only ``columns``, if given) and the units its file declares (column -> unit string).

    ``rows`` = (start, stop) reads only those rows: a parquet file decodes
    only the row groups that hold them, a FITS file (memory-mapped) only
    those rows of the columns asked for; text files are read whole first.
    Masked values become NaN and byte strings text.
    """
    path = Path(path)
    fmt = table_format(path)
    with readable(path, fmt.lstrip(".")):
        _refuse_repeated_names(path, _raw_names(path, fmt), columns)
        frame, units = _read(path, fmt, columns, rows)
    if len(frame.columns) == 0:
        raise GalchemError(f"{path}: the file holds no columns")
    return frame, units


def _raw_names(path: Path, fmt: str) -> list[str]:
    """The column names exactly as the file writes them, repeats included (ECSV: astropy refuses repeats itself)."""
    if fmt == ".csv":
        with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
            return next(csv.reader(handle), [])
    if fmt in TEXT_SUFFIXES:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            return handle.readline().lstrip("#").split()
    if fmt == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if fmt == ".fits":
        from astropy.io import fits

        with fits.open(path, memmap=True) as hdus:
            tables = [hdu for hdu in hdus if isinstance(hdu, fits.BinTableHDU | fits.TableHDU)]
            return list(tables[0].columns.names) if tables else []
    return []


def _refuse_repeated_names(path: Path, names: list[str], wanted: list[str] | None) -> None:
    """Refuse a file that names a column it is read for (any column, if all are read) more than once: a reader
    would take one of the copies and silently drop the other."""
    counts = Counter(name.strip() for name in names)
    repeated = [name for name, count in counts.items() if count > 1 and (wanted is None or name in wanted)]
    if repeated:
        raise GalchemError(f"{path}: the column {repeated[0]!r} appears {counts[repeated[0]]} times in the file; "
                           "rename or drop the copies so that it is clear which one to read")


def _parquet_rows(path: Path, columns: list[str] | None, rows: tuple[int, int]) -> pd.DataFrame:
    """Rows [start, stop) of a parquet file, decoding only the row groups that hold them."""
    import pyarrow.parquet as pq

    start, stop = rows
    handle = pq.ParquetFile(path)
    metadata = handle.metadata
    bounds = np.cumsum([0] + [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)])
    groups = [i for i in range(metadata.num_row_groups) if bounds[i] < stop and bounds[i + 1] > start]
    table = handle.read_row_groups(groups, columns=columns, use_pandas_metadata=False)
    first = int(bounds[groups[0]]) if groups else 0
    return table.slice(start - first, stop - start).to_pandas()


def _read(path: Path, fmt: str, columns: list[str] | None, rows: tuple[int, int] | None = None
          ) -> tuple[pd.DataFrame, dict[str, str]]:
    if fmt == ".parquet":
        frame = pd.read_parquet(path, columns=columns) if rows is None else _parquet_rows(path, columns, rows)
        return _numpy_dtypes(frame), {}
    if rows is not None and fmt != ".fits":
        frame, units = _read(path, fmt, columns)
        return frame.iloc[rows[0]:rows[1]].reset_index(drop=True), units
    if fmt == ".csv":
        return pd.read_csv(path, usecols=columns), {}
    if fmt in TEXT_SUFFIXES:
        names = _text_header(path)
        frame = pd.read_csv(path, sep=r"\s+", comment="#" if names else None, header=None if names else "infer",
                            names=names, usecols=columns)
        return frame, {}
    table = _astropy_read(path, fmt)
    names = columns if columns is not None else table.colnames
    units = {name: str(table[name].unit) for name in names if table[name].unit is not None}
    chosen = slice(None) if rows is None else slice(*rows)
    frame = pd.DataFrame({name: _plain(table[name][chosen]) for name in names})
    return frame, units


def _numpy_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable pandas number columns (``Int64``, ``Float64``, as parquet files written by pandas hold) as numpy
    ones: integers stay integers when complete, and a missing value (NA) becomes NaN, like a masked one."""
    for name in frame.columns:
        dtype = frame[name].dtype
        nullable = isinstance(dtype, pd.api.extensions.ExtensionDtype) and hasattr(dtype, "numpy_dtype")
        if nullable and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            series = frame[name]
            if series.isna().any():
                frame[name] = series.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                frame[name] = series.to_numpy(dtype=dtype.numpy_dtype)
    return frame


def _astropy_read(path: Path, fmt: str) -> Table:
    """A FITS (memory-mapped: only the columns used are read) or ECSV table."""
    return Table.read(path, format="fits", memmap=True) if fmt == ".fits" else Table.read(path, format="ascii.ecsv")


def _plain(column) -> np.ndarray:
    """An astropy column as a plain numpy array: masked numbers as NaN, bytes as stripped text, native byte order."""
    data = np.ma.getdata(column)
    mask = np.ma.getmaskarray(column)
    if data.dtype.kind == "S":
        return np.char.strip(np.char.decode(data, "utf-8", "replace")).astype(object)
    if data.dtype.kind in "U":
        return np.char.strip(data).astype(object)
    if data.dtype.kind in "iu" and not mask.any():
        return data.astype(data.dtype.newbyteorder("="))
    if data.dtype.kind in "iufb":
        values = data.astype(np.float64)
        values[mask] = np.nan
        return values
    return np.asarray(data)
