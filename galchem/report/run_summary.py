"""The "What ran on this page" box: the settings a chapter actually ran with, beside the study's.

A chapter's parameters cell holds defaults; the book build overrides some of
them (``profiles/``).  To avoid making readers work out which values won, each
chapter shows this box near its top, built from the very configuration and
dataset it passed to the analysis.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields

import pandas as pd
from IPython.display import Markdown

from galchem.data.sources import Dataset
from galchem.report.numbered_tables import pipe_table
from galchem.run.config import RunConfig

__all__ = ["MEANINGS", "what_ran"]

MEANINGS = {
    "survey": "which stars: a built-in survey or a survey file",
    "data_source": "where the catalogue comes from",
    "mock_stars": "candidate rows drawn for the mock Galaxy",
    "mock_seed": "seed of the mock Galaxy",
    "seed": "seed of the analysis",
    "n_mc": "Monte Carlo realisations per star",
    "n_walkers": "emcee walkers per line fit",
    "n_steps": "emcee steps per walker",
    "max_steps": "cap on emcee steps per walker: chains are extended until 50 autocorrelation times or this cap",
    "halo_rule": "halo probability from the velocities alone (point) or with their errors (errors)",
    "n_permutations": "shuffles in the permutation test",
    "n_points": "points in the simulated data set",
    "n_calibration_sets": "simulated data sets in the calibration",
}
"""What each chapter parameter means, in a few words."""

_STUDY = {"survey": "LAMOST OBAF stars; Gaia DR3 giants", "data_source": "the real catalogues",
          "mock_stars": "(its full samples)", "mock_seed": "–", "seed": "–"}


def _text(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def what_ran(names: Sequence[str], config: RunConfig | None = None, dataset: Dataset | None = None,
             values: Mapping[str, object] | None = None, study: Mapping[str, object] | None = None) -> Markdown:
    """A MyST admonition listing the parameters ``names`` with the values this page ran with.

    Values come from ``values`` first, then from ``dataset`` (``survey`` and
    ``data_source``, and the mock's actual size when ``mock_stars`` is None),
    then from ``config``.  The last column gives the study's choice: the
    :class:`RunConfig` default for run settings, or ``study[name]``.
    """
    values, study = dict(values or {}), dict(study or {})
    settings = {f.name for f in fields(RunConfig)}
    rows = []
    for name in names:
        if name in values:
            value = _text(values[name])
        elif name == "survey" and dataset is not None:
            value = dataset.survey.name
        elif name == "data_source" and dataset is not None:
            value = dataset.source
        elif name == "mock_stars" and dataset is not None and not dataset.is_mock:
            value = "not used (real data)"
        elif config is not None and name in settings:
            raw = getattr(config, name)
            value = _text(raw)
            if name == "mock_stars" and raw is None and dataset is not None:
                value = f"{len(dataset.catalog):,} (the study's size)"
        else:
            raise ValueError(f"no value for {name!r}: pass it in values, or give the config or dataset")
        if name in study:
            reference = _text(study[name])
        elif name in _STUDY:
            reference = _STUDY[name]
        elif name in settings:
            reference = _text(getattr(RunConfig(), name))
        else:
            reference = "–"
        rows.append({"parameter": f"`{name}`", "this page": value, "the study": reference,
                     "meaning": MEANINGS.get(name, "")})
    table = pipe_table(pd.DataFrame(rows))
    return Markdown(
        ":::{admonition} What ran on this page\n:class: tip what-ran\n"
        "Every number on this page comes from a run with these values. The collapsed cells above hold the "
        "chapter's defaults and the values the book's build passed in; this table is what the analysis received.\n\n"
        f"{table}\n:::"
    )
