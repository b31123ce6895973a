"""The "What ran on this page" box: the settings a chapter actually ran with, beside the study's.

A chapter's parameters cell holds defaults; the book build overrides some of
them (``profiles/``).  To avoid making readers work out which values won, each
chapter shows this box near its top, built from the very configuration and
dataset it passed to the analysis.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from IPython.display import Markdown

from galchem.data.sources import Dataset
from galchem.report.numbered_tables import pipe_table
from galchem.run.config import SETTINGS, RunConfig

__all__ = ["CHAPTER_PARAMETERS", "what_ran"]

CHAPTER_PARAMETERS = {
    "survey": ("which stars: a built-in survey or a survey file", "LAMOST OBAF stars; Gaia DR3 giants"),
    "catalog": ("where the catalogue comes from", "the real catalogues"),
    "n_points": ("points in the simulated data set", "–"),
    "n_calibration_sets": ("simulated data sets in the calibration", "–"),
    "n_coverage_sets": ("mock Galaxies per survey run through the pipeline to check the gradient errors", "–"),
    "coverage_stars": ("candidate rows of each of those mocks, per survey", "–"),
}
"""The chapters' parameters that are not run settings: (meaning, the study's choice).  Run settings mean what
:data:`galchem.run.config.SETTINGS` says."""


def _text(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Mapping):
        return "; ".join(f"{key} {_text(item)}" for key, item in value.items())
    return str(value)


def what_ran(names: Sequence[str], config: RunConfig | None = None, dataset: Dataset | None = None,
             values: Mapping[str, object] | None = None, study: Mapping[str, object] | None = None) -> Markdown:
    """A MyST admonition listing the parameters ``names`` with the values this page ran with.

    Values come from ``values`` first, then from ``dataset`` (``survey`` and
    ``catalog``, and the mock's actual size when ``mock_stars`` is None),
    then from ``config``.  The last column gives the study's choice: the
    registry's ``study`` entry for run settings (:data:`galchem.run.config.SETTINGS`), or ``study[name]``.
    """
    values, study = dict(values or {}), dict(study or {})
    settings = SETTINGS
    rows = []
    for name in names:
        if name in values:
            value = _text(values[name])
        elif name == "survey" and dataset is not None:
            value = dataset.survey.name
        elif name == "catalog" and dataset is not None:
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
        meaning, reference = ((settings[name].help, settings[name].study) if name in settings
                              else CHAPTER_PARAMETERS.get(name, ("", "–")))
        if name in study:
            reference = _text(study[name])
        rows.append({"parameter": f"`{name}`", "this page": value, "the study": reference, "meaning": meaning})
    table = pipe_table(pd.DataFrame(rows))
    return Markdown(
        ":::{admonition} What ran on this page\n:class: tip what-ran\n"
        "Every number on this page comes from a run with these values. The collapsed cells above hold the "
        "chapter's defaults and the values the book's build passed in; this table is what the analysis received.\n\n"
        f"{table}\n:::"
    )
