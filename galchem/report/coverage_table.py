"""The coverage of the gradient errors as a page table (from :func:`galchem.run.coverage.coverage_summary`).

One row per bin, grouped by binning, and per estimate -- flat, corrected and
SIMEX -- the realisations whose slope lies within one and within two errors
of the truth, written as counts ("14/20": the reader sees both the share and
how many realisations had a value), and the mean pull.  The table is a reST
grid table, because only grid tables can put the estimates in a header row
above their three columns; the book renders it from an ``eval-rst`` block.

:func:`calibration_failures` says in words where the counts are not what
calibrated errors would give, so the page's verdict follows its tables.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from IPython.display import Markdown
from scipy.stats import binomtest, norm

from galchem.report.numbers import signed

__all__ = ["BINNING_LABELS", "ESTIMATE_LABELS", "MIN_JUDGED_REALISATIONS", "P_VALUE", "STATISTICS", "biased_bins",
           "calibration_failures", "coverage_counts", "coverage_table", "pooled_coverage"]

ESTIMATE_LABELS = {"flat": "flat", "corrected": "corrected", "simex": "SIMEX"}
"""How the table heads each estimate of :data:`galchem.run.coverage.ESTIMATES`."""

BINNING_LABELS = {"radial": "radial gradient (slices in |Z|)", "vertical": "vertical gradient (rings in R)"}
"""The label of the rows of each binning."""

STATISTICS = ("1σ", "2σ", "pull")
"""The columns under each estimate: counts within one and two errors, and the mean pull."""

MIN_JUDGED_REALISATIONS = 20
"""Fewest realisations per survey with which the page judges calibration (fewer: the truth is too uncertain)."""

P_VALUE = 0.01
"""Chance that a build with calibrated errors raises any false alarm: the page makes many tests (a pooled coverage
per survey, binning and estimate, a mean pull per bin and estimate), so each is made at ``P_VALUE / m`` for m tests in
all (Bonferroni); at 0.01 each, one build in two would flag something by chance alone."""

NO_BREAK = str.maketrans({" ": "\u00a0", "-": "\u2060–\u2060"})
"""Spaces and hyphens of a bin label that may not break the label across lines."""


def coverage_counts(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per bin with a value: its binning, per estimate "k/n" within 1 and 2 errors and the mean pull."""
    rows = []
    for (binning, label), group in summary.groupby(["binning", "bin"], sort=False):
        if not group["n"].any():
            continue
        row = {"binning": binning, "bin": label}
        for estimate in group.itertuples():
            name, n = ESTIMATE_LABELS[estimate.estimate], int(estimate.n)
            row[f"{name} 1σ"] = f"{round(estimate.within_1 * n)}/{n}" if n else None
            row[f"{name} 2σ"] = f"{round(estimate.within_2 * n)}/{n}" if n else None
            row[f"{name} pull"] = estimate.mean_pull if n else None
        rows.append(row)
    return pd.DataFrame(rows)


def rst_text(text: str) -> str:
    """``text`` with the characters reST would read as markup (``|Z|`` as a substitution) escaped."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*").replace("`", "\\`")


def cell_text(value, column: str) -> str:
    """One value of :func:`coverage_counts` as the table prints it: pulls signed as every page signs a number
    (:func:`galchem.report.numbers.signed`), "–" if none."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if column.endswith(" pull"):
        return signed(value, 2)
    return str(value)


def grid_line(widths: list[int], char: str = "-") -> str:
    """A border line of a grid table with columns of ``widths`` characters."""
    return "+" + "+".join(char * (w + 2) for w in widths) + "+"


def grid_row(cells: list[str], widths: list[int]) -> str:
    """A row of a grid table, each cell padded to its column's width."""
    return "|" + "|".join(f" {text:<{w}} " for text, w in zip(cells, widths)) + "|"


