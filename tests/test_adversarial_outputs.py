"""Nothing lost, nothing clipped: outputs never destroy what galchem did not write, and every user error is one line.

Each command-line case runs ``galchem.cli.main`` and asserts its exit
status, that standard error is one line without a traceback, and that
files the user owns are untouched.  Runs are tiny (a few thousand mock
stars, short chains).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import galchem
from galchem import cli
from galchem.data import archive
from galchem.data.files import current_umask
from galchem.data.mock import make_mock
from galchem.data.sources import load_dataset
from galchem.errors import GalchemError
from galchem.run import pipeline
from galchem.run.config import RunConfig
from galchem.site import builder as book
from galchem.site import profiles

from test_book import tiny_book

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--mock-stars", "3000", "--n-mc", "20", "--n-steps", "50", "--max-steps", "50", "--n-permutations", "10"]


def run(capsys, *args: str) -> tuple[int, list[str]]:
    """Run the command line; return its status and the non-empty lines of standard error (never a traceback)."""
    code = cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return code, [line for line in err.splitlines() if line.strip()]


def refused(capsys, *args: str, says: str) -> str:
    """The command ends with exit status 2 and one line that contains ``says``."""
    code, lines = run(capsys, *args)
    assert code == 2 and len(lines) == 1, lines
    assert says in lines[0], lines[0]
    return lines[0]


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results folder written by ``galchem analyse`` (seed 42)."""
    out = tmp_path_factory.mktemp("results") / "res"
    assert cli.main(["analyse", "--out", str(out), *FAST]) == 0
    return out


# --- 1. outputs never destroy what galchem did not write ------------------------------------------------


def test_the_manifest_is_signed_and_lists_every_file(results):
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["name"] == "galchem" and manifest["version"] == galchem.__version__
    assert manifest["format"] == "galchem-signed-folder/1"
    written = sorted(p.relative_to(results).as_posix() for p in results.rglob("*")
                     if p.is_file() and p.name != "manifest.json")
    assert sorted(manifest["files"]) == written


def test_a_results_folder_with_the_users_files_is_not_replaced(results, tmp_path, capsys):
    out = tmp_path / "res"
    (tmp_path / "res").mkdir()
    copy_files(results, out)
    (out / "my_notes.txt").write_text("my notes\n")
    (out / "figures").mkdir()
    (out / "figures" / "fig1.png").write_bytes(b"png")
    before = files_of(out)
    line = refused(capsys, "analyse", "--out", out, *FAST, "--seed", "8", says="figures/fig1.png")
    assert "refusing to replace" in line
    assert files_of(out) == before  # the user's files and the old results, untouched
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_folder_with_a_blank_manifest_is_not_a_galchem_folder(tmp_path, capsys):
    site = tmp_path / "site"
    site.mkdir()
    (site / "manifest.json").write_text("{}\n")
    (site / "index.html").write_text("<html>\n")
    refused(capsys, "analyse", "--out", site, *FAST, says="index.html")
    assert (site / "index.html").read_text() == "<html>\n"


def copy_files(results: Path, out: Path) -> None:
    """A copy of a results folder, file by file (its manifest included)."""
    for name, content in files_of(results).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(content)


def test_a_results_file_edited_by_hand_is_not_replaced(results, tmp_path, capsys):
    out = tmp_path / "res"
    copy_files(results, out)
    (out / "notes.txt").write_text("my own remark\n")
    refused(capsys, "analyse", "--out", out, *FAST, says="notes.txt was changed after galchem wrote it")
    assert (out / "notes.txt").read_text() == "my own remark\n"


def test_an_empty_folder_of_the_user_counts_as_theirs(results, tmp_path, capsys):
    out = tmp_path / "res"
    copy_files(results, out)
    (out / "drafts").mkdir()
    refused(capsys, "analyse", "--out", out, *FAST, says="drafts")
    assert (out / "drafts").is_dir()


def test_a_symlinked_out_is_followed_and_stays_a_link(tmp_path, capsys):
    target = tmp_path / "runs" / "run1"
    target.mkdir(parents=True)
    link = tmp_path / "latest"
    link.symlink_to(target)
    for seed in ("8", "9"):  # the second run replaces the first through the link
        code, lines = run(capsys, "analyse", "--out", link, *FAST, "--seed", seed)
        assert code == 0, lines
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert json.loads((target / "manifest.json").read_text())["config"]["seed"] == 9
    assert (target.stat().st_mode & 0o777) == 0o777 & ~current_umask()


