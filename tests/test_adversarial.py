"""The promise, tested as a hostile user would: bad input ends in one clear line (exit 2) or a named, counted cut.

Every case runs the real command line and asserts its exit status, that
standard error has no traceback (and, on failure, is a single line), that no
temporary or half-written file is left beside the input or the output, and,
for runs that succeed, that the input's rows equal the cut flow's removed
plus remaining.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import write_catalog

from galchem import cli
from galchem.analysis.near_plane import AzimuthalTests
from galchem.data.files import current_umask
from galchem.data.mock import make_mock
from galchem.run.config import RunConfig

FAST = ["--n-mc", "20", "--n-steps", "60", "--max-steps", "60", "--n-permutations", "20"]
ROWS = 3000

STUDY = RunConfig()
"""The study's settings, as the library functions take them."""


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    """A small LAMOST-shaped mock catalogue (file columns, as a user's file would have them)."""
    return make_mock("lamost", ROWS, seed=5).catalog


@dataclass(frozen=True)
class Case:
    """An adversarial input: how to make it, the command, the exit status and what the message must say."""

    name: str
    make: Callable[[Path, pd.DataFrame], list[str]]  # writes inputs into the folder, returns the command line
    code: int
    says: str = ""
    removed_by: str = ""  # for exit 0: the cut that must have removed rows


def write(folder: Path, table: pd.DataFrame, name: str = "cat.parquet") -> Path:
    return write_catalog(table, folder / name)


def edited(column: str, rows: slice | None, value) -> Callable[[Path, pd.DataFrame], list[str]]:
    """Set ``column`` to ``value`` in ``rows`` (None: all rows), then cut the flow of the result."""
    def make(folder: Path, base: pd.DataFrame) -> list[str]:
        table = base.copy()
        if rows is None:
            table[column] = value(table[column]) if callable(value) else value
        else:
            index = table.index[rows]
            table.loc[index, column] = value(table.loc[index, column]) if callable(value) else value
        return ["cutflow", "--survey", "lamost", "--catalog", str(write(folder, table)), "--out",
                str(folder / "flow.csv"), "--n-mc", "20"]
    return make


def raw_file(name: str, content: bytes) -> Callable[[Path, pd.DataFrame], list[str]]:
    def make(folder: Path, base: pd.DataFrame) -> list[str]:
        path = folder / name
        path.write_bytes(content)
        return ["cutflow", "--survey", "lamost", "--catalog", str(path), "--n-mc", "20"]
    return make


def truncated(suffix: str, keep: float) -> Callable[[Path, pd.DataFrame], list[str]]:
    def make(folder: Path, base: pd.DataFrame) -> list[str]:
        path = write(folder, base.head(200), f"full{suffix}")
        cut = folder / f"cut{suffix}"
        data = path.read_bytes()
        cut.write_bytes(data[: int(len(data) * keep)])
        path.unlink()
        return ["cutflow", "--survey", "lamost", "--catalog", str(cut), "--n-mc", "20"]
    return make


def command(*args: str, catalog: bool = True) -> Callable[[Path, pd.DataFrame], list[str]]:
    """A command line; ``{cat}`` and ``{dir}`` are replaced by a valid catalogue and the case's folder."""
    def make(folder: Path, base: pd.DataFrame) -> list[str]:
        cat = write(folder, base) if catalog else folder / "cat.parquet"
        return [a.replace("{cat}", str(cat)).replace("{dir}", str(folder)) for a in args]
    return make


def survey_file(text: str) -> Callable[[Path, pd.DataFrame], list[str]]:
    def make(folder: Path, base: pd.DataFrame) -> list[str]:
        (folder / "s.toml").write_text(text)
        return ["cutflow", "--survey", str(folder / "s.toml"), "--catalog", str(write(folder, base)), "--n-mc", "20"]
    return make


def duplicated_file(folder: Path, base: pd.DataFrame) -> list[str]:
    return ["cutflow", "--survey", "lamost", "--catalog", str(write(folder, pd.concat([base, base]))), "--n-mc", "20"]


