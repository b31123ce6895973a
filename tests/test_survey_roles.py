"""Survey-file roles for the catalogues that exist: constant errors, distance offsets, correlations, Galactic and
Galactocentric inputs, the shipped example files, and four real catalogue shapes run without conversion by hand."""
from __future__ import annotations

import astropy.coordinates as coord
import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.table import Table
from helpers import canonical

from galchem import cli
from galchem.conventions import galactocentric_frame
from galchem.data import contract, coordinates
from galchem.data.cuts import cut_flow
from galchem.data.files import write_table
from galchem.data.sources import read_catalog
from galchem.data.surveys import BUILTIN, Survey, SurveyError, builtin_surveys, example_surveys, load_survey
from galchem.errors import ContractError
from galchem.physics import kinematics

EXAMPLES = example_surveys()

BASE = {"id": "i", "ra": "a", "dec": "d", "distance": "r", "distance_error": "re", "feh": "f", "feh_error": "fe"}


def survey(columns: dict, **more) -> Survey:
    return Survey.from_dict({"name": "t", "columns": columns, **more}, origin="t.toml")


def flow_of(csv) -> dict[str, int]:
    flow = pd.read_csv(csv)
    assert flow["removed"].iloc[1:].sum() + flow["remaining"].iloc[-1] == flow["remaining"].iloc[0]
    return dict(zip(flow["cut"], flow["removed"]))


def icrs_to_galactic_matrix(ra, dec) -> np.ndarray:
    """(N, 2, 2): (pmra, pmdec) -> (pm_l_cosb, pm_b), from astropy's ICRS -> Galactic transform (the other direction
    from the one galchem reads)."""
    columns = []
    for along_ra, along_dec in ((1.0, 0.0), (0.0, 1.0)):
        gal = coord.SkyCoord(ra=ra * u.deg, dec=dec * u.deg, pm_ra_cosdec=np.full(len(ra), along_ra) * u.mas / u.yr,
                             pm_dec=np.full(len(ra), along_dec) * u.mas / u.yr).galactic
        columns.append(np.stack([gal.pm_l_cosb.to_value(u.mas / u.yr), gal.pm_b.to_value(u.mas / u.yr)], axis=1))
    return np.stack(columns, axis=2)


# --- constant uncertainties ---------------------------------------------------------------------------------------

def test_constant_uncertainties_fill_every_row_in_their_unit():
    s = survey({**BASE, "feh_error": 0.1, "distance_error": 50.0})  # distance_error in the role's unit, pc
    table = contract.canonical_table(pd.DataFrame({"i": [1, 2], "a": [1.0, 2.0], "d": [3.0, 4.0],
                                                   "r": [1000.0, 2000.0], "f": [0.1, 0.2]}), {}, s, "t")
    np.testing.assert_array_equal(table["feh_error"], [0.1, 0.1])
    np.testing.assert_allclose(table["distance_lo"], [0.95, 1.95])
    assert s.file_columns() == ["i", "a", "d", "r", "f"] and s.constants == {"feh_error": 0.1, "distance_error": 50.0}
    assert Survey.from_dict(s.to_dict(), origin="t.toml") == s  # written into config.toml and read back alike
    kms = survey({**BASE, "feh_error": 0.1, "pmra": "p", "pmra_error": 0.02, "pmdec": "q", "pmdec_error": 0.02,
                  "rv": "v", "rv_error": 2000.0}, units={"rv_error": "m/s"})
    table = contract.canonical_table(pd.DataFrame({"i": [1], "a": [1.0], "d": [3.0], "r": [1.0], "re": [0.1],
                                                   "f": [0.1], "p": [1.0], "q": [2.0], "v": [3.0]}), {}, kms, "t")
    assert table["rv_error"].iloc[0] == pytest.approx(2.0) and kms.has_velocities
    assert "0.1 (every row)" in contract.describe(kms)["column"].tolist()


@pytest.mark.parametrize("columns, message", [
    ({**BASE, "feh_error": -0.1}, "feh_error = -0.1: an uncertainty given as a number must be positive"),
    ({**BASE, "feh_error": 0}, "must be positive"),
    ({**BASE, "feh_error": float("nan")}, "must be positive"),
    ({**BASE, "feh_error": True}, "must name a file column .a string. or a positive number"),
    ({**BASE, "feh": 0.1}, r"\[columns\] feh must name a file column \(a string\), not 0.1"),
])
def test_bad_constants_are_one_clear_line(columns, message):
    with pytest.raises(SurveyError, match=message) as err:
        survey(columns)
    assert str(err.value).startswith("t.toml: ") and "\n" not in str(err.value)


# --- distance offsets ---------------------------------------------------------------------------------------------

def test_distance_offsets_give_the_percentiles():
    columns = {**{k: v for k, v in BASE.items() if k != "distance_error"}, "distance_err_lo": "lo",
               "distance_err_hi": "up"}
    s = survey(columns, units={"distance": "kpc", "distance_err_lo": "kpc", "distance_err_hi": "kpc"})
    table = contract.canonical_table(pd.DataFrame({
        "i": [1, 2, 3], "a": [1.0] * 3, "d": [2.0] * 3, "r": [2.0, 4.0, 1.0], "lo": [0.2, 0.5, 1.5],
        "up": [0.3, 0.9, 0.4], "f": [0.0] * 3, "fe": [0.1] * 3}), {}, s, "t")
    np.testing.assert_allclose(table["distance_lo"], [1.8, 3.5, np.nan])  # an offset past zero: NaN, cut later
    np.testing.assert_allclose(table["distance_hi"], [2.3, 4.9, 1.4])
    assert not {"distance_err_lo", "distance_err_hi"} & set(table.columns)
    assert "offsets lo below and up above" in s.distance_origin
    with pytest.raises(SurveyError, match="distance's spread"):
        survey({**columns, "distance_error": "re"})
    with pytest.raises(SurveyError, match="distance's spread"):
        survey({k: v for k, v in columns.items() if k != "distance_err_hi"})


