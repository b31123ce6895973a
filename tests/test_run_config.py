"""One run configuration: its defaults are the only ones, every front door agrees, and a run reproduces."""
from __future__ import annotations

import ast
import inspect
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import papermill
import pytest
import yaml

from galchem import cli
from galchem.analysis import azimuthal, fitting, gradients
from galchem.data.mock import LAMOST_MODEL, make_mock
from galchem.physics import kinematics
from galchem.run.pipeline import analyse
from galchem.run.config import SETTINGS as REGISTRY
from galchem.run.config import ConfigError, RunConfig, read_run_file, run_file_text
from galchem.site import profiles

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).with_name("snapshots")
PAGE_PARAMETERS = {"survey", "catalog", "n_points", "n_calibration_sets", "n_coverage_sets", "coverage_stars"}
"""Notebook parameters that are not run settings: the data, and the method chapter's simulated lines and mocks."""
SETTINGS = {f for f in RunConfig.__dataclass_fields__}


def notebook_defaults() -> list[tuple[str, str, object]]:
    rows = []
    for page in profiles.notebooks(ROOT):
        for name, info in papermill.inspect_notebook(str(ROOT / page)).items():
            rows.append((page.stem, name, ast.literal_eval(info["default"])))
    return rows


@pytest.mark.parametrize("page, name, default", notebook_defaults(), ids=lambda v: str(v))
def test_notebook_run_settings_state_no_default_of_their_own(page, name, default):
    assert name in SETTINGS | PAGE_PARAMETERS, f"{page}: parameter {name!r} is neither a RunConfig setting nor known"
    if name in SETTINGS:
        assert default is None, f"{page}: {name} = {default!r}; run settings default to None (RunConfig's value)"


@pytest.mark.parametrize("profile", sorted(p.stem for p in (ROOT / "profiles").glob("*.yml")))
def test_profiles_set_only_known_parameters_with_allowed_values(profile):
    data = yaml.safe_load((ROOT / "profiles" / f"{profile}.yml").read_text())
    given = [data.get("defaults") or {}, *(data.get("notebooks") or {}).values()]
    for values in given:
        assert set(values) <= SETTINGS | PAGE_PARAMETERS
        RunConfig().replace(**{k: v for k, v in values.items() if k in SETTINGS})  # in range, or ConfigError


def test_command_line_defaults_come_from_the_run_configuration():
    parser = cli.parser()
    actions = {a.dest: a for sub in parser._subparsers._group_actions for p in sub.choices.values()
               for a in p._actions}
    options = [name for name, setting in REGISTRY.items() if setting.option]
    assert {"n_mc", "n_walkers", "max_steps", "halo_rule", "seed"} <= set(options)
    for name in options:
        assert actions[name].default is None, f"--{name} has a default of its own"
        default = getattr(RunConfig(), name)
        assert REGISTRY[name].help.split()[0] in actions[name].help
        shown = "none" if default is None else ",".join(f"{v:g}" for v in default) if isinstance(default, tuple) else default
        assert f"default {shown}" in actions[name].help
    mock = parser._subparsers._group_actions[0].choices["mock"]
    assert {a.dest: a.default for a in mock._actions}["mock_seed"] == RunConfig().mock_seed


LIBRARY_SETTINGS = [
    (kinematics.propagate, "n_mc"), (kinematics.propagate, "seed"), (kinematics.kinematics_table, "n_mc"),
    (kinematics.kinematics_table, "seed"), (azimuthal.permutation_test, "n_permutations"),
    (azimuthal.permutation_test, "annuli"), (azimuthal.permutation_test, "seed"), (azimuthal.azimuthal_means, "annuli"),
    (azimuthal.delta_from_ring_mean, "width"), (azimuthal.phi_edges, "width_deg"), (fitting.fit_line, "n_walkers"),
    (fitting.fit_line, "n_steps"), (fitting.fit_line, "max_steps"), (fitting.fit_line_data, "n_walkers"),
    (fitting.fit_line_data, "n_steps"), (fitting.fit_line_data, "max_steps"), (gradients.truth_gradients, "min_stars"),
]
"""Library functions that take a run setting (or a seed): the setting comes from RunConfig, never a default."""


@pytest.mark.parametrize("function, parameter", LIBRARY_SETTINGS, ids=lambda v: getattr(v, "__name__", v))
def test_library_functions_keep_no_defaults_of_their_own(function, parameter):
    assert inspect.signature(function).parameters[parameter].default is inspect.Parameter.empty


@pytest.mark.parametrize("change, message", [
    ({"n_mc": 0}, "n-mc = 0 is not allowed: an integer from 2"),
    ({"n_steps": 1}, "n-steps = 1 is not allowed"),
    ({"seed": -1}, "seed = -1 is not allowed"),
    ({"radial_z_edges": (0.4, 0.2)}, "increasing"),
    ({"annuli": ((9.0, 7.0),)}, "R_lo < R_hi"),
    ({"phi_bin_deg": 0.0}, "above 0"),
    ({"n_walker": 3}, "unknown setting"),
    ({"n_boot": 1000}, "n_boot was retired: the arm contrasts' errors are now the closed-form"),
])
def test_settings_out_of_range_are_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig().replace(**change)


