"""The site's ``_config.yml``: the repository's, plus what only the build knows.

:func:`site_config` adds the version and build date to the footer and to
MyST substitutions (``{{ version }}``, ``{{ build_date }}``, ``{{ sdist_link }}``, ...),
and turns the repository, issues and launch buttons on only when
``repository.url`` is set: without a repository there is nothing to link to,
and no button pretends otherwise.
"""
from __future__ import annotations

import copy
from datetime import date

__all__ = ["footer", "has_repository", "site_config"]

TEXT_LICENCE = "CC BY 4.0"
CODE_LICENCE = "MIT"


def has_repository(config: dict) -> bool:
    """True when ``_config.yml`` names a repository URL."""
    return bool(((config.get("repository") or {}).get("url") or "").strip())


def footer(version: str, built: date) -> str:
    """The footer line: version, build date, authorship, licences and where to read how to cite."""
    return (f'<p class="galchem-footer">galchem {version} · built {built.isoformat()} · by the galchem developers · '
            f'code: {CODE_LICENCE} licence · text and figures: {TEXT_LICENCE} · '
            f'<a href="citing.html">How to cite</a></p>')


def site_config(config: dict, *, version: str, built: date, sdist: str) -> dict:
    """A copy of ``config`` (the parsed ``_config.yml``) completed for this build."""
    site = copy.deepcopy(config)
    html = site.setdefault("html", {})
    html["extra_footer"] = footer(version, built)
    repository = has_repository(site)
    html["use_repository_button"] = repository
    html["use_issues_button"] = repository
    launch = site.setdefault("launch_buttons", {})
    for key in ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url"):
        launch.pop(key, None)
    if repository:
        launch["binderhub_url"] = "https://mybinder.org"
    parse = site.setdefault("parse", {})
    parse.setdefault("myst_enable_extensions", ["colon_fence", "dollarmath", "linkify", "substitution", "tasklist"])
    parse["myst_substitutions"] = {
        **(parse.get("myst_substitutions") or {}), "version": version, "sdist": sdist, "build_date": built.isoformat(),
        # raw links: the downloads are not Sphinx documents (pages live in book/, downloads in downloads/)
        "sdist_link": f'<a href="../downloads/{sdist}">{sdist}</a>',
        "environment_link": '<a href="../downloads/environment.yml">environment.yml</a>',
    }
    sphinx = site.setdefault("sphinx", {}).setdefault("config", {})
    sphinx["version"] = sphinx["release"] = version
    return site