# --- correlations -------------------------------------------------------------------------------------------------

GAIA_LIKE = {**BASE, "pmra": "pmra", "pmra_error": "pmra_error", "pmdec": "pmdec", "pmdec_error": "pmdec_error",
             "rv": "rv", "rv_error": "rv_error", "parallax": "plx", "parallax_error": "eplx",
             "pmra_pmdec_corr": "c_ad", "parallax_pmra_corr": "c_wa", "parallax_pmdec_corr": "c_wd"}


def gaia_like_rows(c_ad, c_wa, c_wd) -> pd.DataFrame:
    n = len(c_ad)
    return pd.DataFrame({"i": np.arange(n), "a": np.linspace(10, 300, n), "d": np.linspace(-60, 60, n),
                         "r": np.full(n, 1500.0), "re": np.full(n, 100.0), "f": np.zeros(n), "fe": np.full(n, 0.1),
                         "pmra": np.ones(n), "pmra_error": np.full(n, 0.1), "pmdec": np.ones(n),
                         "pmdec_error": np.full(n, 0.1), "rv": np.zeros(n), "rv_error": np.ones(n),
                         "plx": np.full(n, 0.6), "eplx": np.full(n, 0.05), "c_ad": c_ad, "c_wa": c_wa, "c_wd": c_wd})


def test_correlations_reach_the_canonical_table_and_missing_ones_are_zero():
    rows = gaia_like_rows([0.2, np.nan, -9999.0], [0.1, 0.3, -0.2], [-0.4, 0.0, 0.5])
    table = contract.canonical_table(rows, {}, survey(GAIA_LIKE, missing=[-9999.0]), "t")
    np.testing.assert_allclose(table["pmra_pmdec_corr"], [0.2, 0.0, 0.0])
    np.testing.assert_allclose(table["parallax_pmdec_corr"], [-0.4, 0.0, 0.5])
    observed = kinematics.Observed.from_catalog(table)
    np.testing.assert_allclose(observed.parallax_pmra_corr, [0.1, 0.3, -0.2])
    without = kinematics.Observed.from_catalog(table.drop(columns=list(contract.CORRELATION_ROLES)))
    assert not without.pmra_pmdec_corr.any() and not without.parallax_pmdec_corr.any()


@pytest.mark.parametrize("values, message", [
    (([1.7, 0.0], [0.0, 0.0], [0.0, 0.0]), r"column 'c_ad' \(role pmra_pmdec_corr\): 1 of 2 rows lie outside -1..\+1"),
    (([0.0, 0.0], [0.9, 0.0], [-0.9, 0.0]), "no covariance matrix has"),  # each within -1..1, together impossible
])
def test_impossible_correlations_refuse_the_file(values, message):
    with pytest.raises(ContractError, match=message) as err:
        contract.canonical_table(gaia_like_rows(*values), {}, survey(GAIA_LIKE), "cat.fits")
    assert str(err.value).startswith("cat.fits: ") and "\n" not in str(err.value)


@pytest.fixture(scope="module")
def correlated(lamost_mock):
    """300 mock stars with large proper-motion errors and Gaia-like correlations."""
    table = cut_flow(canonical(lamost_mock.catalog), load_survey("lamost")).table.iloc[:300]
    observed = kinematics.Observed.from_catalog(table)
    n = len(observed.ra)
    rng = np.random.default_rng(5)
    wa, wd, partial = rng.uniform(-0.6, 0.6, n), rng.uniform(-0.6, 0.6, n), rng.uniform(-0.7, 0.7, n)
    ad = wa * wd + partial * np.sqrt((1 - wa**2) * (1 - wd**2))  # a valid matrix: any partial correlation in -1..1
    return observed._replace(pmra_err=observed.pmra_err * 20, pmdec_err=observed.pmdec_err * 20,
                             pmra_pmdec_corr=ad, parallax_pmra_corr=wa, parallax_pmdec_corr=wd)


def test_correlated_errors_match_drawing_them_jointly(correlated):
    """propagate (conditional moments) against brute_force (joint draws of parallax and proper motions)."""
    fast = kinematics.propagate(correlated, n_mc=2000, seed=2)
    slow = kinematics.brute_force(correlated, n_mc=2000, seed=3)
    ignored = kinematics.propagate(correlated._replace(**{name: np.zeros(len(correlated.ra))
                                                         for name in contract.CORRELATION_ROLES}), n_mc=2000, seed=2)
    velocities = [5, 6, 7, 8, 9]  # vX, vY, vZ, vR, vphi
    ratio = fast.std[:, velocities] / slow.std[:, velocities]
    off = ignored.std[:, velocities] / slow.std[:, velocities]
    assert np.all(np.abs(ratio.mean(axis=0) - 1) < 0.01) and np.all(np.abs(ratio - 1) < 0.12)
    assert np.median(np.abs(ratio - 1)) < 0.03 and np.abs(off - 1).max() > 0.3  # ignoring them would be seen
    np.testing.assert_allclose(fast.std[:, :5], ignored.std[:, :5], rtol=1e-12)  # positions: the distance alone
    pairs = ((8, 9), (8, 10), (9, 10))
    rho = [np.stack([r.velocity_cov[:, k] / (r.std[:, i] * r.std[:, j]) for k, (i, j) in enumerate(pairs)], 1)
           for r in (fast, slow)]
    assert np.all(np.abs(np.mean(rho[0] - rho[1], axis=0)) < 0.01) and np.all(np.abs(rho[0] - rho[1]) < 0.15)


