"""What every chapter does first: its configuration and data from its parameters cell, and the boxes that say so.

A chapter's parameters cell holds ``None`` for every run setting ("the
study's value") and papermill passes the values a build profile chooses.
:func:`set_up_chapter` turns them into the page's :class:`RunConfig` (the
registry, :data:`galchem.run.config.SETTINGS`, and the survey file's ``[run]``
table fill in every ``None``), loads
the data the chapter's ``survey`` and ``catalog`` name, and shows the
data banner and the "What ran on this page" box, so no chapter repeats a
default or the code that reports it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from IPython.display import Markdown, display

from galchem.data.sources import Dataset, load_dataset
from galchem.data.surveys import Survey, load_survey
from galchem.report.run_summary import what_ran
from galchem.run.config import SETTINGS, RunConfig

__all__ = ["Chapter", "set_up_chapter"]


@dataclass(frozen=True)
class Chapter:
    """A chapter's run configuration and, for chapters that read a survey, its data."""

    config: RunConfig
    dataset: Dataset | None


def set_up_chapter(*, survey: str | Survey | None = None, catalog: str | None = None,
                   study: Mapping[str, object] | None = None, **parameters: object) -> Chapter:
    """The chapter's configuration and data from its parameters; displays the data banner and the What-ran box.

    ``parameters`` are run settings (None: the registry's value) and the
    chapter's own parameters (``n_points``, ...), which are only reported.
    ``survey`` and ``catalog`` name the data (none for a chapter of
    simulated lines); ``study`` overrides the What-ran box's study column.
    """
    settings = {name: value for name, value in parameters.items() if name in SETTINGS}
    survey = None if survey is None else load_survey(survey)
    config = (RunConfig() if survey is None else RunConfig.for_survey(survey)).replace(**settings)
    dataset = None
    shown = list(parameters)
    if survey is not None:  # the survey file's [run] defaults apply here as on the command line
        dataset = load_dataset(survey, catalog, config.mock_stars, config.mock_seed)
        display(Markdown(dataset.banner()))
        shown = ["survey", "catalog", *shown]
    own = {name: value for name, value in parameters.items() if name not in SETTINGS}
    display(what_ran(shown, config, dataset, values=own, study=study))
    return Chapter(config, dataset)
