"""Folders galchem writes as a set and signs, so that it only ever replaces what it wrote itself.

A signed folder holds ``manifest.json`` (``_manifest.json`` in a folder of
parquet files, so that dataset readers skip it): galchem's signature (``name``
"galchem", ``version``, ``format`` :data:`FORMAT`) and every file of the
folder with its sha256.  A folder is replaced only if it is absent, empty,
or signed and holding exactly the files its manifest lists, unchanged;
anything else (a file someone added or edited, a manifest that is not
galchem's) stops the run with one line naming the first such file, before
any work.  A symbolic link is followed: the folder it points to is
replaced, the link stays.

:func:`signed_folder` writes a new set into a temporary folder beside the
target (with the usual permissions, 0777 less the umask) and swaps it in
only when it is complete, so a reader never sees a mix of two sets or a
half-written one.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from galchem import __version__
from galchem.data.files import current_umask, file_sha256
from galchem.errors import GalchemError

__all__ = ["DATASET_MANIFEST", "FORMAT", "MANIFEST", "check_replaceable", "foreign_file", "manifest",
           "real_target", "sign", "signed_folder"]

MANIFEST = "manifest.json"
DATASET_MANIFEST = "_manifest.json"
"""The manifest's name in a folder of parquet files, which dataset readers (pyarrow, pandas, Dask) skip."""
FORMAT = "galchem-signed-folder/1"
"""The ``format`` key of galchem's manifests: a folder every file of which galchem wrote and listed."""


def manifest(folder: Path, extra: Mapping | None = None) -> dict:
    """galchem's signature and every file under ``folder`` (posix paths, sha256), plus ``extra`` keys."""
    own = {folder / name for name in (MANIFEST, DATASET_MANIFEST)}
    listed = {path.relative_to(folder).as_posix(): file_sha256(path)
              for path in sorted(folder.rglob("*")) if path.is_file() and path not in own}
    return {**(extra or {}), "name": "galchem", "version": __version__, "format": FORMAT, "files": listed}


def _signed_files(folder: Path, name: str) -> tuple[str, dict] | None:
    """The folder's manifest ``name`` and the files it lists, or None without such a manifest signed by galchem."""
    try:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    signed = (isinstance(data, dict) and data.get("name") == "galchem" and data.get("format") == FORMAT
              and isinstance(data.get("version"), str) and isinstance(data.get("files"), dict))
    return (name, data["files"]) if signed else None


def foreign_file(folder: Path, name: str = MANIFEST) -> str | None:
    """Why ``folder`` may not be replaced by a set signed as ``name``: its first file (relative path) galchem did
    not write, or that changed since, or None.  A set of the other kind (a mock's folder of parquet files for a
    run's results, or the reverse) is not replaced either: its manifest is then the file named."""
    entries = []
    for top, dirs, names in os.walk(folder):
        dirs.sort()
        here = Path(top)
        entries += [here / name for name in sorted(names)]
        entries += [here / name for name in dirs  # links to folders, and empty folders: not galchem's
                    if (here / name).is_symlink() or not any((here / name).iterdir())]
    entries = sorted(entries, key=lambda p: p.relative_to(folder).as_posix())
    if not entries:
        return None
    own, listed = _signed_files(folder, name) or (None, None)
    for path in entries:
        name = path.relative_to(folder).as_posix()
        if name == own:
            continue
        if listed is None or name not in listed or path.is_symlink() or not path.is_file():
            return f"{name} is not listed in a manifest galchem signed there"
        if file_sha256(path) != listed[name]:
            return f"{name} was changed after galchem wrote it"
    return None


def sign(folder: Path, extra: Mapping | None = None, name: str = MANIFEST) -> None:
    """Write ``folder``'s manifest (:func:`manifest`) as ``name``, for a folder galchem filled."""
    text = json.dumps(manifest(folder, extra), indent=2, sort_keys=True) + "\n"
    (folder / name).write_text(text, encoding="utf-8")


def real_target(out: Path, option: str) -> Path:
    """The folder ``out`` names, symbolic links followed (the link itself is never replaced)."""
    try:
        target = Path(out).expanduser().resolve()
    except (OSError, RuntimeError) as err:  # a loop of links
        raise GalchemError(f"{option} {out}: cannot follow it ({err})") from None
    if target.parent == target:
        raise GalchemError(f"{option} {out}: is the root folder; choose a folder of its own")
    return target


def check_replaceable(out: Path, option: str = "--out", name: str = MANIFEST) -> Path:
    """Refuse an ``out`` that is a file, holds files galchem did not write or a set of another kind (signed as
    another ``name``); return the real folder to replace."""
    target = real_target(out, option)
    if target.exists() and not target.is_dir():
        raise GalchemError(f"{option} {out} is a file, not a folder")
    if target.is_dir():
        try:
            reason = foreign_file(target, name)
        except OSError as err:
            raise GalchemError(f"{option} {out}: cannot read it ({err.strerror or err})") from None
        other = DATASET_MANIFEST if name == MANIFEST else MANIFEST
        if reason and _signed_files(target, other):
            kind = "a mock catalogue" if other == DATASET_MANIFEST else "a run's results"
            raise GalchemError(f"{option} {out}: holds {kind} that galchem wrote ({other}), not a set this command "
                               "writes: refusing to replace it; choose another folder")
        if reason:
            raise GalchemError(f"{option} {out}: {Path(out) / reason}: refusing to replace the folder; "
                               "move that file away or choose another folder")
    return target


@contextmanager
def signed_folder(out: Path, option: str = "--out", extra: Mapping | None = None, name: str = MANIFEST
                  ) -> Iterator[Path]:
    """Yield an empty temporary folder; when the block ends without error, sign it and swap it in for ``out``.

    ``out`` is checked (:func:`check_replaceable`) before and again just
    before the swap; ``extra`` keys go into the manifest, written as
    ``name`` (:data:`DATASET_MANIFEST` for a folder of parquet files).  On any failure
    (or Ctrl-C) the old folder stays as it was and nothing else is left.
    """
    target = check_replaceable(out, option, name)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as err:
        raise GalchemError(f"{option} {out}: cannot create it ({err.strerror or err})") from None
    try:
        os.chmod(tmp, 0o777 & ~current_umask())
        yield tmp
        sign(tmp, extra, name)
        check_replaceable(out, option, name)  # files may have been added while the run worked
        _swap(tmp, target)
    except OSError as err:
        raise GalchemError(f"{option} {out}: cannot write it ({err.strerror or err})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap(new: Path, target: Path) -> None:
    """Put ``new`` in the place of ``target``; if interrupted between the two renames, put the old one back."""
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)) if target.exists() \
        else None
    try:
        if old is not None:
            os.replace(target, old / target.name)
        os.replace(new, target)
    except BaseException:
        if old is not None and not target.exists() and (old / target.name).exists():
            os.replace(old / target.name, target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