def spanning_row(text: str, widths: list[int]) -> str:
    """A row with one cell across all columns; the text is shifted off the column borders, where a ``|`` in it
    would split the cell."""
    borders = set(np.cumsum([w + 3 for w in widths])[:-1].tolist())
    total = sum(widths) + 3 * (len(widths) - 1)
    shift = 0
    while any(char == "|" and 2 + shift + k in borders for k, char in enumerate(text)):
        shift += 1
    return f"| {' ' * shift + text:<{total}} |"


def coverage_grid(table: pd.DataFrame) -> str:
    """:func:`coverage_counts` as a grid table: a header of estimates over their statistics, and the bins of each
    binning under a row naming the binning."""
    columns = [f"{name} {statistic}" for name in ESTIMATE_LABELS.values() for statistic in STATISTICS]
    bodies = {binning: [[rst_text(label.translate(NO_BREAK))] + [cell_text(row[c], c) for c in columns]
                        for label, (_, row) in zip(group["bin"], group.iterrows())]
              for binning, group in table.groupby("binning", sort=False)}
    groups = {binning: rst_text(BINNING_LABELS.get(binning, binning)) for binning in bodies}
    rows = [row for body in bodies.values() for row in body]
    widths = [max(len(row[k]) for row in [["bin", *STATISTICS * len(ESTIMATE_LABELS)], *rows])
              for k in range(len(columns) + 1)]
    for e, name in enumerate(ESTIMATE_LABELS.values()):  # an estimate's name fits across its three columns
        widths[3 + 3 * e] += max(0, len(name) - sum(widths[1 + 3 * e:4 + 3 * e]) - 6)
    estimate_widths = [sum(widths[1 + 3 * e:4 + 3 * e]) + 6 for e in range(len(ESTIMATE_LABELS))]
    widths[-1] += max(0, max(map(len, groups.values())) - (sum(widths) + 3 * (len(widths) - 1)))
    estimate_widths[-1] = sum(widths[-3:]) + 6
    lines = [grid_line(widths),
             grid_row(["bin", *ESTIMATE_LABELS.values()], [widths[0], *estimate_widths]),
             "|" + " " * (widths[0] + 2) + grid_line(widths[1:]),
             grid_row(["", *STATISTICS * len(ESTIMATE_LABELS)], widths),
             grid_line(widths, "=")]
    for binning, body in bodies.items():
        lines += [spanning_row(groups[binning], widths), grid_line(widths)]
        for row in body:
            lines += [grid_row(row, widths), grid_line(widths)]
    return "\n".join(lines)


def coverage_table(summary: pd.DataFrame, name: str, caption: str) -> Markdown:
    """:func:`coverage_counts` as a numbered table with a caption, referable as ``{numref}`name```."""
    grid = coverage_grid(coverage_counts(summary)).replace("\n", "\n   ")
    return Markdown(f"```{{eval-rst}}\n.. table:: {rst_text(caption)}\n   :name: {name}\n\n   {grid}\n```")


def pooled_coverage(summary: pd.DataFrame) -> pd.DataFrame:
    """Per binning and estimate: the fits over all bins, those within one error, their share and the two-sided
    binomial chance of a count that far from 68 % if the errors were calibrated."""
    counts = summary.dropna(subset=["within_1"]).assign(within=lambda t: (t["within_1"] * t["n"]).round().astype(int),
                                                        n=lambda t: t["n"].astype(int))
    pooled = counts.groupby(["binning", "estimate"], sort=False)[["n", "within"]].sum().reset_index()
    pooled["share"] = pooled["within"] / pooled["n"]
    pooled["p_value"] = [binomtest(k, n, 0.68).pvalue for k, n in zip(pooled["within"], pooled["n"])]
    return pooled


def biased_bins(summary: pd.DataFrame, p_value: float) -> pd.DataFrame:
    """The bins whose mean pull lies beyond what chance allows for calibrated errors (two-sided, at ``p_value``:
    the mean of n unit-normal pulls scatters by 1/sqrt(n)), with that limit as ``limit``."""
    bins = summary[summary["n"] > 0].assign(limit=lambda t: norm.isf(p_value / 2) / np.sqrt(t["n"]))
    return bins[bins["mean_pull"].abs() > bins["limit"]]


