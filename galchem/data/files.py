"""Reading and writing tables by file suffix, with atomic writes.

Every write goes to a temporary file in the target directory and is renamed
into place only when complete, so an interrupted run never leaves a partial
file behind.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import astropy.units as u
import pandas as pd
from astropy.table import Table

from galchem.errors import GalchemError

SUFFIXES = (".parquet", ".fits", ".csv", ".ecsv")


def table_format(path: Path) -> str:
    """The table format named by a file's suffix, or a clear error."""
    suffix = Path(path).suffix.lower()
    if suffix == ".fit":
        suffix = ".fits"
    if suffix not in SUFFIXES:
        raise GalchemError(f"{path}: unsupported table format {suffix!r}; use one of {', '.join(SUFFIXES)}")
    return suffix


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(table: pd.DataFrame, path: str | os.PathLike, units: dict[str, str] | None = None) -> Path:
    """Write ``table`` atomically in the format its suffix names.

    ``units`` (column -> unit string) are stored in formats that carry units
    (FITS, ECSV).
    """
    path = Path(path)
    fmt = table_format(path)
    with atomic_path(path) as tmp:
        if fmt == ".parquet":
            table.to_parquet(tmp, index=False)
        elif fmt == ".csv":
            table.to_csv(tmp, index=False)
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


def read_table(path: str | os.PathLike) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a table and the units its file declares (column -> unit string)."""
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise GalchemError(f"{path}: no such file")
    if fmt == ".parquet":
        return pd.read_parquet(path), {}
    if fmt == ".csv":
        return pd.read_csv(path), {}
    table = Table.read(path, format="fits" if fmt == ".fits" else "ascii.ecsv")
    units = {name: str(col.unit) for name, col in table.columns.items() if col.unit is not None}
    frame = table.to_pandas()
    for name in frame.columns:
        if frame[name].dtype == object and len(frame) and isinstance(frame[name].iloc[0], bytes):
            frame[name] = frame[name].str.decode("ascii")
    return frame, units