def test_mock_folders_are_signed_and_guarded(tmp_path, capsys):
    out = tmp_path / "m"
    assert run(capsys, "mock", "--survey", "lamost", "--mock-stars", "2000", "--partition-rows", "800", "--out", out)[0] == 0
    assert len(pd.read_parquet(out)) == 2000  # the manifest (_manifest.json) is skipped by dataset readers
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["name"] == "galchem" and sorted(manifest["files"]) == [f"part-0000{i}.parquet" for i in range(3)]
    for folder in (out, tmp_path / "m.truth"):
        assert (folder.stat().st_mode & 0o777) == 0o777 & ~current_umask()
    assert run(capsys, "mock", "--survey", "lamost", "--mock-stars", "1000", "--mock-seed", "3", "--out", out)[0] == 0  # its own
    (tmp_path / "m.truth" / "notes.txt").write_text("mine\n")
    before = files_of(out)
    refused(capsys, "mock", "--survey", "lamost", "--mock-stars", "1000", "--mock-seed", "4", "--out", out, says="notes.txt")
    assert files_of(out) == before and (tmp_path / "m.truth" / "notes.txt").read_text() == "mine\n"


def test_book_build_folders_with_the_users_files_are_not_replaced(tmp_path):
    tiny_book(tmp_path, "1 / 0")
    with pytest.raises(GalchemError, match="ZeroDivisionError"):
        book.build(tmp_path, "t", log=lambda line: None)
    with pytest.raises(GalchemError, match="ZeroDivisionError"):  # a failed build's folders are still galchem's
        book.build(tmp_path, "t", log=lambda line: None)
    html = tmp_path / "_build" / "html"
    html.mkdir()
    (html / "report.pdf").write_bytes(b"%PDF")
    with pytest.raises(GalchemError, match=r"html/report\.pdf is not listed"):
        book.build(tmp_path, "t", log=lambda line: None)
    assert (html / "report.pdf").read_bytes() == b"%PDF"


# --- 2. every user error is exit 2 with one line ---------------------------------------------------------


@pytest.mark.parametrize("text, says", [
    ('survey = "gaia"\n', "survey = 'gaia' should be a table"),
    ('input = "x"\n', "input = 'x' should be a table"),
    ("[run]\nazimuthal_z_max = true\n", "azimuthal-z-max = True is not allowed"),
    ("[run]\nmock_stars = true\n", "mock-stars = True is not allowed"),
    ("[run]\nradial_z_edges = [true, 2]\n", "radial-z-edges"),
    ('[run]\nannuli = "x"\n', "annuli = 'x' is not allowed"),
    ("[input]\ncatalog = 3\n", "catalog = 3 should be a string"),
    ("x = [\n", "not a valid TOML configuration"),
], ids=["survey string", "input string", "bool as number", "bool as count", "bool edge", "string annuli",
        "numeric catalog", "broken TOML"])