def test_perfect_correlations_give_finite_errors(correlated):
    """A proper motion that follows the parallax exactly (a singular covariance) still gives finite errors."""
    edge = kinematics.Observed(*(a[:50] for a in correlated))._replace(
        parallax_pmra_corr=np.ones(50), parallax_pmdec_corr=np.zeros(50), pmra_pmdec_corr=np.zeros(50))
    fast = kinematics.propagate(edge, n_mc=2000, seed=2)
    slow = kinematics.brute_force(edge, n_mc=2000, seed=3)
    assert np.isfinite(fast.std).all() and np.all(np.abs(fast.std[:, 5:10] / slow.std[:, 5:10] - 1) < 0.12)


# --- Galactic inputs ----------------------------------------------------------------------------------------------

GALACTIC = {"id": "i", "l": "GLON", "b": "GLAT", "pm_l_cosb": "PML", "pm_l_cosb_error": "PML_ERR", "pm_b": "PMB",
            "pm_b_error": "PMB_ERR", "pm_l_pm_b_corr": "PML_PMB_CORR", "rv": "RV", "rv_error": "RV_ERR",
            "distance": "D", "distance_error": "D_ERR", "feh": "FEH", "feh_error": "FEH_ERR"}


def galactic_rows(n: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Galactic rows made from ICRS truth with astropy, and that truth (ra, dec, proper motions and their errors)."""
    rng = np.random.default_rng(seed)
    truth = {"ra": rng.uniform(0, 360, n), "dec": np.rad2deg(np.arcsin(rng.uniform(-1, 1, n))),
             "pmra": rng.normal(0, 5, n), "pmdec": rng.normal(0, 5, n), "pmra_error": rng.uniform(0.01, 0.3, n),
             "pmdec_error": rng.uniform(0.01, 0.3, n), "pmra_pmdec_corr": rng.uniform(-0.8, 0.8, n)}
    gal = coord.SkyCoord(ra=truth["ra"] * u.deg, dec=truth["dec"] * u.deg, pm_ra_cosdec=truth["pmra"] * u.mas / u.yr,
                         pm_dec=truth["pmdec"] * u.mas / u.yr).galactic
    matrix = icrs_to_galactic_matrix(truth["ra"], truth["dec"])
    cov = np.zeros((n, 2, 2))
    cov[:, 0, 0], cov[:, 1, 1] = truth["pmra_error"] ** 2, truth["pmdec_error"] ** 2
    cov[:, 0, 1] = cov[:, 1, 0] = truth["pmra_pmdec_corr"] * truth["pmra_error"] * truth["pmdec_error"]
    galactic_cov = np.einsum("nij,njk,nlk->nil", matrix, cov, matrix)
    s_l, s_b = np.sqrt(galactic_cov[:, 0, 0]), np.sqrt(galactic_cov[:, 1, 1])
    rows = pd.DataFrame({"i": np.arange(n), "GLON": gal.l.deg, "GLAT": gal.b.deg,
                         "PML": gal.pm_l_cosb.to_value(u.mas / u.yr), "PML_ERR": s_l,
                         "PMB": gal.pm_b.to_value(u.mas / u.yr), "PMB_ERR": s_b,
                         "PML_PMB_CORR": galactic_cov[:, 0, 1] / (s_l * s_b), "RV": rng.normal(0, 30, n),
                         "RV_ERR": np.ones(n), "D": rng.uniform(500, 5000, n), "D_ERR": np.full(n, 100.0),
                         "FEH": rng.normal(-0.2, 0.2, n), "FEH_ERR": np.full(n, 0.05)})
    return rows, truth


def test_galactic_inputs_round_trip_against_astropy():
    rows, truth = galactic_rows(500)
    table = contract.canonical_table(rows, {}, survey(GALACTIC), "t")
    assert not set(coordinates.GALACTIC_ROLES) & set(table.columns)
    np.testing.assert_allclose(table["dec"], truth["dec"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(coordinates_wrap(table["ra"] - truth["ra"]), 0, atol=1e-9)
    for name in ("pmra", "pmdec", "pmra_error", "pmdec_error", "pmra_pmdec_corr"):
        np.testing.assert_allclose(table[name], truth[name], rtol=0, atol=1e-9, err_msg=name)


def coordinates_wrap(degrees) -> np.ndarray:
    return (np.asarray(degrees) + 180.0) % 360.0 - 180.0


def test_galactic_proper_motion_errors_rotate_like_drawn_proper_motions():
    """The error ellipse carried by the covariance rotation equals that of proper motions drawn and moved by astropy."""
    l, b = np.array([30.0, 200.0, 310.0]), np.array([45.0, -10.0, 70.0])
    s_l, s_b, rho = np.array([0.2, 0.05, 0.3]), np.array([0.1, 0.2, 0.3]), np.array([0.0, 0.6, -0.7])
    values = {"l": l, "b": b, "pm_l_cosb": np.zeros(3), "pm_b": np.zeros(3), "pm_l_cosb_error": s_l,
              "pm_b_error": s_b, "pm_l_pm_b_corr": rho}
    ours = coordinates.icrs_from_galactic(values)
    rng = np.random.default_rng(3)
    for k in range(3):
        cov = [[s_l[k] ** 2, rho[k] * s_l[k] * s_b[k]], [rho[k] * s_l[k] * s_b[k], s_b[k] ** 2]]
        pm = rng.multivariate_normal([0, 0], cov, 40_000)
        icrs = coord.SkyCoord(l=np.full(len(pm), l[k]) * u.deg, b=np.full(len(pm), b[k]) * u.deg,
                              pm_l_cosb=pm[:, 0] * u.mas / u.yr, pm_b=pm[:, 1] * u.mas / u.yr, frame="galactic").icrs
        drawn = np.cov(icrs.pm_ra_cosdec.value, icrs.pm_dec.value)
        assert ours["pmra_error"][k] == pytest.approx(np.sqrt(drawn[0, 0]), rel=0.02)
        assert ours["pmdec_error"][k] == pytest.approx(np.sqrt(drawn[1, 1]), rel=0.02)
        assert ours["pmra_pmdec_corr"][k] == pytest.approx(drawn[0, 1] / np.sqrt(drawn[0, 0] * drawn[1, 1]), abs=0.02)


def test_galactic_positions_in_radians_are_refused():
    rows, _ = galactic_rows(50)
    rows["GLON"], rows["GLAT"] = np.deg2rad(rows["GLON"]), np.deg2rad(rows["GLAT"])
    with pytest.raises(ContractError, match=r"columns GLON, GLAT \(roles l, b\): all 50 values .* look like radians"):
        contract.canonical_table(rows, {}, survey(GALACTIC), "t")


def test_galactic_latitude_beyond_the_pole_is_an_invalid_row_not_an_error():
    rows, _ = galactic_rows(30)
    rows.loc[3, "GLAT"] = 95.0
    table = contract.canonical_table(rows, {}, survey(GALACTIC), "t")
    assert np.isnan(table["ra"].iloc[3]) and table["ra"].drop(index=3).notna().all()
    assert cut_flow(table, survey(GALACTIC)).flow.set_index("cut").loc["valid", "removed"] == 1


# --- Galactocentric inputs ----------------------------------------------------------------------------------------

CEPHEIDS = {"id": "n", "x": "X", "y": "Y", "z": "Z", "vx": "VX", "vy": "VY", "vz": "VZ", "distance_error": "eD",
            "feh": "f", "feh_error": "ef"}


def galactocentric_rows(n: int, seed: int = 0) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Galactocentric rows made from ICRS truth with astropy (galchem's frame), and that truth."""
    rng = np.random.default_rng(seed)
    truth = {"ra": rng.uniform(0, 360, n), "dec": np.rad2deg(np.arcsin(rng.uniform(-1, 1, n))),
             "distance": rng.uniform(0.3, 8.0, n), "pmra": rng.normal(0, 5, n), "pmdec": rng.normal(0, 5, n),
             "rv": rng.normal(0, 40, n)}
    gc = coord.SkyCoord(ra=truth["ra"] * u.deg, dec=truth["dec"] * u.deg, distance=truth["distance"] * u.kpc,
                        pm_ra_cosdec=truth["pmra"] * u.mas / u.yr, pm_dec=truth["pmdec"] * u.mas / u.yr,
                        radial_velocity=truth["rv"] * u.km / u.s).transform_to(galactocentric_frame())
    rows = pd.DataFrame({"n": [f"V{i:04d} Cep" for i in range(n)], "X": gc.x.to_value(u.kpc),
                         "Y": gc.y.to_value(u.kpc), "Z": gc.z.to_value(u.kpc), "VX": gc.v_x.to_value(u.km / u.s),
                         "VY": gc.v_y.to_value(u.km / u.s), "VZ": gc.v_z.to_value(u.km / u.s),
                         "eD": 0.05 * truth["distance"], "f": rng.normal(0, 0.2, n), "ef": np.full(n, 0.07)})
    return rows, truth


def test_galactocentric_inputs_round_trip_against_astropy():
    rows, truth = galactocentric_rows(500)
    s = survey(CEPHEIDS, units={"distance_error": "kpc"})
    table = contract.canonical_table(rows, {}, s, "t")
    assert not set(coordinates.GALACTOCENTRIC_ROLES) & set(table.columns) and s.has_velocities
    np.testing.assert_allclose(coordinates_wrap(table["ra"] - truth["ra"]), 0, atol=1e-8)
    for name in ("dec", "distance", "pmra", "pmdec", "rv"):
        np.testing.assert_allclose(table[name], truth[name], rtol=1e-9, atol=1e-8, err_msg=name)
    np.testing.assert_allclose(table["distance_hi"] - table["distance"], 0.05 * truth["distance"], rtol=1e-9)
    assert (table[["pmra_error", "pmdec_error", "rv_error"]] == 0).all().all()
    assert "Galactocentric positions (X, Y, Z" in s.distance_origin


def test_galactocentric_positions_without_velocities_and_in_pc():
    rows, truth = galactocentric_rows(40)
    rows[["X", "Y", "Z"]] *= 1000.0
    columns = {k: v for k, v in CEPHEIDS.items() if k not in ("vx", "vy", "vz")}
    s = survey(columns, units={"x": "pc", "y": "pc", "z": "pc", "distance_error": "kpc"})
    table = contract.canonical_table(rows, {}, s, "t")
    np.testing.assert_allclose(table["distance"], truth["distance"], rtol=1e-9)
    assert not s.has_velocities and "pmra" not in table
    with pytest.raises(ContractError, match=r"columns X, Y, Z \(roles x, y, z\): median Galactocentric radius .* "
                                            "look like pc read as kpc"):
        contract.canonical_table(rows, {}, survey(columns, units={"distance_error": "kpc"}), "t")


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(ra="RA"), "gives positions twice"),
    (lambda c: c.pop("y"), "maps x, z but not y: positions need all three"),
    (lambda c: c.update(distance="D"), "which give the distance: map no 'distance'"),
    (lambda c: c.pop("distance_error"), "spread of the distance from 'x', 'y', 'z'"),
    (lambda c: c.update(rv="RV", rv_error="RV_ERR"), "which give the radial velocity: map no 'rv'"),
    (lambda c: c.update(pmra="P", pmra_error="PE", pmdec="Q", pmdec_error="QE"), "gives velocities twice"),
])
def test_galactocentric_role_mistakes_are_one_line(change, message):
    columns = dict(CEPHEIDS)
    change(columns)
    with pytest.raises(SurveyError, match=message):
        survey(columns)


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(ra="RA", dec="DEC"), "gives positions twice"),
    (lambda c: (c.update(ra="RA", dec="DEC"), c.pop("l"), c.pop("b")), "need positions as l, b"),
    (lambda c: c.pop("pm_b_error"), "velocities need all six"),
    (lambda c: c.update(parallax_pmra_corr="C1", parallax_pmdec_corr="C2"), "a correlation of 'pmra'"),
    (lambda c: [c.pop(k) for k in ("pm_l_cosb", "pm_l_cosb_error", "pm_b", "pm_b_error", "rv", "rv_error")],
     "maps 'pm_l_pm_b_corr', a correlation of 'pm_l_cosb'"),
])
def test_galactic_role_mistakes_are_one_line(change, message):
    columns = dict(GALACTIC)
    change(columns)
    with pytest.raises(SurveyError, match=message):
        survey(columns)