def folder(edit: Callable[[list[pd.DataFrame], Path], None] | None = None, *options: str
           ) -> Callable[[Path, pd.DataFrame], list[str]]:
    """The catalogue as a folder of three parquet files (``edit`` may change the parts or the folder), then cut."""
    def make(where: Path, base: pd.DataFrame) -> list[str]:
        target = where / "parts"
        target.mkdir()
        parts = [base.iloc[:1000].copy(), base.iloc[1000:2200].copy(), base.iloc[2200:].copy()]
        if edit is not None:
            edit(parts, target)
        for i, part in enumerate(parts):
            if part is not None:
                part.to_parquet(target / f"part-{i}.parquet")
        return ["cutflow", "--survey", "lamost", "--catalog", str(target), "--out", str(where / "flow.csv"),
                "--n-mc", "20", *options]
    return make


def corrupt_part(parts: list[pd.DataFrame], target: Path) -> None:
    parts[1] = None
    (target / "part-1.parquet").write_bytes(os.urandom(3000))


def hats_without_catalogue(where: Path, base: pd.DataFrame) -> list[str]:
    target = where / "hats"
    (target / "dataset").mkdir(parents=True)
    (target / "properties").write_text("not = a HATS\ncatalog\n")
    base.to_parquet(target / "dataset" / "part.parquet")
    return ["cutflow", "--survey", "lamost", "--catalog", str(target), "--n-mc", "20"]


def empty_folder(where: Path, base: pd.DataFrame) -> list[str]:
    (where / "empty").mkdir()
    return ["cutflow", "--survey", "lamost", "--catalog", str(where / "empty"), "--n-mc", "20"]


def tiny(n: int) -> Callable[[Path, pd.DataFrame], list[str]]:
    def make(folder: Path, base: pd.DataFrame) -> list[str]:
        return ["analyse", "--survey", "lamost", "--catalog", str(write(folder, base.head(n))),
                "--out", str(folder / "out"), *FAST]
    return make