def test_each_stage_draws_from_its_own_stream():
    config = RunConfig(seed=7)
    draws = {stage: np.random.default_rng(config.stream(stage)).random() for stage in ("kinematics", "radial")}
    assert draws["kinematics"] != draws["radial"]
    assert np.random.default_rng(config.stream("radial")).random() == draws["radial"]


def lamost_model_0_1():
    """The LAMOST mock of galchem 0.1, from which the snapshots were drawn (issue 15 widened the mock's reach since)."""
    thin, thick, halo = LAMOST_MODEL.populations
    return replace(LAMOST_MODEL, populations=(replace(thin, fraction=0.965, scale_length=2.6),
                                              replace(thick, fraction=0.030), halo),
                   footprint=replace(LAMOST_MODEL.footprint, distance_scale=1.5), luminous=None, snr_zero_point=13.0,
                   feh_error=0.13, circular_speed=233.0)


@pytest.fixture(scope="module")
def regression_catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("regression") / "lamost30k.parquet"
    make_mock("lamost", 30_000, seed=11, model=lamost_model_0_1()).catalog.to_parquet(path)
    return path


def test_config_file_reproduces_a_run_byte_for_byte(regression_catalog, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    assert cli.main(["analyse", "--survey", "lamost", "--catalog", str(regression_catalog), "--out", str(first),
                     "--n-mc", "50", "--n-steps", "100", "--max-steps", "100", "--n-permutations", "20",
                     "--seed", "3"]) == 0
    assert cli.main(["analyse", "--config", str(first / "config.toml"), "--out", str(second)]) == 0
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    assert names == sorted(str(p.relative_to(second)) for p in second.rglob("*") if p.is_file())
    assert {"config.toml", "manifest.json", "sample/part-00000.parquet"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    run = read_run_file(first / "config.toml")
    assert run.config == RunConfig(n_mc=50, n_steps=100, max_steps=100, n_permutations=20, seed=3)
    assert run_file_text(run) == (first / "config.toml").read_text()


def test_config_file_refuses_a_changed_input(regression_catalog, tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["analyse", "--catalog", str(regression_catalog), "--out", str(out), "--n-mc", "20",
                     "--n-steps", "60", "--max-steps", "60", "--n-permutations", "5"]) == 0
    other = tmp_path / "other.parquet"
    make_mock("lamost", 2_000, seed=12).catalog.to_parquet(other)
    assert cli.main(["analyse", "--config", str(out / "config.toml"), "--catalog", str(other),
                     "--out", str(tmp_path / "again")]) == 2
    assert "not the input of that run" in capsys.readouterr().err


@pytest.mark.slow  # the 30 000-star regression at 200 draws
def test_builtin_survey_gives_the_tables_of_galchem_0_1(regression_catalog):
    """The survey-file pipeline against tables of galchem 0.1.0 (tests/snapshots/README.md).

    Deterministic values agree to rounding; the Monte Carlo errors and the fits come from new per-stage
    random streams, so they agree statistically.
    """
    result = analyse("lamost", str(regression_catalog), RunConfig(seed=0, n_mc=200, n_steps=300, max_steps=300,
                                                                  n_permutations=50))
    flow = result.kinematic.flow
    before = pd.read_csv(SNAPSHOTS / "lamost30k_v0.1_cutflow.csv")
    new_rows = flow["cut"].isin(["valid", "metallicity"])  # new, named cuts: nothing to remove in the mock
    assert flow.loc[new_rows, "removed"].tolist() == [0, 0]
    pd.testing.assert_frame_equal(flow.loc[~new_rows].reset_index(drop=True), before)
    old = pd.read_csv(SNAPSHOTS / "lamost30k_v0.1_sample_every20.csv")
    new = result.kinematic.sample.set_index("id").loc[old["source_id"]]
    for column in ("R", "Z", "phi", "vR", "vphi", "feh", "p_halo"):
        np.testing.assert_allclose(new[column], old[column], rtol=0, atol=1e-9, err_msg=column)
    for column in ("R_err", "vphi_err"):  # 200 draws each: a 5 % spread per star, none in the median
        ratio = new[column].to_numpy() / old[column].to_numpy()  # (more near a tangent point, where R is quadratic)
        assert abs(np.median(ratio) - 1) < 0.01 and np.mean(np.abs(ratio - 1) < 0.3) > 0.99
    for name, fits in (("radial", result.gradients.radial.table), ("vertical", result.gradients.vertical.table)):
        then = pd.read_csv(SNAPSHOTS / f"lamost30k_v0.1_{name}.csv")
        assert fits["n"].tolist() == then["n"].tolist()
        fitted = then["m"].notna().to_numpy()
        assert (fits["status"].to_numpy()[fitted] == "fitted").all() and fits["m"].to_numpy()[~fitted].tolist() == \
            [pytest.approx(np.nan, nan_ok=True)] * int((~fitted).sum())
        pulls = (fits["m"] - then["m"]).to_numpy()[fitted] / then["m_err"].to_numpy()[fitted]
        assert np.all(np.abs(pulls) < 1.0), (name, pulls)