def test_parallax_correlations_come_in_pairs():
    columns = {k: v for k, v in GAIA_LIKE.items() if k != "parallax_pmdec_corr"}
    with pytest.raises(SurveyError, match="'parallax_pmra_corr' and 'parallax_pmdec_corr' together"):
        survey(columns)


# --- example survey files -----------------------------------------------------------------------------------------

def test_example_files_ship_apart_from_the_builtin_names():
    assert set(EXAMPLES) == {"apogee-dr17", "galah-dr4", "lamost-dr3-giants", "cepheids-galactocentric"}
    assert not set(EXAMPLES) & set(builtin_surveys())
    assert all(p.parent == BUILTIN / "examples" for p in EXAMPLES.values())
    for name, path in EXAMPLES.items():
        assert load_survey(path).name == name
        with pytest.raises(SurveyError, match="neither a built-in survey"):
            load_survey(name)  # by path only: never mistaken for a built-in survey
    pyproject = (BUILTIN.parents[2] / "pyproject.toml").read_text()
    assert '"data/survey_files/examples/*.toml"' in pyproject  # shipped as package data


def galah_like(n: int = 200) -> Table:
    """A GALAH DR4 x Gaia DR3 table: >i8 ids, big-endian float32, NaN correlations where Gaia has none."""
    rng = np.random.default_rng(4)
    columns = {"sobject_id": (170_000_000_000_000 + np.arange(n)).astype(">i8"),
               "ra": rng.uniform(0, 360, n).astype(">f8"), "dec": rng.uniform(-80, 10, n).astype(">f8")}
    for name, low, high in (("pmra", -10, 10), ("pmra_error", 0.01, 0.1), ("pmdec", -10, 10),
                            ("pmdec_error", 0.01, 0.1), ("pmra_pmdec_corr", -0.5, 0.5), ("parallax", 0.3, 2.0),
                            ("parallax_error", 0.01, 0.05), ("parallax_pmra_corr", -0.4, 0.4),
                            ("parallax_pmdec_corr", -0.4, 0.4), ("r_med_geo", 500, 3000), ("radial_velocity", -50, 50),
                            ("radial_velocity_error", 0.5, 3.0), ("fe_h", -1.0, 0.4), ("e_fe_h", 0.05, 0.15),
                            ("snr_px_ccd3", 20, 200)):
        columns[name] = rng.uniform(low, high, n).astype(">f4")
    columns["r_lo_geo"] = (columns["r_med_geo"] * 0.95).astype(">f4")
    columns["r_hi_geo"] = (columns["r_med_geo"] * 1.05).astype(">f4")
    columns["flag_sp"] = np.where(np.arange(n) % 10 == 0, 1, 0).astype(">i4")
    columns["parallax_pmra_corr"][:3] = np.nan
    return Table(columns)