def p_text(p_value: float) -> str:
    """A binomial test's p-value as the verdicts print it."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def calibration_failures(summaries: Mapping[str, pd.DataFrame], survey_names: Mapping[str, str],
                         n_realisations: int) -> Markdown:
    """In words, each survey, binning and estimate whose pooled coverage is inconsistent with 68 % or with bins
    whose mean pull is a bias (:func:`pooled_coverage`, :func:`biased_bins`); that nothing fails, if so."""
    pooled = {survey: pooled_coverage(summary).set_index(["binning", "estimate"])
              for survey, summary in summaries.items()}
    # the tests made below: a pooled coverage per survey, binning and estimate, a mean pull per bin and estimate
    tests = max(sum(len(pooled[survey]) + int((summary["n"] > 0).sum()) for survey, summary in summaries.items()), 1)
    each = P_VALUE / tests
    z = norm.isf(each / 2)
    chance = np.format_float_positional(each, precision=2, fractional=False)
    head = ("**Where the errors are not calibrated.** Each binning's counts are pooled over its bins. With calibrated "
            "errors the number of fits within one error is a binomial draw with a probability of 68 %, and a pooled "
            "count is called *inconsistent with 68 %* when a count that far from 68 % would turn up by chance with "
            f"a probability below {chance} (a two-sided binomial test; it treats the bins of one mock as independent, "
            "which they are only roughly). A bin's mean pull over n realisations scatters by 1/√n about zero when "
            f"the errors are right; beyond ±{z:.2f}/√n (the same chance) it is a bias that the noise of n "
            f"realisations cannot explain. The page makes {tests} such test{'s' if tests != 1 else ''}, each at "
            f"{P_VALUE:g}/{tests} (Bonferroni), so a build with calibrated errors flags anything here fewer than 1 "
            f"time in {1 / P_VALUE:.0f}; tested at {P_VALUE:g} each, about one build in "
            f"{1 / (1 - (1 - P_VALUE) ** tests):.0f} would.")
    if n_realisations < MIN_JUDGED_REALISATIONS:
        return Markdown(f"{head} This build ran {n_realisations} realisations per survey, too few to judge: the truth "
                        "taken from so few other mocks is itself uncertain, so no verdict is given here. Run the *full* "
                        f"profile ({MIN_JUDGED_REALISATIONS} per survey) for one.")
    lines = []
    for survey, summary in summaries.items():
        biased = biased_bins(summary, each)
        for (binning, estimate), row in pooled[survey].iterrows():
            bins = biased[(biased["binning"] == binning) & (biased["estimate"] == estimate)]
            findings = []
            if row["p_value"] < each:
                findings.append(f"within one error in {row['within']:.0f} of {row['n']:.0f} fits "
                                f"({100 * row['share']:.0f} %, {p_text(row['p_value'])})")
            if len(bins):
                findings.append("mean pull beyond chance in " + ", ".join(
                    f"{label.replace('-', '–')} ({cell_text(pull, ' pull')}; chance allows ±{limit:.2f})"
                    for label, pull, limit in zip(bins["bin"], bins["mean_pull"], bins["limit"])))
            if not findings:
                continue
            too_large = not len(bins) and row["share"] > 0.68
            verdict = ("those error bars are too large (the slopes are closer to the truth than they say)" if too_large
                       else "treat those error bars as too small")
            lines.append(f"- **{survey_names.get(survey, survey)}, {binning} gradients, "
                         f"{ESTIMATE_LABELS[estimate]} slope**: {'; '.join(findings)}. "
                         f"**Not calibrated there: {verdict}.**")
    if not lines:
        return Markdown(f"{head}\n\nNothing fails these tests: in every survey, binning and estimate the pooled "
                        "coverage is consistent with 68 %, and no bin's mean pull is beyond chance. Within what "
                        f"{n_realisations} realisations can tell, the error bars are calibrated.")
    return Markdown(f"{head} These fail:\n\n" + "\n".join(lines))
