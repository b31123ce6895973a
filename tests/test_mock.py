import ast
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import canonical

from galchem.data.surveys import load_survey
from galchem.data.cuts import cut_flow
from galchem.data.mock_distances import distance_percentiles
from galchem.physics.frames import catalog_positions
from galchem.conventions import V_LSR
from galchem.data import mock, mock_observers
from galchem.data.mock import make_mock, mock_model
from galchem.errors import GalchemError
from galchem.physics.membership import BENSBY2003
from galchem.data.sources import load_mock
from galchem.analysis.gradients import bin_index
from galchem.report.literature import HAWKINS_TABLE1, HAWKINS_TABLE2
from galchem.run.config import RunConfig
from galchem.run.stages import binnings, kinematic_sample

RADIAL, VERTICAL = binnings(RunConfig())  # the study's slices of |Z| and rings of R


def test_same_seed_same_tables_other_seed_differs(lamost_mock):
    again = make_mock("lamost", 20_000, seed=7)
    pd.testing.assert_frame_equal(again.catalog, lamost_mock.catalog)
    pd.testing.assert_frame_equal(again.truth, lamost_mock.truth)
    other = make_mock("lamost", 20_000, seed=8)
    assert not np.allclose(other.catalog["ra"], lamost_mock.catalog["ra"])


@pytest.mark.parametrize("name", ["lamost_mock", "gaia_mock"])
def test_mock_obeys_contract_and_truth_is_keyed(name, request):
    made = request.getfixturevalue(name)
    canonical(made.catalog, made.model.survey)  # every column the built-in survey maps is there
    assert made.catalog["source_id"].is_unique
    assert (made.truth["source_id"].to_numpy() == made.catalog["source_id"].to_numpy()).all()
    shares = made.truth["population"].value_counts(normalize=True)
    for pop in made.model.populations:
        assert shares[pop.name] == pytest.approx(pop.fraction, abs=0.01)


def test_lamost_footprint_is_northern_and_anticentre_heavy(lamost_mock):
    assert (lamost_mock.catalog["dec"] > -10).all()
    assert np.median(lamost_mock.truth["R"]) > 8.27


def test_realistic_errors_after_cuts(lamost_mock, gaia_mock):
    lamost_kept = cut_flow(canonical(lamost_mock.catalog, "lamost"), load_survey("lamost")).table
    assert np.median(lamost_kept["feh_err"]) == pytest.approx(0.08, abs=0.015)
    gaia_kept = cut_flow(canonical(gaia_mock.catalog, "gaia"), load_survey("gaia")).table
    assert np.median(gaia_kept["feh_error"]) == pytest.approx(0.04, abs=0.01)


def test_observed_radial_trend_follows_injected_gradient(flat_lamost_mock):
    """Median observed [Fe/H] in R bins near the plane follows the injected radial gradient."""
    kept = cut_flow(canonical(flat_lamost_mock.catalog, "lamost"), load_survey("lamost")).table
    pos = catalog_positions(kept)
    thin = flat_lamost_mock.truth.set_index("source_id").loc[kept["id"], "population"].to_numpy() == "thin"
    near = (pos["Z"].abs().to_numpy() < 0.2) & thin
    edges = np.arange(7.5, 11.01, 0.5)
    which = np.digitize(pos["R"].to_numpy()[near], edges) - 1
    feh = kept["feh"].to_numpy()[near]
    medians = np.array([np.nanmedian(feh[which == k]) for k in range(len(edges) - 1)])
    centres = 0.5 * (edges[1:] + edges[:-1])
    slope, _ = np.polyfit(centres, medians, 1)
    injected = flat_lamost_mock.model.metallicity
    expected = injected.smooth(centres, 0.1)
    assert slope == pytest.approx(np.polyfit(centres, expected, 1)[0], abs=0.01)
    assert np.abs(medians - expected).max() < 0.05


def test_no_azimuthal_pattern_when_switched_off():
    made = make_mock("lamost", 2_000, seed=1, model=mock_model("lamost", azimuthal_amplitude=0.0))
    assert (made.truth["feh_azimuthal"] == 0).all()


def test_distance_percentiles_behave():
    parallax = np.array([1.0, 0.2, 0.2])
    error = np.array([0.005, 0.01, 0.05])
    r_med, r_lo, r_hi = distance_percentiles(parallax, error)
    assert r_med[0] == pytest.approx(1000.0, rel=2e-3)  # precise parallax: 1/parallax
    assert r_med[1] == pytest.approx(5000.0, rel=1e-2)
    assert (r_lo < r_med).all() and (r_med < r_hi).all()
    assert (r_hi - r_lo)[2] > 3 * (r_hi - r_lo)[1]  # noisier parallax, wider interval