def test_galah_example_reads_gaia_correlations(tmp_path):
    path = tmp_path / "galah.fits"
    galah_like().write(path)
    table = read_catalog(path, EXAMPLES["galah-dr4"])
    assert table["id"].dtype == np.int64 and table["parallax_pmra_corr"].iloc[:3].eq(0).all()
    np.testing.assert_allclose(table["pmra_pmdec_corr"], galah_like()["pmra_pmdec_corr"], rtol=1e-7)
    flow = cut_flow(table, load_survey(EXAMPLES["galah-dr4"])).flow.set_index("cut")["removed"]
    assert flow["flag_sp"] == 20


# --- four real catalogue shapes, from a survey file without conversion by hand ------------------------------------

LIU_2017 = "obsid ra dec l b teff logg feh rv Mgb MK MKerr_low MKerr_up AK K dist disterr_low disterr_up Z R r_gc lnnu"


def lamost_dr3_giants(mock, n: int = 3000) -> pd.DataFrame:
    """The Liu et al. (2017) table: integer obsid, kpc distances with offset errors, no pm, no [Fe/H] errors."""
    cat = mock.catalog.dropna(subset=["feh"]).iloc[:n].reset_index(drop=True)
    rng = np.random.default_rng(2)
    sky = coord.SkyCoord(ra=cat["ra"].to_numpy() * u.deg, dec=cat["dec"].to_numpy() * u.deg).galactic
    dist = cat["r_med_geo"] / 1000
    table = pd.DataFrame({
        "obsid": 100_000_000 + np.arange(len(cat)), "ra": cat["ra"], "dec": cat["dec"], "l": sky.l.deg, "b": sky.b.deg,
        "teff": rng.uniform(4000, 5200, len(cat)), "logg": rng.uniform(1.5, 3.8, len(cat)), "feh": cat["feh"],
        "rv": cat["rv"], "Mgb": rng.uniform(0, 0.3, len(cat)), "MK": rng.uniform(-4, 0, len(cat)),
        "MKerr_low": 0.3, "MKerr_up": 0.3, "AK": 0.05, "K": rng.uniform(8, 13, len(cat)), "dist": dist,
        "disterr_low": (cat["r_med_geo"] - cat["r_lo_geo"]) / 1000,
        "disterr_up": (cat["r_hi_geo"] - cat["r_med_geo"]) / 1000, "Z": dist * np.sin(np.deg2rad(sky.b.deg)),
        "R": 8.0 + dist, "r_gc": 8.0 + dist, "lnnu": rng.uniform(2, 4, len(cat))})
    assert " ".join(table.columns) == LIU_2017
    return table