CASES = [
    # checks at the door: per-row problems are a counted cut
    Case("dec out of range in a few rows", edited("dec", slice(0, 7), 95.0), 0, removed_by="valid"),
    Case("ra NaN in a few rows", edited("ra", slice(0, 5), np.nan), 0, removed_by="valid"),
    Case("ra inf in a few rows", edited("ra", slice(0, 5), np.inf), 0, removed_by="valid"),
    Case("dec inf in a few rows", edited("dec", slice(0, 5), -np.inf), 0, removed_by="valid"),
    Case("distance inf in a few rows", edited("r_med_geo", slice(0, 5), np.inf), 0, removed_by="valid"),
    Case("negative distance in a few rows", edited("r_med_geo", slice(0, 5), -100.0), 0, removed_by="valid"),
    Case("percentiles inverted in a few rows", edited("r_lo_geo", slice(0, 9), lambda v: v * 100), 0,
         removed_by="valid"),
    Case("negative rv_err in a few rows", edited("rv_err", slice(0, 6), -3.0), 0, removed_by="valid"),
    Case("inf proper motion in a few rows", edited("pmra", slice(0, 6), np.inf), 0, removed_by="valid"),
    Case("duplicated ids in a few rows", edited("source_id", slice(0, 4), 1234567), 0, removed_by="valid"),
    Case("NaN metallicity in a few rows", edited("feh", slice(0, 5), np.nan), 0, removed_by="labels"),
    Case("no proper motions at all", edited("pmra", None, np.nan), 0, removed_by="velocities"),
    # systematic problems refuse the file
    Case("dec shifted out of range", edited("dec", None, lambda v: v + 100), 2, "dec"),
    Case("ra and dec in radians", lambda f, b: edited("ra", None, lambda v: np.deg2rad(v))(
        f, b.assign(dec=np.deg2rad(b["dec"]))), 2, "radians"),
    Case("distances in kpc without a unit", lambda f, b: edited("r_med_geo", None, lambda v: v / 1000)(
        f, b.assign(r_lo_geo=b["r_lo_geo"] / 1000, r_hi_geo=b["r_hi_geo"] / 1000)), 2, "look like kpc"),
    Case("percentiles inverted everywhere", lambda f, b: edited("r_lo_geo", None, lambda v: v)(
        f, b.assign(r_lo_geo=b["r_hi_geo"], r_hi_geo=b["r_lo_geo"])), 2, "percentile"),
    Case("negative rv_err everywhere", edited("rv_err", None, lambda v: -v), 2, "rv_err"),
    Case("temperatures in kK", edited("teff", None, lambda v: v / 1000), 2, "kK"),
    Case("the whole file twice", duplicated_file, 2, "share their id"),
    Case("ra and dec swapped", lambda f, b: edited("ra", None, lambda v: v)(
        f, b.assign(ra=b["dec"], dec=b["ra"])), 2, "dec"),
    Case("non-numeric column", edited("snr", None, "high"), 2, "expected numbers"),
    # unreadable inputs
    Case("random bytes as parquet", raw_file("x.parquet", os.urandom(5000)), 2, "cannot be read"),
    Case("empty parquet", raw_file("x.parquet", b""), 2, "cannot be read"),
    Case("truncated parquet", truncated(".parquet", 0.6), 2, "cannot be read"),
    Case("random bytes as FITS", raw_file("x.fits", os.urandom(5000)), 2, "x.fits"),
    Case("truncated FITS", truncated(".fits", 0.5), 2, "cut.fits"),
    Case("empty CSV", raw_file("x.csv", b""), 2, "x.csv"),
    Case("CSV with a header only", raw_file("x.csv", b"source_id,ra,dec\n"), 2, "x.csv"),
    Case("garbage ECSV", raw_file("x.ecsv", b"# %ECSV 1.0\n---\nnot: [yaml\n"), 2, "x.ecsv"),
    Case("CSV text named .parquet", raw_file("x.parquet", b"a,b\n1,2\n"), 2, "cannot be read"),
    Case("a folder as catalogue", command("cutflow", "--survey", "lamost", "--catalog", "{dir}", catalog=False),
         2, "folder"),
    Case("no such catalogue", command("cutflow", "--survey", "lamost", "--catalog", "{dir}/absent.parquet",
                                      catalog=False), 2, "neither 'mock', 'archive' nor an existing"),
    Case("unsupported suffix", raw_file("x.xlsx", b"PK"), 2, "unsupported table format"),
    Case("a column missing", lambda f, b: ["cutflow", "--survey", "lamost", "--catalog",
                                           str(write(f, b.drop(columns=["feh"])))], 2,
         "feh (role feh)"),
    Case("survey file not TOML", survey_file("name = [broken"), 2, "not a valid TOML"),
    Case("survey file without feh", survey_file('name = "x"\n[columns]\nid = "source_id"\nra = "ra"\ndec = "dec"\n'
                                                'parallax = "parallax"\nparallax_error = "parallax_error"\n'),
         2, "must map the role 'feh'"),
    Case("survey cut on a column the file lacks", survey_file(
        'name = "x"\n[columns]\nid = "source_id"\nra = "ra"\ndec = "dec"\nparallax = "parallax"\n'
        'parallax_error = "parallax_error"\nfeh = "feh"\nfeh_error = "feh_err"\n[[cuts]]\nname = "g"\n'
        'column = "LOGG"\nmax = 3.5\n'), 2, "LOGG (read by a cut)"),
    # invalid option values, checked when parsed
    Case("--n-mc 0", command("analyse", "--catalog", "{cat}", "--out", "{dir}/o", "--n-mc", "0"), 2, "n-mc"),
    Case("--n-steps 1", command("analyse", "--catalog", "{cat}", "--out", "{dir}/o", "--n-steps", "1"), 2,
         "n-steps"),
    Case("--seed -1", command("analyse", "--catalog", "{cat}", "--out", "{dir}/o", "--seed", "-1"), 2, "seed"),
    Case("--n-permutations abc", command("analyse", "--catalog", "{cat}", "--out", "{dir}/o",
                                         "--n-permutations", "abc"), 2, "not an integer"),
    Case("mock --mock-stars 0", command("mock", "--survey", "lamost", "--mock-stars", "0", "--out", "{dir}/m.parquet",
                               catalog=False), 2, "mock-stars"),
    Case("unknown option", command("analyse", "--catalog", "{cat}", "--out", "{dir}/o", "--n-mcc", "5"), 2,
         "unrecognized"),
    Case("unknown survey name", command("cutflow", "--survey", "apogee", "--catalog", "{cat}"), 2,
         "neither a built-in survey"),
    Case("memory estimate above the machine's", command("cutflow", "--survey", "lamost", "--catalog", "{cat}"),
         2, "GB of memory"),
    # outputs as a set, never over an input
    Case("cutflow --out is the catalogue", command("cutflow", "--survey", "lamost", "--catalog", "{cat}",
                                                   "--out", "{cat}"), 2, "input catalogue"),
    Case("mock --out equals --truth-out", command("mock", "--survey", "lamost", "--mock-stars", "10", "--out",
                                                  "{dir}/a.parquet", "--truth-out", "{dir}/a.parquet",
                                                  catalog=False), 2, "same file"),
    Case("analyse --out is the catalogue", command("analyse", "--catalog", "{cat}", "--out", "{cat}", *FAST), 2,
         "is a file"),
    Case("analyse --out holds the catalogue", command("analyse", "--catalog", "{cat}", "--out", "{dir}", *FAST), 2,
         "holds the input"),
    Case("analyse --out under a file", command("analyse", "--catalog", "{cat}", "--out", "{cat}/sub", *FAST), 2,
         "cat.parquet"),
    # partitioned catalogues and where they run
    Case("an empty folder", empty_folder, 2, "holds no .parquet files"),
    Case("a folder with a corrupt part", folder(corrupt_part), 2, "part-1.parquet: cannot be read"),
    Case("a folder mixing schemas", folder(lambda parts, _: parts[2].__setitem__("feh", parts[2]["feh"].astype(str))),
         2, "mix schemas: column feh"),
    Case("a folder with a part missing a column", folder(lambda parts, _: parts.__setitem__(
        1, parts[1].drop(columns=["rv"]))), 2, "part-1.parquet: missing column(s)"),
    Case("a HATS path that is not a catalogue", hats_without_catalogue, 2, "not a readable HATS catalogue"),
    Case("an id duplicated across two parts", folder(lambda parts, _: parts[2].__setitem__(
        "source_id", parts[2]["source_id"].where(parts[2].index != parts[2].index[0], parts[0]["source_id"].iloc[3])
    )), 0, removed_by="valid"),
    Case("the same part twice in a folder", folder(lambda parts, _: parts.append(parts[1].copy())), 2,
         "share their id"),
    Case("unknown --scheduler", command("analyse", "--catalog", "{cat}", "--out", "{dir}/o", "--scheduler", "fast"),
         2, "--scheduler"),
    Case("unreachable scheduler address", command("analyse", "--catalog", "{cat}", "--out", "{dir}/o",
                                                  "--scheduler", "tcp://127.0.0.1:9", *FAST), 2,
         "no Dask scheduler answers"),
    # honest statistics at the edges
    Case("a 10-star catalogue", tiny(10), 0),
    Case("a 100-star catalogue", tiny(100), 0),
]


def contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def leftovers(*folders: Path) -> list[str]:
    return [p.name for folder in folders if folder.is_dir() for p in folder.iterdir()
            if p.name.startswith(".") or ".tmp" in p.name]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_adversarial_input(case: Case, base, tmp_path, capsys, monkeypatch):
    if case.name.startswith("memory"):
        monkeypatch.setenv("GALCHEM_MEMORY_LIMIT", "100M")
    args = case.make(tmp_path, base)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    code = cli.main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    assert code == case.code, captured.err
    if code != 0:
        lines = [line for line in captured.err.splitlines() if line.strip()]
        assert len(lines) == 1, captured.err
        assert case.says in lines[0], lines[0]
        for name, content in before.items():  # no input was touched
            assert (tmp_path / name).read_bytes() == content, name
    assert not leftovers(tmp_path, tmp_path / "out"), leftovers(tmp_path, tmp_path / "out")
    flow_file = tmp_path / ("out/cutflow.csv" if "analyse" in args else "flow.csv")
    if code == 0 and flow_file.is_file():
        flow = pd.read_csv(flow_file)
        catalogue = Path(args[args.index("--catalog") + 1])
        rows = len(pd.read_parquet(catalogue))
        assert flow["remaining"].iloc[0] == rows
        assert flow["removed"].iloc[1:].sum() + flow["remaining"].iloc[-1] == rows
        if case.removed_by:
            assert flow.set_index("cut").loc[case.removed_by, "removed"] > 0


