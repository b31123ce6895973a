import numpy as np
import pandas as pd

from galchem.report.numbered_tables import numbered_table, pipe_table


def test_pipe_table_formats_escapes_and_marks_missing_values():
    table = pd.DataFrame({"cut": ["a|b", "c"], "n": [1234, 5], "m": [0.12345, np.nan]})
    text = pipe_table(table, {"n": "{:,}", "m": "{:+.2f}"}, missing="not fitted")
    assert text.splitlines() == ["| cut | n | m |", "|---|---|---|", "| a\\|b | 1,234 | +0.12 |", "| c | 5 | not fitted |"]


def test_numbered_table_is_a_named_myst_table():
    markdown = numbered_table(pd.DataFrame({"x": [1]}), "tbl-demo", "A caption.").data
    assert markdown.startswith(":::{table} A caption.\n:name: tbl-demo\n") and markdown.endswith(":::")