def cepheid_compilation(mock, n: int = 400) -> pd.DataFrame:
    """A Cepheid compilation: names with spaces, Galactocentric X, Y, Z [kpc] (astropy, galchem's frame), e_Dist."""
    cat = mock.catalog.dropna(subset=["feh"]).iloc[:n].reset_index(drop=True)
    gc = coord.SkyCoord(ra=cat["ra"].to_numpy() * u.deg, dec=cat["dec"].to_numpy() * u.deg,
                        distance=cat["r_med_geo"].to_numpy() * u.pc).transform_to(galactocentric_frame())
    return pd.DataFrame({"Name": [f"V{i:04d} Cyg" for i in range(len(cat))], "X": gc.x.to_value(u.kpc),
                         "Y": gc.y.to_value(u.kpc), "Z": gc.z.to_value(u.kpc),
                         "e_Dist": (cat["r_hi_geo"] - cat["r_lo_geo"]) / 2000, "FeH": cat["feh"],
                         "e_FeH": cat["feh_err"]})


APOGEE_GALACTIC_TOML = '''
name = "apogee-gaia-inner"
description = "APOGEE DR17 x Gaia inner-Galaxy giants in Galactic coordinates"
missing = [-9999.0]
[columns]
id = "APOGEE_ID"
l = "GLON"
b = "GLAT"
pm_l_cosb = "GAIA_PML"
pm_l_cosb_error = "GAIA_PML_ERROR"
pm_b = "GAIA_PMB"
pm_b_error = "GAIA_PMB_ERROR"
pm_l_pm_b_corr = "GAIA_PML_PMB_CORR"
parallax = "GAIA_PARALLAX"
parallax_error = "GAIA_PARALLAX_ERROR"
distance = "R_MED_GEO"
distance_lo = "R_LO_GEO"
distance_hi = "R_HI_GEO"
rv = "VHELIO_AVG"
rv_error = "VERR"
feh = "FE_H"
feh_error = "FE_H_ERR"
[[cuts]]
name = "giants"
column = "LOGG"
below = 3.5
'''


def apogee_gaia_galactic(mock, n: int = 4000) -> Table:
    """APOGEE x Gaia in Galactic coordinates: byte-string ids, >f8 l/b, >f4 the rest, -9999 sentinels."""
    cat = mock.catalog.iloc[:n].reset_index(drop=True)
    rng = np.random.default_rng(6)
    gal = coord.SkyCoord(ra=cat["ra"].to_numpy() * u.deg, dec=cat["dec"].to_numpy() * u.deg,
                         pm_ra_cosdec=cat["pmra"].to_numpy() * u.mas / u.yr,
                         pm_dec=cat["pmdec"].to_numpy() * u.mas / u.yr).galactic
    matrix = icrs_to_galactic_matrix(cat["ra"].to_numpy(), cat["dec"].to_numpy())
    cov = np.zeros((len(cat), 2, 2))
    cov[:, 0, 0], cov[:, 1, 1] = cat["pmra_error"] ** 2, cat["pmdec_error"] ** 2
    rotated = np.einsum("nij,njk,nlk->nil", matrix, cov, matrix)
    columns = {"APOGEE_ID": np.array([f"2M{i:08d}-{i % 613:07d} ".encode() for i in range(len(cat))], dtype="S30"),
               "GLON": gal.l.deg.astype(">f8"), "GLAT": gal.b.deg.astype(">f8"),
               "GAIA_PML": gal.pm_l_cosb.value, "GAIA_PML_ERROR": np.sqrt(rotated[:, 0, 0]),
               "GAIA_PMB": gal.pm_b.value, "GAIA_PMB_ERROR": np.sqrt(rotated[:, 1, 1]),
               "GAIA_PML_PMB_CORR": rotated[:, 0, 1] / np.sqrt(rotated[:, 0, 0] * rotated[:, 1, 1]),
               "GAIA_PARALLAX": cat["parallax"], "GAIA_PARALLAX_ERROR": cat["parallax_error"],
               "R_MED_GEO": cat["r_med_geo"], "R_LO_GEO": cat["r_lo_geo"], "R_HI_GEO": cat["r_hi_geo"],
               "VHELIO_AVG": cat["rv"], "VERR": cat["rv_err"], "FE_H": cat["feh"], "FE_H_ERR": cat["feh_err"],
               "LOGG": rng.uniform(1.0, 3.4, len(cat))}
    for name in list(columns)[3:]:
        values = np.asarray(columns[name], dtype=float)
        columns[name] = np.where(np.isfinite(values), values, -9999.0).astype(">f4")
    columns["FE_H"][:30] = -9999.0
    return Table(columns)


