"""A run's output folder, written as a set: never a mix of two runs, never a partial folder.

Everything goes into a temporary folder beside ``--out``, with
``manifest.json`` (galchem's signature, every file and its sha256, the
configuration); only when all of it is written is the temporary folder
swapped in for ``--out`` (:mod:`galchem.data.folders`).  A folder that holds
one of the run's inputs, or any file galchem did not write, is never
replaced; a symbolic link is followed.  A table too large for
memory (the final sample of a partitioned catalogue) is a
:class:`PartedTable`: written as a subfolder of parquet files, one
partition at a time.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from galchem.data import folders
from galchem.data.files import write_table
from galchem.data.folders import MANIFEST
from galchem.errors import GalchemError

__all__ = ["MANIFEST", "PartedTable", "check_target", "write_outputs"]


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


def check_target(out: str | os.PathLike, inputs: Iterable[Path] = ()) -> None:
    """Refuse an output folder that is a file, holds an input, or holds files galchem did not write
    (:func:`galchem.data.folders.check_replaceable`); called before a run starts and again when it writes."""
    out = Path(out)
    resolved = folders.real_target(out, "--out")
    if resolved.exists() and not resolved.is_dir():
        raise GalchemError(f"--out {out} is a file, not a folder")
    for path in inputs:
        source = Path(path).resolve()
        if source == resolved or resolved in source.parents:
            if source.name == "config.toml" and source.parent == resolved:
                continue  # rerunning a folder's own configuration into it: already read, safe to replace
            raise GalchemError(f"--out {out} holds the input {path}: refusing to replace it; choose another folder")
    folders.check_replaceable(out)


def write_outputs(outputs: Mapping[str, pd.DataFrame | str | PartedTable], out: str | os.PathLike,
                  inputs: Iterable[Path] = (), config: Mapping | None = None) -> list[Path]:
    """Write ``outputs`` (file name -> table, text or partitioned table) as one signed set into the folder ``out``.

    Returns the files and folders written.

    ``inputs`` are the run's input files (never replaced); ``config`` the
    run's settings, recorded in the manifest.
    """
    out = Path(out)
    check_target(out, inputs)
    with folders.signed_folder(out, extra=None if config is None else {"config": dict(config)}) as tmp:
        for name, content in outputs.items():
            path = tmp / name
            if isinstance(content, PartedTable):
                content.write(path)
            elif isinstance(content, str):
                path.write_text(content, encoding="utf-8")
            else:
                write_table(content, path)
    return [out / name for name in (*outputs, MANIFEST)]