@pytest.mark.parametrize("n", [10, 100])
def test_tiny_catalogues_report_no_significance_they_do_not_have(n, base, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(tiny(n)(tmp_path, base)) == 0
    tests = json.loads((out / "azimuthal_tests.json").read_text())
    assert tests["p_value"] is None and tests["p_value_status"].startswith("not computed")
    assert tests["arm_contrast"] is None and tests["arm_contrast_status"].startswith("not computed")
    assert "azimuthal: not computed" in (out / "notes.txt").read_text()
    assert list(tests) == list(AzimuthalTests.__dataclass_fields__)  # one shape, computed or not
    radial = pd.read_csv(out / "radial_gradients.csv")
    assert (radial["status"] != "fitted").all() and radial["m"].isna().all()
    assert "0.0196" not in capsys.readouterr().out


def test_outputs_are_strict_json_and_a_rerun_replaces_the_whole_set(base, tmp_path):
    out = tmp_path / "out"
    catalogue = write(tmp_path, base)
    assert cli.main(["analyse", "--catalog", str(catalogue), "--out", str(out), *FAST]) == 0
    (out / "azimuthal.csv").unlink()  # as if an older galchem had written fewer files
    assert cli.main(["analyse", "--catalog", str(catalogue), "--out", str(out), *FAST, "--seed", "9"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    written = [str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"]
    assert sorted(manifest["files"]) == sorted(written) and "sample/part-00000.parquet" in written
    assert manifest["config"]["seed"] == 9 and "seed = 9" in (out / "config.toml").read_text()
    json.loads((out / "azimuthal_tests.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    mode = (out / "cutflow.csv").stat().st_mode & 0o777
    assert mode == 0o666 & ~current_umask()


def test_a_flipped_byte_in_the_cache_is_caught(base, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GALCHEM_CACHE_DIR", str(tmp_path / "cache"))
    catalogue = write(tmp_path, base)
    args = ["analyse", "--catalog", str(catalogue), *FAST]
    assert cli.main([*args, "--out", str(tmp_path / "a")]) == 0
    (entry,) = (tmp_path / "cache").glob("gradients-*")
    target = entry / "radial_table.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 3] ^= 0x01
    target.write_bytes(bytes(data))
    capsys.readouterr()
    assert cli.main([*args, "--out", str(tmp_path / "b")]) == 0
    assert "discarded and recomputed" in capsys.readouterr().err
    assert (tmp_path / "a" / "radial_gradients.csv").read_bytes() == (tmp_path / "b" / "radial_gradients.csv").read_bytes()


def test_an_in_place_edit_with_the_same_size_and_time_is_seen(base, tmp_path):
    catalogue = write(tmp_path, base)
    assert cli.main(["analyse", "--catalog", str(catalogue), "--out", str(tmp_path / "a"), *FAST]) == 0
    stat = catalogue.stat()
    table = base.copy()
    table["feh"] = table["feh"] + 0.5  # same shape and dtypes: same size on disk is likely but not needed
    table.to_parquet(catalogue)
    os.utime(catalogue, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cli.main(["analyse", "--catalog", str(catalogue), "--out", str(tmp_path / "b"), *FAST]) == 0
    a = pd.read_csv(tmp_path / "a" / "radial_gradients.csv")
    b = pd.read_csv(tmp_path / "b" / "radial_gradients.csv")
    assert b["b"].iloc[0] == pytest.approx(a["b"].iloc[0] + 0.5, abs=0.1)


def test_an_unusable_cache_folder_is_one_warning(base, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("GALCHEM_CACHE_DIR", str(blocker))
    catalogue = write(tmp_path, base)
    assert cli.main(["cutflow", "--survey", "lamost", "--catalog", str(catalogue), "--n-mc", "20"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(warnings) == 1 and "running without a cache" in warnings[0]


@pytest.mark.slow  # five galchem processes, interrupted
def _default_sigint() -> None:
    """A child answers Ctrl-C even when pytest runs with SIGINT ignored (a background job, nohup)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow  # five runs of the command line, four of them interrupted on a timer
def test_ctrl_c_while_writing_keeps_the_old_set_or_nothing(base, tmp_path):
    """Interrupt ``analyse`` at many moments: exit 130 with one line, and --out is always a whole run."""
    catalogue = write(tmp_path, base)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.run([sys.executable, "-m", "galchem.cli", "analyse", "--catalog", str(catalogue),
                            "--out", str(out), *FAST], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    reference = contents(out)
    interrupted = 0
    for delay in (0.8, 1.5, 2.2, 3.0):
        process = subprocess.Popen([sys.executable, "-m", "galchem.cli", "analyse", "--catalog", str(catalogue),
                                    "--out", str(out), *FAST, "--seed", "5"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_default_sigint)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
        if process.returncode == 130:
            interrupted += 1
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in err
            assert contents(out) == reference  # the old set, whole
        else:
            assert process.returncode == 0, err
            manifest = json.loads((out / "manifest.json").read_text())
            assert manifest["config"]["seed"] == 5  # the new set, whole
            reference = contents(out)
        assert not leftovers(tmp_path), leftovers(tmp_path)
    assert interrupted >= 1
    shutil.rmtree(out)


def test_permutation_test_and_arm_contrast_refuse_to_report_on_too_few_stars():
    from galchem.analysis import azimuthal

    rng = np.random.default_rng(0)
    stars = pd.DataFrame({"R": rng.uniform(7.5, 8.5, 60), "phi": rng.uniform(3.0, 3.3, 60),
                          "Z": rng.normal(0, 0.1, 60), "feh": rng.normal(0, 0.1, 60)})
    delta = azimuthal.delta_from_ring_mean(stars["R"], stars["feh"], STUDY.ring_width)
    test = azimuthal.permutation_test(stars, delta, azimuthal.phi_edges(stars["phi"], STUDY.phi_bin_deg), n_permutations=50, seed=0, annuli=STUDY.annuli)
    assert test.p_value is None and test.status.startswith("not computed") and "azimuth bin" in test.status
    contrast = azimuthal.arm_contrast(azimuthal.arm_groups(stars.head(20)), stars["feh"].head(20).to_numpy())
    assert contrast.contrast is None and contrast.status.startswith("not computed")


def test_an_interrupt_inside_compiled_code_is_still_an_interrupt(monkeypatch, tmp_path, capsys):
    """A numba function returning while Ctrl-C is pending raises SystemError; that is exit 130, not a bug (70)."""
    def interrupted_in_numba(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemError("CPUDispatcher(...) returned a result with an exception set") from None

    monkeypatch.setattr(cli, "_analyse", interrupted_in_numba)
    assert cli.main(["analyse", "--out", str(tmp_path / "o")]) == 130
    assert capsys.readouterr().err.strip() == "galchem analyse: interrupted; nothing half-written was kept"