def test_field_gradients_are_the_derivatives_of_the_field():
    field = mock_model("lamost").metallicity
    R, z, h = np.array([7.0, 9.5, 12.0]), np.array([0.1, 0.6, 1.2]), 1e-5
    numeric_dr = (field.smooth(R + h, z) - field.smooth(R - h, z)) / (2 * h)
    numeric_dz = (field.smooth(R, z + h) - field.smooth(R, z - h)) / (2 * h)
    np.testing.assert_allclose(field.radial_gradient_at(R, z), numeric_dr, atol=1e-8)
    np.testing.assert_allclose(field.vertical_gradient(R), numeric_dz, atol=1e-8)
    assert (np.diff(field.radial_gradient_at(9.5, np.array([0.0, 0.5, 1.0]))) > 0).all()  # flattens with |Z|
    assert (np.diff(field.vertical_gradient(np.array([7.0, 9.0, 11.0]))) > 0).all()  # flattens with R


@pytest.mark.slow  # a third of the study's size
def test_lamost_mock_covers_every_bin_of_the_study():
    """Issue 15, at a third of the study's size: after every cut and the halo cut, each bin of the study's
    Tables 1 and 2 holds at least a third of 500 stars and between half and twice a third of the study's count."""
    scale = 1 / 3
    dataset = load_mock("lamost", round(332_000 * scale), seed=42)
    sample = kinematic_sample(dataset, RunConfig(n_mc=2, correction="none")).sample  # catalogue values, not draws
    for binning, study in ((RADIAL, HAWKINS_TABLE1), (VERTICAL, HAWKINS_TABLE2)):
        counts = np.bincount(bin_index(sample, binning) + 1, minlength=len(binning.edges))[1:]
        expected = scale * study["n"].to_numpy()
        assert (counts >= 500 * scale).all(), (binning.name, counts)
        assert ((counts >= expected / 2) & (counts <= 2 * expected)).all(), (binning.name, counts, expected)


def test_populations_share_the_membership_ellipsoids_and_one_circular_speed(gaia_mock):
    """The thick disk and halo of every mock (and the Gaia giants' thin disk) are Bensby et al.'s ellipsoids,
    around the one circular speed the membership measures V from."""
    bensby = {e.name: e for e in BENSBY2003}
    for survey, model in mock.MODELS.items():
        assert model.circular_speed == V_LSR
        for pop in model.populations:
            if pop.name != "thin" or survey == "gaia":
                assert pop.kinematics == bensby[pop.name], (survey, pop.name)
    for pop in gaia_mock.model.populations:
        stars = gaia_mock.truth[gaia_mock.truth["population"] == pop.name]
        expected = V_LSR + pop.kinematics.v_asym
        assert stars["vphi"].mean() == pytest.approx(expected, abs=4 * pop.kinematics.sigma_v / np.sqrt(len(stars)))
        assert stars["vR"].std() == pytest.approx(pop.kinematics.sigma_u, rel=0.1)


def test_circular_speed_moves_only_the_velocities():
    model = mock_model("gaia")
    made = make_mock("gaia", 3_000, seed=5, model=model)
    faster = make_mock("gaia", 3_000, seed=5, model=replace(model, circular_speed=model.circular_speed + 1.0))
    np.testing.assert_allclose(faster.truth["vphi"] - made.truth["vphi"], 1.0, rtol=0, atol=1e-9)
    moved = {"vX", "vY", "vphi"}
    for column in made.truth.columns.difference(list(moved)):
        assert faster.truth[column].equals(made.truth[column]), column
    velocities = {"pmra", "pmdec", "radial_velocity"}
    for column in made.catalog.columns.difference(list(velocities)):
        assert faster.catalog[column].equals(made.catalog[column]), column
    assert not np.allclose(faster.catalog["radial_velocity"], made.catalog["radial_velocity"], rtol=0, atol=1e-3)


def test_every_mock_survey_has_an_observer_and_others_are_refused():
    assert set(mock_observers.OBSERVERS) == set(mock.MODELS)
    stranger = replace(mock_model("gaia"), survey="apogee")
    with pytest.raises(GalchemError, match="no mock observer for survey 'apogee'"):
        make_mock("apogee", 100, model=stranger)


def test_the_mock_imports_nothing_above_the_data_layer():
    """Layers: conventions/parameter sets/frames -> data; the mock may not import physics beyond frames."""
    tree = ast.parse(Path(mock.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {f"{node.module}.{a.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.module == "galchem.physics" for a in node.names}
    galchem = {name for name in imported if name.startswith("galchem")}
    allowed = {"galchem.conventions", "galchem.errors", "galchem.parameter_sets", "galchem.physics",
               "galchem.physics.frames"}
    assert galchem, "the mock imports galchem modules"
    assert {name for name in galchem if not name.startswith("galchem.data.")} <= allowed, galchem
