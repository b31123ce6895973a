"""Plausibility at the door and survey-file / catalogue-reading mistakes, tested as a hostile user would (issue 25).

A unit slip that no other column can contradict (parallaxes in arcsec in a
parallax-only survey, proper motions in micro-arcsec/yr, velocities in m/s)
or an impossible value ([Fe/H] = +50) used to run to exit 0 with a cut flow
that silently lost nearly every star.  Now a systematic problem refuses the
file in one line (exit 2) that names the file, the column, how many rows, an
example and the fix that works; a few stray rows are removed and counted by
the ``valid`` cut.  Survey files and catalogue files with mistakes are one
line each, never an internal error.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.table import Table
from helpers import write_catalog

from galchem import cli
from galchem.data import checks, cuts
from galchem.data.contract import canonical_table
from galchem.data.mock import make_mock
from galchem.data.surveys import BUILTIN, RESERVED_CUT_NAMES, Survey, SurveyError, load_survey
from galchem.physics.membership import HALO_CUT

ROWS = 3000
LAMOST = (BUILTIN / "lamost.toml").read_text()
DISTANCE_LINES = 'distance = "r_med_geo"\ndistance_lo = "r_lo_geo"\ndistance_hi = "r_hi_geo"\n'
UNIT_LINES = '[units]\ndistance = "pc"\ndistance_lo = "pc"\ndistance_hi = "pc"\n'
PARALLAX_ONLY = LAMOST.replace(DISTANCE_LINES, "").replace(UNIT_LINES, "")


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    """A small LAMOST-shaped mock catalogue (file columns, as a user's file would have them)."""
    return make_mock("lamost", ROWS, seed=5).catalog


def edit(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced; fails loudly if the built-in survey file no longer holds ``old``."""
    assert old in text, old
    return text.replace(old, new)


def run_cutflow(folder: Path, catalog: Path, survey: str = LAMOST) -> tuple[int, pd.DataFrame | None]:
    """``galchem cutflow`` on ``catalog`` with the survey file ``survey``: the exit status and the flow table."""
    (folder / "s.toml").write_text(survey)
    flow = folder / "flow.csv"
    code = cli.main(["cutflow", "--survey", str(folder / "s.toml"), "--catalog", str(catalog), "--out", str(flow),
                     "--n-mc", "20"])
    return code, (pd.read_csv(flow).set_index("cut") if code == 0 else None)


def refused(capsys, code: int) -> str:
    """The one line of a refusal (exit 2, no traceback)."""
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured.err
    assert len(lines) == 1, captured.err
    return lines[0]


# --- 1. plausibility: a systematic slip refuses the file with the likely unit -------------------------------------

@dataclass(frozen=True)
class Slip:
    """A catalogue whose columns were changed, the survey file, and what the refusal must say."""

    name: str
    change: Callable[[pd.DataFrame], pd.DataFrame]
    says: tuple[str, ...]
    survey: str = LAMOST
    suffix: str = ".parquet"


def scaled(factor: float, *columns: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    return lambda t: t.assign(**{c: t[c] * factor for c in columns})


SLIPS = [
    Slip("parallaxes in arcsec, parallax-only survey", scaled(1e-3, "parallax", "parallax_error"),
         ("column parallax (role parallax)", "below 0.005 mas",
          'set parallax = "arcsec" (and parallax_error, if in arcsec too) under [units]'),
         PARALLAX_ONLY),
    Slip("parallaxes in micro-arcsec, parallax-only survey", scaled(1e3, "parallax", "parallax_error"),
         ("column parallax (role parallax)", "above 50 mas", 'set parallax = "uas"'), PARALLAX_ONLY),
    Slip("proper motions in micro-arcsec/yr", scaled(1e3, "pmra", "pmdec", "pmra_error", "pmdec_error"),
         ("column pmra (role pmra)", "above 500 mas/yr",
          'set pmra = "uas/yr" (and pmra_error, pmdec, pmdec_error, if in uas/yr too)')),
    Slip("proper motions in arcsec/yr", scaled(1e-3, "pmra", "pmdec", "pmra_error", "pmdec_error"),
         ("column pmra (role pmra)", "below 0.02 mas/yr", 'set pmra = "arcsec/yr"')),
    Slip("proper-motion errors alone in micro-arcsec/yr", scaled(1e3, "pmra_error"),
         ("column pmra_error (role pmra_error)", "above 10 mas/yr", 'set pmra_error = "uas/yr"')),
    Slip("radial velocities in m/s", scaled(1e3, "rv", "rv_err"),
         ("column rv (role rv)", "above 500 km/s", 'set rv = "m/s" (and rv_error, if in m/s too) under [units]',
          "cut 'labels' compares rv_err in the file's own unit, so scale its bounds too")),
    Slip("radial-velocity errors alone in m/s", scaled(1e3, "rv_err"),
         ("column rv_err (role rv_error)", "above 100 km/s", 'set rv_error = "m/s"')),
    Slip("distances in kpc declared pc (the survey's [units])", scaled(1e-3, "r_med_geo", "r_lo_geo", "r_hi_geo"),
         ("column r_med_geo (role distance)", "below 0.02 kpc",
          'set distance = "kpc" (and distance_lo, distance_hi, if in kpc too)')),
    Slip("[Fe/H] of +50 everywhere", lambda t: t.assign(feh=50.0),
         ("column feh (role feh)", "outside -10..2 dex", "for example row 0: 50 dex")),
    Slip("[Fe/H] with an undeclared -9999 sentinel everywhere", lambda t: t.assign(feh=-9999.0),
         ("column feh (role feh)", "-9999 looks like a 'no measurement' value", "missing")),
]


@pytest.mark.parametrize("slip", SLIPS, ids=lambda s: s.name)
def test_a_systematic_slip_is_one_line_with_the_likely_unit(slip, base, tmp_path, capsys):
    catalog = write_catalog(slip.change(base.copy()), tmp_path / f"cat{slip.suffix}")
    code, _ = run_cutflow(tmp_path, catalog, slip.survey)
    line = refused(capsys, code)
    assert str(catalog) in line and " rows " in line and "for example row" in line, line
    for words in slip.says:
        assert words in line, line
    assert not (tmp_path / "flow.csv").exists()


@pytest.mark.parametrize("columns, factor, units, survey, bounds", [
    (("parallax", "parallax_error"), 1e-3, 'parallax = "arcsec"\nparallax_error = "arcsec"\n', PARALLAX_ONLY, None),
    (("pmra", "pmdec", "pmra_error", "pmdec_error"), 1e3,
     'pmra = "uas/yr"\npmra_error = "uas/yr"\npmdec = "uas/yr"\npmdec_error = "uas/yr"\n', LAMOST, None),
    (("rv", "rv_err"), 1e3, 'rv = "m/s"\nrv_error = "m/s"\n', LAMOST,
     ('{ column = "rv_err", max = 100.0 }', '{ column = "rv_err", max = 100000.0 }')),
], ids=["parallax", "proper motions", "radial velocities (and the survey's cut on rv_err, as advised)"])
def test_following_the_advice_gives_the_flow_of_the_right_units(columns, factor, units, survey, bounds, base,
                                                                tmp_path, capsys):
    right = tmp_path / "right"
    right.mkdir()
    code, expected = run_cutflow(right, write_catalog(base, right / "cat.parquet"), survey)
    assert code == 0
    catalog = write_catalog(scaled(factor, *columns)(base.copy()), tmp_path / "cat.parquet")
    line = refused(capsys, run_cutflow(tmp_path, catalog, survey)[0])
    advised = re.search(r'set (\w+) = "([^"]+)"', line).groups()
    assert f'{advised[0]} = "{advised[1]}"' in units  # the advice names one of the units that fix it
    assert ("scale its bounds too" in line) == (bounds is not None)
    fixed = survey.replace("[units]\n", f"[units]\n{units}", 1) if "[units]" in survey else \
        survey.replace("[[cuts]]", f"[units]\n{units}\n[[cuts]]", 1)
    code, flow = run_cutflow(tmp_path, catalog, edit(fixed, *bounds) if bounds else fixed)
    assert code == 0, capsys.readouterr().err
    pd.testing.assert_frame_equal(flow, expected)


def test_the_same_slips_ran_to_a_plausible_wrong_flow_without_the_checks(base, tmp_path, monkeypatch, capsys):
    """Why the refusal matters: with the plausibility rules switched off, parallaxes in arcsec pass the door and
    the halo cut removes almost every star, exit 0 (what issue 25 saw).  Its own cache: the door runs only when
    the kinematic stage is computed, and this result must not stand in for a checked one."""
    monkeypatch.setenv("GALCHEM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(checks, "PLAUSIBLE", {})
    catalog = write_catalog(scaled(1e-3, "parallax", "parallax_error")(base.copy()), tmp_path / "cat.parquet")
    code, flow = run_cutflow(tmp_path, catalog, PARALLAX_ONLY)
    assert code == 0
    assert flow.loc["halo", "removed"] >= 0.99 * flow.loc["velocities", "remaining"]


def test_file_units_that_contradict_the_survey_get_advice_that_works(base, tmp_path, capsys):
    """An ECSV declaring kpc for distances that are in pc: the file's unit wins over the survey's [units] = pc,
    so the advice is to correct the file, not to set [units] (already set, and ignored)."""
    table = Table.from_pandas(base)
    for name in ("r_med_geo", "r_lo_geo", "r_hi_geo"):
        table[name].unit = "kpc"
    catalog = tmp_path / "cat.ecsv"
    table.write(catalog)
    code, _ = run_cutflow(tmp_path, catalog)
    line = refused(capsys, code)
    assert "column r_med_geo (role distance)" in line and "above 200 kpc" in line
    assert "the file declares 'kpc' for r_med_geo" in line and "correct the unit in the file" in line
    assert "under [units]" not in line


def test_the_advice_for_a_file_without_units_is_the_survey_units_table(base, tmp_path, capsys):
    """The same pc values in a parquet file (no unit metadata) with the survey saying kpc: fix [units]."""
    survey = edit(LAMOST, UNIT_LINES, '[units]\ndistance = "kpc"\ndistance_lo = "kpc"\ndistance_hi = "kpc"\n')
    code, _ = run_cutflow(tmp_path, write_catalog(base, tmp_path / "cat.parquet"), survey)
    line = refused(capsys, code)
    assert ('these look like pc read as kpc -- set distance = "pc" (and distance_lo, distance_hi, if in pc too) '
            "under [units] in the survey file") in line


@pytest.mark.parametrize("column, value, role", [
    ("feh", 50.0, "feh"),
    ("feh", -9999.0, "feh"),
    ("pmra", 1e6, "pmra"),
    ("rv", 9999.0, "rv"),
    ("rv_err", 9999.0, "rv_error"),
    ("parallax", 5000.0, "parallax"),
    ("parallax", -50.0, "parallax"),
])
def test_a_few_impossible_values_are_a_counted_cut(column, value, role, base, tmp_path, capsys):
    table = base.copy()
    table.loc[table.index[:6], column] = value
    code, flow = run_cutflow(tmp_path, write_catalog(table, tmp_path / "cat.parquet"))
    assert code == 0, capsys.readouterr().err
    assert flow.loc["valid", "removed"] == 6
    assert flow["removed"].iloc[1:].sum() + flow["remaining"].iloc[-1] == ROWS
    survey = load_survey("lamost")
    canonical = canonical_table(table, {}, survey, "t")
    (problem,) = [p for p in checks.problems(canonical) if p.kind == "range"]
    assert problem.column == role and problem.bad.sum() == 6


def test_a_few_tiny_parallaxes_are_distant_stars_not_a_problem(base, tmp_path):
    """A typical range judges only the majority: stray rows below it are kept (the parallax cut may still cut them)."""
    table = base.copy()
    table.loc[table.index[:6], ["parallax", "parallax_error"]] /= 1000
    code, flow = run_cutflow(tmp_path, write_catalog(table, tmp_path / "cat.parquet"))
    assert code == 0 and flow.loc["valid", "removed"] == 0


def test_a_value_within_five_errors_of_its_range_is_kept(base):
    """[Fe/H] = +6.5 with an error of 3 dex is a poor measurement, not an impossible one (the LAMOST mock has such);
    +2.6 with 0.1 dex, or with no error to widen the range, is no star's [Fe/H]."""
    table = canonical_table(base.head(3), {}, load_survey("lamost"), "t").assign(
        feh=[6.5, 2.6, 2.6], feh_error=[3.0, 0.1, np.nan])
    (problem,) = [p for p in checks.problems(table) if p.kind == "range"]
    assert problem.bad.tolist() == [False, True, True]


def test_a_slip_is_judged_over_the_whole_catalogue_not_one_partition(base, tmp_path, capsys):
    """Three parquet parts, two with velocities in m/s: a majority of the catalogue, though not of the first part."""
    folder = tmp_path / "parts"
    folder.mkdir()
    parts = [base.iloc[:1000], base.iloc[1000:2000], base.iloc[2000:]]
    for i, part in enumerate(parts):
        (scaled(1e3, "rv", "rv_err")(part.copy()) if i else part).to_parquet(folder / f"part-{i}.parquet")
    code, _ = run_cutflow(tmp_path, folder)
    line = refused(capsys, code)
    assert "column rv (role rv)" in line and 'set rv = "m/s"' in line
    assert "of 3,000 rows" in line  # rows counted over the whole catalogue
    assert int(re.search(r"for example row (\d+)", line).group(1)) >= 1000  # a row of a later part


@pytest.mark.parametrize("sample", ["lamost", "gaia"])
def test_the_embedded_mocks_pass_every_plausibility_check_with_no_row_cut(sample, lamost_mock, gaia_mock):
    mock = {"lamost": lamost_mock, "gaia": gaia_mock}[sample]
    survey = load_survey(sample)
    table = canonical_table(mock.catalog, {}, survey, sample)
    assert len(table) == 20_000
    assert [p for p in checks.problems(table) if p.kind == "range"] == []
    assert not checks.invalid_rows(table).any()
    counts = checks.count_problems(table, 0, survey.columns)
    checks.refuse_systematic(counts, sample, survey, {})  # nothing systematic
    assert sum(c.count for c in counts if c.kind != "typical") == 0
    for count in counts:  # the rows outside a typical range are a small minority
        assert count.count < 0.05 * count.judged, count


# --- 2. survey-file mistakes ---------------------------------------------------------------------------------------

SURVEY_MISTAKES = [
    ("one column for two errors", edit(LAMOST, 'pmdec_error = "pmdec_error"', 'pmdec_error = "pmra_error"'),
     "maps the file column 'pmra_error' to 2 roles (pmra_error, pmdec_error)"),
    ("the median as the 84th percentile", edit(LAMOST, 'distance_hi = "r_hi_geo"', 'distance_hi = "r_med_geo"'),
     "maps the file column 'r_med_geo' to 2 roles (distance, distance_hi)"),
    ("min above max", edit(LAMOST, "min = 2.0\nmax = 5.0", "min = 5.0\nmax = 2.0"),
     "cut 'logg': min = 5 and max = 2 on logg leave no value between them"),
    ("above equal to below", edit(LAMOST, "min = 2.0\nmax = 5.0", "above = 3.0\nbelow = 3.0"),
     "above = 3 and below = 3 on logg leave no value"),
    ("min equal to a strict below", edit(LAMOST, "min = 2.0\nmax = 5.0", "min = 3.0\nbelow = 3.0"),
     "min = 3 and below = 3"),
    ("bounds that clash across an all list",
     edit(LAMOST, '{ column = "rv_err", max = 100.0 }', '{ column = "rv_err", max = 100.0 }, '
                                                         '{ column = "rv_err", above = 200.0 }'),
     "cut 'labels': above = 200 and max = 100 on rv_err leave no value between them"),
    ('units = "pc"', edit(LAMOST, UNIT_LINES, "").replace("[columns]", 'units = "pc"\n[columns]'),
     "'units' must be a table of role = unit"),
    ('units = ["pc"]', edit(LAMOST, UNIT_LINES, "").replace("[columns]", 'units = ["pc"]\n[columns]'),
     "'units' must be a table of role = unit"),
    ("a unit that is a number", edit(LAMOST, 'distance_lo = "pc"\n', "distance_lo = 1000\n"),
     "[units] distance_lo must be a unit written as a string"),
    ("a distance unit without its percentiles'", edit(LAMOST, UNIT_LINES, '[units]\ndistance = "kpc"\n'),
     "[units] gives distance = 'kpc' but no unit for distance_lo, which would then be read in pc"),
    ("a velocity unit without its error's", edit(LAMOST, UNIT_LINES, UNIT_LINES + 'rv = "m/s"\n'),
     "set rv_error under [units] too"),
    ("[cuts] as one table", LAMOST.split("[[cuts]]")[0] + '[cuts]\nname = "x"\ncolumn = "snr"\nmin = 1.0\n',
     "'cuts' must be an array of tables, each written [[cuts]]"),
] + [(f"a cut named {name}", edit(LAMOST, 'name = "snr"', f'name = "{name}"'),
      f"cut '{name}' has the name of a row galchem's cut flow already has") for name in RESERVED_CUT_NAMES]


@pytest.mark.parametrize("name, survey, says", SURVEY_MISTAKES, ids=[m[0] for m in SURVEY_MISTAKES])
def test_a_survey_file_mistake_is_one_line(name, survey, says, base, tmp_path, capsys):
    code, _ = run_cutflow(tmp_path, write_catalog(base.head(50), tmp_path / "cat.parquet"), survey)
    line = refused(capsys, code)
    assert line.startswith(f"galchem cutflow: error: {tmp_path / 's.toml'}: ") and says in line, line


def test_reserved_cut_names_are_the_rows_the_cut_flow_writes(lamost_mock):
    """The names a survey may not take are exactly those galchem's own cut flow uses, taken from the cuts."""
    flow = cuts.cut_flow(canonical_table(lamost_mock.catalog.head(100), {}, load_survey("lamost"), "t"),
                         load_survey("lamost")).flow
    survey_names = {c.name for c in load_survey("lamost").cuts}
    own = {*flow["cut"], cuts.VELOCITY_CUT.name, HALO_CUT.name} - survey_names
    assert own == set(RESERVED_CUT_NAMES)


def test_inclusive_bounds_may_meet_and_open_bounds_pass():
    """``min = max`` keeps the rows equal to it; one-sided bounds never clash."""
    data = load_survey("lamost").to_dict()
    data["cuts"] = [{"name": "exact", "column": "logg", "min": 3.0, "max": 3.0}, {"name": "lower", "column": "snr",
                                                                                 "min": 30.0, "above": 40.0}]
    survey = Survey.from_dict(data, origin="my.toml")
    assert [c.name for c in survey.cuts] == ["exact", "lower"]
    with pytest.raises(SurveyError, match="my.toml: cut 'exact': min = 3 and below = 3"):
        Survey.from_dict({**data, "cuts": [{"name": "exact", "column": "logg", "min": 3.0, "below": 3.0}]},
                         origin="my.toml")


# --- 3. catalogue-reading mistakes ---------------------------------------------------------------------------------

def nullable_id_with_na(base: pd.DataFrame, folder: Path) -> Path:
    table = base.assign(source_id=base["source_id"].astype("Int64"))
    table.loc[3, "source_id"] = pd.NA
    return write_catalog(table, folder / "cat.parquet")


def csv_with_empty_id(base: pd.DataFrame, folder: Path) -> Path:
    path = write_catalog(base, folder / "cat.csv")
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = "," + lines[4].split(",", 1)[1]  # data row 3: its id cell emptied
    path.write_text("".join(lines))
    return path


def csv_with_fractional_id(base: pd.DataFrame, folder: Path) -> Path:
    return write_catalog(base.assign(source_id=base["source_id"].astype(float).where(base.index != 7, 12.5)),
                         folder / "cat.csv")


def float_ids_beyond_53_bits(base: pd.DataFrame, folder: Path) -> Path:
    return write_catalog(base.assign(source_id=(base["source_id"] + 6_917_528_443_525_529_728).astype(float)),
                         folder / "cat.parquet")


def csv_with_two_feh_columns(base: pd.DataFrame, folder: Path) -> Path:
    table = base.copy()
    table.insert(len(table.columns), "feh_copy", table["feh"] + 1.0)
    table.columns = [*base.columns, "feh"]
    return write_catalog(table, folder / "cat.csv")


def text_with_two_feh_columns(base: pd.DataFrame, folder: Path) -> Path:
    path = folder / "cat.txt"
    table = base.fillna(-9999.0)
    with path.open("w") as handle:
        handle.write("# " + " ".join([*table.columns, "feh"]) + "\n")
        table.assign(extra=table["feh"]).to_csv(handle, sep=" ", index=False, header=False)
    return path


def parquet_with_two_feh_columns(base: pd.DataFrame, folder: Path) -> Path:
    arrow = pa.Table.from_pandas(base, preserve_index=False)
    arrow = arrow.append_column("feh", pa.array(base["feh"].to_numpy() + 1.0))
    pq.write_table(arrow, folder / "cat.parquet")
    return folder / "cat.parquet"


def fits_with_a_blank_byte_string_id(base: pd.DataFrame, folder: Path) -> Path:
    """APOGEE's shape: byte-string ids padded with spaces, one of them blank."""
    table = Table.from_pandas(base)
    table.replace_column("source_id", np.array([f"2M{i:08d}  ".encode() for i in range(len(base))], dtype="S12"))
    table["source_id"][5] = b"    "
    table.write(folder / "cat.fits")
    return folder / "cat.fits"


READING_MISTAKES = [
    ("nullable Int64 id with NA", nullable_id_with_na,
     "column 'source_id' (role id): row 3 has an empty id; every row needs its key"),
    ("empty id cell in a CSV", csv_with_empty_id, "column 'source_id' (role id): row 3 has an empty id"),
    ("a blank byte-string id in a FITS file", fits_with_a_blank_byte_string_id,
     "column 'source_id' (role id): row 5 has an empty id"),
    ("a fractional id in a CSV", csv_with_fractional_id, "row 7 has the id 12.5, which is not a whole number"),
    ("ids beyond 2^53 stored as floats", float_ids_beyond_53_bits,
     "stored as floating point, which keeps only 53 bits"),
    ("two CSV columns named feh", csv_with_two_feh_columns, "the column 'feh' appears 2 times in the file"),
    ("two text columns named feh", text_with_two_feh_columns, "the column 'feh' appears 2 times in the file"),
    ("two parquet columns named feh", parquet_with_two_feh_columns, "the column 'feh' appears 2 times in the file"),
]


@pytest.mark.parametrize("name, make, says", READING_MISTAKES, ids=[m[0] for m in READING_MISTAKES])
def test_a_catalogue_reading_mistake_is_one_line(name, make, says, base, tmp_path, capsys):
    catalog = make(base.head(200), tmp_path)
    code, _ = run_cutflow(tmp_path, catalog)
    line = refused(capsys, code)
    assert line.startswith(f"galchem cutflow: error: {catalog}") and says in line, line


def test_complete_nullable_integer_columns_read_as_integers(base, tmp_path):
    table = base.head(100).assign(source_id=base["source_id"].head(100).astype("Int64"))
    catalog = write_catalog(table, tmp_path / "cat.parquet")
    code, flow = run_cutflow(tmp_path, catalog)
    assert code == 0 and flow["remaining"].iloc[0] == 100
