"""Small helpers shared by the tests."""
from __future__ import annotations

import pandas as pd

from galchem.data import contract
from galchem.data.surveys import load_survey


def canonical(catalog: pd.DataFrame, survey: str = "lamost") -> pd.DataFrame:
    """A mock catalogue (built-in file columns) as the canonical table the pipeline reads."""
    return contract.canonical_table(catalog, {}, load_survey(survey), where=f"the {survey} test catalogue")
