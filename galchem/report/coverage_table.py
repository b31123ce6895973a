"""The coverage of the gradient errors as a page table (from :func:`galchem.run.coverage.coverage_summary`).

One row per bin, and per estimate -- flat, corrected and SIMEX -- the
realisations whose slope lies within one and within two errors of the truth,
written as counts ("14/20": the reader sees both the share and how many
realisations had a value), and the mean pull.
"""
from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from galchem.report.numbered_tables import numbered_table

__all__ = ["ESTIMATE_LABELS", "coverage_counts", "coverage_table"]

ESTIMATE_LABELS = {"flat": "flat", "corrected": "corrected", "simex": "SIMEX"}
"""How the table heads each estimate of :data:`galchem.run.coverage.ESTIMATES`."""


def coverage_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per bin with a value: per estimate, "k/n" within 1 and 2 errors and the mean pull (None: no value)."""
    rows = []
    for (_, label), group in summary.groupby(["binning", "bin"], sort=False):
        if not group["n"].any():
            continue
        row = {"bin": label}
        for estimate in group.itertuples():
            name, n = ESTIMATE_LABELS[estimate.estimate], int(estimate.n)
            row[f"{name} 1σ"] = f"{round(estimate.within_1 * n)}/{n}" if n else None
            row[f"{name} 2σ"] = f"{round(estimate.within_2 * n)}/{n}" if n else None
            row[f"{name} pull"] = estimate.mean_pull if n else None
        rows.append(row)
    return pd.DataFrame(rows)


def coverage_table(summary: pd.DataFrame, name: str, caption: str) -> Markdown:
    """:func:`coverage_counts` as a numbered table, mean pulls with a sign and two decimals."""
    table = coverage_counts(summary)
    formats = {column: "{:+.2f}" for column in table.columns if column.endswith(" pull")}
    return numbered_table(table, name, caption, formats)
