"""Shared fixtures: small seeded mocks, a private cache, and the built ci-profile site.

Two tiers: ``pytest -m "not slow"`` is the fast one (about a minute on two cores);
``pytest`` runs everything.  A test is ``slow`` when it needs the built site or a browser,
a study-size mock, or enough stars or draws for the statistics it asserts; every test that
uses :func:`built_site` is marked so here, whatever its file says.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from galchem.site import builder as book
from galchem.site import profiles
from galchem.data.mock import make_mock, mock_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Keep every test's stage cache out of the user's home."""
    monkeypatch.setenv("GALCHEM_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def lamost_mock():
    return make_mock("lamost", 20_000, seed=7)


@pytest.fixture(scope="session")
def gaia_mock():
    return make_mock("gaia", 20_000, seed=7)


@pytest.fixture(scope="session")
def flat_lamost_mock():
    """A LAMOST mock without the azimuthal pattern, so the radial gradient shows cleanly."""
    return make_mock("lamost", 60_000, seed=3, model=mock_model("lamost", azimuthal_amplitude=0.0))


@pytest.fixture(scope="session")
def built_site() -> Path:
    """The HTML of the ci profile, built now unless an up-to-date build of these sources exists."""
    html = ROOT / "_build" / "html"
    stamp = html / book.STAMP
    profile = profiles.load_profile(ROOT, "ci")
    current = stamp.is_file() and json.loads(stamp.read_text()).get("sources") == book.sources_digest(ROOT, profile)
    if not current:
        book.build(ROOT, "ci", log=lambda line: None)
    return html


def pytest_addoption(parser):
    parser.addoption("--remote-data", action="store_true", help="also run tests that query the real archives")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects: the markers added here count
def pytest_collection_modifyitems(config, items):
    for item in items:
        if "built_site" in item.fixturenames:  # building the book takes minutes
            item.add_marker(pytest.mark.slow)
    if config.getoption("--remote-data"):
        return
    skip = pytest.mark.skip(reason="needs the network; run with --remote-data")
    for item in items:
        if "remote_data" in item.keywords:
            item.add_marker(skip)