def allstar_95(mock) -> Table:
    """95 rows shaped like APOGEE DR17 allStar: |S30 ids with trailing spaces, >f8 RA/DEC, >i8 Gaia ids, >f4 the
    rest, -9999 sentinels, no units."""
    cat = mock.catalog.iloc[:95].reset_index(drop=True)
    rng = np.random.default_rng(8)
    columns = {"APOGEE_ID": np.array([f"2M{i:08d}+{i % 977:07d}   ".encode() for i in range(95)], dtype="S30"),
               "RA": cat["ra"].to_numpy(">f8"), "DEC": cat["dec"].to_numpy(">f8"),
               "GAIAEDR3_SOURCE_ID": cat["source_id"].to_numpy(">i8"),
               "TEFF": rng.uniform(3800, 5400, 95), "LOGG": rng.uniform(1.1, 3.4, 95), "SNR": rng.uniform(80, 500, 95),
               "ASPCAPFLAG": np.zeros(95, dtype=">i8")}
    for mine, theirs in (("pmra", "GAIAEDR3_PMRA"), ("pmra_error", "GAIAEDR3_PMRA_ERROR"), ("pmdec", "GAIAEDR3_PMDEC"),
                         ("pmdec_error", "GAIAEDR3_PMDEC_ERROR"), ("parallax", "GAIAEDR3_PARALLAX"),
                         ("parallax_error", "GAIAEDR3_PARALLAX_ERROR"), ("r_med_geo", "GAIAEDR3_R_MED_GEO"),
                         ("r_lo_geo", "GAIAEDR3_R_LO_GEO"), ("r_hi_geo", "GAIAEDR3_R_HI_GEO"), ("rv", "VHELIO_AVG"),
                         ("rv_err", "VERR"), ("feh", "FE_H"), ("feh_err", "FE_H_ERR")):
        values = cat[mine].to_numpy(dtype=float)
        columns[theirs] = np.where(np.isfinite(values), values, -9999.0)
    for name in ("TEFF", "LOGG", "SNR", *list(columns)[8:]):
        columns[name] = np.asarray(columns[name]).astype(">f4")
    columns["FE_H"][[3, 17, 40]] = -9999.0
    columns["FE_H_ERR"][[3, 17, 40]] = -9999.0
    columns["TEFF"][[5, 6]] = 5900.0  # dwarfs or hot stars: the giants cut
    return Table(columns)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory, lamost_mock):
    """The four shapes as files, with their survey files: name -> (catalogue, survey file, expected)."""
    folder = tmp_path_factory.mktemp("shapes")
    survey_file = folder / "apogee-gaia-inner.toml"
    survey_file.write_text(APOGEE_GALACTIC_TOML)
    lamost = lamost_dr3_giants(lamost_mock)
    cepheids = cepheid_compilation(lamost_mock)
    galactic, allstar = apogee_gaia_galactic(lamost_mock), allstar_95(lamost_mock)
    galactic.write(folder / "apogee-gaia-inner.fits")
    allstar.write(folder / "allStar-95.fits")
    return {
        "lamost-dr3-giants": (write_table(lamost, folder / "liu2017.txt"), EXAMPLES["lamost-dr3-giants"], lamost),
        "cepheids": (write_table(cepheids, folder / "cepheids.csv"), EXAMPLES["cepheids-galactocentric"], cepheids),
        "apogee-gaia-galactic": (folder / "apogee-gaia-inner.fits", survey_file, galactic),
        "allstar-95": (folder / "allStar-95.fits", EXAMPLES["apogee-dr17"], allstar),
    }


FLOWS = {  # the cut flow's rows for each shape: positional shapes have no velocity or halo cut
    "lamost-dr3-giants": ["input", "valid", "giants", "metallicity", "distance_precision"],
    "cepheids": ["input", "valid", "metallicity", "distance_precision"],
    "apogee-gaia-galactic": ["input", "valid", "giants", "metallicity", "parallax", "distance_precision", "velocities",
                             "halo"],
    "allstar-95": ["input", "valid", "giants", "snr", "metallicity", "parallax", "distance_precision", "velocities",
                   "halo"],
}


@pytest.mark.parametrize("shape", list(FLOWS))
def test_real_catalogue_shapes_run_cutflow_from_a_survey_file(shapes, shape, tmp_path, capsys):
    path, survey_file, _ = shapes[shape]
    csv = tmp_path / "flow.csv"
    assert cli.main(["cutflow", "--survey", str(survey_file), "--catalog", str(path), "--out", str(csv),
                     "--n-mc", "20"]) == 0, capsys.readouterr().err
    removed = flow_of(csv)
    assert list(removed) == FLOWS[shape]
    assert pd.read_csv(csv)["remaining"].iloc[-1] > 0


