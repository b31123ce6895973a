"""A run's output folder, written as a set: never a mix of two runs, never a partial folder.

Everything goes into a temporary folder beside ``--out``, with
``manifest.json`` (every file and its sha256, the configuration, galchem's
version); only when all of it is written is the temporary folder swapped in
for ``--out``.  A folder that holds one of the run's inputs, or that holds
files galchem did not write, is never replaced.  A table too large for
memory (the final sample of a partitioned catalogue) is a
:class:`PartedTable`: written as a subfolder of parquet files, one
partition at a time.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from galchem import __version__
from galchem.data.files import current_umask, write_table
from galchem.errors import GalchemError

__all__ = ["MANIFEST", "PartedTable", "write_outputs"]

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PartedTable:
    """A table kept as parquet files (``sources``); written as a folder of the same file names, each file through
    ``transform``, one at a time."""

    sources: tuple[Path, ...]
    transform: Callable[[pd.DataFrame], pd.DataFrame]

    def write(self, folder: Path) -> list[Path]:
        """Write every partition into ``folder``; return the files."""
        folder.mkdir()
        written = []
        for source in self.sources:
            path = folder / Path(source).name
            write_table(self.transform(pd.read_parquet(source)).reset_index(drop=True), path)
            written.append(path)
        return written


def _check_target(out: Path, inputs: Iterable[Path]) -> None:
    """Refuse an output folder that is a file, holds an input, or holds files galchem did not write."""
    if out.exists() and not out.is_dir():
        raise GalchemError(f"--out {out} is a file, not a folder")
    resolved = out.resolve()
    for path in inputs:
        source = Path(path).resolve()
        if source == resolved or resolved in source.parents:
            if source.name == "config.toml" and source.parent == resolved:
                continue  # rerunning a folder's own configuration into it: already read, safe to replace
            raise GalchemError(f"--out {out} holds the input {path}: refusing to replace it; choose another folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise GalchemError(f"--out {out} is a folder with files galchem did not write (no {MANIFEST}): "
                           "refusing to replace it; choose a new or empty folder")


def write_outputs(outputs: Mapping[str, pd.DataFrame | str | PartedTable], out: str | os.PathLike,
                  inputs: Iterable[Path] = (), config: Mapping | None = None) -> list[Path]:
    """Write ``outputs`` (file name -> table, text or partitioned table) as one set into the folder ``out``.

    Returns the files and folders written.

    ``inputs`` are the run's input files (never replaced); ``config`` the
    run's settings, recorded in the manifest.
    """
    out = Path(out)
    _check_target(out, inputs)
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as err:
        raise GalchemError(f"--out {out}: cannot create it ({err.strerror or err})") from None
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        manifest = {"galchem": __version__, "files": {}}
        for name, content in outputs.items():
            path = tmp / name
            if isinstance(content, PartedTable):
                for part in content.write(path):
                    manifest["files"][f"{name}/{part.name}"] = hashlib.sha256(part.read_bytes()).hexdigest()
                continue
            if isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                write_table(content, path)
            manifest["files"][name] = hashlib.sha256(path.read_bytes()).hexdigest()
        if config is not None:
            manifest["config"] = dict(config)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=parent))
        try:
            if old is not None:
                os.replace(out, old / out.name)
            os.replace(tmp, out)
        except BaseException:  # interrupted or failed between the two renames: put the old set back
            if old is not None and not out.exists() and (old / out.name).exists():
                os.replace(old / out.name, out)
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    except OSError as err:
        raise GalchemError(f"--out {out}: cannot write the results ({err.strerror or err})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out / name for name in (*outputs, MANIFEST)]
