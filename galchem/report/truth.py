"""Comparing what the pipeline measures with the mock Galaxy's truth."""
from __future__ import annotations

import numpy as np
import pandas as pd

from galchem.analysis import azimuthal, radial_spline
from galchem.data.sources import Dataset
from galchem.physics import membership
from galchem.report.azimuthal_summary import is_number

__all__ = ["arm_contrast_table", "binned_medians", "halo_rules_vs_truth", "injected_azimuthal",
           "injected_spline_contrast", "kinematics_vs_truth", "means_correlation", "population_confusion",
           "pull_summary", "radial_medians_vs_truth"]


def binned_medians(x: np.ndarray, values: np.ndarray, edges: np.ndarray, min_count: int = 20) -> pd.DataFrame:
    """Median of ``values`` in bins of ``x``: columns lo, hi, center, n, median (NaN below ``min_count``)."""
    x, values = np.asarray(x, dtype=float), np.asarray(values, dtype=float)
    which = np.digitize(x, edges) - 1
    rows = []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        inside = values[(which == k) & np.isfinite(values)]
        rows.append({"lo": lo, "hi": hi, "center": 0.5 * (lo + hi), "n": inside.size,
                     "median": np.median(inside) if inside.size >= min_count else np.nan})
    return pd.DataFrame(rows)


def radial_medians_vs_truth(
    dataset: Dataset,
    kept: pd.DataFrame,
    positions: pd.DataFrame,
    *,
    z_max: float = 0.2,
    edges: np.ndarray | None = None,
    min_count: int = 20,
) -> pd.DataFrame:
    """Median [Fe/H] in bins of R (default: 0.5 kpc from 6 to 12 kpc) near the plane: observed,
    noise-free truth, and the smooth field.

    All three use the same stars in the same bins (by their measured R and Z),
    so *observed - noise_free* isolates the measurement errors, and
    *noise_free - smooth_field* shows what the sampled stars add to the
    smooth field (the azimuthal pattern, the scatter, the thick disk and halo).
    """
    if not dataset.is_mock:
        raise ValueError("only the mock has a truth to compare with")
    edges = np.arange(6.0, 12.5, 0.5) if edges is None else np.asarray(edges)
    near = positions["Z"].abs().to_numpy() < z_max
    R = positions["R"].to_numpy()[near]
    truth = dataset.truth.set_index("source_id").loc[kept["id"].to_numpy()[near]]
    table = binned_medians(R, kept["feh"].to_numpy()[near], edges, min_count).rename(columns={"median": "observed"})
    table["noise_free"] = binned_medians(R, truth["feh_true"].to_numpy(), edges, min_count)["median"]
    table["smooth_field"] = dataset.model.metallicity.smooth(table["center"].to_numpy(), 0.5 * z_max)
    return table


def kinematics_vs_truth(dataset: Dataset, table: pd.DataFrame,
                        quantities: tuple[str, ...] = ("R", "Z", "vR", "vphi", "vz")) -> pd.DataFrame:
    """Recovered minus true value in units of the Monte Carlo error, per star (columns ``<q>_pull``)."""
    if not dataset.is_mock:
        raise ValueError("only the mock has a truth to compare with")
    truth = dataset.truth.set_index("source_id").loc[table["id"].to_numpy()]
    return pd.DataFrame({
        f"{q}_pull": (table[q].to_numpy() - truth[q].to_numpy()) / table[f"{q}_err"].to_numpy() for q in quantities
    })


def pull_summary(pulls: pd.DataFrame) -> pd.DataFrame:
    """Per quantity: median pull, robust width (half the 16-84 % range) and share of |pull| < 1."""
    rows = []
    for column in pulls:
        values = pulls[column].to_numpy()
        lo, mid, hi = np.nanpercentile(values, [16, 50, 84])
        rows.append({"quantity": column.removesuffix("_pull"), "median pull": mid, "width (16-84 %)/2": (hi - lo) / 2,
                     "share within 1 sigma": np.mean(np.abs(values) < 1)})
    return pd.DataFrame(rows)


def population_confusion(dataset: Dataset, table: pd.DataFrame) -> pd.DataFrame:
    """Counts of stars by true mock population (rows) and most probable kinematic population (columns)."""
    if not dataset.is_mock:
        raise ValueError("only the mock has a truth to compare with")
    truth = dataset.truth.set_index("source_id").loc[table["id"].to_numpy(), "population"]
    probs = table[["p_thin", "p_thick", "p_halo"]]
    likeliest = probs.idxmax(axis=1).str.removeprefix("p_")
    return pd.crosstab(pd.Series(truth.to_numpy(), name="true population"),
                       pd.Series(likeliest.to_numpy(), name="most probable"))


def injected_azimuthal(dataset: Dataset, stars: pd.DataFrame, edges: np.ndarray, *, ring_width: float,
                       annuli: tuple[tuple[float, float], ...]) -> tuple[pd.DataFrame, float, float]:
    """The mock's injected azimuthal pattern seen through the same stars, treated as the data are.

    Returns its ⟨δ⟩(φ), its arm contrast (the counterpart of the
    contrast of residuals) and the arm contrast of its δ from the ring mean.
    """
    if not dataset.is_mock:
        raise ValueError("only the mock has a truth to compare with")
    pattern = dataset.truth.set_index("source_id").loc[stars["id"].to_numpy(), "feh_azimuthal"].to_numpy()
    delta = azimuthal.delta_from_ring_mean(stars["R"], pattern, ring_width)
    means = azimuthal.azimuthal_means(stars, delta, edges, annuli)
    groups = azimuthal.arm_groups(stars)
    return means, azimuthal.arm_contrast(groups, pattern).contrast, azimuthal.arm_contrast(groups, delta).contrast