def test_a_bad_config_toml_is_one_line(text, says, tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text(text)
    refused(capsys, "analyse", "--config", config, "--out", tmp_path / "out", *FAST, says=says)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("profile, says", [
    ("a: [\n", "not valid YAML"),
    ("execution_timeout: abc\n", "execution_timeout = 'abc' should be a whole number"),
    ("execution_timeout: [1, 2]\n", "execution_timeout = [1, 2] should be a whole number"),
    ("execution_timeout: true\n", "execution_timeout = True"),
    ("- 1\n", "should be a mapping"),
    ("notebooks:\n  chapter_one: {x: 2}\n", "sets parameters of chapter_one, which is not a notebook"),
    ("execution_timout: 900\n", "unknown key(s) execution_timout"),
    ("notebooks:\n  ch: [1]\n", "notebooks should map"),
], ids=["broken YAML", "timeout abc", "timeout list", "timeout bool", "a list", "unknown notebook", "typo",
        "notebook list"])
def test_a_bad_profile_is_one_line(profile, says, tmp_path, capsys):
    tiny_book(tmp_path, "pass", profile=profile)
    refused(capsys, "book", "--root", tmp_path, "--profile", "t", says=says)
    assert not (tmp_path / "_build").exists()  # refused before anything was written


@pytest.mark.parametrize("name", ["../_toc", "../profiles/t", "/etc/passwd"])
def test_a_profile_is_a_name_not_a_path(name, tmp_path, capsys):
    tiny_book(tmp_path, "pass")
    refused(capsys, "book", "--root", tmp_path, "--profile", name, says=f"no profile {name!r}")


def test_an_unwritable_build_folder_is_one_line(tmp_path, capsys, monkeypatch):
    tiny_book(tmp_path, "pass")
    (tmp_path / "_build").write_text("not a folder\n")
    refused(capsys, "book", "--root", tmp_path, "--profile", "t", says="_build is a file, not a folder")
    (tmp_path / "_build").unlink()
    (tmp_path / "_build").mkdir()
    monkeypatch.setattr(book.os, "access", lambda path, mode: Path(path).name != "_build")  # root ignores chmod
    refused(capsys, "book", "--root", tmp_path, "--profile", "t", says="cannot write in the build folder")


def test_numpy_numbers_count_as_numbers_and_bools_do_not():
    config = RunConfig(n_mc=np.int64(20), ring_width=np.float32(0.2), seed=np.uint32(3),
                       radial_z_edges=np.array([0.0, 0.5, 1.0]), mock_stars=np.int32(100))
    assert (config.n_mc, config.seed, config.mock_stars) == (20, 3, 100) and type(config.n_mc) is int
    assert config.radial_z_edges == (0.0, 0.5, 1.0) and config.ring_width == pytest.approx(0.2)
    assert "n_mc = 20" in galchem.run.config.toml_text(config.to_dict())
    for bad in ({"n_mc": True}, {"n_mc": np.bool_(True)}, {"ring_width": True}, {"mock_stars": True},
                {"annuli": ((7, 9), (9,))}):
        with pytest.raises(GalchemError, match="is not allowed"):
            RunConfig(**bad)


@pytest.mark.parametrize("seed", [2**70, -1, 1.5, True])
def test_a_bad_mock_seed_is_named(seed):
    with pytest.raises(GalchemError, match=r"the mock's seed = .* is not allowed: an integer from 0"):
        load_dataset("lamost", "mock", 100, seed)


def test_numpy_mock_size_and_seed_are_accepted():
    assert "100 candidates, seed 3" in load_dataset("lamost", "mock", np.int64(100), np.int64(3)).source


def test_analyse_explains_a_table_and_takes_a_dict_config(tmp_path):
    with pytest.raises(GalchemError, match="not a DataFrame; write a table to a file first"):
        galchem.analyse("lamost", pd.DataFrame({"ra": [1.0]}))
    with pytest.raises(GalchemError, match="config should be a galchem.RunConfig .* not a str"):
        galchem.analyse("lamost", "mock", "n_mc=20")
    with pytest.raises(GalchemError, match="config: n-mc = 1 is not allowed"):
        galchem.analyse("lamost", "mock", {"n_mc": 1})
    result = galchem.analyse("lamost", "mock", {"mock_stars": 2000, "n_mc": 20, "n_steps": 50, "max_steps": 50,
                                                "n_permutations": 10})
    assert result.config.n_mc == 20 and result.config.mock_stars == 2000


def test_a_symlinked_mock_file_is_followed(tmp_path, capsys):
    target = tmp_path / "data" / "lamost.parquet"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "lamost.parquet"
    link.symlink_to(target)
    assert run(capsys, "mock", "--survey", "lamost", "--mock-stars", "500", "--out", link)[0] == 0
    assert link.is_symlink() and len(pd.read_parquet(target)) == 500


def test_mock_targets_are_checked_before_any_work(tmp_path, capsys):
    m1 = tmp_path / "m1"
    refused(capsys, "mock", "--survey", "lamost", "--mock-stars", "2000", "--out", m1, "--truth-out", m1 / "truth",
            says="one is inside the other")
    refused(capsys, "mock", "--survey", "lamost", "--mock-stars", "2000", "--out", tmp_path / "y.parquet",
            "--truth-out", tmp_path / "y.xlsx", says="unsupported table format '.xlsx'")
    refused(capsys, "mock", "--survey", "lamost", "--mock-stars", "2000", "--out", tmp_path / "y.csv",
            "--truth-out", tmp_path / "y.xlsx", says="unsupported table format '.xlsx'")
    refused(capsys, "mock", "--survey", "lamost", "--mock-stars", "2000", "--out", tmp_path / "y.parquet",
            "--truth-out", tmp_path / "y.csv", says="name it *.parquet")
    refused(capsys, "mock", "--survey", "lamost", "--mock-stars", "2000", "--out", m1, "--truth-out", tmp_path / "t.parquet",
            says="the truth of a folder mock is a folder too")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, nothing half-written


def test_a_text_mock_and_its_truth_are_written_together(tmp_path, capsys):
    out = tmp_path / "y.csv"
    assert run(capsys, "mock", "--survey", "lamost", "--mock-stars", "500", "--out", out, "--truth-out",
               tmp_path / "y.truth.ecsv")[0] == 0
    assert len(pd.read_csv(out)) == 500 and (tmp_path / "y.truth.ecsv").is_file()
    assert (out.stat().st_mode & 0o777) == 0o666 & ~current_umask()


def test_fetch_checks_its_out_before_the_network(tmp_path, capsys, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was asked before --out was checked")

    monkeypatch.setattr(archive, "fetch_gaia", no_network)
    refused(capsys, "fetch", "--survey", "gaia", "--out", tmp_path / "x.xlsx", says="give a path ending in .parquet")
    assert not list(tmp_path.iterdir())


def test_the_offline_hint_names_the_command_line_option(tmp_path):
    class Offline:
        def launch_job_async(self, *args, **kwargs):
            raise OSError("Network is unreachable")

    with pytest.raises(archive.ArchiveError) as caught:
        archive.fetch("gaia", tmp_path / "g.parquet", gaia=Offline())
    message = str(caught.value)
    assert "\n" not in message and "--catalog mock" in message and "catalog='mock'" in message


@pytest.fixture(scope="module")
def co_located(tmp_path_factory) -> Path:
    """A catalogue whose stars all sit at one position (every star the same distance and direction)."""
    table = make_mock("lamost", 3000, seed=5).catalog
    for column in ("ra", "dec", "parallax", "r_med_geo", "r_lo_geo", "r_hi_geo"):
        table[column] = table[column].iloc[0]
    path = tmp_path_factory.mktemp("degenerate") / "co_located.parquet"
    table.to_parquet(path)
    return path


def test_degenerate_data_give_no_wall_of_warnings_and_no_slope_without_spread(co_located, tmp_path, capfd):
    """Stars all at one place: no warnings on the terminal (NumPy's would be summed up in one note), and the one
    bin they fill gets neither a corrected nor a SIMEX slope -- there is no spread in R to fit -- and says why."""
    out = tmp_path / "out"
    assert cli.main(["analyse", "--catalog", str(co_located), "--out", str(out), *FAST[2:]]) == 0
    err = capfd.readouterr().err
    assert "Warning" not in err and "warn" not in err.lower(), err
    notes = (out / "notes.txt").read_text().splitlines()
    numerical = [line for line in notes if line.startswith("numerical warnings:")]
    assert len(numerical) <= 1 and all("degenerate data" in line for line in numerical)
    radial = pd.read_csv(out / "radial_gradients.csv")
    filled = radial[radial["n"] > 0]
    assert len(filled) == 1
    assert filled[["m_deconv", "m_simex", "m_simex_err"]].isna().all(axis=None)
    assert any("no spread in the coordinates" in line for line in notes)


def test_degenerate_data_in_python_leak_no_numpy_warnings(co_located, tmp_path, monkeypatch):
    monkeypatch.setenv("GALCHEM_CACHE_DIR", str(tmp_path / "cache"))  # computed now: any warnings are raised again
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = galchem.analyse("lamost", str(co_located), {"n_mc": 20, "n_steps": 50, "max_steps": 50,
                                                             "n_permutations": 10})
    assert not [w for w in caught if issubclass(w.category, (RuntimeWarning, np.exceptions.RankWarning))]
    assert sum(line.startswith("numerical warnings:") for line in result.notes) <= 1


def test_numerical_warnings_become_one_note_and_others_are_shown_as_usual():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            np.log(np.zeros(2))
        warnings.warn("something else", UserWarning)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        notes = pipeline.numeric_warnings(caught)
    assert len(notes) == 1 and notes[0].startswith("numerical warnings: 5, from degenerate data")
    assert [str(w.message) for w in shown] == ["something else"]
    assert pipeline.numeric_warnings([]) == []


# --- 3. a slow machine is not an error -------------------------------------------------------------------


def test_a_cell_past_the_time_limit_is_one_line(tmp_path, capfd):
    tiny_book(tmp_path, "import time\ntime.sleep(30)")
    code = cli.main(["book", "--root", str(tmp_path), "--profile", "t", "--timeout", "1"])
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    for part in ("ch.ipynb", "'import time'", "limit of 1 s", "--timeout SECONDS", "execution_timeout"):
        assert part in lines[0], lines[0]
    assert "IPKernelApp" in (tmp_path / "_build" / "logs" / "ch.log").read_text()  # the kernel's own words


def test_the_ci_profile_leaves_room_for_a_slower_machine():
    for name in ("ci", "full"):  # a whole chapter takes at most ~80 s here; three times slower is 240 s
        assert profiles.load_profile(ROOT, name).execution_timeout >= 3 * 80



def test_a_mock_folder_is_not_replaced_by_results_nor_results_by_a_mock(results, tmp_path, capsys):
    mock_folder = tmp_path / "m1"
    assert run(capsys, "mock", "--survey", "lamost", "--mock-stars", "500", "--out", mock_folder)[0] == 0
    before = files_of(mock_folder)
    refused(capsys, "analyse", "--out", mock_folder, *FAST, says="holds a mock catalogue that galchem wrote")
    assert files_of(mock_folder) == before
    out = tmp_path / "res"
    copy_files(results, out)
    refused(capsys, "mock", "--survey", "lamost", "--mock-stars", "500", "--out", out,
            says="holds a run's results that galchem wrote")
    assert files_of(out) == files_of(results)
