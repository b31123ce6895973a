"""A cache of stage results that cannot lie: keyed by content, verified on read.

A stage's key is a hash of its name, its parameters (which name the input by
the sha256 of its bytes, or by the mock's parameters) and the source code of
the whole ``galchem`` package, so changing any of them recomputes the stage.
An entry is a folder of parquet files plus ``entry.json``, which records the
key's parameters and the sha256 of every file.  Entries are written to a
temporary folder and renamed into place, so an interrupted run leaves no
partial entry; on read every checksum is verified, and a damaged, foreign or
incomplete entry is discarded and recomputed with a one-line warning.  A
cache folder that cannot be used (read-only, a file) means running without
a cache, also with a one-line warning.

Typed stage results cross this boundary as tables: a result class provides
``to_tables()`` and ``from_tables(tables)`` (:class:`Cacheable`).  Results
too large for memory (the per-star tables of a partitioned catalogue) are
written partition by partition into the entry's folder as they are computed
(:func:`cached_parts`); the record lists those files and their checksums too.
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Protocol, TypeVar

import pandas as pd

from galchem.data.files import file_sha256, write_parquet

__all__ = ["Cacheable", "cache_dir", "cached", "cached_frames", "cached_parts", "package_digest", "stage_key", "warn"]

ENTRY = "entry.json"
STALE_SECONDS = 24 * 3600
"""Temporary entries older than this, or whose writing process is gone, are leftovers and are removed."""


def warn(message: str) -> None:
    """One line on standard error: something was repaired or skipped, and the run goes on."""
    print(f"galchem: warning: {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Where stage results live: ``$GALCHEM_CACHE_DIR``, else ``~/.cache/galchem``."""
    root = os.environ.get("GALCHEM_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "galchem"
    return Path(root)


@lru_cache(maxsize=1)
def package_digest() -> str:
    """sha256 of every source file of the galchem package (and the built-in survey files)."""
    top = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted([*top.rglob("*.py"), *top.rglob("*.toml")]):
        digest.update(str(path.relative_to(top)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def stage_key(stage: str, params: Mapping) -> str:
    """A stable hash of a stage's name, its parameters and the package's source."""
    digest = hashlib.sha256(stage.encode())
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    digest.update(package_digest().encode())
    return digest.hexdigest()[:24]


class Cacheable(Protocol):
    """A typed stage result that converts to and from named tables at the cache boundary."""

    def to_tables(self) -> dict[str, pd.DataFrame]: ...


R = TypeVar("R")


def _usable(root: Path) -> bool:
    """True if stage results can be stored under ``root``; else warn once and run without a cache."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=root, prefix=".probe-")
        probe.close()
    except OSError as err:
        if str(root) not in _WARNED:
            _WARNED.add(str(root))
            warn(f"cache folder {root} cannot be used ({err.strerror or err}); running without a cache")
        return False
    return True


_WARNED: set[str] = set()


def _part_files(entry: Path) -> list[str]:
    """The files in an entry's subfolders (partition files), as paths relative to the entry."""
    return sorted(str(p.relative_to(entry)) for p in entry.glob("*/**/*") if p.is_file())


def _read_entry(entry: Path, stage: str, key: str, names: tuple[str, ...] | None = None
                ) -> dict[str, pd.DataFrame] | None:
    """The entry's tables (only ``names``, if given; every file is verified) if it is complete, ours and undamaged;
    else None (after removing it, with a warning)."""
    record_path = entry / ENTRY
    if not entry.exists():
        return None
    problem = None
    try:
        record = json.loads(record_path.read_text())
        if record.get("stage") != stage or record.get("key") != key:
            problem = "it belongs to another stage or key"
        else:
            tables = {}
            for name, checksum in record["files"].items():
                path = entry / f"{name}.parquet"
                if file_sha256(path) != checksum:
                    problem = f"{path.name} does not match its checksum"
                    break
                if names is None or name in names:
                    tables[name] = pd.read_parquet(path)
            parts = record.get("parts", {})
            for name, checksum in parts.items():
                if problem is None and file_sha256(entry / name) != checksum:
                    problem = f"{name} does not match its checksum"
            if problem is None and (sorted(p.stem for p in entry.glob("*.parquet")) != sorted(record["files"])
                                    or _part_files(entry) != sorted(parts)):
                problem = "it holds files its record does not list"
            if problem is None:
                return tables
    except (OSError, ValueError, KeyError, TypeError) as err:
        problem = f"it is incomplete or unreadable ({type(err).__name__})"
    warn(f"cache entry {entry.name} discarded and recomputed: {problem}")
    shutil.rmtree(entry, ignore_errors=True)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _clean_leftovers(root: Path) -> None:
    """Remove temporary entries of interrupted runs: their process is gone, or they are over a day old."""
    now = time.time()
    for leftover in root.glob(".*.tmp*"):
        try:
            pid = int(leftover.name.rsplit(".tmp", 1)[1].split(".", 1)[0])
        except (IndexError, ValueError):
            pid = None
        try:
            if (pid is not None and not _alive(pid)) or now - leftover.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            pass


def _write_entry(entry: Path, stage: str, key: str, params: Mapping, tables: Mapping[str, pd.DataFrame],
                 tmp: Path | None = None) -> None:
    """Write the tables and their record to a temporary folder (``tmp``, which may already hold partition files),
    then rename it into place."""
    tmp = tmp or Path(tempfile.mkdtemp(prefix=f".{entry.name}.tmp{os.getpid()}.", dir=entry.parent))
    try:
        checksums = {}
        for name, table in tables.items():
            path = tmp / f"{name}.parquet"
            write_parquet(table, path)
            checksums[name] = file_sha256(path)
        parts = {name: file_sha256(tmp / name) for name in _part_files(tmp)}
        record = {"stage": stage, "key": key, "params": params, "files": checksums, "parts": parts}
        (tmp / ENTRY).write_text(json.dumps(record, indent=2, sort_keys=True, default=str))
        os.replace(tmp, entry)
    except OSError as err:
        if not (entry / ENTRY).is_file():  # not a concurrent writer that won the race
            warn(f"cache entry {entry.name} could not be stored ({err.strerror or err}); going on without it")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def cached_frames(stage: str, params: Mapping, compute: Callable[[], Mapping[str, pd.DataFrame]],
                  names: tuple[str, ...] | None = None) -> dict[str, pd.DataFrame]:
    """The tables of ``stage`` for ``params``: read and verified from the cache, or computed and stored.

    ``names``: read only these tables from the cache (all are verified), to save memory.
    """
    key = stage_key(stage, params)
    root = cache_dir()
    if not _usable(root):
        return dict(compute())
    _clean_leftovers(root)
    entry = root / f"{stage}-{key}"
    found = _read_entry(entry, stage, key, names)
    if found is not None:
        return found
    tables = dict(compute())
    _write_entry(entry, stage, key, params, tables)
    return tables


def cached(stage: str, params: Mapping, compute: Callable[[], R], load: Callable[[dict[str, pd.DataFrame]], R]) -> R:
    """A typed stage result: ``load`` rebuilds it from cached tables; ``compute`` makes it (then stored as tables)."""
    made: list[R] = []

    def tables() -> dict[str, pd.DataFrame]:
        made.append(compute())
        return made[0].to_tables()

    frames = cached_frames(stage, params, tables)
    return made[0] if made else load(frames)


def cached_parts(stage: str, params: Mapping, compute: Callable[[Path], Mapping[str, pd.DataFrame]]
                 ) -> tuple[dict[str, pd.DataFrame], Path]:
    """Tables and partition files of ``stage`` for ``params``, and the folder that holds the files.

    ``compute(folder)`` writes the partition files into subfolders of
    ``folder`` (they may come from other processes, such as Dask workers)
    and returns the small tables.  With a usable cache the folder is the
    verified cache entry; without one, a temporary folder removed when the
    process ends.
    """
    key = stage_key(stage, params)
    root = cache_dir()
    if not _usable(root):
        folder = Path(tempfile.mkdtemp(prefix=f"galchem-{stage}-"))
        atexit.register(shutil.rmtree, folder, True)
        return dict(compute(folder)), folder
    _clean_leftovers(root)
    entry = root / f"{stage}-{key}"
    found = _read_entry(entry, stage, key)
    if found is not None:
        return found, entry
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.tmp{os.getpid()}.", dir=root))
    try:
        tables = dict(compute(tmp))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_entry(entry, stage, key, params, tables, tmp)
    if (entry / ENTRY).is_file():
        return tables, entry
    folder = Path(tempfile.mkdtemp(prefix=f"galchem-{stage}-"))  # the entry could not be stored: compute again
    atexit.register(shutil.rmtree, folder, True)
    return dict(compute(folder)), folder
