"""A parquet cache for stage results, keyed by everything that made them.

A stage's key is a hash of its parameters and of the source code of the
modules that compute it, so changing either recomputes the stage and nothing
stale is ever reused.  Entries are written to a temporary directory and
renamed into place, so an interrupted run leaves no partial entry.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

import pandas as pd


def cache_dir() -> Path:
    """Where stage results live: ``$GALCHEM_CACHE_DIR``, else ``~/.cache/galchem``."""
    root = os.environ.get("GALCHEM_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "galchem"
    return Path(root)


def stage_key(stage: str, params: Mapping, modules: tuple[ModuleType, ...] = ()) -> str:
    """A short stable hash of a stage's name, parameters and code."""
    digest = hashlib.sha256(stage.encode())
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:16]


def cached(
    stage: str,
    params: Mapping,
    compute: Callable[[], Mapping[str, pd.DataFrame]],
    modules: tuple[ModuleType, ...] = (),
) -> dict[str, pd.DataFrame]:
    """Return the tables of ``stage`` for ``params``, computing and storing them if absent."""
    entry = cache_dir() / f"{stage}-{stage_key(stage, params, modules)}"
    if (entry / "params.json").is_file():
        return {path.stem: pd.read_parquet(path) for path in sorted(entry.glob("*.parquet"))}
    tables = dict(compute())
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        for name, table in tables.items():
            table.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "params.json").write_text(json.dumps({"stage": stage, **params}, indent=2, default=str))
        os.replace(tmp, entry)
    except OSError:
        if not (entry / "params.json").is_file():  # not a concurrent writer that won the race
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tables
