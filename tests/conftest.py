"""Shared fixtures: small seeded mocks, a private cache, and the built ci-profile site."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from galchem.site import builder as book
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
    profile = book.load_profile(ROOT, "ci")
    current = stamp.is_file() and json.loads(stamp.read_text()).get("sources") == book.sources_digest(ROOT, profile)
    if not current:
        book.build(ROOT, "ci", log=lambda line: None)
    return html


def pytest_addoption(parser):
    parser.addoption("--remote-data", action="store_true", help="also run tests that query the real archives")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--remote-data"):
        return
    skip = pytest.mark.skip(reason="needs the network; run with --remote-data")
    for item in items:
        if "remote_data" in item.keywords:
            item.add_marker(skip)