def injected_spline_contrast(dataset: Dataset, stars: pd.DataFrame, z_edges, smoothing) -> float:
    """The arm contrast of the mock's injected pattern seen through the smooth radial spline of the data.

    The pattern of the same stars is passed through the same smoother (the
    same |Z| slices ``z_edges``, knots and per-slice penalties ``smoothing``,
    e.g. ``result.radial_splines["smoothing"]``), and the arm contrast of
    what is left is returned: the counterpart of the contrast measured
    against the spline.  Any part of the pattern that varies with R over the
    footprint is absorbed by the spline, as it would be in the data.
    """
    if not dataset.is_mock:
        raise ValueError("only the mock has a truth to compare with")
    pattern = dataset.truth.set_index("source_id").loc[stars["id"].to_numpy(), "feh_azimuthal"].to_numpy()
    seen, _ = radial_spline.spline_residuals(stars, z_edges, values=pattern, smoothing=smoothing)
    return azimuthal.arm_contrast(azimuthal.arm_groups(stars), seen).contrast


def halo_rules_vs_truth(dataset: Dataset, table: pd.DataFrame, limit: float = membership.HALO_LIMIT
                        ) -> pd.DataFrame:
    """What each halo rule removes, by the mock's true population.

    One row per rule (the study's point estimate; with the velocity errors):
    stars removed, how many of them are true thin-disk, thick-disk and halo
    stars, and the share of the table's true halo stars caught [%].
    """
    if not dataset.is_mock:
        raise ValueError("only the mock has a truth to compare with")
    truth = dataset.truth.set_index("source_id").loc[table["id"].to_numpy(), "population"].to_numpy()
    rules = {"point estimate": membership.membership(table["vR"], table["vphi"], table["vz"])["p_halo"],
             "with velocity errors": membership.membership_with_errors(table)["p_halo"]}
    halo = truth == "halo"
    rows = []
    for rule, p_halo in rules.items():
        removed = p_halo.to_numpy() >= limit
        rows.append({"rule": rule, "removed": int(removed.sum()),
                     "thin": int(np.sum(removed & (truth == "thin"))), "thick": int(np.sum(removed & (truth == "thick"))),
                     "halo": int(np.sum(removed & halo)),
                     "halo caught [%]": 100.0 * np.sum(removed & halo) / halo.sum() if halo.any() else np.nan})
    return pd.DataFrame(rows)


def means_correlation(observed: pd.DataFrame, injected: pd.DataFrame) -> pd.DataFrame:
    """Per annulus: Pearson correlation of the observed and injected ⟨δ⟩(φ), and the injected pattern's spread."""
    rows = []
    for (r_lo, r_hi), part in observed.groupby(["r_lo", "r_hi"]):
        truth = injected[(injected["r_lo"] == r_lo) & (injected["r_hi"] == r_hi)]
        ok = part["mean_delta"].notna().to_numpy() & truth["mean_delta"].notna().to_numpy()
        a, b = part["mean_delta"].to_numpy()[ok], truth["mean_delta"].to_numpy()[ok]
        rows.append({"annulus": f"{r_lo:g}-{r_hi:g} kpc", "bins": int(ok.sum()),
                     "correlation": float(np.corrcoef(a, b)[0, 1]) if ok.sum() > 2 else np.nan,
                     "injected spread [dex]": float(np.std(b)), "median error [dex]": float(np.median(part["sem"].to_numpy()[ok]))})
    return pd.DataFrame(rows)


def arm_contrast_table(tests: dict, injected: tuple[float, ...] | None = None) -> pd.DataFrame:
    """The arm contrasts (residual from the radial fit; δ from the ring mean; and, when the stage computed it,
    the residual from the smooth radial spline), with the mock's injected counterparts.

    ``injected`` holds the counterparts in the same order (the third may be
    left out).  A contrast the stage could not compute is NaN, and so is its pull.
    """
    statistics = [("residual from the radial fit", "arm_contrast"),
                  ("δ from the mean at the same radius", "arm_contrast_ring")]
    if "arm_contrast_spline" in tests:
        statistics.append(("residual from the smooth radial spline", "arm_contrast_spline"))
    rows = []
    for i, (label, key) in enumerate(statistics):
        value = tests[key] if is_number(tests.get(key)) else np.nan
        error = tests[f"{key}_err"] if is_number(tests.get(f"{key}_err")) else np.nan
        row = {"statistic": label, "measured [dex]": value, "error [dex]": error}
        if injected is not None:
            counterpart = injected[i] if i < len(injected) else None
            row["injected [dex]"] = counterpart if is_number(counterpart) else np.nan
            row["pull"] = (value - row["injected [dex]"]) / error
        rows.append(row)
    return pd.DataFrame(rows)