def test_lamost_dr3_shape_at_the_door(shapes):
    path, survey_file, raw = shapes["lamost-dr3-giants"]
    assert path.read_text().startswith("# " + LIU_2017)
    table = read_catalog(path, survey_file)
    assert table["id"].dtype == np.int64 and (table["feh_error"] == 0.1).all()
    np.testing.assert_allclose(table["distance"], raw["dist"], rtol=1e-12)  # kpc stays kpc
    np.testing.assert_allclose(table["distance_lo"], raw["dist"] - raw["disterr_low"], rtol=1e-9)
    np.testing.assert_allclose(table["distance_hi"], raw["dist"] + raw["disterr_up"], rtol=1e-9)
    assert not load_survey(survey_file).has_velocities and "pmra" not in table


def test_cepheid_shape_at_the_door(shapes, lamost_mock):
    path, survey_file, raw = shapes["cepheids"]
    table = read_catalog(path, survey_file)
    truth = lamost_mock.catalog.dropna(subset=["feh"]).iloc[:len(raw)].reset_index(drop=True)
    assert table["id"].iloc[7] == "V0007 Cyg"
    np.testing.assert_allclose(coordinates_wrap(table["ra"] - truth["ra"]), 0, atol=1e-8)
    np.testing.assert_allclose(table["dec"], truth["dec"], atol=1e-8)
    np.testing.assert_allclose(table["distance"], truth["r_med_geo"] / 1000, rtol=1e-9)
    np.testing.assert_allclose(table["distance_hi"] - table["distance_lo"], 2 * raw["e_Dist"], rtol=1e-9)


def test_apogee_galactic_shape_at_the_door(shapes, lamost_mock):
    path, survey_file, raw = shapes["apogee-gaia-galactic"]
    table = read_catalog(path, survey_file)
    truth = lamost_mock.catalog.iloc[:len(table)]
    assert table["id"].iloc[0] == "2M00000000-0000000" and np.isnan(table["feh"].iloc[:30]).all()
    np.testing.assert_allclose(coordinates_wrap(table["ra"] - truth["ra"].to_numpy()), 0, atol=1e-9)
    known = np.isfinite(truth["pmra"].to_numpy())
    for mine, theirs, tol in (("pmra", "pmra", 1e-4), ("pmdec", "pmdec", 1e-4), ("pmra_error", "pmra_error", 1e-6),
                              ("pmdec_error", "pmdec_error", 1e-6)):  # float32 in the file
        np.testing.assert_allclose(table[mine].to_numpy()[known], truth[theirs].to_numpy()[known], rtol=1e-5,
                                   atol=tol, err_msg=mine)
    assert np.abs(table["pmra_pmdec_corr"][known]).max() < 1e-3  # the file's correlation undoes the rotation


def test_allstar_shape_at_the_door(shapes):
    path, survey_file, raw = shapes["allstar-95"]
    table = read_catalog(path, survey_file)
    assert len(table) == 95 and table["id"].iloc[0] == "2M00000000+0000000"
    assert table["feh"].isna().sum() == (np.asarray(raw["FE_H"]) == -9999.0).sum() >= 3
    np.testing.assert_allclose(table["distance"], np.asarray(raw["GAIAEDR3_R_MED_GEO"], dtype=float) / 1000)


def test_apogee_galactic_shape_runs_analyse(shapes, tmp_path):
    path, survey_file, _ = shapes["apogee-gaia-galactic"]
    out = tmp_path / "res"
    assert cli.main(["analyse", "--survey", str(survey_file), "--catalog", str(path), "--out", str(out),
                     "--n-mc", "20", "--n-steps", "50", "--max-steps", "50", "--n-permutations", "5"]) == 0
    flow = pd.read_csv(out / "cutflow.csv")
    sample = pd.read_parquet(out / "sample")
    assert len(sample) == flow["remaining"].iloc[-1] > 1000 and sample["id"].str.startswith("2M").all()
    assert sample["vphi"].notna().all() and np.nanmedian(sample["vphi"]) == pytest.approx(230, abs=30)
    assert (pd.read_csv(out / "radial_gradients.csv")["status"] == "fitted").any()
    assert "GLON" in (out / "config.toml").read_text()


def test_galactocentric_positions_with_the_sun_at_plus_x_are_refused():
    rows, _ = galactocentric_rows(200)
    rows["X"], rows["VX"] = -rows["X"], -rows["VX"]  # the study's mirrored frame: the Sun at X = +8.27 kpc
    with pytest.raises(ContractError, match=r"columns X, Y, Z \(roles x, y, z\): the stars gather around X = 8.27 kpc"
                                            r".* negate x \(and vx\)"):
        contract.canonical_table(rows, {}, survey(CEPHEIDS, units={"distance_error": "kpc"}), "t")


def test_a_small_galactic_field_near_ra_zero_is_not_taken_for_radians(tmp_path):
    rng = np.random.default_rng(0)
    sky = coord.SkyCoord(ra=rng.uniform(1, 5, 25) * u.deg, dec=rng.uniform(-1, 1, 25) * u.deg).galactic
    rows = pd.DataFrame({"i": range(25), "GLON": sky.l.deg, "GLAT": sky.b.deg, "D": 1000.0, "FEH": 0.0})
    path = write_table(rows, tmp_path / "field.csv")
    s = survey({"id": "i", "l": "GLON", "b": "GLAT", "distance": "D", "distance_error": 50.0, "feh": "FEH",
                "feh_error": 0.1})
    assert len(read_catalog(path, s)) == 25
