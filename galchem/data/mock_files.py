"""Writing a mock catalogue and its truth to disk (``galchem mock``), checked whole before any star is drawn.

A mock is one table file (parquet streamed part by part, other formats
assembled in memory) or, for a target without a suffix, a signed folder of
``part-NNNNN.parquet`` files (:mod:`galchem.data.folders`); its truth is
written alike, beside it.  Every target is checked first: suffixes, the
two targets being distinct and not inside each other, folders that hold
files galchem did not write, parents that cannot be written; then both are
written to temporary places and renamed into place together, so a failure
leaves nothing half-written.
"""
from __future__ import annotations

import os
from pathlib import Path

from galchem.data import files, folders
from galchem.data.partitions import MockPart, concat
from galchem.errors import GalchemError

__all__ = ["check_mock_targets", "default_truth_path", "write_mock"]


def default_truth_path(out: Path) -> Path:
    """Where the truth goes by default: ``<stem>.truth.parquet`` beside a file, ``<out>.truth`` beside a folder."""
    return out.with_name(f"{out.name}.truth") if out.suffix == "" else out.with_name(f"{out.stem}.truth.parquet")


def _writable_parent(path: Path, option: str) -> None:
    """The nearest existing folder above ``path`` must be a folder this process may write in."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise GalchemError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GalchemError(f"{option} {path}: cannot write in {parent} (permission denied)")


def check_mock_targets(out: Path, truth_out: Path) -> None:
    """Refuse, before any work, targets a mock could not be written to as a whole."""
    out, truth_out = Path(out), Path(truth_out)
    if out.suffix == "":
        if truth_out.suffix.lower() in (*files.SUFFIXES, ".fit"):
            raise GalchemError(f"--truth-out {truth_out}: the truth of a folder mock is a folder too; give a name "
                               "without a table suffix")
        targets = [folders.check_replaceable(out, "--out", folders.DATASET_MANIFEST),
                   folders.check_replaceable(truth_out, "--truth-out", folders.DATASET_MANIFEST)]
    else:
        catalog_format = files.table_format(out)
        if files.table_format(truth_out) != ".parquet" and catalog_format == ".parquet":
            raise GalchemError(f"--truth-out {truth_out}: the truth of a parquet mock is streamed as parquet; "
                               "name it *.parquet")
        targets = [folders.real_target(out, "--out"), folders.real_target(truth_out, "--truth-out")]
        for path, option in zip(targets, ("--out", "--truth-out")):
            if path.is_dir():
                raise GalchemError(f"{option} {path} is a folder, not a file")
    if targets[0] == targets[1]:
        raise GalchemError(f"--truth-out {truth_out} is the same file as --out: give them different names")
    for inner, outer in (targets, targets[::-1]):
        if outer in inner.parents:
            raise GalchemError(f"--out {out} and --truth-out {truth_out}: one is inside the other; "
                               "write them side by side")
    for path, option in zip(targets, ("--out", "--truth-out")):
        _writable_parent(path, option)


def write_mock(parts: tuple[MockPart, ...], out: Path, truth_out: Path, units: dict[str, str] | None = None) -> int:
    """Write a mock and its truth part by part, never holding more than one part; return the rows written.

    ``out`` with a table suffix is one file (parquet files are streamed, one
    row group per part; other formats are assembled in memory); without
    one, a signed folder of ``part-NNNNN.parquet`` files (and ``truth_out``
    a folder alike).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out, truth_out = Path(out), Path(truth_out)
    check_mock_targets(out, truth_out)
    if out.suffix == "":
        manifest = folders.DATASET_MANIFEST
        with (folders.signed_folder(out, "--out", name=manifest) as tmp,
              folders.signed_folder(truth_out, "--truth-out", name=manifest) as truth_tmp):
            for part in parts:
                tables = part.draw()
                for name, folder in (("catalog", tmp), ("truth", truth_tmp)):
                    files.write_parquet(tables[name], folder / f"part-{part.index:05d}.parquet")
        return sum(p.n for p in parts)
    out, truth_out = folders.real_target(out, "--out"), folders.real_target(truth_out, "--truth-out")  # links followed
    with files.atomic_path(out) as tmp, files.atomic_path(truth_out) as truth_tmp:
        if files.table_format(out) == ".parquet":
            writers: dict[str, pq.ParquetWriter] = {}
            try:
                for part in parts:
                    for name, table in part.draw().items():
                        table = pa.Table.from_pandas(table, preserve_index=False)
                        if name not in writers:
                            writers[name] = pq.ParquetWriter(tmp if name == "catalog" else truth_tmp, table.schema,
                                                            **files.PARQUET_OPTIONS)
                        writers[name].write_table(table)
            finally:
                for writer in writers.values():
                    writer.close()
        else:
            drawn = [p.draw() for p in parts]
            files.write_table(concat([d["catalog"] for d in drawn]), tmp, units=units)
            files.write_table(concat([d["truth"] for d in drawn]), truth_tmp)
    return sum(p.n for p in parts)
